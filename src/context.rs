//! The context every operation runs in (who, when, with what authority)
//! and the display forms of record ids, shared by the modules that name
//! each other's records so that they need not import each other.

use crate::policy::Scope;
use crate::time::Millis;

/// What the caller behind an operation holds, as serve authenticated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// `user:alice`, `worker:build-1`.
    pub principal: String,
    /// Group subjects the credential asserts beside the policy's (a JWT role).
    pub groups: Vec<String>,
    /// The credential's scopes; empty means the principal's full rights.
    pub scopes: Vec<Scope>,
    /// When the credential (api token or JWT) stops working, if it does.
    pub expires_at: Option<Millis>,
    /// The principal holds the superuser grant and no deny overrides it.
    pub superuser: bool,
}

/// Who performs an operation, and when.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: String,
    pub now: Millis,
    /// What a caller of serve holds; `None` for the local operator, for
    /// whom access to the store is the root of trust.
    pub authority: Option<Authority>,
}

impl Ctx {
    /// An actor with the store's own authority (local, or serve itself).
    pub fn new(actor: impl Into<String>, now: Millis) -> Self {
        Ctx {
            actor: actor.into(),
            now,
            authority: None,
        }
    }

    /// The local operator (`local:$USER`, else `local:uid-N`) at the current time.
    pub fn local() -> Self {
        use std::os::unix::fs::MetadataExt;
        let user = ["USER", "LOGNAME"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|u| crate::policy::is_ident(u))
            .or_else(|| {
                std::fs::metadata("/proc/self")
                    .ok()
                    .map(|m| format!("uid-{}", m.uid()))
            })
            .unwrap_or_else(|| "unknown".into());
        Ctx::new(format!("local:{user}"), crate::time::now_ms())
    }
}

/// `tok_<id>`.
pub fn token_display_id(id: &str) -> String {
    format!("tok_{id}")
}

/// `wrk_<id>`.
pub fn worker_display_id(id: &str) -> String {
    format!("wrk_{id}")
}
