//! Route handlers: audit, workers and dispatches.

use axum::Json;
use axum::extract::{Path, Query};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;

use super::api::{ApiResult, Caller, Checked, IdsBody, JsonBody, bad, body};
use crate::error::{Error, Result};
use crate::policy::Action;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditQueryParams {
    since: Option<String>,
    until: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    outcome: Option<String>,
    after_seq: Option<i64>,
}

pub(super) async fn audit_log(
    c: Caller,
    Checked(Query(q)): Checked<Query<AuditQueryParams>>,
) -> ApiResult {
    let now = crate::time::now_ms();
    let query = (|| -> Result<crate::store::AuditQuery> {
        Ok(crate::store::AuditQuery {
            since: q
                .since
                .as_deref()
                .map(|s| crate::time::parse_since(s, now))
                .transpose()?,
            until: q
                .until
                .as_deref()
                .map(|s| crate::time::parse_since(s, now))
                .transpose()?,
            kind: q.kind,
            actor: q.actor,
            target: q.target,
            outcome: q.outcome,
            after_seq: q.after_seq,
        })
    })()
    .map_err(|e| bad(e, &c))?;
    c.run(Action::Read, "access:audit", move |s, _| {
        let mut events = Vec::new();
        s.read(|tx| {
            tx.audit_events(&query, |e| {
                events.push(e);
                Ok(())
            })
        })?;
        Ok(events)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VerifyAuditBody {
    checkpoint: Option<crate::audit::Head>,
}

pub(super) async fn audit_verify(c: Caller, JsonBody(v): JsonBody<Value>) -> ApiResult {
    let b: VerifyAuditBody = body(&c, v)?;
    c.run(Action::Read, "access:audit", move |s, _| {
        s.read(|tx| tx.verify_audit(b.checkpoint.as_ref()))
    })
    .await
}

pub(super) async fn audit_checkpoint(c: Caller) -> ApiResult {
    c.run(Action::Read, "access:audit", |s, _| {
        s.read(|tx| tx.audit_head())?
            .ok_or_else(|| Error::not_found("the audit log is empty"))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WorkerListQuery {
    all: Option<bool>,
    stale: Option<String>,
}

pub(super) async fn worker_list(
    c: Caller,
    Checked(Query(q)): Checked<Query<WorkerListQuery>>,
) -> ApiResult {
    let stale = q
        .stale
        .as_deref()
        .map(crate::time::parse_duration)
        .transpose()
        .map_err(|e| bad(e, &c))?;
    let all = q.all.unwrap_or(false);
    c.run(Action::Read, "access:workers", move |s, ctx| {
        crate::worker::list(s, ctx.now, all, stale)
    })
    .await
}

pub(super) async fn worker_show(c: Caller, Checked(Path(id)): Checked<Path<String>>) -> ApiResult {
    crate::worker::parse_id(&id).map_err(|e| bad(e, &c))?;
    c.run(Action::Read, "access:workers", move |s, _| {
        crate::worker::show(s, &id)
    })
    .await
}

pub(super) async fn worker_revoke(c: Caller, JsonBody(v): JsonBody<Value>) -> ApiResult {
    let b: IdsBody = body(&c, v)?;
    for id in &b.ids {
        crate::worker::parse_id(id).map_err(|e| bad(e, &c))?;
    }
    let resp = c
        .run(Action::Write, "access:workers", move |s, ctx| {
            crate::worker::revoke(s, ctx, &b.ids, "revoked")
        })
        .await?;
    // Cut the sockets now rather than at the next watcher tick.
    let state = c.state.clone();
    let _ = tokio::task::spawn_blocking(move || state.refresh()).await;
    Ok(resp)
}

pub(super) async fn worker_drain(c: Caller, Checked(Path(id)): Checked<Path<String>>) -> ApiResult {
    let bare = crate::worker::parse_id(&id).map_err(|e| bad(e, &c))?;
    c.authorize(Action::Write, "access:workers")?;
    let connected = c.state.fleet.drain(&bare);
    c.run(Action::Write, "access:workers", move |s, ctx| {
        crate::worker::drain(s, ctx, &bare, connected)
    })
    .await
}

pub(super) async fn dispatch(c: Caller, JsonBody(v): JsonBody<Value>) -> ApiResult {
    let mut b: super::fleet::DispatchBody = body(&c, v)?;
    if let Some(sel) = b.select.take() {
        let (k, val) = sel.split_once('=').ok_or_else(|| {
            bad(
                Error::usage(format!("invalid --select '{sel}': write key=value")),
                &c,
            )
        })?;
        // Among the workers the caller may run on; when it may run on none,
        // the first candidate's refusal says so (and is audited).
        let fleet = &c.state.fleet;
        b.to = match fleet.select(k, val, |name| c.may(Action::Run, "worker", name)) {
            Some(name) => name,
            None => fleet.select(k, val, |_| true).ok_or_else(|| {
                bad(
                    Error::not_found(format!("no connected worker has label {sel}")),
                    &c,
                )
            })?,
        };
    }
    if !crate::policy::is_ident(&b.to) {
        return Err(bad(
            Error::usage(format!("invalid worker name '{}'", b.to)),
            &c,
        ));
    }
    c.authorize(Action::Run, &format!("worker:{}", b.to))?;
    for name in &b.secrets {
        c.authorize(Action::Read, &format!("vault:{name}"))?;
    }
    let out = super::fleet::dispatch(&c.state, &c.id.principal, b)
        .await
        .map_err(|e| bad(e, &c))?;
    Ok(Json(out).into_response())
}
