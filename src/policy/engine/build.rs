//! Building the index from grants and memberships.

use super::*;

/// A grant on its way into the index.
pub(super) struct Item<'g> {
    pub(super) subject: u32,
    pub(super) kind: u32,
    pub(super) head: u32,
    pub(super) grant: u32,
    pub(super) bits: u8,
    pub(super) text: &'g str,
    /// `fnv(text)`.
    pub(super) hash: u64,
    pub(super) exact: bool,
}

impl Item<'_> {
    /// Its place in bucket order: by subject, kind and head, prefixes
    /// before exact names, then in grant order.
    pub(super) fn order(&self) -> u128 {
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
pub(super) fn form_buckets(
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
pub(super) fn build_entry_table(
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
}
