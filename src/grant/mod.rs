//! Grant and group operations (DESIGN §5): add, list, revoke, membership,
//! declarative apply/export, and decisions against the active or staged policy.

mod admins;
pub mod batch;
mod check;
mod crud;
mod file;
mod groups;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{NewEvent, types};
use crate::error::{Code, Error, Exit, Result};
use crate::policy::engine::{Compiled, Membership, Request, parse_resource};
use crate::policy::grant::{Actions, Effect, Grant, Subject, builtin_grants, is_group_name};
use crate::policy::snapshot::PolicySet;
use crate::policy::{Action, Principal, ResourcePattern};
use crate::store::{GrantFilter, Store, Tx};
use crate::time::rfc3339;
use crate::token::Ctx;

pub use admins::materialize_admins;
pub use batch::{BatchSummary, MAX_BATCH_LINE, check_batch};
pub use check::{CheckRequest, load_policy, request, staged_set};
pub use crud::{ListFilter, add, list, parse_id, revoke};
pub use file::{ApplyReport, FileGrant, GrantFile, apply, export, parse_file, parse_source_name};
pub use groups::{GroupView, change_group, groups, parse_group};

/// Longest note.
const MAX_NOTE: usize = 500;

/// A grant in the DESIGN §5 JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GrantView {
    pub id: String,
    pub subject: String,
    pub effect: Effect,
    pub actions: Vec<&'static str>,
    pub resource: String,
    pub source: String,
    pub state: &'static str,
    pub note: Option<String>,
    pub created_at: String,
    pub created_by: String,
}

impl From<&Grant> for GrantView {
    fn from(g: &Grant) -> Self {
        GrantView {
            id: g.id.clone(),
            subject: g.subject.to_string(),
            effect: g.effect,
            actions: g.actions.names(),
            resource: g.resource.to_string(),
            source: g.source.clone(),
            state: if g.active { "active" } else { "revoked" },
            note: g.note.clone(),
            created_at: rfc3339(g.created_at),
            created_by: g.created_by.clone(),
        }
    }
}

fn check_note(note: Option<&str>) -> Result<()> {
    match note {
        Some(n) if n.chars().count() > MAX_NOTE || n.chars().any(char::is_control) => {
            Err(Error::usage(format!(
                "a note must be at most {MAX_NOTE} characters with no control characters"
            )))
        }
        _ => Ok(()),
    }
}

/// What `grant add` asks for.
#[derive(Debug, Clone)]
pub struct AddRequest {
    pub subject: Subject,
    pub effect: Effect,
    pub actions: Actions,
    pub resource: ResourcePattern,
    pub note: Option<String>,
}

impl AddRequest {
    /// Check the free-text parts (the typed parts are valid by construction).
    pub fn validate(&self) -> Result<()> {
        check_note(self.note.as_deref())
    }
}

fn new_grant(ctx: &Ctx, r: &AddRequest, source: &str) -> Grant {
    Grant {
        id: format!("grt_{}", crate::credential::random_id()),
        subject: r.subject.clone(),
        effect: r.effect,
        actions: r.actions,
        resource: r.resource.clone(),
        source: source.to_owned(),
        active: true,
        note: r.note.clone(),
        created_at: ctx.now,
        created_by: ctx.actor.clone(),
    }
}

fn grant_event(kind: &'static str, ctx: &Ctx, g: &Grant) -> NewEvent {
    NewEvent::new(kind, &ctx.actor, Some(g.id.clone())).details(json!({
        "subject": g.subject.as_str(),
        "effect": g.effect.as_str(),
        "actions": g.actions.names(),
        "resource": g.resource.to_string(),
        "source": g.source,
    }))
}
