//! moat grants translated into Cedar policies, for the differential test and
//! the side-by-side benchmark. Groups become Cedar entity parents; the
//! resource kind and name travel in the request context; prefix patterns
//! become `like "prefix*"`.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityUid, PolicySet, Request,
    RestrictedExpression,
};
use moat::policy::engine::Membership;
use moat::policy::grant::{Effect, Grant, builtin_grants};
use moat::policy::{Action, NamePattern};

/// A Cedar string literal.
fn lit(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The Cedar entity for a principal or group subject.
pub fn uid(subject: &str) -> EntityUid {
    let (kind, id) = subject.split_once(':').expect("kind:id");
    let ty = match kind {
        "user" => "User",
        "worker" => "Worker",
        "group" => "Group",
        other => panic!("unexpected subject kind {other}"),
    };
    EntityUid::from_str(&format!("{ty}::{}", lit(id))).expect("valid uid")
}

fn action_uid(a: Action) -> EntityUid {
    EntityUid::from_str(&format!("Action::{}", lit(a.as_str()))).expect("valid action uid")
}

/// One Cedar policy for one grant.
pub fn policy_text(g: &Grant) -> String {
    let effect = match g.effect {
        Effect::Allow => "permit",
        Effect::Deny => "forbid",
    };
    let (kind, id) = g.subject.as_str().split_once(':').expect("subject");
    let principal = match kind {
        "group" => format!("principal in Group::{}", lit(id)),
        "user" => format!("principal == User::{}", lit(id)),
        _ => format!("principal == Worker::{}", lit(id)),
    };
    if g.is_superuser() {
        return format!("{effect}({principal}, action, resource);");
    }
    let actions: Vec<String> = Action::ALL
        .into_iter()
        .filter(|a| g.actions.contains(*a))
        .map(|a| format!("Action::{}", lit(a.as_str())))
        .collect();
    let mut conds = Vec::new();
    if let Some(k) = &g.resource.kind {
        conds.push(format!("context.kind == {}", lit(k)));
    }
    match &g.resource.name {
        NamePattern::Exact(n) => conds.push(format!("context.name == {}", lit(n))),
        NamePattern::Prefix(p) if p.is_empty() => {}
        NamePattern::Prefix(p) => {
            conds.push(format!("context.name like {}", lit(&format!("{p}*"))))
        }
    }
    let when = if conds.is_empty() {
        String::new()
    } else {
        format!(" when {{ {} }}", conds.join(" && "))
    };
    format!(
        "{effect}({principal}, action in [{}], resource){when};",
        actions.join(", ")
    )
}

/// A Cedar model of a moat policy: policies plus the entity store.
pub struct CedarModel {
    pub policies: PolicySet,
    pub entities: Entities,
    authorizer: Authorizer,
    resource: EntityUid,
}

impl CedarModel {
    /// Translate active grants (plus the built-in role grants) and memberships.
    pub fn new(grants: &[Grant], members: &[Membership]) -> Self {
        let mut text = String::new();
        for g in builtin_grants()
            .iter()
            .chain(grants.iter().filter(|g| g.active))
        {
            text.push_str(&policy_text(g));
            text.push('\n');
        }
        let policies = PolicySet::from_str(&text).expect("translated policies parse");
        let mut parents: HashMap<String, HashSet<EntityUid>> = HashMap::new();
        for m in members {
            parents
                .entry(m.principal.clone())
                .or_default()
                .insert(uid(&format!("group:{}", m.group)));
        }
        let entities = Entities::from_entities(
            parents
                .into_iter()
                .map(|(p, ps)| Entity::new_no_attrs(uid(&p), ps)),
            None,
        )
        .expect("entities");
        CedarModel {
            policies,
            entities,
            authorizer: Authorizer::new(),
            resource: EntityUid::from_str("Resource::\"r\"").expect("uid"),
        }
    }

    /// Build the Cedar request for a moat request (kept apart so the
    /// benchmark can time the decision alone).
    pub fn request(&self, principal: &str, action: Action, kind: &str, name: &str) -> Request {
        let ctx = Context::from_pairs([
            (
                "kind".to_owned(),
                RestrictedExpression::new_string(kind.to_owned()),
            ),
            (
                "name".to_owned(),
                RestrictedExpression::new_string(name.to_owned()),
            ),
        ])
        .expect("context");
        Request::new(
            uid(principal),
            action_uid(action),
            self.resource.clone(),
            ctx,
            None,
        )
        .expect("request")
    }

    /// Cedar's answer.
    pub fn is_allowed(&self, req: &Request) -> bool {
        self.authorizer
            .is_authorized(req, &self.policies, &self.entities)
            .decision()
            == Decision::Allow
    }
}
