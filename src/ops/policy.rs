//! Snapshot operations: reload, history, rollback and prune.

use serde::{Deserialize, Serialize};

use super::{Effect, Endpoint, Operation, Route, routes};
use crate::error::Result;
use crate::reload::{self, ReloadReport, SnapshotInfo};
use crate::store::Access;
use crate::token::Ctx;

/// `reload`: compile the staged policy and activate it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reload {
    /// Report what would change, activate nothing.
    #[serde(default)]
    pub dry_run: bool,
}

impl Endpoint for Reload {
    type Response = ReloadReport;
    const ROUTE: &'static Route = &routes::RELOAD;
}

impl Operation for Reload {
    fn effect(&self) -> Effect {
        Effect::Policy
    }
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<ReloadReport> {
        store.with(|s| reload::reload(s, ctx, self.dry_run))
    }
}

/// `reload history`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotList {}

impl Endpoint for SnapshotList {
    type Response = Vec<SnapshotInfo>;
    const ROUTE: &'static Route = &routes::SNAPSHOT_LIST;
}

impl Operation for SnapshotList {
    fn run(self, mut store: impl Access, _: &Ctx) -> Result<Vec<SnapshotInfo>> {
        store.with(reload::history)
    }
}

/// `reload rollback VERSION`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRollback {
    #[serde(with = "super::wire::int")]
    #[schema(value_type = i64)]
    pub version: i64,
}

impl Endpoint for SnapshotRollback {
    type Response = SnapshotInfo;
    const ROUTE: &'static Route = &routes::SNAPSHOT_ROLLBACK;
}

impl Operation for SnapshotRollback {
    fn effect(&self) -> Effect {
        Effect::Policy
    }
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<SnapshotInfo> {
        store.with(|s| reload::rollback(s, ctx, self.version))
    }
}

/// `reload prune`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotPrune {
    /// Inactive snapshots to keep besides the active one.
    pub keep: usize,
    #[serde(default)]
    pub dry_run: bool,
}

impl Endpoint for SnapshotPrune {
    type Response = Vec<SnapshotInfo>;
    const ROUTE: &'static Route = &routes::SNAPSHOT_PRUNE;
}

impl Operation for SnapshotPrune {
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<Vec<SnapshotInfo>> {
        store.with(|s| reload::prune(s, ctx, self.keep, self.dry_run))
    }
}
