//! The content of a policy snapshot — active grants and memberships — its
//! canonical encoding and digest, and the diff between two snapshots.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::engine::{Compiled, Membership};
use super::grant::{Actions, Effect, Grant};
use crate::credential::hex;
use crate::error::{Error, Result};

/// Active grants and memberships, sorted: the input of a compile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySet {
    pub grants: Vec<Grant>,
    pub members: Vec<Membership>,
}

#[derive(Serialize, Deserialize)]
struct StoredGrant {
    id: String,
    subject: String,
    effect: Effect,
    actions: u8,
    resource: String,
    source: String,
    note: Option<String>,
    created_at: i64,
    created_by: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    grants: Vec<StoredGrant>,
    members: Vec<Membership>,
}

impl PolicySet {
    /// A set from any grants (inactive and built-in ones are dropped) and memberships.
    pub fn new(grants: Vec<Grant>, mut members: Vec<Membership>) -> Self {
        let mut grants: Vec<Grant> = grants
            .into_iter()
            .filter(|g| g.active && g.source != "builtin")
            .collect();
        grants.sort_by(|a, b| a.id.cmp(&b.id));
        members.sort();
        members.dedup();
        PolicySet { grants, members }
    }

    /// Canonical bytes (sorted, compact JSON).
    pub fn encode(&self) -> Vec<u8> {
        let stored = Stored {
            grants: self
                .grants
                .iter()
                .map(|g| StoredGrant {
                    id: g.id.clone(),
                    subject: g.subject.to_string(),
                    effect: g.effect,
                    actions: g.actions.0,
                    resource: g.resource.to_string(),
                    source: g.source.clone(),
                    note: g.note.clone(),
                    created_at: g.created_at,
                    created_by: g.created_by.clone(),
                })
                .collect(),
            members: self.members.clone(),
        };
        // Serializing plain structs of strings and integers cannot fail.
        serde_json::to_vec(&stored).unwrap_or_default()
    }

    /// Decode and re-validate stored bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bad = |what: String| Error::internal(format!("stored snapshot is corrupt: {what}"));
        let stored: Stored = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let mut grants = Vec::with_capacity(stored.grants.len());
        for g in stored.grants {
            grants.push(Grant {
                subject: g.subject.parse().map_err(|e: Error| bad(e.message))?,
                resource: g.resource.parse().map_err(|e: Error| bad(e.message))?,
                id: g.id,
                effect: g.effect,
                actions: Actions(g.actions),
                source: g.source,
                active: true,
                note: g.note,
                created_at: g.created_at,
                created_by: g.created_by,
            });
        }
        Ok(PolicySet {
            grants,
            members: stored.members,
        })
    }

    /// Compile into a decision index labelled `version`.
    pub fn compile(self, version: i64) -> Compiled {
        Compiled::new(version, self.grants, &self.members)
    }
}

/// SHA-256 of encoded content, hex.
pub fn digest(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// What changes between two snapshots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub grants_added: Vec<String>,
    pub grants_removed: Vec<String>,
    pub members_added: Vec<Membership>,
    pub members_removed: Vec<Membership>,
}

impl Diff {
    /// From `old` to `new`.
    pub fn between(old: &PolicySet, new: &PolicySet) -> Self {
        let ids = |s: &PolicySet| {
            s.grants
                .iter()
                .map(|g| g.id.clone())
                .collect::<BTreeSet<_>>()
        };
        let (o, n) = (ids(old), ids(new));
        let (om, nm): (BTreeSet<_>, BTreeSet<_>) =
            (old.members.iter().collect(), new.members.iter().collect());
        Diff {
            grants_added: n.difference(&o).cloned().collect(),
            grants_removed: o.difference(&n).cloned().collect(),
            members_added: nm.difference(&om).map(|m| (*m).clone()).collect(),
            members_removed: om.difference(&nm).map(|m| (*m).clone()).collect(),
        }
    }

    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.grants_added.is_empty()
            && self.grants_removed.is_empty()
            && self.members_added.is_empty()
            && self.members_removed.is_empty()
    }
}
