//! The compiled policy: an index over active grants and memberships so a
//! decision costs about the same with 100 grants or 1,000,000, and the one
//! decision function that `grant check` and `serve` both call.
//!
//! Index: subject → kind (or any kind) → exact names by hash, and prefixes by
//! hash of the prefix, probed only at the prefix lengths that occur among
//! the names that start as the request's does (its first `HEAD` bytes). The
//! superuser grants of a subject are kept apart: they match everything.

use rustc_hash::FxHashMap;
use serde::Serialize;
use smallvec::SmallVec;

use super::grant::{Effect, Grant, builtin_grants};
use super::index::{
    FNV_START, InlineTable, KeyFilter, Keyed, ShortName, Slot, Word, fnv, fnv_step, key, unique_key,
};
use super::{Action, NamePattern};
use crate::error::{Error, Result};

/// A membership: `principal` belongs to `group`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
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
        _ => Err(Error::usage(format!("invalid resource '{s}'")).with_hint(
            "a request names one resource as <kind>:<name>, e.g. worker:build-1 (no *)",
        )),
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

/// A matching grant as shown in a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matched<'a> {
    pub id: &'a str,
    pub effect: &'static str,
    pub subject: &'a str,
    pub via: Option<&'a str>,
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

/// Grants from which the index's filter and table are built on two threads.
const PARALLEL_BUILD_FROM: usize = 50_000;

/// The filter block of the names and prefixes of subject `sid` in kind
/// `kid` that start with `head` (`None`: shorter than `HEAD`), before the
/// action: every probe a decision makes for one subject and kind falls in
/// one or two blocks.
#[inline]
fn block(sid: u32, kid: u32, head: Option<u64>) -> u64 {
    key(sid, kid, Slot::Block, head.unwrap_or(1 << 24))
}

/// The filter block `block` asked with action `bit`.
#[inline]
fn action_block(block: u64, bit: u8) -> u64 {
    // Blocks are already well mixed (see `key`): one xor with a per-action
    // constant moves the same block to another line for each action.
    block ^ u64::from(bit).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

const DENY_BIT: u8 = 0x80;
/// In a table slot: several grants share this key (see `Compiled::runs`).
const MORE_BIT: u8 = 0x40;
/// In `Compiled::runs`: the last entry of a key's run.
const LAST_BIT: u8 = 0x10;
/// Kind id of grants whose kind is `*`.
const ANY_KIND: u32 = 0;
/// Bit of the prefix-length mask standing for "62 bytes or longer".
const LONG: u32 = 62;
/// Above this many prefix lengths in a request's kinds, a decision first
/// reads which lengths each subject really has (`Compiled::meta`).
const META_ABOVE: usize = 8;
/// The bit of a prefix-length mask for prefixes of `len` bytes (`LONG` for
/// all from 62 on).
#[inline]
fn len_bit(len: usize) -> u64 {
    1 << len.min(LONG as usize)
}
/// Bit of a (subject, kind) mask: the pair has exact-name grants.
const HAS_EXACT: u64 = 1 << 63;
/// In `Compiled::subject_kinds`: the subject holds a superuser grant.
const SUPERUSER_KIND: u64 = 1 << 63;

/// The bit of kind `kid` in `Compiled::subject_kinds` (kinds from 62 on share one).
#[inline]
fn kind_bit(kid: u32) -> u64 {
    1 << kid.min(62)
}

/// Names and prefixes are grouped by their first `HEAD` bytes (see `Compiled::heads`).
const HEAD: usize = 3;
/// The bits of a prefix-length mask for lengths under `HEAD`.
const SHORT_LENS: u64 = (1 << HEAD) - 1;

/// The key of (subject, kind) in `Compiled::meta`.
#[inline]
fn meta_key(sid: u32, kid: u32) -> u64 {
    unique_key(u64::from(sid) << 32 | u64::from(kid))
}

/// The key of (kind, head) in `Compiled::heads`.
#[inline]
fn head_key(kid: u32, head: u64) -> u64 {
    unique_key(u64::from(kid) << 24 | head)
}

/// The first `HEAD` bytes of a name, as a number (`None` when shorter).
#[inline]
fn head(name: &[u8]) -> Option<u64> {
    match name {
        [a, b, c, ..] => Some(u64::from(*a) | u64::from(*b) << 8 | u64::from(*c) << 16),
        _ => None,
    }
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
    subject_ids: FxHashMap<Box<str>, u32>,
    subject_names: Vec<Box<str>>,
    /// Every grant of each subject, for near misses.
    subject_grants: Vec<Vec<u32>>,
    /// Kind name → id (from 1; 0 is `*`).
    kinds: FxHashMap<Box<str>, u32>,
    /// Per kind id: bit `len_bit(L)` set when some prefix of length L under
    /// `HEAD` occurs, and `HAS_EXACT` when some exact name that short does.
    short_lens: Vec<u64>,
    /// Per (kind, first `HEAD` bytes): the same bits for the prefixes and
    /// exact names that start so. A request only probes the lengths its own
    /// name could match.
    heads: InlineTable<Word>,
    /// Per (subject, kind): its prefix-length mask, plus `HAS_EXACT`.
    meta: InlineTable<Word>,
    /// Per subject: the kinds it holds grants for (bit `kind_bit`), and
    /// `SUPERUSER_KIND` when it holds a superuser grant. Small and dense: a
    /// decision skips the kinds, often `*`, that a subject has nothing in
    /// without a trip to the filter.
    subject_kinds: Vec<u64>,
    /// Prefix and superuser grants.
    table: InlineTable<EntrySlot>,
    /// Exact-name grants: apart, so the prefix grants that decisions match
    /// most often sit in a smaller table.
    exact_table: InlineTable<EntrySlot>,
    /// Which (key, action) pairs the tables may hold, by block (see `block`):
    /// a mostly cache-resident first check.
    filter: KeyFilter,
    /// The grants of each key that holds several, one run per key in grant
    /// order, the last carrying `LAST_BIT`.
    runs: Vec<Entry>,
    /// The names or prefixes too long to be inline in an [`Entry`], back to
    /// back (confirming a hit costs one cache line instead of a walk through
    /// the grant).
    names: Vec<u8>,
    /// Principal → its subject ids.
    principals: InlineTable<PrincipalSlot>,
    /// The principals' names too long for their slot, back to back.
    principal_names: Vec<u8>,
    /// Principals with more than `PRINCIPAL_INLINE` subjects, or whose hash
    /// collided with another's (practically never).
    principal_overflow: FxHashMap<Box<str>, Vec<u32>>,
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
        let mut short_lens = vec![0u64];
        let mut heads: FxHashMap<u64, u64> = FxHashMap::default();
        let mut items = Vec::with_capacity(builtins.len() + grants.len());
        let mut meta: FxHashMap<(u32, u32), u64> = FxHashMap::default();
        let mut subject_kinds: Vec<u64> = Vec::new();
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
                    subject_kinds.push(0);
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
                subject_kinds[sid as usize] |= SUPERUSER_KIND;
                let e = Entry::new(i, sid, ANY_KIND, bits | SUPERUSER_BIT, b"", &mut names);
                let k = key(sid, ANY_KIND, Slot::Superuser, 0);
                items.push((k, k, e, false));
                continue;
            }
            let kid = match &g.resource.kind {
                None => ANY_KIND,
                Some(k) => match kinds.get(k.as_str()) {
                    Some(&kid) => kid,
                    None => {
                        let kid = short_lens.len() as u32;
                        kinds.insert(k.as_str().into(), kid);
                        short_lens.push(0);
                        kid
                    }
                },
            };
            let text = match &g.resource.name {
                NamePattern::Exact(n) | NamePattern::Prefix(n) => n.as_bytes(),
            };
            subject_kinds[sid as usize] |= kind_bit(kid);
            let e = Entry::new(i, sid, kid, bits, text, &mut names);
            let b = block(sid, kid, head(text));
            let bit = match &g.resource.name {
                NamePattern::Exact(_) => HAS_EXACT,
                NamePattern::Prefix(p) => len_bit(p.len()),
            };
            match head(text) {
                Some(h) => *heads.entry(head_key(kid, h)).or_default() |= bit,
                None => short_lens[kid as usize] |= bit,
            }
            *meta.entry((sid, kid)).or_default() |= bit;
            let (k, exact) = match &g.resource.name {
                NamePattern::Exact(n) => (key(sid, kid, Slot::Exact, fnv(n)), true),
                NamePattern::Prefix(p) => (key(sid, kid, Slot::Prefix, fnv(p)), false),
            };
            items.push((k, b, e, exact));
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
        // A key's only grant goes inline; a key with several gets a run, in
        // grant order.
        items.sort_unstable_by_key(|&(k, _, e, exact)| (exact, k, e.grant));
        let (others, exacts) = items.split_at(items.partition_point(|it| !it.3));
        // The filter holds (key, action) pairs: a probe passes only when some
        // grant under its key has the requested action (superuser grants
        // match every action), so a resource that is granted, but for other
        // actions, does not cost a trip to the table.
        let actions_of = |e: &Entry| {
            if e.bits & SUPERUSER_BIT != 0 {
                ACTION_BITS
            } else {
                e.bits & ACTION_BITS
            }
        };
        let n_pairs = items
            .iter()
            .map(|(_, _, e, _)| actions_of(e).count_ones() as usize)
            .sum();
        let build_filter = || {
            KeyFilter::build(
                items.iter().flat_map(|&(k, b, e, _)| {
                    let acts = actions_of(&e);
                    (0..4u8)
                        .map(|i| 1u8 << i)
                        .filter(move |bit| acts & bit != 0)
                        .map(move |bit| (action_block(b, bit), k))
                }),
                n_pairs,
            )
        };
        let build_table = |items: &[(u64, u64, Entry, bool)], runs: &mut Vec<Entry>| {
            let mut slots = Vec::with_capacity(items.len());
            for run in items.chunk_by(|a, b| a.0 == b.0) {
                let (k, _, first, _) = run[0];
                let entry = match run {
                    [_] => first,
                    _ => {
                        let start = runs.len() as u32;
                        runs.extend(run.iter().map(|&(_, _, e, _)| e));
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
            InlineTable::build(slots)
        };
        let build_tables = || {
            let mut runs = Vec::new();
            let table = build_table(others, &mut runs);
            let exact_table = build_table(exacts, &mut runs);
            (table, exact_table, runs)
        };
        // Both are random writes over megabytes: with many grants, build
        // them side by side.
        let (filter, (table, exact_table, runs)) = if items.len() < PARALLEL_BUILD_FROM {
            (build_filter(), build_tables())
        } else {
            std::thread::scope(|s| {
                let filter = s.spawn(build_filter);
                let tables = build_tables();
                let filter = filter
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                (filter, tables)
            })
        };
        Compiled {
            version,
            builtins,
            grants,
            subject_ids,
            subject_names,
            subject_grants,
            kinds,
            short_lens,
            heads: InlineTable::build(
                heads
                    .into_iter()
                    .map(|(key, value)| Word { key, value })
                    .collect(),
            ),
            meta: InlineTable::build(
                meta.into_iter()
                    .map(|((sid, kid), m)| Word {
                        key: meta_key(sid, kid),
                        value: m,
                    })
                    .collect(),
            ),
            subject_kinds,
            table,
            exact_table,
            filter,
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

    /// The decision rule: any matching deny → deny; else any matching allow
    /// (or a superuser grant) → allow; else deny.
    pub fn decide(&self, req: &Request<'_>, extra_groups: &[String]) -> Outcome {
        let subjects = self.subject_list(req.principal, extra_groups);
        let bit = super::grant::Actions::bit(req.action);
        let kid = self.kinds.get(req.kind).copied();
        let bytes = req.name.as_bytes();
        // The kinds to look in and, for each, the lengths this name could
        // match (a kind with none of them costs nothing further).
        let name_head = head(bytes);
        let mut kinds: SmallVec<[(u32, u64); 2]> = SmallVec::new();
        for k in [kid, Some(ANY_KIND)].into_iter().flatten() {
            let long = name_head
                .and_then(|h| self.heads.get(head_key(k, h)))
                .map_or(0, |w| w.value);
            let m = self.short_lens[k as usize] | long;
            if m != 0 {
                kinds.push((k, m));
            }
        }
        let mask = kinds.iter().fold(0, |acc, &(_, m)| acc | m);

        // Hash the name once, keeping the prefix hashes at lengths that occur.
        let mut prefixes: SmallVec<[(usize, u64); 16]> = SmallVec::new();
        let mut h = FNV_START;
        for len in 0..=bytes.len() {
            if mask & len_bit(len) != 0 {
                prefixes.push((len, h));
            }
            if len < bytes.len() {
                h = fnv_step(h, bytes[len]);
            }
        }
        let full = h;

        // Few prefix lengths for these kinds: probe them all for every
        // subject and let the filter drop the misses. Many: first ask which
        // (subject, kind) pairs hold grants at all, and at which lengths
        // (one round of independent lookups), to keep the probes few.
        let use_meta = prefixes.len() > META_ABOVE;
        let mut pairs: SmallVec<[(u32, u32, u64); 16]> = SmallVec::new();
        for &sid in &subjects {
            let held = self.subject_kinds[sid as usize];
            for &(k, m) in kinds.iter().filter(|(k, _)| held & kind_bit(*k) != 0) {
                pairs.push((sid, k, m));
            }
        }
        if use_meta {
            let meta_keys: SmallVec<[u64; 16]> =
                pairs.iter().map(|&(sid, k, _)| meta_key(sid, k)).collect();
            std::hint::black_box(self.meta.warm(&meta_keys));
        }

        // Then every probe of this decision, computed up front. Most would
        // miss, or find grants only for other actions; the filter (mostly
        // in cache) drops nearly all of those before they cost a trip to
        // memory, and before they are even kept.
        let mut probes: SmallVec<[Probe; 8]> = SmallVec::new();
        let mut push = |block: u64, p: Probe| {
            if self.filter.may_contain(action_block(block, bit), p.key) {
                probes.push(p);
            }
        };
        for &sid in &subjects {
            if self.subject_kinds[sid as usize] & SUPERUSER_KIND != 0 {
                let k = key(sid, ANY_KIND, Slot::Superuser, 0);
                push(
                    k,
                    Probe {
                        key: k,
                        subject: sid,
                        kind: ANY_KIND,
                        prefix_len: None,
                        superuser: true,
                    },
                );
            }
        }
        for &(sid, k, m) in &pairs {
            let m = if use_meta {
                match self.meta.get(meta_key(sid, k)) {
                    Some(&Word { value, .. }) => value & m,
                    None => continue,
                }
            } else {
                m
            };
            // The block of this name's head, and (only when some shorter
            // prefix is probed) the block of names shorter than a head.
            let long = block(sid, k, name_head);
            let short = if name_head.is_some() && m & SHORT_LENS != 0 {
                block(sid, k, None)
            } else {
                long
            };
            if m & HAS_EXACT != 0 {
                push(
                    long,
                    Probe {
                        key: key(sid, k, Slot::Exact, full),
                        subject: sid,
                        kind: k,
                        prefix_len: None,
                        superuser: false,
                    },
                );
            }
            for &(len, ph) in &prefixes {
                if m & len_bit(len) != 0 {
                    push(
                        if len < HEAD { short } else { long },
                        Probe {
                            key: key(sid, k, Slot::Prefix, ph),
                            subject: sid,
                            kind: k,
                            prefix_len: Some(len),
                            superuser: false,
                        },
                    );
                }
            }
        }
        for p in &probes {
            std::hint::black_box(self.table_for(p).warm(&[p.key]));
        }

        let mut hits = SmallVec::new();
        let (mut any_allow, mut any_deny) = (false, false);
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
                    if e.bits & DENY_BIT != 0 && !superuser {
                        any_deny = true;
                    } else {
                        any_allow = true;
                    }
                    hits.push(Hit {
                        grant: e.grant,
                        subject: sid,
                    });
                }
            }
        }
        let (allow, reason) = if any_deny {
            (false, Reason::ExplicitDeny)
        } else if any_allow {
            (true, Reason::Allowed)
        } else {
            (false, Reason::NoMatchingGrant)
        };
        Outcome {
            allow,
            reason,
            hits,
        }
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
        let matched = outcome
            .hits
            .iter()
            .map(|h| {
                let g = self.grant(h.grant);
                Matched {
                    id: &g.id,
                    effect: g.effect.as_str(),
                    subject: g.subject.as_str(),
                    via: self.via(h.subject),
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
                        let q = req(p, a, &r);
                        let fast = c.decide(&q, &[]);
                        let (allow, reason, mut want) =
                            super::super::reference::decide_naive(&grants, &members, &q, &[]);
                        assert_eq!((fast.allow, fast.reason), (allow, reason), "{p} {a:?} {r}");
                        let mut got: Vec<String> = fast
                            .hits
                            .iter()
                            .map(|h| c.grant(h.grant).id.clone())
                            .collect();
                        got.sort();
                        want.sort();
                        assert_eq!(got, want, "{p} {a:?} {r}");
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
