//! Route handlers: health, metrics, whoami and tokens.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{ApiResult, Caller, Checked, JsonBody, bad, body};
use super::{AppState, with_store};
use crate::error::{Error, Result};
use crate::policy::Action;

pub(super) async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    let ok = with_store(&s.store, |st| st.read(|tx| tx.audit_head().map(|_| ())))
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

pub(super) async fn whoami(c: Caller) -> ApiResult {
    Ok(Json(json!({
        "principal": c.id.principal,
        "groups": c.id.groups,
        "scopes": c.id.scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "token_id": c.id.token_id,
        "method": c.id.method,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TokenCreateBody {
    kind: Option<String>,
    ttl: Option<String>,
    #[serde(default)]
    allow_long_ttl: bool,
    max_uses: Option<String>,
    label: Option<String>,
    principal: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

pub(super) async fn token_create(c: Caller, JsonBody(v): JsonBody<Value>) -> ApiResult {
    let b: TokenCreateBody = body(&c, v)?;
    let parse = || -> Result<crate::token::CreateRequest> {
        Ok(crate::token::CreateRequest {
            kind: match b.kind.as_deref().unwrap_or("enrol") {
                "enrol" => crate::credential::CredentialKind::Enrol,
                "api" => crate::credential::CredentialKind::Api,
                k => {
                    return Err(Error::usage(format!(
                        "invalid kind '{k}': expected enrol or api"
                    )));
                }
            },
            ttl: b
                .ttl
                .as_deref()
                .map(crate::time::parse_duration)
                .transpose()?,
            allow_long_ttl: b.allow_long_ttl,
            max_uses: b.max_uses.as_deref().map(str::parse).transpose()?,
            label: b.label.clone(),
            principal: b.principal.as_deref().map(str::parse).transpose()?,
            scopes: b.scopes.iter().map(|s| s.parse()).collect::<Result<_>>()?,
        })
    };
    let req = parse().map_err(|e| bad(e, &c))?;
    req.validate().map_err(|e| bad(e, &c))?;
    c.run_unlocked(Action::Write, "access:tokens", move |s, ctx| {
        crate::token::create(s, ctx, &req)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TokenListQuery {
    kind: Option<String>,
    state: Option<String>,
}

pub(super) async fn token_list(
    c: Caller,
    Checked(Query(q)): Checked<Query<TokenListQuery>>,
) -> ApiResult {
    use clap::ValueEnum;
    let kind = match q.kind.as_deref() {
        None => None,
        Some("enrol") => Some(crate::credential::CredentialKind::Enrol),
        Some("api") => Some(crate::credential::CredentialKind::Api),
        Some(k) => return Err(bad(Error::usage(format!("invalid kind '{k}'")), &c)),
    };
    let state = q
        .state
        .as_deref()
        .map(|s| {
            crate::token::TokenState::from_str(s, false).map_err(|_| {
                bad(
                    Error::usage(format!("invalid state '{}'", crate::credential::shown(s))),
                    &c,
                )
            })
        })
        .transpose()?;
    c.run(Action::Read, "access:tokens", move |s, ctx| {
        crate::token::list(s, ctx.now, kind, state)
    })
    .await
}

pub(super) async fn token_show(c: Caller, Checked(Path(id)): Checked<Path<String>>) -> ApiResult {
    crate::token::parse_id(&id).map_err(|e| bad(e, &c))?;
    c.run(Action::Read, "access:tokens", move |s, ctx| {
        crate::token::show(s, ctx.now, &id)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RevokeBody {
    ids: Vec<String>,
    reason: Option<String>,
}

pub(super) async fn token_revoke(c: Caller, JsonBody(v): JsonBody<Value>) -> ApiResult {
    let b: RevokeBody = body(&c, v)?;
    for id in &b.ids {
        crate::token::parse_id(id).map_err(|e| bad(e, &c))?;
    }
    let ids: Vec<String> = b
        .ids
        .iter()
        .map(|i| crate::token::display_id(i.trim_start_matches("tok_")))
        .collect();
    let resp = c
        .run(Action::Write, "access:tokens", move |s, ctx| {
            crate::token::revoke(s, ctx, &b.ids, b.reason.as_deref())
        })
        .await?;
    c.state.auth.forget(Some(&ids));
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PruneBody {
    older_than: Option<String>,
}

pub(super) async fn token_prune(c: Caller, JsonBody(v): JsonBody<Value>) -> ApiResult {
    let b: PruneBody = body(&c, v)?;
    let d = crate::time::parse_duration(b.older_than.as_deref().unwrap_or("7d"))
        .map_err(|e| bad(e, &c))?;
    c.run(Action::Write, "access:tokens", move |s, ctx| {
        crate::token::prune(s, ctx, d)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VerifyBody {
    token: String,
}

pub(super) async fn token_verify(c: Caller, JsonBody(v): JsonBody<Value>) -> ApiResult {
    let b: VerifyBody = body(&c, v)?;
    c.run_unlocked(Action::Read, "access:tokens", move |s, ctx| {
        let (view, refusal) = crate::token::verify(s, ctx.now, &b.token)?;
        Ok(json!({
            "record": view,
            "refusal": refusal.map(|e| json!({"code": e.code, "message": e.message, "exit": e.exit.code()})),
        }))
    })
    .await
}
