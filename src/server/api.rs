//! The `/v1` JSON API: authentication and authorization of every route, the
//! handlers (each calls the same library operation as the local command),
//! the JSON error shape, and the access log.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequestParts, MatchedPath, Path, Query, Request, State,
};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Authenticator, Identity, Refusal};
use super::{AppState, with_store};
use crate::audit::{NewEvent, types};
use crate::error::{Error, Exit, Result};
use crate::policy::Action;
use crate::policy::engine::parse_resource;
use crate::store::Store;
use crate::token::Ctx;

/// Largest request body.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Per-request facts the access log needs, filled in as the request runs.
#[derive(Clone, Default)]
struct RequestInfo(Arc<Mutex<(String, Option<String>)>>);

/// An API error rendered as `{"error":{"code","message","hint","exit","request_id"}}`.
pub struct ApiError {
    status: StatusCode,
    err: Box<Error>,
    request_id: String,
    retry_after: Option<Duration>,
}

fn status_of(e: &Error) -> StatusCode {
    match e.exit {
        Exit::Usage => StatusCode::BAD_REQUEST,
        Exit::NotFound => StatusCode::NOT_FOUND,
        Exit::Conflict => StatusCode::CONFLICT,
        Exit::Auth => StatusCode::UNAUTHORIZED,
        Exit::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    fn new(err: Error, request_id: &str) -> Self {
        ApiError {
            status: status_of(&err),
            err: Box::new(err),
            request_id: request_id.to_owned(),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Internal errors keep their detail in the server log, not the response.
        let message = if self.status == StatusCode::INTERNAL_SERVER_ERROR {
            eprintln!(
                "serve: internal error (request {}): {}",
                self.request_id, self.err.message
            );
            "internal error; see the server log".to_owned()
        } else {
            self.err.message.clone()
        };
        let body = json!({"error": {
            "code": self.err.code,
            "message": message,
            "hint": self.err.hint,
            "exit": self.err.exit.code(),
            "request_id": self.request_id,
        }});
        let mut resp = (self.status, Json(body)).into_response();
        let retry = self
            .retry_after
            .and_then(|d| HeaderValue::from_str(&d.as_secs().max(1).to_string()).ok());
        if let Some(v) = retry {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

type ApiResult = std::result::Result<Response, ApiError>;

/// The authenticated caller of a request, with its request id.
pub struct Caller {
    pub id: Identity,
    pub request_id: String,
    state: Arc<AppState>,
}

fn audit_async(state: &Arc<AppState>, e: NewEvent) {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(err) = s.write(|tx| tx.append_audit(e, crate::time::now_ms()).map(|_| ())) {
            eprintln!("serve: could not write an audit event: {err}");
        }
    });
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> std::result::Result<Self, ApiError> {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let id = authenticate(state, parts, addr, &request_id).await?;
        if let Some(info) = parts.extensions.get::<RequestInfo>() {
            info.0.lock().unwrap_or_else(|p| p.into_inner()).1 = Some(id.principal.clone());
        }
        Ok(Caller {
            id,
            request_id,
            state: state.clone(),
        })
    }
}

async fn authenticate(
    state: &Arc<AppState>,
    parts: &Parts,
    addr: Option<std::net::IpAddr>,
    request_id: &str,
) -> std::result::Result<Identity, ApiError> {
    if state.cfg.auth.is_none() {
        return Ok(Identity {
            principal: "user:anonymous".into(),
            groups: vec!["group:role:admin".into()],
            scopes: vec![],
            token_id: None,
            method: "none",
        });
    }
    let unauth = |code: &'static str, msg: String| {
        ApiError::new(Error::new(Exit::Auth, code, msg), request_id)
    };
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            unauth(
                "unauthenticated",
                "send Authorization: Bearer <api token or JWT>".into(),
            )
        })?;
    let auth = &state.auth;
    let key = auth.cache_key(bearer);
    if let Some(id) = auth.cached(&key) {
        return Ok(id);
    }
    let claimed = Authenticator::claimed_token_id(bearer);
    if let Some(wait) = auth.throttled(addr, claimed.as_deref()) {
        state.metrics.throttled.fetch_add(1, Ordering::Relaxed);
        audit_async(
            state,
            NewEvent::new(
                types::AUTH_THROTTLED,
                &addr.map_or("-".into(), |a| a.to_string()),
                claimed.clone(),
            )
            .outcome("failure")
            .details(json!({"request_id": request_id})),
        );
        let mut e = ApiError::new(
            Error::new(
                Exit::Auth,
                "throttled",
                "too many failed authentications; slow down",
            ),
            request_id,
        );
        e.status = StatusCode::TOO_MANY_REQUESTS;
        e.retry_after = Some(wait);
        return Err(e);
    }
    let result: std::result::Result<(Identity, Instant), Refusal> = if auth
        .wants_token_lookup(bearer)
    {
        let bearer_owned = bearer.to_owned();
        let store = state.store.clone();
        tokio::task::spawn_blocking(move || {
            let now = crate::time::now_ms();
            let row = crate::credential::RawCredential::parse(&bearer_owned)
                .ok()
                .and_then(|raw| {
                    let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
                    s.read(|tx| tx.token(&raw.id)).ok().flatten()
                });
            let (id, expires_at) = Authenticator::check_token(&bearer_owned, row, now)?;
            let left = Duration::from_millis(u64::try_from(expires_at - now).unwrap_or(0));
            if let Some(tid) = &id.token_id {
                let bare = tid.trim_start_matches("tok_").to_owned();
                let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
                let _ = s.write(|tx| {
                    tx.touch_token(&bare, now)?;
                    let e = NewEvent::new(types::AUTH_SUCCESS, &id.principal, Some(tid.clone()))
                        .details(json!({"method": "token"}));
                    tx.append_audit(e, now).map(|_| ())
                });
            }
            Ok((id, Instant::now() + left))
        })
        .await
        .map_err(|e| unauth("internal", format!("authentication failed: {e}")))?
    } else if state.cfg.auth.jwt {
        auth.check_jwt(bearer)
    } else {
        Err(Refusal::Unauthenticated(
            "invalid_token",
            "this server accepts api tokens (mta_...)".into(),
            None,
        ))
    };
    match result {
        Ok((id, until)) => {
            auth.remember(key, id.clone(), until);
            Ok(id)
        }
        Err(Refusal::Throttled(_)) => Err(unauth("throttled", "throttled".into())),
        Err(Refusal::Unauthenticated(code, msg, token_id)) => {
            state.metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
            auth.record_failure(addr, token_id.as_deref().or(claimed.as_deref()));
            audit_async(
                state,
                NewEvent::new(
                    types::AUTH_FAILURE,
                    &addr.map_or("-".into(), |a| a.to_string()),
                    token_id,
                )
                .outcome("failure")
                .details(json!({"reason": code, "request_id": request_id})),
            );
            Err(unauth(code, msg))
        }
    }
}

impl Caller {
    /// Check `action` on `resource` with the one decision function; a denial
    /// is audited and becomes 403.
    pub fn authorize(&self, action: Action, resource: &str) -> std::result::Result<(), ApiError> {
        let (kind, name) =
            parse_resource(resource).map_err(|e| ApiError::new(e, &self.request_id))?;
        let policy = self.state.policy.load();
        let req = crate::policy::engine::Request {
            principal: &self.id.principal,
            action,
            kind,
            name,
        };
        let outcome = policy.decide(&req, &self.id.groups);
        let scoped = self.id.scopes.is_empty()
            || self
                .id
                .scopes
                .iter()
                .any(|s| s.action == action && s.resource.matches(kind, name));
        let m = &self.state.metrics;
        if outcome.allow && scoped {
            m.decisions_allow.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        m.decisions_deny.fetch_add(1, Ordering::Relaxed);
        let reason = if outcome.allow {
            "outside_token_scope"
        } else {
            "denied_by_policy"
        };
        audit_async(
            &self.state,
            NewEvent::new(types::ACCESS_DENIED, &self.id.principal, Some(resource.to_owned()))
                .outcome("denied")
                .details(json!({"action": action.as_str(), "reason": reason, "snapshot": policy.version(), "request_id": self.request_id})),
        );
        let mut e = ApiError::new(
            Error::new(
                Exit::Auth,
                "forbidden",
                format!(
                    "{} may not {} {resource}",
                    self.id.principal,
                    action.as_str()
                ),
            )
            .with_hint("see `grant check --explain` for why"),
            &self.request_id,
        );
        e.status = StatusCode::FORBIDDEN;
        Err(e)
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            actor: self.id.principal.clone(),
            now: crate::time::now_ms(),
        }
    }

    /// Authorize, then run a library operation on the store and answer with its JSON.
    async fn run<T: serde::Serialize + Send + 'static>(
        &self,
        action: Action,
        resource: &str,
        f: impl FnOnce(&mut Store, &Ctx) -> Result<T> + Send + 'static,
    ) -> ApiResult {
        self.authorize(action, resource)?;
        let ctx = self.ctx();
        let out = with_store(&self.state.store, move |s| f(s, &ctx))
            .await
            .map_err(|e| ApiError::new(e, &self.request_id))?;
        Ok(Json(
            serde_json::to_value(out)
                .map_err(|e| ApiError::new(Error::internal(e.to_string()), &self.request_id))?,
        )
        .into_response())
    }

    /// After a change to grants or groups: with --grant-reload auto, compile
    /// and publish a new snapshot at once.
    async fn after_policy_change(&self) {
        let state = self.state.clone();
        let ctx = self.ctx();
        let _ = tokio::task::spawn_blocking(move || {
            let mut s = state.store.lock().unwrap_or_else(|p| p.into_inner());
            if state.cfg.auto_reload {
                let _ = crate::reload::reload(&mut s, &ctx, false);
            }
            let _ = state.swap_policy(&mut s);
        })
        .await;
    }
}

#[derive(Clone)]
struct RequestId(String);

async fn access_log(
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let request_id = format!("req_{}", crate::credential::random_id());
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let info = RequestInfo::default();
    req.extensions_mut().insert(RequestId(request_id.clone()));
    req.extensions_mut().insert(info.clone());
    let state = req.extensions().get::<Arc<AppState>>().cloned();
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    if let Some(s) = state {
        s.metrics.requests.fetch_add(1, Ordering::Relaxed);
    }
    let principal = info.0.lock().unwrap_or_else(|p| p.into_inner()).1.clone();
    // Never headers, tokens, bodies or secret values: only these fields.
    let line = json!({
        "ts": crate::time::rfc3339(crate::time::now_ms()),
        "request_id": request_id,
        "method": method,
        "route": route,
        "status": resp.status().as_u16(),
        "duration_ms": (start.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        "principal": principal,
        "remote": addr.to_string(),
    });
    eprintln!("{line}");
    resp
}

/// Every route.
pub fn routes(state: Arc<AppState>) -> Router {
    let state_ext = state.clone();
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/whoami", get(whoami))
        .route("/v1/tokens", post(token_create).get(token_list))
        .route("/v1/tokens/revoke", post(token_revoke))
        .route("/v1/tokens/prune", post(token_prune))
        .route("/v1/tokens/verify", post(token_verify))
        .route("/v1/tokens/{id}", get(token_show))
        .route("/v1/grants", post(grant_add).get(grant_list))
        .route("/v1/grants/revoke", post(grant_revoke))
        .route("/v1/grants/apply", post(grant_apply))
        .route("/v1/grants/export", get(grant_export))
        .route("/v1/groups", get(group_list))
        .route("/v1/groups/{group}/{op}", post(group_change))
        .route("/v1/check", post(check))
        .route("/v1/check/batch", post(check_batch))
        .route("/v1/reload", post(reload))
        .route("/v1/snapshots", get(snapshots))
        .route("/v1/snapshots/{version}/rollback", post(rollback))
        .route("/v1/audit", get(audit_log))
        .route("/v1/audit/verify", post(audit_verify))
        .route("/v1/audit/checkpoint", get(audit_checkpoint))
        .route("/v1/workers/connect", get(super::fleet::connect))
        .route("/v1/workers", get(worker_list))
        .route("/v1/workers/revoke", post(worker_revoke))
        .route("/v1/workers/{id}", get(worker_show))
        .route("/v1/workers/{id}/drain", post(worker_drain))
        .route("/v1/dispatches", post(dispatch))
        .layer(middleware::from_fn(access_log))
        .layer(axum::Extension(state_ext))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
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

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let m = &s.metrics;
    let body = format!(
        "# TYPE moat_requests_total counter\nmoat_requests_total {}\n\
         # TYPE moat_auth_failures_total counter\nmoat_auth_failures_total {}\n\
         # TYPE moat_auth_throttled_total counter\nmoat_auth_throttled_total {}\n\
         # TYPE moat_decisions_total counter\nmoat_decisions_total{{decision=\"allow\"}} {}\nmoat_decisions_total{{decision=\"deny\"}} {}\n\
         # TYPE moat_connected_workers gauge\nmoat_connected_workers {}\n\
         # TYPE moat_dispatches_total counter\nmoat_dispatches_total 0\n\
         # TYPE moat_policy_snapshot gauge\nmoat_policy_snapshot {}\n",
        m.requests.load(Ordering::Relaxed),
        m.auth_failures.load(Ordering::Relaxed),
        m.throttled.load(Ordering::Relaxed),
        m.decisions_allow.load(Ordering::Relaxed),
        m.decisions_deny.load(Ordering::Relaxed),
        s.fleet.len(),
        s.policy.load().version(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

async fn whoami(c: Caller) -> ApiResult {
    Ok(Json(json!({
        "principal": c.id.principal,
        "groups": c.id.groups,
        "scopes": c.id.scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "token_id": c.id.token_id,
        "method": c.id.method,
    }))
    .into_response())
}

fn bad(e: Error, c: &Caller) -> ApiError {
    ApiError::new(e, &c.request_id)
}

/// A JSON body, with malformed input reported in our error shape.
fn body<T: serde::de::DeserializeOwned>(c: &Caller, v: Value) -> std::result::Result<T, ApiError> {
    serde_json::from_value(v)
        .map_err(|e| bad(Error::usage(format!("malformed request body: {e}")), c))
}

#[derive(Deserialize)]
struct TokenCreateBody {
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

async fn token_create(c: Caller, Json(v): Json<Value>) -> ApiResult {
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
    c.run(Action::Write, "access:tokens", move |s, ctx| {
        crate::token::create(s, ctx, &req)
    })
    .await
}

#[derive(Deserialize)]
struct TokenListQuery {
    kind: Option<String>,
    state: Option<String>,
}

async fn token_list(c: Caller, Query(q): Query<TokenListQuery>) -> ApiResult {
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
            crate::token::TokenState::from_str(s, false)
                .map_err(|_| bad(Error::usage(format!("invalid state '{s}'")), &c))
        })
        .transpose()?;
    c.run(Action::Read, "access:tokens", move |s, ctx| {
        crate::token::list(s, ctx.now, kind, state)
    })
    .await
}

async fn token_show(c: Caller, Path(id): Path<String>) -> ApiResult {
    crate::token::parse_id(&id).map_err(|e| bad(e, &c))?;
    c.run(Action::Read, "access:tokens", move |s, ctx| {
        crate::token::show(s, ctx.now, &id)
    })
    .await
}

#[derive(Deserialize)]
struct RevokeBody {
    ids: Vec<String>,
    reason: Option<String>,
}

async fn token_revoke(c: Caller, Json(v): Json<Value>) -> ApiResult {
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
struct PruneBody {
    older_than: Option<String>,
}

async fn token_prune(c: Caller, Json(v): Json<Value>) -> ApiResult {
    let b: PruneBody = body(&c, v)?;
    let d = crate::time::parse_duration(b.older_than.as_deref().unwrap_or("7d"))
        .map_err(|e| bad(e, &c))?;
    c.run(Action::Write, "access:tokens", move |s, ctx| {
        crate::token::prune(s, ctx, d)
    })
    .await
}

#[derive(Deserialize)]
struct VerifyBody {
    token: String,
}

async fn token_verify(c: Caller, Json(v): Json<Value>) -> ApiResult {
    let b: VerifyBody = body(&c, v)?;
    c.run(Action::Read, "access:tokens", move |s, ctx| {
        let (view, refusal) = crate::token::verify(s, ctx.now, &b.token)?;
        Ok(json!({
            "record": view,
            "refusal": refusal.map(|e| json!({"code": e.code, "message": e.message, "exit": e.exit.code()})),
        }))
    })
    .await
}

#[derive(Deserialize)]
struct GrantBody {
    subject: String,
    #[serde(default = "allow")]
    effect: String,
    actions: Vec<String>,
    resource: String,
    note: Option<String>,
}

fn allow() -> String {
    "allow".into()
}

async fn grant_add(c: Caller, Json(v): Json<Value>) -> ApiResult {
    let b: GrantBody = body(&c, v)?;
    let req = (|| -> Result<crate::grant::AddRequest> {
        let r = crate::grant::AddRequest {
            subject: b.subject.parse()?,
            effect: b.effect.parse()?,
            actions: crate::policy::grant::Actions::parse_list(&b.actions)?,
            resource: b.resource.parse()?,
            note: b.note,
        };
        r.validate()?;
        Ok(r)
    })()
    .map_err(|e| bad(e, &c))?;
    let resp = c
        .run(Action::Admin, "access:grants", move |s, ctx| {
            crate::grant::add(s, ctx, &req)
        })
        .await?;
    c.after_policy_change().await;
    Ok(resp)
}

#[derive(Deserialize)]
struct GrantListQuery {
    subject: Option<String>,
    resource: Option<String>,
    source: Option<String>,
    state: Option<String>,
}

async fn grant_list(c: Caller, Query(q): Query<GrantListQuery>) -> ApiResult {
    let active = match q.state.as_deref() {
        None => None,
        Some("active") => Some(true),
        Some("revoked") => Some(false),
        Some(s) => return Err(bad(Error::usage(format!("invalid state '{s}'")), &c)),
    };
    let f = crate::grant::ListFilter {
        subject: q.subject,
        resource: q.resource,
        source: q.source,
        active,
    };
    c.run(Action::Read, "access:grants", move |s, _| {
        crate::grant::list(s, &f)
    })
    .await
}

#[derive(Deserialize)]
struct IdsBody {
    ids: Vec<String>,
}

async fn grant_revoke(c: Caller, Json(v): Json<Value>) -> ApiResult {
    let b: IdsBody = body(&c, v)?;
    for id in &b.ids {
        crate::grant::parse_id(id).map_err(|e| bad(e, &c))?;
    }
    let resp = c
        .run(Action::Admin, "access:grants", move |s, ctx| {
            crate::grant::revoke(s, ctx, &b.ids)
        })
        .await?;
    c.after_policy_change().await;
    Ok(resp)
}

#[derive(Deserialize)]
struct ApplyBody {
    name: String,
    text: String,
}

async fn grant_apply(c: Caller, Json(v): Json<Value>) -> ApiResult {
    let b: ApplyBody = body(&c, v)?;
    let source = crate::grant::parse_source_name(&b.name).map_err(|e| bad(e, &c))?;
    let rules = crate::grant::parse_file(&b.text).map_err(|e| bad(e, &c))?;
    let resp = c
        .run(Action::Admin, "access:grants", move |s, ctx| {
            crate::grant::apply(s, ctx, &source, &rules)
        })
        .await?;
    c.after_policy_change().await;
    Ok(resp)
}

async fn grant_export(c: Caller) -> ApiResult {
    c.run(Action::Read, "access:grants", |s, _| {
        crate::grant::export(s)
    })
    .await
}

async fn group_list(c: Caller) -> ApiResult {
    c.run(Action::Read, "access:groups", |s, _| {
        crate::grant::groups(s)
    })
    .await
}

#[derive(Deserialize)]
struct MembersBody {
    principals: Vec<String>,
}

async fn group_change(
    c: Caller,
    Path((group, op)): Path<(String, String)>,
    Json(v): Json<Value>,
) -> ApiResult {
    let b: MembersBody = body(&c, v)?;
    let add = match op.as_str() {
        "add" => true,
        "remove" => false,
        _ => {
            return Err(bad(
                Error::not_found(format!("no group operation '{op}'")),
                &c,
            ));
        }
    };
    crate::grant::parse_group(&group).map_err(|e| bad(e, &c))?;
    let principals: Vec<crate::policy::Principal> = b
        .principals
        .iter()
        .map(|p| p.parse())
        .collect::<Result<_>>()
        .map_err(|e| bad(e, &c))?;
    let resp = c
        .run(Action::Admin, "access:groups", move |s, ctx| {
            crate::grant::change_group(s, ctx, &group, &principals, add)
        })
        .await?;
    c.after_policy_change().await;
    Ok(resp)
}

#[derive(Deserialize)]
struct CheckBody {
    principal: String,
    action: String,
    resource: String,
    #[serde(default)]
    explain: bool,
    #[serde(default)]
    staged: bool,
}

async fn check(c: Caller, Json(v): Json<Value>) -> ApiResult {
    let b: CheckBody = body(&c, v)?;
    crate::grant::request(&b.principal, &b.action, &b.resource).map_err(|e| bad(e, &c))?;
    c.authorize(Action::Read, "access:grants")?;
    let render = |policy: &crate::policy::engine::Compiled| -> Result<Value> {
        let req = crate::grant::request(&b.principal, &b.action, &b.resource)?;
        let outcome = policy.decide(&req, &[]);
        serde_json::to_value(policy.render(&req, &[], &outcome, b.explain))
            .map_err(|e| Error::internal(e.to_string()))
    };
    let out = if b.staged {
        let store = c.state.store.clone();
        let policy = with_store(&store, |s| crate::grant::load_policy(s, true))
            .await
            .map_err(|e| bad(e, &c))?;
        render(&policy)
    } else {
        render(&c.state.policy.load())
    };
    Ok(Json(out.map_err(|e| bad(e, &c))?).into_response())
}

async fn check_batch(c: Caller, text: String) -> ApiResult {
    c.authorize(Action::Read, "access:grants")?;
    let policy = c.state.policy.load_full();
    let (out, sum) = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let sum = crate::grant::check_batch(&policy, text.as_bytes(), &mut out, false);
        (out, sum)
    })
    .await
    .map_err(|e| bad(Error::internal(e.to_string()), &c))?;
    let sum = sum.map_err(|e| bad(e, &c))?;
    let mut resp = ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response();
    if let Ok(v) = HeaderValue::from_str(&sum.errors.to_string()) {
        resp.headers_mut().insert("x-moat-batch-errors", v);
    }
    if let Ok(v) = HeaderValue::from_str(&sum.requests.to_string()) {
        resp.headers_mut().insert("x-moat-batch-requests", v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
struct ReloadBody {
    #[serde(default)]
    dry_run: bool,
}

async fn reload(c: Caller, Json(v): Json<Value>) -> ApiResult {
    let b: ReloadBody = body(&c, v)?;
    let resp = c
        .run(Action::Admin, "access:reload", move |s, ctx| {
            crate::reload::reload(s, ctx, b.dry_run)
        })
        .await?;
    c.after_policy_change().await;
    Ok(resp)
}

async fn snapshots(c: Caller) -> ApiResult {
    c.run(Action::Read, "access:reload", |s, _| {
        crate::reload::history(s)
    })
    .await
}

async fn rollback(c: Caller, Path(version): Path<i64>) -> ApiResult {
    let resp = c
        .run(Action::Admin, "access:reload", move |s, ctx| {
            crate::reload::rollback(s, ctx, version)
        })
        .await?;
    c.after_policy_change().await;
    Ok(resp)
}

#[derive(Deserialize)]
struct AuditQueryParams {
    since: Option<String>,
    until: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    outcome: Option<String>,
    after_seq: Option<i64>,
}

async fn audit_log(c: Caller, Query(q): Query<AuditQueryParams>) -> ApiResult {
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
struct VerifyAuditBody {
    checkpoint: Option<crate::audit::Head>,
}

async fn audit_verify(c: Caller, Json(v): Json<Value>) -> ApiResult {
    let b: VerifyAuditBody = body(&c, v)?;
    c.run(Action::Read, "access:audit", move |s, _| {
        s.read(|tx| tx.verify_audit(b.checkpoint.as_ref()))
    })
    .await
}

async fn audit_checkpoint(c: Caller) -> ApiResult {
    c.run(Action::Read, "access:audit", |s, _| {
        s.read(|tx| tx.audit_head())?
            .ok_or_else(|| Error::not_found("the audit log is empty"))
    })
    .await
}

#[derive(Deserialize)]
struct WorkerListQuery {
    all: Option<bool>,
    stale: Option<String>,
}

async fn worker_list(c: Caller, Query(q): Query<WorkerListQuery>) -> ApiResult {
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

async fn worker_show(c: Caller, Path(id): Path<String>) -> ApiResult {
    crate::worker::parse_id(&id).map_err(|e| bad(e, &c))?;
    c.run(Action::Read, "access:workers", move |s, _| {
        crate::worker::show(s, &id)
    })
    .await
}

async fn worker_revoke(c: Caller, Json(v): Json<Value>) -> ApiResult {
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

async fn worker_drain(c: Caller, Path(id): Path<String>) -> ApiResult {
    let bare = crate::worker::parse_id(&id).map_err(|e| bad(e, &c))?;
    c.authorize(Action::Write, "access:workers")?;
    let drained = c.state.fleet.drain(&bare);
    let view = with_store(&c.state.store, move |s| {
        let now = crate::time::now_ms();
        s.write(|tx| tx.set_worker_status(&bare, "draining", now))?;
        crate::worker::show(s, &bare)
    })
    .await
    .map_err(|e| bad(e, &c))?;
    let mut v = serde_json::to_value(view).map_err(|e| bad(Error::internal(e.to_string()), &c))?;
    v["connected"] = json!(drained);
    Ok(Json(v).into_response())
}

async fn dispatch(c: Caller, Json(v): Json<Value>) -> ApiResult {
    let b: super::fleet::DispatchBody = body(&c, v)?;
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
