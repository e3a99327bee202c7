//! A synthetic, deterministic policy of a given size for benchmarks: 1,000
//! groups, 10,000 users each in 1–5 groups, grants to groups (80%) and users
//! (20%) over five kinds, exact names and prefixes of varied length, 10% deny.
//! Shared by `benches/policy.rs` and `examples/seed-grants.rs`.

#![allow(dead_code)]

use moat::policy::engine::Membership;
use moat::policy::grant::{Actions, Effect, Grant, Subject};
use moat::policy::{Action, NamePattern, ResourcePattern};
use std::collections::HashMap;

pub const GROUPS: usize = 1_000;
pub const USERS: usize = 10_000;
const KINDS: [&str; 5] = ["worker", "vault", "access", "repo", "queue"];
const WORDS: [&str; 20] = [
    "build", "deploy", "test", "lint", "db", "cache", "api", "web", "batch", "etl", "ml", "search",
    "auth", "billing", "mail", "log", "metrics", "queue", "edge", "infra",
];

/// xorshift64*: small, fast, deterministic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn name(rng: &mut Rng) -> String {
    format!("{}-{}", WORDS[rng.below(WORDS.len())], rng.below(5_000))
}

/// Memberships: every user in 1–5 distinct groups.
pub fn members(seed: u64) -> Vec<Membership> {
    members_in("", seed)
}

/// Memberships of a population whose names start with `ns` (disjoint from
/// another namespace's).
pub fn members_in(ns: &str, seed: u64) -> Vec<Membership> {
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut out = Vec::new();
    for u in 0..USERS {
        let n = 1 + rng.below(5);
        let mut gs: Vec<usize> = (0..n).map(|_| rng.below(GROUPS)).collect();
        gs.sort_unstable();
        gs.dedup();
        for g in gs {
            out.push(Membership {
                group: format!("{ns}team-{g}"),
                principal: format!("user:{ns}u{u}"),
            });
        }
    }
    out
}

/// `n` active grants.
pub fn grants(n: usize, seed: u64) -> Vec<Grant> {
    grants_in("", n, seed)
}

/// `n` active grants to the population of namespace `ns`, with ids unique to it.
pub fn grants_in(ns: &str, n: usize, seed: u64) -> Vec<Grant> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let subject: Subject = if rng.below(5) == 0 {
                format!("user:{ns}u{}", rng.below(USERS)).parse().unwrap()
            } else {
                Subject::for_group(&format!("{ns}team-{}", rng.below(GROUPS))).unwrap()
            };
            let kind = KINDS[rng.below(KINDS.len())];
            let n = name(&mut rng);
            // 70% exact names, 30% prefixes at a word boundary or a few
            // digits into the number: build-*, build-4*, build-49*.
            let pattern = if rng.below(10) < 7 {
                NamePattern::Exact(n)
            } else {
                let dash = n.find('-').unwrap() + 1;
                let keep = dash + rng.below(3).min(n.len() - dash);
                NamePattern::Prefix(n[..keep].to_owned())
            };
            // Never the superuser pattern by accident: admin only on exact names.
            let mut bits = 1 + rng.below(15) as u8;
            if matches!(pattern, NamePattern::Prefix(_)) {
                bits &= !Actions::bit(Action::Admin);
                if bits == 0 {
                    bits = Actions::bit(Action::Read);
                }
            }
            Grant {
                id: format!("grt_{ns}{i:012}"),
                subject,
                effect: if rng.below(10) == 0 {
                    Effect::Deny
                } else {
                    Effect::Allow
                },
                actions: Actions(bits),
                resource: ResourcePattern {
                    kind: Some(kind.to_owned()),
                    name: pattern,
                },
                source: "cli".into(),
                active: true,
                note: None,
                created_at: 0,
                created_by: "bench".into(),
            }
        })
        .collect()
}

/// A request: (principal, action, kind, name).
pub type Req = (String, Action, &'static str, String);

/// `n` requests from random users over the same name space.
pub fn requests(n: usize, seed: u64) -> Vec<Req> {
    let mut rng = Rng::new(seed ^ 0xbeef);
    (0..n)
        .map(|_| {
            (
                format!("user:u{}", rng.below(USERS)),
                Action::ALL[rng.below(4)],
                KINDS[rng.below(KINDS.len())],
                name(&mut rng),
            )
        })
        .collect()
}

/// `n` requests, every other one made to reach a grant of `grants`: a
/// principal that holds it (the user, or a member of the group), one of
/// its actions, its kind, and its name or a name its prefix starts. The
/// rest are [`requests`]. At every policy size about half the requests
/// then do the work of matching (10% of grants deny).
pub fn reachable_requests(
    grants: &[Grant],
    members: &[Membership],
    n: usize,
    seed: u64,
) -> Vec<Req> {
    let mut rng = Rng::new(seed ^ 0xac1d);
    let mut of_group: HashMap<String, Vec<&str>> = HashMap::new();
    for m in members {
        of_group
            .entry(format!("group:{}", m.group))
            .or_default()
            .push(&m.principal);
    }
    let random = requests(n, seed);
    (0..n)
        .map(|i| {
            if i % 2 == 1 {
                return random[i].clone();
            }
            let g = &grants[rng.below(grants.len())];
            let principal = match of_group.get(g.subject.as_str()) {
                Some(ps) => ps[rng.below(ps.len())].to_owned(),
                None if g.subject.as_str().starts_with("user:") => g.subject.as_str().to_owned(),
                // A group with no members: nobody reaches its grants.
                None => return random[i].clone(),
            };
            let actions: Vec<Action> = Action::ALL
                .into_iter()
                .filter(|&a| g.actions.0 & Actions::bit(a) != 0)
                .collect();
            let kind = KINDS
                .into_iter()
                .find(|&k| g.resource.kind.as_deref() == Some(k))
                .expect("dataset grants have one of its kinds");
            let name = match &g.resource.name {
                NamePattern::Exact(name) => name.clone(),
                NamePattern::Prefix(p) => format!("{p}{}", rng.below(100)),
            };
            (principal, actions[rng.below(actions.len())], kind, name)
        })
        .collect()
}
