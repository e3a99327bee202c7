//! The compiled policy: an index over active grants and memberships so a
//! decision costs about the same with 100 grants or 1,000,000, and the one
//! decision function that `grant check` and `serve` both call.
//!
//! Index: principal → its subjects; (subject, kind, first `HEAD` bytes of
//! the name) → a bucket of prefix grants and exact-name fingerprints, or one
//! bucket per (subject, kind) when it holds few grants; exact names (and the
//! prefixes of crowded buckets) by hash. The superuser grants of a subject
//! are kept apart: they match everything.

use bytemuck::Zeroable;
use rustc_hash::FxHashMap;
use serde::Serialize;
use smallvec::SmallVec;

use super::grant::{Effect, Grant, builtin_grants};
use super::index::{
    BUCKET_EXACTS, BUCKET_PREFIXES, Bucket, FNV_START, HugeSlots, InlineTable, Keyed, NameCuts,
    Overflow, PrefixEntry, ShortName, Slot, any_fingerprint, fnv, fnv_step, key,
};
use super::{Action, NamePattern};
use crate::error::{Error, Result};

/// A membership: `principal` belongs to `group`.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub struct Membership {
    pub group: String,
    pub principal: String,
}

/// A concrete request: may `principal` do `action` on `kind:name`?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub principal: &'a str,
    pub action: Action,
    pub kind: &'a str,
    pub name: &'a str,
}

/// Split and check a concrete resource `kind:name` (no wildcards).
pub fn parse_resource(s: &str) -> Result<(&str, &str)> {
    match s.split_once(':') {
        Some((k, n))
            if super::is_kind(k)
                && !n.is_empty()
                && !n.contains('*')
                && !n.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok((k, n))
        }
        _ => Err(Error::usage(format!(
            "invalid resource '{}'",
            crate::credential::shown(s)
        ))
        .with_hint("a request names one resource as <kind>:<name>, e.g. worker:build-1 (no *)")),
    }
}

/// Why a decision came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Allowed,
    ExplicitDeny,
    NoMatchingGrant,
}

/// A grant that took part in a decision, and the subject it was reached through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub grant: u32,
    subject: u32,
}

/// The raw outcome of a decision, cheap to compute; render with [`Compiled::render`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub allow: bool,
    pub reason: Reason,
    /// Inline up to 4: a decision that matches allocates nothing.
    pub hits: SmallVec<[Hit; 4]>,
}

impl Outcome {
    /// Nothing matched (yet): default deny.
    fn nothing() -> Self {
        Outcome {
            allow: false,
            reason: Reason::NoMatchingGrant,
            hits: SmallVec::new(),
        }
    }

    /// A matching grant, reached through `subject`: a deny wins over any
    /// allow, before or after it.
    #[inline]
    fn record(&mut self, grant: u32, subject: u32, deny: bool) {
        self.reason = if deny || self.reason == Reason::ExplicitDeny {
            Reason::ExplicitDeny
        } else {
            Reason::Allowed
        };
        self.hits.push(Hit { grant, subject });
    }
}

/// A matching grant as shown in a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matched<'a> {
    pub id: &'a str,
    pub effect: &'static str,
    pub subject: &'a str,
    pub via: Option<&'a str>,
}

/// What rendering a matched grant reads, one cache line per grant in grant
/// order: its id and subject back to back, and its effect. With a large
/// policy a decision's matched grants are anywhere in memory; reading them
/// from the grants themselves is a miss for the grant and another for each
/// of its strings.
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Card {
    /// 0 when id and subject do not fit: render from the grant.
    id_len: u8,
    subject_len: u8,
    deny: u8,
    text: [u8; 61],
}

const _: () = assert!(std::mem::size_of::<Card>() == 64);

impl Card {
    fn new(g: &Grant) -> Self {
        let mut card = Card::zeroed();
        let (id, subject) = (g.id.as_bytes(), g.subject.as_str().as_bytes());
        if id.len() + subject.len() <= card.text.len() {
            card.id_len = id.len() as u8;
            card.subject_len = subject.len() as u8;
            card.deny = u8::from(g.effect == Effect::Deny);
            card.text[..id.len()].copy_from_slice(id);
            card.text[id.len()..id.len() + subject.len()].copy_from_slice(subject);
        }
        card
    }

    /// (id, effect, subject), or `None` to read the grant.
    fn get(&self) -> Option<(&str, &'static str, &str)> {
        if self.id_len == 0 {
            return None;
        }
        let (id, rest) = self.text.split_at(usize::from(self.id_len));
        let id = std::str::from_utf8(id).ok()?;
        let subject = std::str::from_utf8(&rest[..usize::from(self.subject_len)]).ok()?;
        let effect = if self.deny != 0 {
            Effect::Deny
        } else {
            Effect::Allow
        };
        Some((id, effect.as_str(), subject))
    }
}

/// A grant for this principal that failed on exactly one thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NearMiss<'a> {
    pub id: &'a str,
    pub effect: &'static str,
    pub subject: &'a str,
    pub via: Option<&'a str>,
    pub actions: Vec<&'static str>,
    pub resource: String,
    /// `action` or `resource`.
    pub failed_on: &'static str,
}

/// A decision in the DESIGN §5 shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision<'a> {
    pub decision: &'static str,
    pub reason: Reason,
    pub matched: Vec<Matched<'a>>,
    pub snapshot: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub near_misses: Option<Vec<NearMiss<'a>>>,
}

/// A grant in the index, with what the hot path needs inline: the subject,
/// kind and name it is filed under (to confirm a hash hit), action bits and
/// `DENY_BIT`.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    grant: u32,
    subject: u32,
    /// The kind id, or `FAR_KIND` when it does not fit (then the grant says).
    kind: u16,
    bits: u8,
    /// The name or prefix (longer ones in `Compiled::names`).
    name: ShortName<12>,
}

/// `Entry::kind` of a kind id above `u16` (only with 65,535 kinds or more).
const FAR_KIND: u16 = u16::MAX;

impl Entry {
    fn new(
        grant: u32,
        subject: u32,
        kind: u32,
        bits: u8,
        text: &[u8],
        names: &mut Vec<u8>,
    ) -> Self {
        Entry {
            grant,
            subject,
            kind: u16::try_from(kind)
                .ok()
                .filter(|&k| k != FAR_KIND)
                .unwrap_or(FAR_KIND),
            bits,
            name: ShortName::new(text, names),
        }
    }
}

/// A slot of the main table: the grant filed under a key, inline (two slots
/// to a cache line, so a probe is one miss). When several grants share the
/// key, the slot's entry carries `MORE_BIT`, its `grant` is where they start
/// in `Compiled::runs`, and nothing else in it counts.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(32))]
struct EntrySlot {
    key: u64,
    entry: Entry,
}

// Two slots to a 64-byte line, a principal's slot exactly one.
const _: () = assert!(std::mem::size_of::<EntrySlot>() == 32);
const _: () = assert!(std::mem::size_of::<PrincipalSlot>() == 64);

impl Keyed for EntrySlot {
    #[inline]
    fn key(&self) -> u64 {
        self.key
    }
}

/// Subject ids a principal's slot holds inline.
const PRINCIPAL_INLINE: usize = 8;

/// A principal's slot: its name (to confirm the hash; names over 22 bytes
/// in `Compiled::principal_names`) and its subject ids, all in one cache
/// line. Principals with more subjects, or whose hash collides, are in
/// `principal_overflow`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct PrincipalSlot {
    key: u64,
    n: u8,
    name: ShortName<22>,
    subs: [u32; PRINCIPAL_INLINE],
}

impl Keyed for PrincipalSlot {
    #[inline]
    fn key(&self) -> u64 {
        self.key
    }
}

/// In an entry: a superuser grant (it matches every action).
const SUPERUSER_BIT: u8 = 0x20;
/// The action bits of an entry.
const ACTION_BITS: u8 = 0x0f;

/// Grants from which the index's buckets and exact-name table are built on two threads.
const PARALLEL_BUILD_FROM: usize = 50_000;

const DENY_BIT: u8 = 0x80;
/// In a table slot: several grants share this key (see `Compiled::runs`).
const MORE_BIT: u8 = 0x40;
/// In `Compiled::runs`: the last entry of a key's run.
const LAST_BIT: u8 = 0x10;
/// Kind id of grants whose kind is `*`.
const ANY_KIND: u32 = 0;
/// Bit of the prefix-length mask standing for "62 bytes or longer".
const LONG: u32 = 62;
/// The bit of a prefix-length mask for prefixes of `len` bytes (`LONG` for
/// all from 62 on).
#[inline]
fn len_bit(len: usize) -> u64 {
    1 << len.min(LONG as usize)
}
/// Bit of an indexed bucket's mask: it has exact-name grants.
const HAS_EXACT: u64 = 1 << 63;
/// In `Compiled::subject_kinds`: the subject holds a superuser grant.
const SUPERUSER_KIND: u64 = 1 << 63;
/// Kinds with an id from this on share one bit of a kind mask, and always
/// have buckets by name head.
const SHARED_KIND_BIT: u32 = 62;

/// The bit of kind `kid` in `Compiled::subject_kinds` (kinds from 62 on share one).
#[inline]
fn kind_bit(kid: u32) -> u64 {
    1 << kid.min(SHARED_KIND_BIT)
}

/// Names and prefixes are grouped by their first `HEAD` bytes.
const HEAD: usize = 3;
/// `Bucket::head` of the bucket of names and prefixes shorter than `HEAD`.
const SHORT_HEAD: u32 = 1 << 24;
/// `Bucket::head` of the one bucket of a (subject, kind) that holds few grants.
const ALL_HEADS: u32 = 1 << 25;

/// The head of a name or pattern: its first `HEAD` bytes as a number, or
/// `SHORT_HEAD` when it is shorter.
#[inline]
fn head(name: &[u8]) -> u32 {
    match name {
        [a, b, c, ..] => u32::from(*a) | u32::from(*b) << 8 | u32::from(*c) << 16,
        _ => SHORT_HEAD,
    }
}

/// The bit of a head in `Compiled::subject_kinds`' head mask: one of 64
/// by the head's hash, or all of them for `SHORT_HEAD` (short names and
/// prefixes, which a name of any head may match or be).
#[inline]
fn head_bit(head: u32) -> u64 {
    if head == SHORT_HEAD {
        u64::MAX
    } else {
        1 << (u64::from(head).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58)
    }
}

/// A bucket's (subject, kind, head).
type BucketId = (u32, u32, u32);

/// The key of bucket (subject, kind, head).
#[inline]
fn bucket_key(sid: u32, kid: u32, head: u32) -> u64 {
    key(sid, kid, Slot::Bucket, u64::from(head))
}

/// The fingerprint bits of an exact name's hash (the low 4 are actions).
const FINGERPRINT: u16 = 0xfff0;

/// The fingerprint of an exact name (by its hash) in a bucket, with `actions`.
#[inline]
fn exact_fingerprint(name_hash: u64, actions: u8) -> u16 {
    // Never 0 for a real grant: every grant has an action.
    ((name_hash >> 52) as u16) << 4 | u16::from(actions & ACTION_BITS)
}

/// One lookup of a decision: the key, and what a hit must be to count.
#[derive(Debug, Clone, Copy)]
struct Probe {
    key: u64,
    subject: u32,
    kind: u32,
    /// `None` for an exact name.
    prefix_len: Option<usize>,
    superuser: bool,
}

/// A compiled, immutable policy snapshot. See [`super::index`] for the layout.
#[derive(Debug)]
pub struct Compiled {
    version: i64,
    /// Built-in grants: grant ids 0..builtins.len().
    builtins: Vec<Grant>,
    /// The others, after them (see [`Compiled::grant`]).
    grants: Vec<Grant>,
    /// Per grant, in the same order: what rendering it as matched needs.
    cards: Vec<Card>,
    subject_ids: FxHashMap<Box<str>, u32>,
    subject_names: Vec<Box<str>>,
    /// Every grant of each subject, for near misses.
    subject_grants: Vec<Vec<u32>>,
    /// Kind name → id (from 1; 0 is `*`).
    kinds: FxHashMap<Box<str>, u32>,
    /// Per kind id: some prefix in it is shorter than `HEAD`, so a request
    /// also reads the subjects' `SHORT_HEAD` buckets.
    short_prefixes: Vec<bool>,
    /// Per subject: the kinds it holds grants in (bit `kind_bit`, and
    /// `SUPERUSER_KIND` when it holds a superuser grant), then the kinds in
    /// which it has one `ALL_HEADS` bucket instead of one per head, then
    /// the heads of its grants' names and prefixes in any kind (bit
    /// `head_bit`). Small and dense: a decision skips the kinds, often `*`,
    /// and the subjects that have nothing under the name's head without a
    /// trip to memory.
    subject_kinds: Vec<[u64; 3]>,
    /// Per (subject, kind, head): the prefix grants and exact-name
    /// fingerprints (see [`Bucket`]).
    buckets: InlineTable<Bucket, HugeSlots<Bucket>>,
    /// Buckets whose key another bucket already had (practically never).
    bucket_collisions: FxHashMap<BucketId, Bucket>,
    /// The rest of the grants of buckets with a few more than fit.
    overflow: Overflow,
    /// Superuser grants, and the prefix grants of indexed buckets.
    table: InlineTable<EntrySlot>,
    /// Exact-name grants.
    exact_table: InlineTable<EntrySlot>,
    /// The grants of each key that holds several, one run per key in grant
    /// order, the last carrying `LAST_BIT`.
    runs: Vec<Entry>,
    /// The names or prefixes too long to be inline in an [`Entry`] or a
    /// [`PrefixEntry`], back to back.
    names: Vec<u8>,
    /// Principal → its subject ids.
    principals: InlineTable<PrincipalSlot>,
    /// The principals' names too long for their slot, back to back.
    principal_names: Vec<u8>,
    /// Principals with more than `PRINCIPAL_INLINE` subjects, or whose hash
    /// collided with another's (practically never).
    principal_overflow: FxHashMap<Box<str>, Vec<u32>>,
}

/// A grant on its way into the index.
struct Item<'g> {
    subject: u32,
    kind: u32,
    head: u32,
    grant: u32,
    bits: u8,
    text: &'g str,
    /// `fnv(text)`.
    hash: u64,
    exact: bool,
}

impl Item<'_> {
    /// Its place in bucket order: by subject, kind and head, prefixes
    /// before exact names, then in grant order.
    fn order(&self) -> u128 {
        u128::from(self.subject) << 96
            | u128::from(self.kind) << 64
            | u128::from(self.head) << 33
            | u128::from(self.exact) << 32
            | u128::from(self.grant)
    }
}

/// Group `items` into buckets: one per (subject, kind) when its grants fit
/// in one (marked in `subject_kinds`), else one per head; a head with a few
/// more than fit continues in `overflow`, one with many more is indexed,
/// its prefixes going to `keyed` to be found by key like the exact names.
/// Buckets whose key another already has are returned apart.
fn form_buckets(
    items: &mut [Item<'_>],
    subject_kinds: &mut [[u64; 3]],
    names: &mut Vec<u8>,
    keyed: &mut Vec<(u64, Entry)>,
    overflow: &mut Overflow,
) -> (Vec<Bucket>, FxHashMap<BucketId, Bucket>) {
    items.sort_unstable_by_key(Item::order);
    let mut buckets = Vec::new();
    let mut prefixes = Vec::new();
    let mut fingerprints = Vec::new();
    for pair in items.chunk_by(|a, b| (a.subject, a.kind) == (b.subject, b.kind)) {
        let (sid, kid) = (pair[0].subject, pair[0].kind);
        let n_exact = pair.iter().filter(|it| it.exact).count();
        let fits_one = n_exact <= BUCKET_EXACTS
            && pair.len() - n_exact <= BUCKET_PREFIXES
            && kid < SHARED_KIND_BIT;
        if fits_one {
            subject_kinds[sid as usize][1] |= kind_bit(kid);
        }
        let runs: SmallVec<[&[Item<'_>]; 1]> = if fits_one {
            SmallVec::from_elem(pair, 1)
        } else {
            pair.chunk_by(|a, b| a.head == b.head).collect()
        };
        for run in runs {
            let h = if fits_one { ALL_HEADS } else { run[0].head };
            let id = (sid, kid, h);
            let k = bucket_key(sid, kid, h);
            prefixes.clear();
            fingerprints.clear();
            for it in run {
                if it.exact {
                    fingerprints.push(exact_fingerprint(it.hash, it.bits));
                } else {
                    prefixes.push(PrefixEntry::new(
                        it.grant,
                        it.bits,
                        it.text.as_bytes(),
                        names,
                    ));
                }
            }
            let bucket = Bucket::inline(k, id, &prefixes, &fingerprints)
                .or_else(|| Bucket::extended(k, id, &prefixes, &fingerprints, overflow))
                .unwrap_or_else(|| {
                    let mut mask = 0;
                    for it in run {
                        if it.exact {
                            mask |= HAS_EXACT;
                        } else {
                            mask |= len_bit(it.text.len());
                            let e =
                                Entry::new(it.grant, sid, kid, it.bits, it.text.as_bytes(), names);
                            keyed.push((key(sid, kid, Slot::Prefix, it.hash), e));
                        }
                    }
                    Bucket::indexed(k, id, mask)
                });
            buckets.push(bucket);
        }
    }
    let mut collisions = FxHashMap::default();
    let mut used = rustc_hash::FxHashSet::default();
    buckets.retain(|b| {
        let fresh = used.insert(b.key());
        if !fresh {
            collisions.insert((b.subject, b.kind, b.head), *b);
        }
        fresh
    });
    (buckets, collisions)
}

/// A table of `items` by key, continuing `runs`: a key's only grant goes
/// inline; a key with several gets a run, in grant order.
fn build_entry_table(
    mut items: Vec<(u64, Entry)>,
    mut runs: Vec<Entry>,
) -> (InlineTable<EntrySlot>, Vec<Entry>) {
    items.sort_unstable_by_key(|&(k, e)| (k, e.grant));
    let mut slots = Vec::with_capacity(items.len());
    for run in items.chunk_by(|a, b| a.0 == b.0) {
        let (k, first) = run[0];
        let entry = match run {
            [_] => first,
            _ => {
                let start = runs.len() as u32;
                runs.extend(run.iter().map(|&(_, e)| e));
                if let Some(last) = runs.last_mut() {
                    last.bits |= LAST_BIT;
                }
                Entry {
                    grant: start,
                    bits: MORE_BIT,
                    ..Entry::default()
                }
            }
        };
        slots.push(EntrySlot { key: k, entry });
    }
    (InlineTable::build(slots), runs)
}

impl Compiled {
    /// Build the index from active grants (built-ins are added) and memberships.
    pub fn new(version: i64, mut grants: Vec<Grant>, members: &[Membership]) -> Self {
        let builtins = builtin_grants();
        // In place: a million grants are hundreds of megabytes to copy.
        grants.retain(|g| g.active && g.source != "builtin");
        let mut subject_ids: FxHashMap<Box<str>, u32> = FxHashMap::default();
        let mut subject_names: Vec<Box<str>> = Vec::new();
        let mut subject_grants: Vec<Vec<u32>> = Vec::new();
        let mut kinds: FxHashMap<Box<str>, u32> = FxHashMap::default();
        let mut short_prefixes = vec![false];
        let mut items = Vec::with_capacity(builtins.len() + grants.len());
        let mut superusers = Vec::new();
        let mut subject_kinds: Vec<[u64; 3]> = Vec::new();
        let mut names: Vec<u8> = Vec::new();
        for (i, g) in builtins.iter().chain(&grants).enumerate() {
            let i = i as u32;
            // Look up before inserting: the owned key is only made for a new subject.
            let sid = match subject_ids.get(g.subject.as_str()) {
                Some(&sid) => sid,
                None => {
                    let sid = subject_names.len() as u32;
                    subject_ids.insert(g.subject.as_str().into(), sid);
                    subject_names.push(g.subject.as_str().into());
                    subject_grants.push(Vec::new());
                    subject_kinds.push([0; 3]);
                    sid
                }
            };
            subject_grants[sid as usize].push(i);
            let bits = g.actions.0
                | if g.effect == Effect::Deny {
                    DENY_BIT
                } else {
                    0
                };
            if g.is_superuser() {
                subject_kinds[sid as usize][0] |= SUPERUSER_KIND;
                let e = Entry::new(i, sid, ANY_KIND, bits | SUPERUSER_BIT, b"", &mut names);
                superusers.push((key(sid, ANY_KIND, Slot::Superuser, 0), e));
                continue;
            }
            let kid = match &g.resource.kind {
                None => ANY_KIND,
                Some(k) => match kinds.get(k.as_str()) {
                    Some(&kid) => kid,
                    None => {
                        let kid = short_prefixes.len() as u32;
                        kinds.insert(k.as_str().into(), kid);
                        short_prefixes.push(false);
                        kid
                    }
                },
            };
            let (text, exact) = match &g.resource.name {
                NamePattern::Exact(n) => (n.as_str(), true),
                NamePattern::Prefix(p) => (p.as_str(), false),
            };
            if !exact && text.len() < HEAD {
                short_prefixes[kid as usize] = true;
            }
            subject_kinds[sid as usize][0] |= kind_bit(kid);
            subject_kinds[sid as usize][2] |= head_bit(head(text.as_bytes()));
            items.push(Item {
                subject: sid,
                kind: kid,
                head: head(text.as_bytes()),
                grant: i,
                bits,
                text,
                hash: fnv(text),
                exact,
            });
        }

        let mut lists: FxHashMap<&str, Vec<u32>> = FxHashMap::default();
        for m in members {
            if let Some(&gid) = subject_ids.get(format!("group:{}", m.group).as_str()) {
                lists.entry(m.principal.as_str()).or_default().push(gid);
            }
        }
        for name in &subject_names {
            if !name.starts_with("group:") {
                lists.entry(name).or_default();
            }
        }
        let mut principal_names = Vec::new();
        let mut principal_items = Vec::with_capacity(lists.len());
        let mut used = rustc_hash::FxHashSet::default();
        let mut principal_overflow = FxHashMap::default();
        for (p, mut gids) in lists {
            gids.sort_unstable();
            gids.dedup();
            let mut subs: Vec<u32> = subject_ids.get(p).copied().into_iter().collect();
            subs.extend(gids);
            let k = key(0, 0, Slot::Principal, fnv(p));
            if subs.len() > PRINCIPAL_INLINE || !used.insert(k) {
                principal_overflow.insert(p.into(), subs);
                continue;
            }
            let mut slot = PrincipalSlot {
                key: k,
                n: subs.len() as u8,
                name: ShortName::new(p.as_bytes(), &mut principal_names),
                subs: [0; PRINCIPAL_INLINE],
            };
            slot.subs[..subs.len()].copy_from_slice(&subs);
            principal_items.push(slot);
        }

        // Exact names are found by key (the buckets only hold their
        // fingerprints).
        let exacts: Vec<(u64, Entry)> = items
            .iter()
            .filter(|it| it.exact)
            .map(|it| {
                let e = Entry::new(
                    it.grant,
                    it.subject,
                    it.kind,
                    it.bits,
                    it.text.as_bytes(),
                    &mut names,
                );
                (key(it.subject, it.kind, Slot::Exact, it.hash), e)
            })
            .collect();
        let mut keyed = superusers;
        let mut overflow = Overflow::default();
        let mut form_buckets = || {
            let (buckets, collisions) = form_buckets(
                &mut items,
                &mut subject_kinds,
                &mut names,
                &mut keyed,
                &mut overflow,
            );
            (InlineTable::build(buckets), collisions)
        };
        // The exact-name table and the buckets are each a sort and random
        // writes over tens of megabytes: with many grants, build them side
        // by side (the cards, a pass over every grant, go with the first).
        let cards = || -> Vec<Card> { builtins.iter().chain(&grants).map(Card::new).collect() };
        let ((exact_table, mut runs), cards, (buckets, bucket_collisions)) =
            if grants.len() < PARALLEL_BUILD_FROM {
                (
                    build_entry_table(exacts, Vec::new()),
                    cards(),
                    form_buckets(),
                )
            } else {
                std::thread::scope(|s| {
                    let exact = s.spawn(|| (build_entry_table(exacts, Vec::new()), cards()));
                    let buckets = form_buckets();
                    let (exact, cards) = exact
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p));
                    (exact, cards, buckets)
                })
            };
        drop(items);
        let table;
        (table, runs) = build_entry_table(keyed, runs);
        Compiled {
            version,
            builtins,
            grants,
            cards,
            subject_ids,
            subject_names,
            subject_grants,
            kinds,
            short_prefixes,
            subject_kinds,
            buckets,
            bucket_collisions,
            overflow,
            table,
            exact_table,
            runs,
            names,
            principals: InlineTable::build(principal_items),
            principal_names,
            principal_overflow,
        }
    }

    /// The snapshot version this was compiled from (0 for staged grants).
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Grant `i` of the index (built-ins first), as in a [`Hit`].
    pub fn grant(&self, i: u32) -> &Grant {
        let i = i as usize;
        match i.checked_sub(self.builtins.len()) {
            None => &self.builtins[i],
            Some(j) => &self.grants[j],
        }
    }

    /// The subject ids a principal acts as: itself, its groups, and `extra`
    /// group subjects (e.g. `group:role:admin` from a JWT role), deduplicated.
    fn subject_list(&self, principal: &str, extra: &[String]) -> SmallVec<[u32; 8]> {
        let slot = self
            .principals
            .get(key(0, 0, Slot::Principal, fnv(principal)));
        let mut out: SmallVec<[u32; 8]> = match slot {
            Some(ps) if ps.name.get(&self.principal_names) == principal.as_bytes() => {
                SmallVec::from_slice(&ps.subs[..usize::from(ps.n)])
            }
            _ => self
                .principal_overflow
                .get(principal)
                .map(|v| SmallVec::from_slice(v))
                .unwrap_or_default(),
        };
        for e in extra {
            match self.subject_ids.get(e.as_str()) {
                Some(&id) if !out.contains(&id) => out.push(id),
                _ => {}
            }
        }
        out
    }

    /// Is entry `e`, found under a hash for `name` (or its first `len`
    /// bytes for a prefix), really that grant? Guards against hash collisions.
    fn confirm(
        &self,
        e: &Entry,
        subject: u32,
        kind: u32,
        name: &str,
        prefix_len: Option<usize>,
    ) -> bool {
        if e.subject != subject {
            return false;
        }
        let same_kind = match e.kind {
            FAR_KIND => match &self.grant(e.grant).resource.kind {
                None => kind == ANY_KIND,
                Some(k) => self.kinds.get(k.as_str()) == Some(&kind),
            },
            k => u32::from(k) == kind,
        };
        if !same_kind {
            return false;
        }
        let stored = e.name.get(&self.names);
        match prefix_len {
            None => stored == name.as_bytes(),
            Some(len) => stored.len() == len && name.as_bytes().starts_with(stored),
        }
    }

    /// The table a probe looks in.
    #[inline]
    fn table_for(&self, p: &Probe) -> &InlineTable<EntrySlot> {
        if p.prefix_len.is_none() && !p.superuser {
            &self.exact_table
        } else {
            &self.table
        }
    }

    /// The bucket (subject, kind, head), if the subject has one.
    #[inline]
    fn bucket(&self, k: u64, id: BucketId) -> Option<&Bucket> {
        let b = self.buckets.get(k)?;
        if (b.subject, b.kind, b.head) == id {
            Some(b)
        } else {
            self.bucket_collisions.get(&id)
        }
    }

    /// The decision rule: any matching deny → deny; else any matching allow
    /// (or a superuser grant) → allow; else deny.
    pub fn decide(&self, req: &Request<'_>, extra_groups: &[String]) -> Outcome {
        let subjects = self.subject_list(req.principal, extra_groups);
        let bit = super::grant::Actions::bit(req.action);
        let kid = self.kinds.get(req.kind).copied();
        let bytes = req.name.as_bytes();
        let name_head = head(bytes);
        let name_bit = head_bit(name_head);

        // The buckets to read: for each subject and kind it holds grants
        // in, its bucket of this name's head (or its only bucket), and the
        // bucket of short prefixes when the kind has any. Superuser grants
        // are looked up by key.
        let mut probes: SmallVec<[Probe; 8]> = SmallVec::new();
        let mut wanted: SmallVec<[(u64, BucketId); 16]> = SmallVec::new();
        for &sid in &subjects {
            let [held, all_heads, heads] = self.subject_kinds[sid as usize];
            if held & SUPERUSER_KIND != 0 {
                probes.push(Probe {
                    key: key(sid, ANY_KIND, Slot::Superuser, 0),
                    subject: sid,
                    kind: ANY_KIND,
                    prefix_len: None,
                    superuser: true,
                });
            }
            // No grant of the subject can match a name of another head.
            if heads & name_bit == 0 {
                continue;
            }
            for k in [kid, Some(ANY_KIND)].into_iter().flatten() {
                if held & kind_bit(k) == 0 {
                    continue;
                }
                let mut want = |h: u32| wanted.push((bucket_key(sid, k, h), (sid, k, h)));
                if all_heads & kind_bit(k) != 0 {
                    want(ALL_HEADS);
                    continue;
                }
                want(name_head);
                if name_head != SHORT_HEAD && self.short_prefixes[k as usize] {
                    want(SHORT_HEAD);
                }
            }
        }
        // Start every read before using any: they do not depend on each other.
        for &(k, _) in &wanted {
            std::hint::black_box(self.buckets.home(k).touch());
        }

        let mut found = Outcome::nothing();
        // The name's cuts and hash, made once a bucket is found (most
        // decisions on a small policy find none).
        let mut name_keys = None;
        for &(k, id @ (sid, kind, h)) in &wanted {
            let Some(b) = self.bucket(k, id) else {
                continue;
            };
            let (cuts, full) =
                &*name_keys.get_or_insert_with(|| (NameCuts::new(bytes), fnv(req.name)));
            let full = *full;
            // Only the bucket a name's own head files it under can hold it
            // exactly (the short bucket also holds shorter prefixes).
            let exact_here = h == name_head || h == ALL_HEADS;
            let probe = |key, prefix_len| Probe {
                key,
                subject: sid,
                kind,
                prefix_len,
                superuser: false,
            };
            if let Some(mask) = b.indexed_mask() {
                if exact_here && mask & HAS_EXACT != 0 {
                    probes.push(probe(key(sid, kind, Slot::Exact, full), None));
                }
                let mut ph = FNV_START;
                for (len, &byte) in bytes.iter().chain([&0]).enumerate() {
                    if mask & len_bit(len) != 0 {
                        probes.push(probe(key(sid, kind, Slot::Prefix, ph), Some(len)));
                    }
                    ph = fnv_step(ph, byte);
                }
                continue;
            }
            let mut record = |e: &PrefixEntry| found.record(e.grant, sid, e.bits & DENY_BIT != 0);
            let mut matching = b.matching_prefixes(bit, bytes, cuts, &self.names);
            while matching != 0 {
                record(&b.prefixes()[matching.trailing_zeros() as usize]);
                matching &= matching - 1;
            }
            let fingerprint = exact_fingerprint(full, 0);
            let mut may_be_exact = exact_here && b.may_hold_exact(fingerprint, FINGERPRINT, bit);
            if let Some((more_prefixes, more_exact)) = b.overflow() {
                for e in &self.overflow.prefixes[more_prefixes] {
                    if e.bits & bit != 0 && e.is_prefix_of(bytes, cuts, &self.names) {
                        record(e);
                    }
                }
                may_be_exact |= exact_here
                    && any_fingerprint(
                        &self.overflow.fingerprints[more_exact],
                        fingerprint,
                        FINGERPRINT,
                        bit,
                    );
            }
            if may_be_exact {
                probes.push(probe(key(sid, kind, Slot::Exact, full), None));
            }
        }

        // The rest are found by key: superuser grants, exact names whose
        // fingerprint matched, and the prefixes of indexed buckets.
        for p in &probes {
            std::hint::black_box(self.table_for(p).warm(&[p.key]));
        }
        for p @ &Probe {
            key: k,
            subject: sid,
            kind,
            prefix_len,
            superuser,
        } in &probes
        {
            let Some(slot) = self.table_for(p).get(k) else {
                continue;
            };
            let entries = if slot.entry.bits & MORE_BIT != 0 {
                let run = &self.runs[slot.entry.grant as usize..];
                let len = run.iter().position(|e| e.bits & LAST_BIT != 0);
                &run[..len.map_or(run.len(), |i| i + 1)]
            } else {
                std::slice::from_ref(&slot.entry)
            };
            // LAST_BIT in `bits` is neither an action nor DENY_BIT: the
            // checks below ignore it.
            for e in entries {
                let ok = if superuser {
                    e.subject == sid
                } else {
                    e.bits & bit != 0 && self.confirm(e, sid, kind, req.name, prefix_len)
                };
                if ok {
                    found.record(e.grant, sid, e.bits & DENY_BIT != 0 && !superuser);
                }
            }
        }
        // In grant order, whichever way each was found.
        found
            .hits
            .sort_unstable_by_key(|h: &Hit| (h.grant, h.subject));
        found.allow = found.reason == Reason::Allowed;
        found
    }

    /// Does `principal` (with `extra_groups`) hold the superuser grant, with
    /// no deny against administering access?
    pub fn is_superuser(&self, principal: &str, extra_groups: &[String]) -> bool {
        let req = Request {
            principal,
            action: crate::policy::Action::Admin,
            kind: "access",
            name: "tokens",
        };
        let outcome = self.decide(&req, extra_groups);
        outcome.allow
            && outcome
                .hits
                .iter()
                .any(|h| self.grant(h.grant).is_superuser())
    }

    /// The group a subject id stands for, as `via`.
    fn via(&self, sid: u32) -> Option<&str> {
        let name = &*self.subject_names[sid as usize];
        name.starts_with("group:").then_some(name)
    }

    /// Render an outcome, with near misses when `explain` is set.
    pub fn render<'a>(
        &'a self,
        req: &Request<'a>,
        extra_groups: &[String],
        outcome: &Outcome,
        explain: bool,
    ) -> Decision<'a> {
        // Start every card's read before using any (see `decide`).
        for h in &outcome.hits {
            std::hint::black_box(self.cards[h.grant as usize].id_len);
        }
        let matched = outcome
            .hits
            .iter()
            .map(|h| {
                let (id, effect, subject) =
                    self.cards[h.grant as usize].get().unwrap_or_else(|| {
                        let g = self.grant(h.grant);
                        (&g.id, g.effect.as_str(), g.subject.as_str())
                    });
                // A grant is only ever reached under its own subject, so
                // `via` is that subject when it is a group; no read of the
                // subject table needed.
                let via = subject.starts_with("group:").then_some(subject);
                debug_assert_eq!(via, self.via(h.subject));
                Matched {
                    id,
                    effect,
                    subject,
                    via,
                }
            })
            .collect();
        let near_misses = explain.then(|| {
            let mut out = Vec::new();
            for sid in self.subject_list(req.principal, extra_groups) {
                for &gi in &self.subject_grants[sid as usize] {
                    let g = self.grant(gi);
                    if g.is_superuser() {
                        continue;
                    }
                    let action_ok = g.actions.contains(req.action);
                    let resource_ok = g.resource.matches(req.kind, req.name);
                    let failed_on = match (action_ok, resource_ok) {
                        (false, true) => "action",
                        (true, false) => "resource",
                        _ => continue,
                    };
                    out.push(NearMiss {
                        id: &g.id,
                        effect: g.effect.as_str(),
                        subject: g.subject.as_str(),
                        via: self.via(sid),
                        actions: g.actions.names(),
                        resource: g.resource.to_string(),
                        failed_on,
                    });
                }
            }
            out
        });
        Decision {
            decision: if outcome.allow { "allow" } else { "deny" },
            reason: outcome.reason,
            matched,
            snapshot: self.version,
            near_misses,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::grant::{Actions, Subject};

    fn grant(id: &str, subject: &str, effect: Effect, actions: &[&str], resource: &str) -> Grant {
        Grant {
            id: id.into(),
            subject: subject.parse::<Subject>().unwrap(),
            effect,
            actions: Actions::parse_list(actions).unwrap(),
            resource: resource.parse().unwrap(),
            source: "cli".into(),
            active: true,
            note: None,
            created_at: 0,
            created_by: "t".into(),
        }
    }

    fn req<'a>(principal: &'a str, action: Action, resource: &'a str) -> Request<'a> {
        let (kind, name) = parse_resource(resource).unwrap();
        Request {
            principal,
            action,
            kind,
            name,
        }
    }

    /// Decide `q` with the index and with the reference evaluator, assert
    /// they agree on the answer, the reason and the matched grants, and
    /// return whether it is allowed.
    fn agrees_with_reference(
        c: &Compiled,
        grants: &[Grant],
        members: &[Membership],
        q: &Request<'_>,
    ) -> bool {
        let fast = c.decide(q, &[]);
        let (allow, reason, mut want) =
            super::super::reference::decide_naive(grants, members, q, &[]);
        assert_eq!((fast.allow, fast.reason), (allow, reason), "{q:?}");
        let mut got: Vec<String> = fast
            .hits
            .iter()
            .map(|h| c.grant(h.grant).id.clone())
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{q:?}");
        allow
    }

    #[test]
    fn rules_of_the_design() {
        let grants = vec![
            grant("g1", "group:ops", Effect::Allow, &["run"], "worker:build-*"),
            grant(
                "g2",
                "user:bob",
                Effect::Deny,
                &["run"],
                "worker:build-secret",
            ),
            grant("g3", "user:carol", Effect::Allow, &["admin"], "access:*"),
            grant("g4", "user:carol", Effect::Deny, &["read"], "vault:root"),
            grant("g5", "user:dave", Effect::Allow, &["read"], "*:*"),
        ];
        let members = vec![
            Membership {
                group: "ops".into(),
                principal: "user:alice".into(),
            },
            Membership {
                group: "ops".into(),
                principal: "user:bob".into(),
            },
        ];
        let c = Compiled::new(7, grants, &members);
        let d = |p, a, r| c.decide(&req(p, a, r), &[]);

        let o = d("user:alice", Action::Run, "worker:build-1");
        assert_eq!((o.allow, o.reason), (true, Reason::Allowed));
        let rendered = c.render(
            &req("user:alice", Action::Run, "worker:build-1"),
            &[],
            &o,
            false,
        );
        assert_eq!(rendered.matched[0].via, Some("group:ops"));
        assert_eq!(rendered.snapshot, 7);

        // Exact action match, no implication.
        assert_eq!(
            d("user:alice", Action::Write, "worker:build-1").reason,
            Reason::NoMatchingGrant
        );
        // Deny wins over a group allow.
        assert_eq!(
            d("user:bob", Action::Run, "worker:build-secret").reason,
            Reason::ExplicitDeny
        );
        assert!(d("user:bob", Action::Run, "worker:build-2").allow);
        // Superuser: admin on access:* allows everything, except where denied.
        assert!(d("user:carol", Action::Run, "worker:anything").allow);
        assert!(d("user:carol", Action::Write, "vault:root").allow);
        assert_eq!(
            d("user:carol", Action::Read, "vault:root").reason,
            Reason::ExplicitDeny
        );
        // A broad read is not a superuser.
        assert!(d("user:dave", Action::Read, "worker:x").allow);
        assert!(!d("user:dave", Action::Admin, "access:grants").allow);
        // Default deny.
        assert_eq!(
            d("user:nobody", Action::Read, "worker:x").reason,
            Reason::NoMatchingGrant
        );
        // Role groups from outside (JWT roles).
        let roles = vec!["group:role:viewer".to_owned()];
        assert!(
            c.decide(&req("user:eve", Action::Read, "vault:x"), &roles)
                .allow
        );
        assert!(
            !c.decide(&req("user:eve", Action::Write, "vault:x"), &roles)
                .allow
        );
    }

    #[test]
    fn matched_grants_render_the_same_from_cards_or_from_the_grant() {
        // A card holds id and subject when together they fit in 61 bytes;
        // the long group name here does not fit and is read from the grant.
        let long = format!("group:{}", "g".repeat(70));
        let grants = vec![
            grant(
                "grt_short",
                "group:ops",
                Effect::Allow,
                &["run"],
                "worker:*",
            ),
            grant("grt_long", &long, Effect::Allow, &["run"], "worker:build-*"),
            grant(
                "grt_user",
                "user:alice",
                Effect::Deny,
                &["run"],
                "worker:build-9",
            ),
        ];
        let members = vec![
            Membership {
                group: "ops".into(),
                principal: "user:alice".into(),
            },
            Membership {
                group: long["group:".len()..].into(),
                principal: "user:alice".into(),
            },
        ];
        let c = Compiled::new(1, grants, &members);
        let r = req("user:alice", Action::Run, "worker:build-9");
        let o = c.decide(&r, &[]);
        let d = c.render(&r, &[], &o, false);
        let got: Vec<_> = d
            .matched
            .iter()
            .map(|m| (m.id, m.effect, m.subject, m.via))
            .collect();
        let want = vec![
            ("grt_short", "allow", "group:ops", Some("group:ops")),
            ("grt_long", "allow", long.as_str(), Some(long.as_str())),
            ("grt_user", "deny", "user:alice", None),
        ];
        assert_eq!(got, want);
        assert_eq!(d.decision, "deny");
        let cards: Vec<bool> = (0..c.cards.len())
            .skip(c.builtins.len())
            .map(|i| c.cards[i].get().is_some())
            .collect();
        assert_eq!(cards, [true, false, true]);
    }

    #[test]
    fn explain_lists_near_misses() {
        let grants = vec![
            grant("g1", "user:a", Effect::Allow, &["read"], "worker:build-*"),
            grant("g2", "user:a", Effect::Allow, &["run"], "worker:deploy"),
            grant("g3", "user:a", Effect::Allow, &["write"], "vault:x"),
        ];
        let c = Compiled::new(1, grants, &[]);
        let r = req("user:a", Action::Run, "worker:build-1");
        let o = c.decide(&r, &[]);
        let d = c.render(&r, &[], &o, true);
        let nm: Vec<_> = d
            .near_misses
            .unwrap()
            .iter()
            .map(|n| (n.id, n.failed_on))
            .collect();
        assert_eq!(nm, vec![("g1", "action"), ("g2", "resource")]);
    }

    #[test]
    fn requests_must_be_concrete() {
        for bad in ["worker", "worker:", "worker:a*", "Worker:x", "worker:a b"] {
            assert!(parse_resource(bad).is_err(), "{bad}");
        }
    }

    /// Both probe paths (a few prefix lengths: filter only; many: `meta`
    /// first) and principals beyond the inline slot decide as the reference.
    #[test]
    fn many_prefix_lengths_and_many_groups_decide_as_the_reference() {
        let mut grants = Vec::new();
        let mut members = Vec::new();
        // Prefixes of 1..=20 bytes of "abcdefghijklmnopqrst" for kind worker,
        // spread over subjects; exact names too; some denies.
        let word = "abcdefghijklmnopqrst";
        for len in 1..=20 {
            let subject = format!("group:g{}", len % 15);
            let effect = if len % 7 == 0 {
                Effect::Deny
            } else {
                Effect::Allow
            };
            let res = format!("worker:{}*", &word[..len]);
            grants.push(grant(&format!("p{len}"), &subject, effect, &["run"], &res));
            let exact = format!("vault:{}", &word[..len]);
            grants.push(grant(
                &format!("e{len}"),
                &subject,
                Effect::Allow,
                &["read"],
                &exact,
            ));
        }
        grants.push(grant(
            "few",
            "user:solo",
            Effect::Allow,
            &["run"],
            "queue:jobs-*",
        ));
        // user:many is in all 15 groups (more than a slot holds inline).
        for g in 0..15 {
            members.push(Membership {
                group: format!("g{g}"),
                principal: "user:many".into(),
            });
        }
        members.push(Membership {
            group: "g3".into(),
            principal: "user:few".into(),
        });
        let c = Compiled::new(1, grants.clone(), &members);
        let mut checked = 0;
        for p in ["user:many", "user:few", "user:solo", "user:nobody"] {
            for a in [Action::Run, Action::Read] {
                for len in 0..=20 {
                    for kind in ["worker", "vault", "queue"] {
                        let name = if kind == "queue" {
                            format!("jobs-{}", &word[..len])
                        } else {
                            word[..len.max(1)].to_owned()
                        };
                        let r = format!("{kind}:{name}");
                        agrees_with_reference(&c, &grants, &members, &req(p, a, &r));
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 4 * 2 * 21 * 3);
        // The cases are not all one answer.
        let q = req("user:many", Action::Run, "worker:abcdef");
        assert!(c.decide(&q, &[]).allow, "p1..p6 allow");
        let q = req("user:many", Action::Run, "worker:abcdefg");
        assert!(!c.decide(&q, &[]).allow, "p7 is a deny");
    }

    #[test]
    fn full_buckets_overflow_then_are_indexed_and_decide_as_the_reference() {
        use super::super::index::{OVERFLOW_EXACTS, OVERFLOW_PREFIXES};
        #[derive(Debug, PartialEq)]
        enum Form {
            Inline,
            Extended,
            Indexed,
        }
        let most_extended = (
            BUCKET_PREFIXES - 1 + OVERFLOW_PREFIXES,
            BUCKET_EXACTS + OVERFLOW_EXACTS,
        );
        let cases = [
            ((BUCKET_PREFIXES, BUCKET_EXACTS), Form::Inline),
            ((BUCKET_PREFIXES + 1, 3), Form::Extended),
            ((2, BUCKET_EXACTS + 1), Form::Extended),
            (most_extended, Form::Extended),
            ((most_extended.0 + 1, 3), Form::Indexed),
            ((2, most_extended.1 + 1), Form::Indexed),
        ];
        let actions = [&["read"][..], &["run"], &["read", "run"]];
        for ((n_prefix, n_exact), form) in cases {
            // One subject, one kind, one head; another head so that the
            // subject gets a bucket per head, not one for all.
            let mut grants = vec![grant(
                "other",
                "user:a",
                Effect::Allow,
                &["read"],
                "worker:zzz-*",
            )];
            for i in 0..n_prefix.max(n_exact) {
                let effect = if i % 5 == 4 {
                    Effect::Deny
                } else {
                    Effect::Allow
                };
                let acts = actions[i % 3];
                if i < n_prefix {
                    let res = format!("worker:abc{}*", "x".repeat(i % 7));
                    grants.push(grant(&format!("p{i}"), "user:a", effect, acts, &res));
                }
                if i < n_exact {
                    let res = format!("worker:abc-{i}");
                    grants.push(grant(&format!("e{i}"), "user:a", effect, acts, &res));
                }
            }
            let c = Compiled::new(1, grants.clone(), &[]);
            let (sid, kid) = (c.subject_ids["user:a"], c.kinds["worker"]);
            let b = c.bucket(bucket_key(sid, kid, head(b"abc")), (sid, kid, head(b"abc")));
            let b = b.expect("the head's bucket");
            let got = match (b.overflow(), b.indexed_mask()) {
                (None, None) => Form::Inline,
                (Some(_), None) => Form::Extended,
                (None, Some(_)) => Form::Indexed,
                (Some(_), Some(_)) => unreachable!("both extended and indexed"),
            };
            assert_eq!(got, form, "{n_prefix} prefixes, {n_exact} exact names");

            let mut allows = 0;
            for a in [Action::Read, Action::Run, Action::Write] {
                for name in (0..n_exact + 2)
                    .map(|i| format!("abc-{i}"))
                    .chain((0..8).map(|i| format!("abc{}", "x".repeat(i))))
                    .chain(["abd-1".into(), "ab".into(), "zzz-1".into()])
                {
                    let r = format!("worker:{name}");
                    let allow = agrees_with_reference(&c, &grants, &[], &req("user:a", a, &r));
                    allows += usize::from(allow);
                }
            }
            assert!(allows > 0, "some request is allowed");
        }
    }

    #[test]
    fn a_bucket_whose_key_another_took_is_still_found_and_only_its_own() {
        let grants = vec![
            grant("ga", "user:a", Effect::Allow, &["read"], "worker:build-*"),
            grant("gb", "user:b", Effect::Allow, &["read"], "worker:deploy-*"),
        ];
        let mut c = Compiled::new(1, grants, &[]);
        let (a, b) = (c.subject_ids["user:a"], c.subject_ids["user:b"]);
        let kid = c.kinds["worker"];
        let (ka, kb) = (bucket_key(a, kid, ALL_HEADS), bucket_key(b, kid, ALL_HEADS));
        let (ba, bb) = (*c.buckets.get(ka).unwrap(), *c.buckets.get(kb).unwrap());
        // As the build leaves a collision: user:b's key finds user:a's
        // bucket, and user:b's own is in the side map.
        let impostor = Bucket::inline(kb, (a, kid, ALL_HEADS), &ba.prefixes()[..1], &[]).unwrap();
        c.buckets = InlineTable::build(vec![ba, impostor]);
        c.bucket_collisions.insert((b, kid, ALL_HEADS), bb);

        let allowed = |p: &str, r: &str| c.decide(&req(p, Action::Read, r), &[]).allow;
        assert!(allowed("user:b", "worker:deploy-1"));
        assert!(!allowed("user:b", "worker:build-1"));
        assert!(allowed("user:a", "worker:build-1"));
        assert!(!allowed("user:a", "worker:deploy-1"));
    }

    #[test]
    fn kinds_beyond_what_an_entry_holds_inline_still_decide_exactly() {
        // More kinds than an entry's u16 holds: the last ones are confirmed
        // through the grant itself, and share one bit of a subject's kinds.
        let n = usize::from(FAR_KIND) + 4;
        let grants: Vec<Grant> = (0..n)
            .map(|i| {
                let res = format!("k{i}:name-{}", i % 3);
                grant(&format!("g{i}"), "user:a", Effect::Allow, &["read"], &res)
            })
            .collect();
        let c = Compiled::new(1, grants, &[]);
        assert!(c.kinds.values().any(|&k| k > u32::from(FAR_KIND)));
        for i in [0, 61, 62, 63, n - 5, n - 4, n - 3, n - 1] {
            let hit = format!("k{i}:name-{}", i % 3);
            let o = c.decide(&req("user:a", Action::Read, &hit), &[]);
            assert!(o.allow, "{hit}");
            assert_eq!(c.grant(o.hits[0].grant).id, format!("g{i}"));
            let other = format!("k{i}:name-{}", (i + 1) % 3);
            assert!(
                !c.decide(&req("user:a", Action::Read, &other), &[]).allow,
                "{other}"
            );
            let q = req("user:b", Action::Read, &hit);
            assert!(!c.decide(&q, &[]).allow, "user:b {hit}");
        }
    }
}
