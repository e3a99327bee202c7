//! The minting rule (DESIGN §4) as a property: whatever the policy, the
//! caller's credential (api token with scopes, JWT with a role, or no auth
//! at all) and the request, a token that serve would mint never holds a
//! right its maker lacks, and never outlives it.

use proptest::prelude::*;

use moat::policy::engine::{Compiled, Request};
use moat::policy::grant::builtin_grants;
use moat::policy::{Action, Scope};
use moat::token::mint::{Authority, terms};

use crate::policy_props::{KINDS, NAMES, PRINCIPALS, action, grant, members, pattern};

/// How the maker authenticated: what serve's Identity holds for each mode.
#[derive(Debug, Clone)]
enum Maker {
    /// An api token: its principal and scopes, no extra groups.
    Token(&'static str, Vec<Scope>, i64),
    /// A JWT: `group:role:<role>` beside the principal.
    Jwt(&'static str, &'static str, i64),
    /// `--auth-mode none`: anonymous with the admin role.
    NoAuth,
}

impl Maker {
    fn identity(&self) -> (&'static str, Vec<String>, Vec<Scope>, Option<i64>) {
        match self {
            Maker::Token(p, s, exp) => (p, vec![], s.clone(), Some(*exp)),
            Maker::Jwt(p, role, exp) => (p, vec![format!("group:role:{role}")], vec![], Some(*exp)),
            Maker::NoAuth => (
                "user:anonymous",
                vec!["group:role:admin".into()],
                vec![],
                None,
            ),
        }
    }
}

fn scope() -> impl Strategy<Value = Scope> {
    (action(), pattern()).prop_map(|(action, resource)| Scope { action, resource })
}

fn maker() -> impl Strategy<Value = Maker> {
    let principal = prop::sample::select(PRINCIPALS);
    let exp = 1i64..200_000;
    prop_oneof![
        (
            principal.clone(),
            prop::collection::vec(scope(), 0..3),
            exp.clone()
        )
            .prop_map(|(p, s, e)| Maker::Token(p, s, e)),
        (
            principal,
            prop::sample::select(vec!["viewer", "operator", "admin"]),
            exp
        )
            .prop_map(|(p, r, e)| Maker::Jwt(p, r, e)),
        Just(Maker::NoAuth),
    ]
}

/// May a credential (principal, groups, scopes) do `action` on `kind:name`?
fn may(
    policy: &Compiled,
    p: &str,
    groups: &[String],
    scopes: &[Scope],
    a: Action,
    kind: &str,
    name: &str,
) -> bool {
    let req = Request {
        principal: p,
        action: a,
        kind,
        name,
    };
    policy.decide(&req, groups).allow
        && (scopes.is_empty()
            || scopes
                .iter()
                .any(|s| s.action == a && s.resource.matches(kind, name)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, max_global_rejects: 200_000, ..ProptestConfig::default() })]

    #[test]
    fn a_minted_token_never_exceeds_its_maker(
        grants in prop::collection::vec(grant(), 0..30),
        members in members(),
        maker in maker(),
        for_whom in prop::sample::select(PRINCIPALS),
        mine in any::<bool>(),
        asked in prop::collection::vec(scope(), 0..3),
        ttl_s in 1u64..400,
        explicit in any::<bool>(),
    ) {
        let mut all = grants;
        all.extend(builtin_grants());
        let policy = Compiled::new(1, all, &members);
        let (p, groups, scopes, exp) = maker.identity();
        // serve authorizes `write` on access:tokens before minting anything.
        prop_assume!(may(&policy, p, &groups, &scopes, Action::Write, "access", "tokens"));
        let authority = Authority {
            principal: p.to_owned(),
            groups: groups.clone(),
            scopes: scopes.clone(),
            expires_at: exp,
            superuser: policy.is_superuser(p, &groups),
        };
        let principal = if mine { p } else { for_whom };
        let now = 0;
        let ttl = std::time::Duration::from_secs(ttl_s);
        let Ok(t) = terms(Some(&authority), now, Some(principal), ttl, explicit, None, &asked) else {
            return Ok(());
        };
        if let (Some(end), true) = (exp, principal == p) {
            prop_assert!(now + t.ttl.as_millis() as i64 <= end, "outlives its maker");
        }
        // A superuser with an unscoped credential may give itself any right
        // (it administers grants), so it is the one maker that may mint
        // rights it does not use itself.
        let unbounded = authority.superuser && scopes.is_empty();
        for a in Action::ALL {
            for kind in KINDS {
                for name in NAMES {
                    let minted = may(&policy, principal, &t.groups, &t.scopes, a, kind, name);
                    let held = unbounded || may(&policy, p, &groups, &scopes, a, kind, name);
                    prop_assert!(!minted || held, "{principal} got {a:?} on {kind}:{name} that {p} lacks; terms {t:?}");
                }
            }
        }
    }
}
