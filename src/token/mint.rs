//! Who may mint what (DESIGN §4): a caller of serve mints tokens for itself
//! with at most what it holds — a scoped credential's scopes, never past its
//! own expiry — and for another principal only with the superuser grant.
//! Locally, access to the store is the root of trust.

use std::time::Duration;

use crate::error::{Code, Error, Exit, Result};
use crate::policy::Scope;
use crate::time::{Millis, duration_ms, rfc3339};

pub use crate::context::Authority;

/// What a token will carry once the minting rule has been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub ttl: Duration,
    pub max_uses: Option<i64>,
    pub scopes: Vec<Scope>,
    /// Groups the token asserts: its maker's, when minted for itself (so a
    /// deny on a JWT role still binds the token).
    pub groups: Vec<String>,
    /// Minted for a principal other than the caller (superuser only).
    pub for_other: bool,
}

fn forbidden(msg: String) -> Error {
    Error::new(Exit::Auth, Code::Forbidden, msg)
}

/// Apply the minting rule to a validated request: `principal` is the api
/// token's principal (none for enrol tokens), `ttl` and `explicit_ttl` the
/// lifetime asked for, `scopes` the scopes asked for.
pub fn terms(
    by: Option<&Authority>,
    now: Millis,
    principal: Option<&str>,
    ttl: Duration,
    explicit_ttl: bool,
    max_uses: Option<i64>,
    scopes: &[Scope],
) -> Result<Terms> {
    let mut t = Terms {
        ttl,
        max_uses,
        scopes: scopes.to_vec(),
        groups: vec![],
        for_other: false,
    };
    // Enrol tokens let a machine join, they extend nobody's access; the
    // route's `write` on access:tokens is all they need.
    let (Some(a), Some(p)) = (by, principal) else {
        return Ok(t);
    };
    if p != a.principal {
        if !a.superuser || !a.scopes.is_empty() {
            return Err(forbidden(format!(
                "{} may mint api tokens only for itself, not for {p}",
                a.principal
            ))
            .with_hint("minting for another principal needs the superuser grant (admin on access:*) and an unscoped credential"));
        }
        // An administrator's act, audited as such; the new token holds
        // the other principal's own rights, for whatever lifetime is asked.
        t.for_other = true;
        return Ok(t);
    }
    // For itself: its maker's groups, at most its scopes, not past its end.
    t.groups = a.groups.clone();
    if !a.scopes.is_empty() {
        if t.scopes.is_empty() {
            // Made by a scoped token: at most that token's scopes.
            t.scopes = a.scopes.clone();
        }
        if let Some(wide) = t
            .scopes
            .iter()
            .find(|s| !a.scopes.iter().any(|held| held.covers(s)))
        {
            return Err(forbidden(format!(
                "scope {wide} is wider than the scopes of the credential making the token"
            ))
            .with_hint(format!(
                "ask for scopes within: {}",
                a.scopes
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    if let Some(end) = a.expires_at {
        let left = end.saturating_sub(now);
        if left <= 0 {
            return Err(forbidden(
                "the credential making the token has expired".into(),
            ));
        }
        if duration_ms(ttl) > left {
            if explicit_ttl {
                return Err(forbidden(format!(
                    "--ttl would outlive the credential making the token (it expires at {})",
                    rfc3339(end)
                ))
                .with_hint("ask for a shorter --ttl, or mint it with a longer-lived credential"));
            }
            // The default lifetime shrinks to the maker's.
            t.ttl = Duration::from_millis(u64::try_from(left).unwrap_or(0));
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice(scopes: &[&str], superuser: bool) -> Authority {
        Authority {
            principal: "user:alice".into(),
            groups: vec![],
            scopes: scopes.iter().map(|s| s.parse().unwrap()).collect(),
            expires_at: Some(10_000),
            superuser,
        }
    }

    fn scopes(s: &[&str]) -> Vec<Scope> {
        s.iter().map(|x| x.parse().unwrap()).collect()
    }

    #[test]
    fn only_a_superuser_mints_for_others() {
        let d = Duration::from_secs(5);
        let t = |a: &Authority| terms(Some(a), 0, Some("user:root"), d, true, None, &[]);
        assert_eq!(t(&alice(&[], false)).unwrap_err().code, "forbidden");
        assert!(t(&alice(&[], true)).unwrap().for_other);
        // A scoped credential never mints for another, superuser or not.
        assert!(t(&alice(&["admin:access:*"], true)).is_err());
        let own = terms(
            Some(&alice(&[], false)),
            0,
            Some("user:alice"),
            d,
            true,
            None,
            &[],
        );
        assert!(!own.unwrap().for_other);
    }

    #[test]
    fn a_scoped_maker_passes_on_at_most_its_scopes() {
        let a = alice(&["write:access:tokens", "run:worker:build-*"], false);
        let d = Duration::from_secs(5);
        let t = |s: &[&str]| terms(Some(&a), 0, Some("user:alice"), d, true, None, &scopes(s));
        assert_eq!(t(&[]).unwrap().scopes, a.scopes);
        assert!(t(&["run:worker:build-7"]).is_ok());
        assert!(t(&["run:worker:build-x*"]).is_ok());
        assert!(t(&["run:worker:*"]).is_err());
        assert!(t(&["admin:access:*"]).is_err());
        assert!(t(&["run:*:build-1"]).is_err());
    }

    #[test]
    fn a_token_never_outlives_its_maker() {
        let a = alice(&[], false);
        let long = Duration::from_secs(3600);
        let e = terms(Some(&a), 0, Some("user:alice"), long, true, None, &[]).unwrap_err();
        assert!(e.message.contains("outlive"), "{}", e.message);
        let t = terms(Some(&a), 4_000, Some("user:alice"), long, false, None, &[]).unwrap();
        assert_eq!(t.ttl, Duration::from_millis(6_000));
        assert!(terms(Some(&a), 10_000, Some("user:alice"), long, false, None, &[]).is_err());
        // Enrol tokens and tokens a superuser makes for others are not bound to it.
        assert!(terms(Some(&a), 4_000, None, long, true, Some(1), &[]).is_ok());
        let admin = alice(&[], true);
        assert_eq!(
            terms(Some(&admin), 0, Some("user:b"), long, true, None, &[])
                .unwrap()
                .ttl,
            long
        );
        // Locally nothing is narrowed.
        assert_eq!(
            terms(None, 0, Some("user:x"), long, true, None, &[])
                .unwrap()
                .ttl,
            long
        );
    }
}
