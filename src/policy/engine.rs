//! The compiled policy: an index over active grants and memberships so a
//! decision costs about the same with 100 grants or 1,000,000, and the one
//! decision function that `grant check` and `serve` both call.
//!
//! Index: subject → kind (or any kind) → exact names by hash, and prefixes by
//! hash of the prefix, probed only at the prefix lengths that occur. The
//! superuser grants of a subject are kept apart: they match everything.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::grant::{Effect, Grant, builtin_grants};
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

/// A grant that took part in a decision, and the group it came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub grant: u32,
    /// Index into the decision's subject list when reached through a group.
    pub via: Option<u32>,
}

/// The raw outcome of a decision, cheap to compute; render with [`Compiled::render`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub allow: bool,
    pub reason: Reason,
    pub hits: Vec<Hit>,
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

#[derive(Debug, Default)]
struct KindIndex {
    exact: FxHashMap<Box<str>, Vec<u32>>,
    prefix: FxHashMap<Box<str>, Vec<u32>>,
    /// Distinct prefix lengths present, ascending.
    prefix_lens: Vec<usize>,
}

impl KindIndex {
    fn insert(&mut self, name: &NamePattern, g: u32) {
        match name {
            NamePattern::Exact(n) => self.exact.entry(n.as_str().into()).or_default().push(g),
            NamePattern::Prefix(p) => {
                self.prefix.entry(p.as_str().into()).or_default().push(g);
                if let Err(i) = self.prefix_lens.binary_search(&p.len()) {
                    self.prefix_lens.insert(i, p.len());
                }
            }
        }
    }

    fn candidates<'s>(&'s self, name: &str, mut f: impl FnMut(&'s [u32])) {
        if let Some(v) = self.exact.get(name) {
            f(v);
        }
        for &len in &self.prefix_lens {
            if len > name.len() {
                break;
            }
            if let Some(v) = name.get(..len).and_then(|p| self.prefix.get(p)) {
                f(v);
            }
        }
    }
}

#[derive(Debug, Default)]
struct SubjectIndex {
    superuser: Vec<u32>,
    kinds: FxHashMap<Box<str>, KindIndex>,
    any_kind: Option<KindIndex>,
    all: Vec<u32>,
}

/// A compiled, immutable policy snapshot.
#[derive(Debug)]
pub struct Compiled {
    version: i64,
    grants: Vec<Grant>,
    subjects: FxHashMap<Box<str>, SubjectIndex>,
    /// principal → its groups' subject keys (`group:<name>`), sorted.
    groups_of: FxHashMap<Box<str>, Vec<Box<str>>>,
}

impl Compiled {
    /// Build the index from active grants (built-ins are added) and memberships.
    pub fn new(version: i64, grants: Vec<Grant>, members: &[Membership]) -> Self {
        let mut all = builtin_grants();
        all.extend(
            grants
                .into_iter()
                .filter(|g| g.active && g.source != "builtin"),
        );
        let mut subjects: FxHashMap<Box<str>, SubjectIndex> = FxHashMap::default();
        for (i, g) in all.iter().enumerate() {
            let i = i as u32;
            let s = subjects.entry(g.subject.as_str().into()).or_default();
            s.all.push(i);
            if g.is_superuser() {
                s.superuser.push(i);
                continue;
            }
            let kind_index = match &g.resource.kind {
                Some(k) => s.kinds.entry(k.as_str().into()).or_default(),
                None => s.any_kind.get_or_insert_with(KindIndex::default),
            };
            kind_index.insert(&g.resource.name, i);
        }
        let mut groups_of: FxHashMap<Box<str>, Vec<Box<str>>> = FxHashMap::default();
        for m in members {
            groups_of
                .entry(m.principal.as_str().into())
                .or_default()
                .push(format!("group:{}", m.group).into());
        }
        for v in groups_of.values_mut() {
            v.sort();
            v.dedup();
        }
        Compiled {
            version,
            grants: all,
            subjects,
            groups_of,
        }
    }

    /// The snapshot version this was compiled from (0 for staged grants).
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The grants in the index, built-ins first.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// The subject keys a principal acts as: itself, its groups, and `extra`
    /// group subjects (e.g. `group:role:admin` from a JWT role), deduplicated.
    pub fn subjects_of<'a>(&'a self, principal: &'a str, extra: &'a [String]) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::with_capacity(4);
        out.push(principal);
        if let Some(gs) = self.groups_of.get(principal) {
            out.extend(gs.iter().map(|g| &**g));
        }
        for e in extra {
            if !out.contains(&e.as_str()) {
                out.push(e);
            }
        }
        out
    }

    /// The decision rule: any matching deny → deny; else any matching allow
    /// (or a superuser grant) → allow; else deny.
    pub fn decide(&self, req: &Request<'_>, extra_groups: &[String]) -> Outcome {
        let subjects = self.subjects_of(req.principal, extra_groups);
        let bit = super::grant::Actions::bit(req.action);
        let mut hits = Vec::new();
        let (mut any_allow, mut any_deny) = (false, false);
        for (si, key) in subjects.iter().enumerate() {
            let Some(idx) = self.subjects.get(*key) else {
                continue;
            };
            let via = (si > 0).then_some(si as u32);
            for &g in &idx.superuser {
                any_allow = true;
                hits.push(Hit { grant: g, via });
            }
            let mut take = |list: &[u32]| {
                for &g in list {
                    let grant = &self.grants[g as usize];
                    if grant.actions.0 & bit != 0 {
                        match grant.effect {
                            Effect::Allow => any_allow = true,
                            Effect::Deny => any_deny = true,
                        }
                        hits.push(Hit { grant: g, via });
                    }
                }
            };
            if let Some(k) = idx.kinds.get(req.kind) {
                k.candidates(req.name, &mut take);
            }
            if let Some(k) = &idx.any_kind {
                k.candidates(req.name, &mut take);
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

    /// Render an outcome, with near misses when `explain` is set.
    pub fn render<'a>(
        &'a self,
        req: &Request<'a>,
        extra_groups: &'a [String],
        outcome: &Outcome,
        explain: bool,
    ) -> Decision<'a> {
        let subjects = self.subjects_of(req.principal, extra_groups);
        let via_of = |via: Option<u32>| via.map(|i| subjects[i as usize]);
        let matched = outcome
            .hits
            .iter()
            .map(|h| {
                let g = &self.grants[h.grant as usize];
                Matched {
                    id: &g.id,
                    effect: g.effect.as_str(),
                    subject: g.subject.as_str(),
                    via: via_of(h.via),
                }
            })
            .collect();
        let near_misses = explain.then(|| {
            let mut out = Vec::new();
            for (si, key) in subjects.iter().enumerate() {
                let Some(idx) = self.subjects.get(*key) else {
                    continue;
                };
                for &gi in &idx.all {
                    let g = &self.grants[gi as usize];
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
                        via: via_of((si > 0).then_some(si as u32)),
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

/// The reference evaluator: a direct reading of the rule over every grant,
/// with no index. Tests check the compiled index against it.
pub fn decide_naive(
    grants: &[Grant],
    members: &[Membership],
    req: &Request<'_>,
    extra_groups: &[String],
) -> (bool, Reason, Vec<String>) {
    let in_group = |g: &str| {
        members
            .iter()
            .any(|m| m.group == g && m.principal == req.principal)
            || extra_groups
                .iter()
                .any(|e| e.strip_prefix("group:") == Some(g))
    };
    let mut all = builtin_grants();
    all.extend(
        grants
            .iter()
            .filter(|g| g.active && g.source != "builtin")
            .cloned(),
    );
    let mut matched = Vec::new();
    let (mut allow, mut deny) = (false, false);
    for g in &all {
        let applies =
            g.subject.as_str() == req.principal || g.subject.group().is_some_and(in_group);
        if !applies {
            continue;
        }
        let hit = g.is_superuser()
            || (g.actions.contains(req.action) && g.resource.matches(req.kind, req.name));
        if hit {
            match g.effect {
                Effect::Allow => allow = true,
                Effect::Deny => deny = true,
            }
            matched.push(g.id.clone());
        }
    }
    let (ok, reason) = if deny {
        (false, Reason::ExplicitDeny)
    } else if allow {
        (true, Reason::Allowed)
    } else {
        (false, Reason::NoMatchingGrant)
    };
    (ok, reason, matched)
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
}
