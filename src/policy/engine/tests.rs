//! The engine against the reference decision and the design's rules.

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
    let (allow, reason, mut want) = super::super::reference::decide_naive(grants, members, q, &[]);
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
