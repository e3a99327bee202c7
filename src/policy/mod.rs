//! Policy vocabulary: principals, actions, resource patterns and scopes.
//! Pure: no I/O. Every type here can only hold a valid value ("parse, don't
//! validate"), so code that receives one need not check it again.

pub mod engine;
pub mod grant;
mod index;
pub mod reference;
pub mod snapshot;

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// One of the four actions. Exact match, no implication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Read,
    Run,
    Write,
    Admin,
}

impl Action {
    /// All actions, in documentation order.
    pub const ALL: [Action; 4] = [Action::Read, Action::Run, Action::Write, Action::Admin];

    /// The action's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Run => "run",
            Action::Write => "write",
            Action::Admin => "admin",
        }
    }
}

impl FromStr for Action {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                Error::usage(format!("unknown action '{}'", crate::credential::shown(s)))
                    .with_hint("actions are read, run, write and admin")
            })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True for a kind name: `[a-z][a-z0-9_-]*`.
pub fn is_kind(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(b'a'..=b'z'))
        && b.all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

/// True for a principal or subject id: 1–128 of `[A-Za-z0-9._@-]`.
pub fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'@' | b'-'))
}

/// Who is asking: `user:<id>` or `worker:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal(String);

impl Principal {
    /// The full `kind:id` form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Principal {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.split_once(':') {
            Some(("user" | "worker", id)) if is_ident(id) => Ok(Principal(s.to_owned())),
            _ => Err(Error::usage(format!(
                "invalid principal '{}'",
                crate::credential::shown(s)
            ))
            .with_hint(
                "write user:<id> or worker:<id>, e.g. user:alice (id: letters, digits, . _ @ -)",
            )),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A name pattern: exact, a prefix ending in one `*`, or `*` alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NamePattern {
    Exact(String),
    /// The prefix before the trailing `*` (empty for `*`).
    Prefix(String),
}

impl NamePattern {
    /// Parse a name pattern; `what` names the field for the error message.
    pub fn parse(s: &str, what: &str) -> Result<Self, Error> {
        Self::parse_in(s, what, s)
    }

    /// Like `parse`, quoting `full` (the whole input the name came from) in errors.
    fn parse_in(s: &str, what: &str, full: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::usage(format!(
                "invalid {what} '{}': {why}",
                crate::credential::shown(full)
            ))
            .with_hint("use an exact name, a prefix ending in one trailing * (build-*), or *")
        };
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains whitespace or control characters"));
        }
        match s.find('*') {
            None => Ok(NamePattern::Exact(s.to_owned())),
            Some(i) if i == s.len() - 1 => Ok(NamePattern::Prefix(s[..i].to_owned())),
            Some(_) => Err(bad("a * is only allowed once, at the end")),
        }
    }

    /// Does this pattern cover `name`?
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Exact(n) => n == name,
            NamePattern::Prefix(p) => name.starts_with(p.as_str()),
        }
    }

    /// Does this pattern cover every name `other` covers?
    pub fn covers(&self, other: &NamePattern) -> bool {
        match (self, other) {
            (NamePattern::Exact(a), NamePattern::Exact(b)) => a == b,
            (NamePattern::Exact(_), NamePattern::Prefix(_)) => false,
            (NamePattern::Prefix(p), NamePattern::Exact(n) | NamePattern::Prefix(n)) => {
                n.starts_with(p.as_str())
            }
        }
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamePattern::Exact(n) => f.write_str(n),
            NamePattern::Prefix(p) => write!(f, "{p}*"),
        }
    }
}

/// A resource pattern `<kind>:<name-pattern>`; the kind may be `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourcePattern {
    /// `None` means any kind (`*`).
    pub kind: Option<String>,
    pub name: NamePattern,
}

impl ResourcePattern {
    /// Does this pattern cover the resource `kind:name`?
    pub fn matches(&self, kind: &str, name: &str) -> bool {
        self.kind.as_deref().is_none_or(|k| k == kind) && self.name.matches(name)
    }

    /// Does this pattern cover every resource `other` covers?
    pub fn covers(&self, other: &ResourcePattern) -> bool {
        let kind = match (&self.kind, &other.kind) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a == b,
        };
        kind && self.name.covers(&other.name)
    }
}

impl FromStr for ResourcePattern {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let (kind, name) = s.split_once(':').ok_or_else(|| {
            Error::usage(format!(
                "invalid resource pattern '{}': expected <kind>:<name>",
                crate::credential::shown(s)
            ))
            .with_hint("for example worker:build-*, vault:deploy-key, access:tokens or *:*")
        })?;
        let kind = match kind {
            "*" => None,
            k if is_kind(k) => Some(k.to_owned()),
            k => {
                return Err(Error::usage(format!(
                    "invalid resource pattern '{}': kind '{}' must match [a-z][a-z0-9_-]* or be *",
                    crate::credential::shown(s),
                    crate::credential::shown(k)
                )));
            }
        };
        let name = NamePattern::parse_in(name, "resource pattern", s)?;
        Ok(ResourcePattern { kind, name })
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_deref().unwrap_or("*"), self.name)
    }
}

/// An api-token scope `ACTION:KIND:PATTERN`, narrowing what the token may do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub action: Action,
    pub resource: ResourcePattern,
}

impl FromStr for Scope {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let (action, resource) = s.split_once(':').ok_or_else(|| {
            Error::usage(format!(
                "invalid scope '{}': expected ACTION:KIND:PATTERN",
                crate::credential::shown(s)
            ))
            .with_hint("for example run:worker:build-* or read:access:audit")
        })?;
        Ok(Scope {
            action: action.parse()?,
            resource: resource.parse()?,
        })
    }
}

impl Scope {
    /// Does this scope allow everything `other` allows?
    pub fn covers(&self, other: &Scope) -> bool {
        self.action == other.action && self.resource.covers(&other.resource)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.action, self.resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_match() {
        let p: ResourcePattern = "worker:build-*".parse().unwrap();
        assert!(p.matches("worker", "build-1"));
        assert!(p.matches("worker", "build-"));
        assert!(!p.matches("worker", "deploy"));
        assert!(!p.matches("vault", "build-1"));
        let any: ResourcePattern = "*:*".parse().unwrap();
        assert!(any.matches("vault", "x"));
        assert_eq!(any.to_string(), "*:*");
        let exact: ResourcePattern = "access:tokens".parse().unwrap();
        assert!(exact.matches("access", "tokens"));
        assert!(!exact.matches("access", "tokens2"));
    }

    #[test]
    fn bad_patterns_explain_why() {
        for bad in [
            "wor*ker:x",
            "worker:a*b",
            "worker:**",
            "worker",
            "Worker:x",
            "worker:",
            ":x",
            "worker:a b",
        ] {
            let e = bad.parse::<ResourcePattern>().unwrap_err();
            assert_eq!(e.exit.code(), 2, "{bad}");
            assert!(e.message.contains(bad), "{}", e.message);
        }
    }

    #[test]
    fn principals_and_scopes() {
        assert!("user:alice".parse::<Principal>().is_ok());
        assert!("worker:w-1".parse::<Principal>().is_ok());
        for bad in ["alice", "group:ops", "user:", "user:a b", "user:a:b"] {
            assert!(bad.parse::<Principal>().is_err(), "{bad}");
        }
        let s: Scope = "run:worker:build-*".parse().unwrap();
        assert_eq!(s.action, Action::Run);
        assert_eq!(s.to_string(), "run:worker:build-*");
        assert!("fly:worker:x".parse::<Scope>().is_err());
        assert!("run".parse::<Scope>().is_err());
    }
}
