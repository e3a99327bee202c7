//! The compiled policy: an index over active grants and memberships so a
//! decision costs about the same with 100 grants or 1,000,000, and the one
//! decision function that `grant check` and `serve` both call.
//!
//! Index: principal → its subjects; (subject, kind, first `HEAD` bytes of
//! the name) → a bucket of prefix grants and exact-name fingerprints, or one
//! bucket per (subject, kind) when it holds few grants; exact names (and the
//! prefixes of crowded buckets) by hash. The superuser grants of a subject
//! are kept apart: they match everything.

use bytemuck::Zeroable;
use rustc_hash::FxHashMap;
use serde::Serialize;
use smallvec::SmallVec;

use super::grant::{Effect, Grant, builtin_grants};
use super::index::{
    BUCKET_EXACTS, BUCKET_PREFIXES, Bucket, FNV_START, HugeSlots, InlineTable, Keyed, NameCuts,
    Overflow, PrefixEntry, ShortName, Slot, any_fingerprint, fnv, fnv_step, key,
};
use super::{Action, NamePattern};
use crate::error::{Error, Result};

/// A membership: `principal` belongs to `group`.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub struct Membership {
    pub group: String,
    pub principal: String,
}

/// A concrete request: may `principal` do `action` on `kind:name`?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub principal: &'a str,
    pub action: Action,
    pub kind: &'a str,
    pub name: &'a str,
}

/// Split and check a concrete resource `kind:name` (no wildcards).
pub fn parse_resource(s: &str) -> Result<(&str, &str)> {
    match s.split_once(':') {
        Some((k, n))
            if super::is_kind(k)
                && !n.is_empty()
                && !n.contains('*')
                && !n.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok((k, n))
        }
        _ => Err(Error::usage(format!(
            "invalid resource '{}'",
            crate::credential::shown(s)
        ))
        .with_hint("a request names one resource as <kind>:<name>, e.g. worker:build-1 (no *)")),
    }
}

mod build;
mod decide;
mod decision;
mod explain;
mod layout;

pub use decision::{Decision, Hit, Matched, NearMiss, Outcome, Reason};
use layout::*;

/// A compiled, immutable policy snapshot. See [`super::index`] for the layout.
#[derive(Debug)]
pub struct Compiled {
    version: i64,
    /// Built-in grants: grant ids 0..builtins.len().
    builtins: Vec<Grant>,
    /// The others, after them (see [`Compiled::grant`]).
    grants: Vec<Grant>,
    /// Per grant, in the same order: what rendering it as matched needs.
    cards: Vec<Card>,
    subject_ids: FxHashMap<Box<str>, u32>,
    subject_names: Vec<Box<str>>,
    /// Every grant of each subject, for near misses.
    subject_grants: Vec<Vec<u32>>,
    /// Kind name → id (from 1; 0 is `*`).
    kinds: FxHashMap<Box<str>, u32>,
    /// Per kind id: some prefix in it is shorter than `HEAD`, so a request
    /// also reads the subjects' `SHORT_HEAD` buckets.
    short_prefixes: Vec<bool>,
    /// Per subject: the kinds it holds grants in (bit `kind_bit`, and
    /// `SUPERUSER_KIND` when it holds a superuser grant), then the kinds in
    /// which it has one `ALL_HEADS` bucket instead of one per head, then
    /// the heads of its grants' names and prefixes in any kind (bit
    /// `head_bit`). Small and dense: a decision skips the kinds, often `*`,
    /// and the subjects that have nothing under the name's head without a
    /// trip to memory.
    subject_kinds: Vec<[u64; 3]>,
    /// Per (subject, kind, head): the prefix grants and exact-name
    /// fingerprints (see [`Bucket`]).
    buckets: InlineTable<Bucket, HugeSlots<Bucket>>,
    /// Buckets whose key another bucket already had (practically never).
    bucket_collisions: FxHashMap<BucketId, Bucket>,
    /// The rest of the grants of buckets with a few more than fit.
    overflow: Overflow,
    /// Superuser grants, and the prefix grants of indexed buckets.
    table: InlineTable<EntrySlot>,
    /// Exact-name grants.
    exact_table: InlineTable<EntrySlot>,
    /// The grants of each key that holds several, one run per key in grant
    /// order, the last carrying `LAST_BIT`.
    runs: Vec<Entry>,
    /// The names or prefixes too long to be inline in an [`Entry`] or a
    /// [`PrefixEntry`], back to back.
    names: Vec<u8>,
    /// Principal → its subject ids.
    principals: InlineTable<PrincipalSlot>,
    /// The principals' names too long for their slot, back to back.
    principal_names: Vec<u8>,
    /// Principals with more than `PRINCIPAL_INLINE` subjects, or whose hash
    /// collided with another's (practically never).
    principal_overflow: FxHashMap<Box<str>, Vec<u32>>,
}

impl Compiled {
    /// The snapshot version this was compiled from (0 for staged grants).
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Grant `i` of the index (built-ins first), as in a [`Hit`].
    pub fn grant(&self, i: u32) -> &Grant {
        let i = i as usize;
        match i.checked_sub(self.builtins.len()) {
            None => &self.builtins[i],
            Some(j) => &self.grants[j],
        }
    }
}

#[cfg(test)]
mod tests;
