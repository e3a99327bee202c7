//! Worker operations: list, show, revoke, drain, and dispatch.

use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Effect, Endpoint, Operation, Route, routes};
use crate::error::Result;
use crate::store::Access;
use crate::token::Ctx;
use crate::worker::{self, Drained, WorkerView};

/// `worker list`: filters. Also the command's flags: a field added here is
/// a flag, a query parameter, an OpenAPI parameter and a filter at once.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema, clap::Args,
)]
#[serde(deny_unknown_fields)]
pub struct WorkerList {
    /// Revoked workers too
    #[serde(default)]
    #[arg(long)]
    pub all: bool,
    /// Only workers not seen for this long
    #[serde(default, with = "super::wire::opt_duration")]
    #[schema(value_type = Option<String>)]
    #[arg(long, value_name = "D", value_parser = crate::time::duration_arg)]
    pub stale: Option<Duration>,
    /// Only workers with this label, e.g. pool=build
    #[serde(default)]
    #[arg(long, value_name = "KEY=VALUE", value_parser = crate::error::parsed::<LabelMatch>)]
    pub label: Option<LabelMatch>,
}

checked_text!(
    /// `key=value`: a worker label to match, checked on arrival.
    LabelMatch,
    |s: &str| match s.split_once('=') {
        Some((k, _)) if !k.is_empty() => Ok(()),
        _ => Err(crate::error::Error::usage(format!("invalid label '{}'", crate::credential::shown(s)))
            .with_hint("write key=value, e.g. pool=build")),
    }
);

impl LabelMatch {
    fn matches(&self, w: &WorkerView) -> bool {
        let (k, v) = self.0.split_once('=').unwrap_or_default();
        w.labels.get(k).and_then(Value::as_str) == Some(v)
    }
}

impl Endpoint for WorkerList {
    type Response = Vec<WorkerView>;
    const ROUTE: &'static Route = &routes::WORKER_LIST;
}

impl Operation for WorkerList {
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<Vec<WorkerView>> {
        let mut workers = store.with(|s| worker::list(s, ctx.now, self.all, self.stale))?;
        if let Some(l) = &self.label {
            workers.retain(|w| l.matches(w));
        }
        Ok(workers)
    }
}

checked_text!(
    /// A worker id (`wrk_<id>` or bare), checked on arrival.
    WorkerId,
    worker::parse_id
);

impl WorkerId {
    /// The bare id.
    pub fn bare(&self) -> String {
        worker::parse_id(&self.0).unwrap_or_default()
    }
}

/// `worker show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerShow {
    pub id: WorkerId,
}

impl Endpoint for WorkerShow {
    type Response = WorkerView;
    const ROUTE: &'static Route = &routes::WORKER_SHOW;
}

impl Operation for WorkerShow {
    fn run(self, mut store: impl Access, _: &Ctx) -> Result<WorkerView> {
        store.with(|s| worker::show(s, &self.id.0))
    }
}

/// `worker revoke`: all or nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerRevoke {
    pub ids: Vec<WorkerId>,
}

impl Endpoint for WorkerRevoke {
    type Response = Vec<WorkerView>;
    const ROUTE: &'static Route = &routes::WORKER_REVOKE;
}

impl Operation for WorkerRevoke {
    fn effect(&self) -> Effect {
        Effect::WorkersRevoked
    }
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<Vec<WorkerView>> {
        let ids: Vec<String> = self.ids.into_iter().map(|i| i.0).collect();
        store.with(|s| worker::revoke(s, ctx, &ids, "revoked"))
    }
}

/// `worker drain`: no new dispatches for this worker. `serve` first tells
/// the connected socket, then records whether it was connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerDrain {
    pub id: WorkerId,
}

impl WorkerDrain {
    /// Record the drain; `connected` says whether a live socket was told.
    pub fn record(self, mut store: impl Access, ctx: &Ctx, connected: bool) -> Result<Drained> {
        let id = self.id.bare();
        store.with(|s| worker::drain(s, ctx, &id, connected))
    }
}

impl Endpoint for WorkerDrain {
    type Response = Drained;
    const ROUTE: &'static Route = &routes::WORKER_DRAIN;
}

impl Operation for WorkerDrain {
    /// Without serve there is no socket to tell: the status is recorded
    /// and serve passes it on when it sees it.
    fn run(self, store: impl Access, ctx: &Ctx) -> Result<Drained> {
        self.record(store, ctx, false)
    }
}

/// `worker dispatch`: a step to run on a worker (answered by serve alone).
#[derive(Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dispatch {
    /// Worker name; or give `select`.
    #[serde(default)]
    pub to: String,
    /// `key=value`: any connected worker with that label.
    #[serde(default)]
    pub select: Option<String>,
    pub argv: Vec<String>,
    /// Names of serve's secrets to give the step as environment variables.
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub stdin: String,
    /// How long the step may run [default: 10m].
    #[serde(default, with = "super::wire::opt_duration")]
    #[schema(value_type = Option<String>)]
    pub timeout: Option<Duration>,
}

/// A dispatch's timeout unless it names one.
pub const DISPATCH_TIMEOUT: Duration = Duration::from_secs(600);

impl std::fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatch")
            .field("to", &self.to)
            .field("select", &self.select)
            .field("argv", &self.argv.len())
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl Endpoint for Dispatch {
    /// The step's result: exit code, stdout, stderr, and timings.
    type Response = Value;
    const ROUTE: &'static Route = &routes::DISPATCH;

    fn resource(&self) -> Cow<'static, str> {
        Cow::Owned(format!("worker:{}", self.to))
    }

    /// The step's timeout, its grace period and a margin.
    fn wait(&self) -> Option<Duration> {
        Some(self.timeout.unwrap_or(DISPATCH_TIMEOUT) + Duration::from_secs(60))
    }
}
