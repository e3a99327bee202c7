//! The one decision function, and the superuser check.

use super::*;

impl Compiled {
    /// The subject ids a principal acts as: itself, its groups, and `extra`
    /// group subjects (e.g. `group:role:admin` from a JWT role), deduplicated.
    pub(super) fn subject_list(&self, principal: &str, extra: &[String]) -> SmallVec<[u32; 8]> {
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
    pub(super) fn confirm(
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
    pub(super) fn table_for(&self, p: &Probe) -> &InlineTable<EntrySlot> {
        if p.prefix_len.is_none() && !p.superuser {
            &self.exact_table
        } else {
            &self.table
        }
    }

    /// The bucket (subject, kind, head), if the subject has one.
    #[inline]
    pub(super) fn bucket(&self, k: u64, id: BucketId) -> Option<&Bucket> {
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
        let bit = crate::policy::grant::Actions::bit(req.action);
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
    pub(super) fn via(&self, sid: u32) -> Option<&str> {
        let name = &*self.subject_names[sid as usize];
        name.starts_with("group:").then_some(name)
    }
}
