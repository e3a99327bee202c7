//! Property tests of the decision rule (DESIGN §5, §9.5): the compiled index
//! agrees with the naive reference evaluator and with Cedar, deny wins,
//! default deny, and monotonicity of allows and denies.

use proptest::prelude::*;

use moat::policy::engine::{Compiled, Membership, Request};
use moat::policy::grant::{Actions, Effect, Grant, Subject};
use moat::policy::reference::decide_naive;
use moat::policy::snapshot::PolicySet;
use moat::policy::{Action, NamePattern, ResourcePattern};

use crate::cedar_model::CedarModel;

pub(crate) const PRINCIPALS: &[&str] = &["user:a", "user:b", "user:c", "worker:w1", "worker:w2"];
pub(crate) const GROUPS: &[&str] = &["g1", "g2", "role:viewer", "role:operator", "role:admin"];
pub(crate) const KINDS: &[&str] = &["worker", "vault", "access"];
// Short names (under the index's 3-byte head), names sharing a head, names
// that part at each byte of an inline prefix (10 bytes) and past it, and
// names longer than an index entry holds inline (12 bytes).
pub(crate) const NAMES: &[&str] = &[
    "x",
    "xy",
    "xyz",
    "y",
    "tokens",
    "build-1",
    "build-12",
    "build-13",
    "build-rux-1",
    "build-rung-7",
    "build-runner-east-1",
    "build-runner-east-12",
    "build-runner-west-1",
];

pub(crate) fn action() -> impl Strategy<Value = Action> {
    prop::sample::select(Action::ALL.to_vec())
}

fn subject() -> impl Strategy<Value = Subject> {
    let principals = prop::sample::select(PRINCIPALS).prop_map(|p| p.parse::<Subject>().unwrap());
    let groups = prop::sample::select(GROUPS).prop_map(|g| Subject::for_group(g).unwrap());
    prop_oneof![principals, groups]
}

pub(crate) fn pattern() -> impl Strategy<Value = ResourcePattern> {
    let kind = prop_oneof![3 => prop::sample::select(KINDS).prop_map(|k| Some(k.to_owned())), 1 => Just(None)];
    let name =
        (prop::sample::select(NAMES), any::<bool>(), 0usize..20).prop_map(|(n, prefix, cut)| {
            if prefix {
                NamePattern::Prefix(n[..cut.min(n.len())].to_owned())
            } else {
                NamePattern::Exact(n.to_owned())
            }
        });
    (kind, name).prop_map(|(kind, name)| ResourcePattern { kind, name })
}

pub(crate) fn grant() -> impl Strategy<Value = Grant> {
    (
        subject(),
        prop::bool::weighted(0.3),
        1u8..16,
        pattern(),
        any::<u32>(),
    )
        .prop_map(|(subject, deny, bits, resource, n)| Grant {
            id: format!("grt_{n:012}"),
            subject,
            effect: if deny { Effect::Deny } else { Effect::Allow },
            actions: Actions(bits),
            resource,
            source: "cli".into(),
            active: true,
            note: None,
            created_at: 0,
            created_by: "prop".into(),
        })
}

pub(crate) fn members() -> impl Strategy<Value = Vec<Membership>> {
    prop::collection::vec(
        (
            prop::sample::select(GROUPS),
            prop::sample::select(PRINCIPALS),
        )
            .prop_map(|(g, p)| Membership {
                group: g.to_owned(),
                principal: p.to_owned(),
            }),
        0..8,
    )
}

#[derive(Debug, Clone)]
struct Req {
    principal: &'static str,
    action: Action,
    kind: &'static str,
    name: &'static str,
}

impl Req {
    fn as_request(&self) -> Request<'_> {
        Request {
            principal: self.principal,
            action: self.action,
            kind: self.kind,
            name: self.name,
        }
    }
}

fn request() -> impl Strategy<Value = Req> {
    (
        prop::sample::select(PRINCIPALS),
        action(),
        prop::sample::select(KINDS),
        prop::sample::select(NAMES),
    )
        .prop_map(|(principal, action, kind, name)| Req {
            principal,
            action,
            kind,
            name,
        })
}

/// A grant to `user:a` or group `g1`, for `worker` or any kind.
fn crowded_grant() -> impl Strategy<Value = Grant> {
    let subject = prop::sample::select(vec!["user:a", "group:g1"])
        .prop_map(|s| s.parse::<Subject>().unwrap());
    let kind = prop::sample::select(vec![Some("worker".to_owned()), None]);
    (grant(), subject, kind).prop_map(|(mut g, subject, kind)| {
        g.subject = subject;
        if !g.is_superuser() {
            g.resource.kind = kind;
        }
        g
    })
}

/// The compiled index's decision and matched grants against the naive evaluator's.
fn decides_as_the_reference(
    grants: &[Grant],
    members: &[Membership],
    reqs: &[Req],
) -> Result<(), TestCaseError> {
    let compiled = Compiled::new(3, grants.to_vec(), members);
    for r in reqs {
        let o = compiled.decide(&r.as_request(), &[]);
        let (allow, reason, mut want_ids) = decide_naive(grants, members, &r.as_request(), &[]);
        prop_assert_eq!((o.allow, o.reason), (allow, reason), "{:?}", r);
        let mut got_ids: Vec<String> = o
            .hits
            .iter()
            .map(|h| compiled.grant(h.grant).id.clone())
            .collect();
        got_ids.sort();
        want_ids.sort();
        prop_assert_eq!(got_ids, want_ids, "{:?}", r);
    }
    Ok(())
}

fn unique_ids(mut grants: Vec<Grant>) -> Vec<Grant> {
    for (i, g) in grants.iter_mut().enumerate() {
        g.id = format!("grt_{i:012}");
    }
    grants
}

fn allowed(grants: &[Grant], members: &[Membership], r: &Req) -> bool {
    Compiled::new(1, grants.to_vec(), members)
        .decide(&r.as_request(), &[])
        .allow
}

/// Deciding for one principal with only its part of the policy (what a
/// single `grant check` loads) renders exactly as with the whole policy:
/// decision, reason, matched grants and near misses, in the same order.
fn one_principal_decides_as_the_whole(
    grants: &[Grant],
    members: &[Membership],
    reqs: &[Req],
) -> Result<(), TestCaseError> {
    let set = PolicySet::new(grants.to_vec(), members.to_vec());
    let packed = set.pack();
    let whole = set.clone().compile(3);
    for r in reqs {
        let req = r.as_request();
        let want =
            serde_json::to_value(whole.render(&req, &[], &whole.decide(&req, &[]), true)).unwrap();
        let only = set.clone().only_for(r.principal).compile(3);
        let from_packed = PolicySet::unpack_for(&packed, Some(r.principal))
            .unwrap()
            .unwrap();
        prop_assert_eq!(&from_packed, &set.clone().only_for(r.principal));
        let got =
            serde_json::to_value(only.render(&req, &[], &only.decide(&req, &[]), true)).unwrap();
        prop_assert_eq!(got, want, "{:?}", r);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn one_principal_s_part_of_the_policy_decides_as_the_whole(
        grants in prop::collection::vec(grant(), 0..40).prop_map(unique_ids),
        members in members(),
        reqs in prop::collection::vec(request(), 1..20),
    ) {
        one_principal_decides_as_the_whole(&grants, &members, &reqs)?;
    }

    #[test]
    fn compiled_index_decides_exactly_as_the_reference(
        grants in prop::collection::vec(grant(), 0..40).prop_map(unique_ids),
        members in members(),
        reqs in prop::collection::vec(request(), 1..40),
    ) {
        decides_as_the_reference(&grants, &members, &reqs)?;
    }

    /// Many grants on one user and one group: a (subject, kind) then holds
    /// more than one bucket, and a head more than a bucket holds inline, so
    /// this reaches the per-head, short-prefix and indexed buckets that
    /// sparse grant sets rarely do.
    #[test]
    fn crowded_subjects_decide_exactly_as_the_reference(
        grants in prop::collection::vec(crowded_grant(), 0..120).prop_map(unique_ids),
        members in members(),
        reqs in prop::collection::vec(request(), 1..40),
    ) {
        decides_as_the_reference(&grants, &members, &reqs)?;
    }

    #[test]
    fn a_matching_deny_always_wins(
        grants in prop::collection::vec(grant(), 0..40).prop_map(unique_ids),
        members in members(),
        r in request(),
        via_group in any::<bool>(),
    ) {
        // A deny naming exactly this request, directly or through a group.
        let mut members = members;
        let subject = if via_group {
            members.push(Membership { group: "g1".into(), principal: r.principal.into() });
            Subject::for_group("g1").unwrap()
        } else {
            r.principal.parse().unwrap()
        };
        let mut with_deny = grants.clone();
        with_deny.push(Grant {
            id: "grt_zzzzzzzzzzzz".into(),
            subject,
            effect: Effect::Deny,
            actions: Actions(Actions::bit(r.action)),
            resource: ResourcePattern { kind: Some(r.kind.into()), name: NamePattern::Exact(r.name.into()) },
            source: "cli".into(), active: true, note: None, created_at: 0, created_by: "prop".into(),
        });
        let o = Compiled::new(1, with_deny, &members).decide(&r.as_request(), &[]);
        prop_assert!(!o.allow);
        prop_assert_eq!(o.reason, moat::policy::engine::Reason::ExplicitDeny);
    }

    #[test]
    fn without_grants_for_the_principal_the_answer_is_deny(
        grants in prop::collection::vec(grant(), 0..40).prop_map(unique_ids),
        r in request(),
    ) {
        // Drop every grant the principal could reach (no memberships at all).
        let others: Vec<Grant> = grants.into_iter().filter(|g| g.subject.as_str() != r.principal).collect();
        let o = Compiled::new(1, others, &[]).decide(&r.as_request(), &[]);
        prop_assert!(!o.allow);
        prop_assert_eq!(o.reason, moat::policy::engine::Reason::NoMatchingGrant);
    }

    #[test]
    fn adding_an_allow_never_turns_allow_into_deny(
        grants in prop::collection::vec(grant(), 0..40).prop_map(unique_ids),
        extra in grant(),
        members in members(),
        reqs in prop::collection::vec(request(), 1..20),
    ) {
        let mut more = grants.clone();
        more.push(Grant { id: "grt_extraextra1".into(), effect: Effect::Allow, ..extra });
        for r in &reqs {
            if allowed(&grants, &members, r) {
                prop_assert!(allowed(&more, &members, r), "{:?}", r);
            }
        }
    }

    #[test]
    fn adding_a_deny_never_turns_deny_into_allow(
        grants in prop::collection::vec(grant(), 0..40).prop_map(unique_ids),
        extra in grant(),
        members in members(),
        reqs in prop::collection::vec(request(), 1..20),
    ) {
        let mut more = grants.clone();
        more.push(Grant { id: "grt_extraextra1".into(), effect: Effect::Deny, ..extra });
        for r in &reqs {
            if !allowed(&grants, &members, r) {
                prop_assert!(!allowed(&more, &members, r), "{:?}", r);
            }
        }
    }
}

proptest! {
    // 200 random policies × up to 60 requests: about 6,000 requests per run.
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn compiled_index_agrees_with_cedar(
        grants in prop::collection::vec(grant(), 0..30).prop_map(unique_ids),
        members in members(),
        reqs in prop::collection::vec(request(), 30..60),
    ) {
        let compiled = Compiled::new(1, grants.clone(), &members);
        let cedar = CedarModel::new(&grants, &members);
        for r in &reqs {
            let ours = compiled.decide(&r.as_request(), &[]).allow;
            let theirs = cedar.is_allowed(&cedar.request(r.principal, r.action, r.kind, r.name));
            prop_assert_eq!(ours, theirs, "{:?} with grants {:?}", r, grants.iter().map(moat::policy::grant::Grant::rule_key).collect::<Vec<_>>());
        }
    }
}
