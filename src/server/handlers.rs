//! Handlers of the operations that need serve's live state besides the
//! store (the enforced policy, the worker sockets), and of health, metrics
//! and the OpenAPI document. Each decodes the operation's own request type.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::api_error::ApiResult;
use super::caller::Caller;
use super::extract::{JsonBytes, TextBody};
use super::{AppState, with_store};
use crate::error::Error;
use crate::ops::grants::{BATCH_ERRORS, BATCH_REQUESTS, Check, CheckBatch};
use crate::ops::tokens::{Identity, Whoami};
use crate::ops::workers::{Dispatch, WorkerDrain};
use crate::ops::{self, Endpoint};
use crate::policy::Action;

pub(super) async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    let ok = with_store(&s.store, |st| st.audit_head().map(|_| ()))
        .await
        .is_ok();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"ready": ok, "snapshot": s.policy.load().version()})),
    )
        .into_response()
}

pub(super) async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let m = &s.metrics;
    let body = format!(
        "# TYPE moat_requests_total counter\nmoat_requests_total {}\n\
         # TYPE moat_auth_failures_total counter\nmoat_auth_failures_total {}\n\
         # TYPE moat_auth_throttled_total counter\nmoat_auth_throttled_total {}\n\
         # TYPE moat_decisions_total counter\nmoat_decisions_total{{decision=\"allow\"}} {}\nmoat_decisions_total{{decision=\"deny\"}} {}\n\
         # TYPE moat_connected_workers gauge\nmoat_connected_workers {}\n\
         # TYPE moat_dispatches_total counter\nmoat_dispatches_total {}\n\
         # TYPE moat_policy_snapshot gauge\nmoat_policy_snapshot {}\n",
        m.requests.load(Ordering::Relaxed),
        m.auth_failures.load(Ordering::Relaxed),
        m.throttled.load(Ordering::Relaxed),
        m.decisions_allow.load(Ordering::Relaxed),
        m.decisions_deny.load(Ordering::Relaxed),
        s.fleet.len(),
        m.dispatches.load(Ordering::Relaxed),
        s.policy.load().version(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// `GET /v1/openapi.json`: the document generated from the operation types.
pub(super) async fn openapi() -> Response {
    Json(crate::ops::openapi::document()).into_response()
}

pub(super) async fn whoami(c: Caller, uri: Uri) -> ApiResult {
    let _: Whoami =
        ops::decode(uri.path(), uri.query().unwrap_or(""), None).map_err(|e| c.bad(e))?;
    c.json(&Identity {
        principal: c.id.principal.clone(),
        groups: c.id.groups.clone(),
        scopes: c.id.scopes.iter().map(|s| s.to_string()).collect(),
        token_id: c.id.token_id.clone(),
        method: c.id.method.to_owned(),
    })
}

/// One decision: by the enforced policy, or the staged one read from the store.
pub(super) async fn check(c: Caller, uri: Uri, JsonBytes(body): JsonBytes) -> ApiResult {
    let req: Check = ops::decode_json(uri.path(), &body).map_err(|e| c.bad(e))?;
    c.permit(Check::ROUTE, &req.resource())?;
    let respond = |d: &crate::policy::engine::Decision<'_>| Json(d).into_response();
    if req.staged {
        let r = req.clone();
        let policy = with_store(&c.state.store, move |s| r.policy(s))
            .await
            .map_err(|e| c.bad(e))?;
        req.render(&policy, respond)
    } else {
        req.render(&c.state.policy.load(), respond)
    }
    .map_err(|e| c.bad(e))
}

/// NDJSON in, NDJSON out, by the enforced policy.
pub(super) async fn check_batch(c: Caller, TextBody(text): TextBody) -> ApiResult {
    c.permit(CheckBatch::ROUTE, CheckBatch::ROUTE.resource)?;
    let policy = c.state.policy.load_full();
    let (out, sum) = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let sum = crate::grant::check_batch(&policy, text.as_bytes(), &mut out, false);
        (out, sum)
    })
    .await
    .map_err(|e| c.bad(Error::internal(e.to_string())))?;
    let sum = sum.map_err(|e| c.bad(e))?;
    let mut resp = ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response();
    if let Ok(v) = HeaderValue::from_str(&sum.errors.to_string()) {
        resp.headers_mut().insert(BATCH_ERRORS, v);
    }
    if let Ok(v) = HeaderValue::from_str(&sum.requests.to_string()) {
        resp.headers_mut().insert(BATCH_REQUESTS, v);
    }
    Ok(resp)
}

/// Tell the live socket first, then record the drain and whether it was connected.
pub(super) async fn worker_drain(c: Caller, uri: Uri, JsonBytes(body): JsonBytes) -> ApiResult {
    let req: WorkerDrain = ops::decode_json(uri.path(), &body).map_err(|e| c.bad(e))?;
    c.permit(WorkerDrain::ROUTE, &req.resource())?;
    let connected = c.state.fleet.drain(&req.id.bare());
    let ctx = c.ctx();
    let store = c.state.store.clone();
    let out =
        tokio::task::spawn_blocking(move || req.record(super::Shared(&store), &ctx, connected))
            .await
            .map_err(|e| c.bad(Error::internal(e.to_string())))?
            .map_err(|e| c.bad(e))?;
    c.json(&out)
}

pub(super) async fn dispatch(c: Caller, uri: Uri, JsonBytes(body): JsonBytes) -> ApiResult {
    let mut b: Dispatch = ops::decode_json(uri.path(), &body).map_err(|e| c.bad(e))?;
    if let Some(sel) = b.select.take() {
        let (k, val) = sel.split_once('=').ok_or_else(|| {
            c.bad(Error::usage(format!(
                "invalid --select '{sel}': write key=value"
            )))
        })?;
        // Among the workers the caller may run on: this replica's own with
        // room first, then those other replicas hold (whose room only they
        // know: a full one answers worker_busy). When it may run on none,
        // the first candidate's refusal says so (and is audited).
        let fleet = &c.state.fleet;
        let may = |name: &str| c.may(Action::Run, "worker", name);
        let mine = fleet.select(k, val, may);
        let elsewhere = if mine.is_none() && c.state.replica.is_some() {
            let (k, val) = (k.to_owned(), val.to_owned());
            super::with_store(&c.state.store, move |st| {
                st.read(|tx| tx.labelled_elsewhere(&k, &val))
            })
            .await
            .map_err(|e| c.bad(e))?
        } else {
            Vec::new()
        };
        b.to = match mine.or_else(|| elsewhere.iter().find(|n| may(n)).cloned()) {
            Some(name) => name,
            None => fleet
                .select(k, val, |_| true)
                .or_else(|| elsewhere.first().cloned())
                .ok_or_else(|| {
                    c.bad(Error::not_found(format!(
                        "no connected worker has label {sel}"
                    )))
                })?,
        };
    }
    if !crate::policy::is_ident(&b.to) {
        return Err(c.bad(Error::usage(format!("invalid worker name '{}'", b.to))));
    }
    c.permit(Dispatch::ROUTE, &b.resource())?;
    for name in &b.secrets {
        c.authorize(Action::Read, &format!("vault:{name}"))?;
    }
    let out = super::fleet::dispatch(&c.state, &c.id.principal, b)
        .await
        .map_err(|e| c.bad(e))?;
    c.json(&out)
}
