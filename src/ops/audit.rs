//! Audit operations: log, verify, checkpoint, check, prune and export.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Endpoint, Operation, Route, routes};
use crate::audit::check::{self, CheckOptions, Finding};
use crate::audit::export::{self, Schema};
use crate::audit::prune::{self, PruneReport};
use crate::audit::{Event, Head, Verification};
use crate::error::{Error, Result};
use crate::store::{Access, AuditQuery};
use crate::time::{Millis, parse_since};
use crate::token::Ctx;

checked_text!(
    /// A point in time as the user wrote it: a duration ago (`90d`) or RFC
    /// 3339. Checked on arrival; the moment is fixed when the operation runs.
    Since,
    |s| parse_since(s, crate::time::now_ms())
);

impl Since {
    /// The moment it names, relative to `now`.
    pub fn at(&self, now: Millis) -> Result<Millis> {
        parse_since(&self.0, now)
    }
}

/// `audit log`: filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditLog {
    pub since: Option<Since>,
    pub until: Option<Since>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<String>,
    /// Only events after this sequence number (for following the log).
    pub after_seq: Option<i64>,
}

impl AuditLog {
    fn query(&self, now: Millis) -> Result<AuditQuery> {
        Ok(AuditQuery {
            since: self.since.as_ref().map(|s| s.at(now)).transpose()?,
            until: self.until.as_ref().map(|s| s.at(now)).transpose()?,
            kind: self.kind.clone(),
            actor: self.actor.clone(),
            target: self.target.clone(),
            outcome: self.outcome.clone(),
            after_seq: self.after_seq,
        })
    }
}

impl Endpoint for AuditLog {
    type Response = Vec<Event>;
    const ROUTE: &'static Route = &routes::AUDIT_LOG;
}

impl Operation for AuditLog {
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<Vec<Event>> {
        let q = self.query(ctx.now)?;
        let mut events = Vec::new();
        store.with(|s| {
            s.read(|tx| {
                tx.audit_events(&q, |e| {
                    events.push(e);
                    Ok(())
                })
            })
        })?;
        Ok(events)
    }
}

/// `audit verify`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditVerify {
    /// A head saved by `audit checkpoint`: also catches truncation and rewrites.
    #[serde(default)]
    pub checkpoint: Option<Head>,
}

impl Endpoint for AuditVerify {
    type Response = Verification;
    const ROUTE: &'static Route = &routes::AUDIT_VERIFY;
}

impl Operation for AuditVerify {
    fn run(self, mut store: impl Access, _: &Ctx) -> Result<Verification> {
        store.with(|s| s.read(|tx| tx.verify_audit(self.checkpoint.as_ref())))
    }
}

/// `audit checkpoint`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditCheckpoint {}

impl Endpoint for AuditCheckpoint {
    type Response = Head;
    const ROUTE: &'static Route = &routes::AUDIT_CHECKPOINT;
}

impl Operation for AuditCheckpoint {
    fn run(self, mut store: impl Access, _: &Ctx) -> Result<Head> {
        store
            .with(|s| s.audit_head())?
            .ok_or_else(|| Error::not_found("the audit log is empty"))
    }
}

/// `audit check`: what to look for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditCheck {
    /// Bound tokens not used, and workers not seen, for this long are reported.
    #[serde(with = "super::wire::duration")]
    #[schema(value_type = String)]
    pub stale: Duration,
    /// Failed authentications in the last hour that count as a spike.
    pub spike: i64,
}

impl Endpoint for AuditCheck {
    type Response = Vec<Finding>;
    const ROUTE: &'static Route = &routes::AUDIT_CHECK;
}

impl Operation for AuditCheck {
    /// The store's files, then its content; worst first.
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<Vec<Finding>> {
        let o = CheckOptions {
            now: ctx.now,
            stale: self.stale,
            spike: self.spike,
        };
        let mut findings = store.with(|s| {
            let mut f = check::file_findings(s.path(), s.key_file());
            f.extend(check::check(s, &o)?);
            Ok(f)
        })?;
        findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(b.id)));
        Ok(findings)
    }
}

/// `audit prune`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditPrune {
    /// Cut-off: a duration ago (`90d`) or an RFC 3339 time.
    pub before: Since,
}

impl Endpoint for AuditPrune {
    type Response = PruneReport;
    const ROUTE: &'static Route = &routes::AUDIT_PRUNE;
}

impl Operation for AuditPrune {
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<PruneReport> {
        let before = self.before.at(ctx.now)?;
        store.with(|s| prune::prune(s, ctx, before))
    }
}

/// `audit export`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditExport {
    pub schema: Schema,
    pub since: Option<Since>,
}

impl Endpoint for AuditExport {
    /// One line per event, in the schema asked for.
    type Response = Vec<String>;
    const ROUTE: &'static Route = &routes::AUDIT_EXPORT;
}

impl Operation for AuditExport {
    fn run(self, mut store: impl Access, ctx: &Ctx) -> Result<Vec<String>> {
        let q = AuditQuery {
            since: self.since.as_ref().map(|s| s.at(ctx.now)).transpose()?,
            ..Default::default()
        };
        let mut lines = Vec::new();
        store.with(|s| {
            s.read(|tx| {
                tx.audit_events(&q, |e| {
                    lines.push(match self.schema {
                        Schema::Moat => serde_json::to_string(&e).unwrap_or_default(),
                        Schema::Ocsf => export::ocsf(&e).to_string(),
                        Schema::Cef => export::cef(&e),
                    });
                    Ok(())
                })
            })
        })?;
        Ok(lines)
    }
}
