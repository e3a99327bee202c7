//! The reference evaluator: a direct reading of the decision rule of
//! DESIGN §5 over every grant, with no index. Slow on purpose; property tests
//! check the compiled index against it.

use super::engine::{Membership, Reason, Request};
use super::grant::{Effect, Grant, builtin_grants};

/// Decide `req` by scanning every grant: (allowed, reason, matched grant ids).
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
