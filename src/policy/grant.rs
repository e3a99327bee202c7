//! Grants: who (subject) may or may not (effect) do what (actions) to which
//! resources (pattern), plus the built-in role grants.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Action, ResourcePattern, is_ident};
use crate::error::Error;

/// The subject of a grant: `user:<id>`, `group:<name>` or `worker:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject(String);

/// True for a group name: 1–128 of `[A-Za-z0-9._@:-]` (role groups are `role:<name>`).
pub fn is_group_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'@' | b'-' | b':'))
}

impl Subject {
    /// The full `kind:name` form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The group name when this is a group subject.
    pub fn group(&self) -> Option<&str> {
        self.0.strip_prefix("group:")
    }

    /// The subject for a group.
    pub fn for_group(name: &str) -> Result<Self, Error> {
        format!("group:{name}").parse()
    }
}

impl FromStr for Subject {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let ok = match s.split_once(':') {
            Some(("user" | "worker", id)) => is_ident(id),
            Some(("group", name)) => is_group_name(name),
            _ => false,
        };
        if ok {
            Ok(Subject(s.to_owned()))
        } else {
            Err(Error::usage(format!("invalid subject '{}'", crate::credential::shown(s))).with_hint(
                "write user:<id>, group:<name> or worker:<id>, e.g. group:ops (letters, digits, . _ @ -)",
            ))
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Allow or deny. Deny always wins.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    /// The effect's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }
}

impl FromStr for Effect {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "allow" => Ok(Effect::Allow),
            "deny" => Ok(Effect::Deny),
            _ => Err(Error::usage(format!(
                "invalid effect '{}': expected allow or deny",
                crate::credential::shown(s)
            ))),
        }
    }
}

/// A set of actions as a bit mask (read=1, run=2, write=4, admin=8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Actions(pub u8);

impl Actions {
    /// The bit of one action.
    pub const fn bit(a: Action) -> u8 {
        match a {
            Action::Read => 1,
            Action::Run => 2,
            Action::Write => 4,
            Action::Admin => 8,
        }
    }

    /// Does the set contain `a`?
    pub const fn contains(self, a: Action) -> bool {
        self.0 & Self::bit(a) != 0
    }

    /// Parse a list of action names; empty or unknown is invalid input.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Self, Error> {
        let mut bits = 0u8;
        for n in names {
            for part in n.as_ref().split(',') {
                bits |= Self::bit(part.trim().parse::<Action>()?);
            }
        }
        if bits == 0 {
            return Err(Error::usage("a grant needs at least one action"));
        }
        Ok(Actions(bits))
    }

    /// The action names in documentation order.
    pub fn names(self) -> Vec<&'static str> {
        Action::ALL
            .into_iter()
            .filter(|a| self.contains(*a))
            .map(Action::as_str)
            .collect()
    }
}

/// A grant as stored and shown (DESIGN §5 shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `grt_<id>`.
    pub id: String,
    pub subject: Subject,
    pub effect: Effect,
    pub actions: Actions,
    pub resource: ResourcePattern,
    /// `cli`, `file:<name>`, `admins` or `builtin`.
    pub source: String,
    pub active: bool,
    pub note: Option<String>,
    pub created_at: i64,
    pub created_by: String,
}

impl Grant {
    /// Is this the superuser grant: an allow with `admin` over all of `access:*`?
    pub fn is_superuser(&self) -> bool {
        self.effect == Effect::Allow
            && self.actions.contains(Action::Admin)
            && matches!(self.resource.kind.as_deref(), None | Some("access"))
            && self.resource.name == super::NamePattern::Prefix(String::new())
    }

    /// The fields that make two grants "the same rule" for `apply`.
    pub fn rule_key(&self) -> (Subject, Effect, Actions, ResourcePattern) {
        (
            self.subject.clone(),
            self.effect,
            self.actions,
            self.resource.clone(),
        )
    }
}

/// Group names of the built-in roles.
pub const ROLES: [&str; 3] = ["role:viewer", "role:operator", "role:admin"];

/// The built-in role grants (source `builtin`): viewer reads everything,
/// operator reads, runs and writes everything, admin is superuser.
pub fn builtin_grants() -> Vec<Grant> {
    let all: ResourcePattern = ResourcePattern {
        kind: None,
        name: super::NamePattern::Prefix(String::new()),
    };
    let mk = |role: &str, bits: u8| Grant {
        id: format!("grt_builtin_{role}"),
        subject: Subject(format!("group:role:{role}")),
        effect: Effect::Allow,
        actions: Actions(bits),
        resource: all.clone(),
        source: "builtin".into(),
        active: true,
        note: Some(format!("built-in role {role}")),
        created_at: 0,
        created_by: "builtin".into(),
    };
    vec![mk("viewer", 1), mk("operator", 1 | 2 | 4), mk("admin", 8)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse() {
        for ok in ["user:alice", "group:ops", "group:role:admin", "worker:w-1"] {
            assert_eq!(ok.parse::<Subject>().unwrap().as_str(), ok);
        }
        for bad in ["alice", "team:x", "group:", "user:a b", "user:a:b"] {
            assert!(bad.parse::<Subject>().is_err(), "{bad}");
        }
    }

    #[test]
    fn actions_parse_as_a_set() {
        let a = Actions::parse_list(&["run,read", "run"]).unwrap();
        assert_eq!(a.names(), vec!["read", "run"]);
        assert!(Actions::parse_list(&["fly"]).is_err());
        assert!(Actions::parse_list::<&str>(&[]).is_err());
    }

    #[test]
    fn builtin_admin_is_the_only_builtin_superuser() {
        let b = builtin_grants();
        let su: Vec<_> = b
            .iter()
            .filter(|g| g.is_superuser())
            .map(|g| g.id.as_str())
            .collect();
        assert_eq!(su, vec!["grt_builtin_admin"]);
    }
}
