//! The `/v1` JSON API: authentication and authorization of every route, the
//! handlers (each calls the same library operation as the local command),
//! the JSON error shape, and the access log.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Authenticator, Identity, Refusal};
use super::routes_ops::*;
use super::routes_policy::*;
use super::routes_tokens::*;
use super::{AppState, guard, with_store};
use crate::audit::{NewEvent, types};
use crate::error::{Error, Exit, Result};
use crate::policy::Action;
use crate::policy::engine::parse_resource;
use crate::store::Store;
use crate::token::Ctx;

/// Largest request body.
const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Most bytes of request headers answered normally; more gets 431 in the
/// error shape (up to what the HTTP layer buffers, [`HTTP_BUFFER`]).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// What the HTTP layer reads before giving up on a request head (its own
/// bare 431 past that).
pub const HTTP_BUFFER: usize = 4 * 1024 * 1024;

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
    pub(super) fn new(err: Error, request_id: &str) -> Self {
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

pub(super) type ApiResult = std::result::Result<Response, ApiError>;

/// The authenticated caller of a request, with its request id.
pub struct Caller {
    pub id: Identity,
    pub request_id: String,
    pub(super) state: Arc<AppState>,
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> std::result::Result<Self, ApiError> {
        let request_id = request_id(&parts.extensions).to_owned();
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
            expires_at: None,
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
        .filter(|b| !b.is_empty());
    let auth = &state.auth;
    let key = bearer.map(|b| auth.cache_key(b));
    if let Some(id) = key.as_ref().and_then(|k| auth.cached(k)) {
        return Ok(id);
    }
    let claimed = bearer.and_then(Authenticator::claimed_token_id);
    let here = json!({"request_id": request_id});
    if let Some(t) = guard::throttled(state, addr, claimed.as_deref(), here.clone()) {
        let mut e = ApiError::new(
            Error::new(
                Exit::Auth,
                "throttled",
                "too many failed authentications from this address; slow down",
            )
            .with_hint(format!("retry after {} s", t.wait.as_secs().max(1))),
            request_id,
        );
        e.status = StatusCode::TOO_MANY_REQUESTS;
        e.retry_after = Some(t.wait);
        return Err(e);
    }
    let (Some(bearer), Some(key)) = (bearer, key) else {
        guard::failed(state, addr, None, "unauthenticated", here);
        return Err(unauth(
            "unauthenticated",
            "send Authorization: Bearer <api token or JWT>".into(),
        ));
    };
    let result: std::result::Result<(Identity, Instant), Refusal> = if auth
        .wants_token_lookup(bearer)
    {
        let bearer_owned = bearer.to_owned();
        let store = state.store.clone();
        super::with_slow_slot(state, move || {
            let now = crate::time::now_ms();
            let row = crate::credential::RawCredential::parse(&bearer_owned)
                .ok()
                .and_then(|raw| {
                    let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
                    s.read(|tx| tx.token(&raw.id)).ok().flatten()
                });
            // argon2 runs here, with the store unlocked.
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
        Err(Refusal::Unauthenticated(code, msg, token_id)) => {
            let tried = token_id.as_deref().or(claimed.as_deref());
            guard::failed(state, addr, tried, code, here);
            Err(unauth(code, msg))
        }
    }
}

impl Caller {
    /// The policy's answer, and whether the credential's scopes allow it.
    fn decide(
        &self,
        policy: &crate::policy::engine::Compiled,
        action: Action,
        kind: &str,
        name: &str,
    ) -> (bool, bool) {
        let req = crate::policy::engine::Request {
            principal: &self.id.principal,
            action,
            kind,
            name,
        };
        let allow = policy.decide(&req, &self.id.groups).allow;
        let scoped = self.id.scopes.is_empty()
            || self
                .id
                .scopes
                .iter()
                .any(|s| s.action == action && s.resource.matches(kind, name));
        (allow, scoped)
    }

    /// Would `authorize` allow this? (Nothing counted or audited.)
    pub fn may(&self, action: Action, kind: &str, name: &str) -> bool {
        let (allow, scoped) = self.decide(&self.state.policy.load(), action, kind, name);
        allow && scoped
    }

    /// Check `action` on `resource` with the one decision function; a denial
    /// is audited and becomes 403.
    pub fn authorize(&self, action: Action, resource: &str) -> std::result::Result<(), ApiError> {
        let (kind, name) =
            parse_resource(resource).map_err(|e| ApiError::new(e, &self.request_id))?;
        let policy = self.state.policy.load();
        let (allow, scoped) = self.decide(&policy, action, kind, name);
        let m = &self.state.metrics;
        if allow && scoped {
            m.decisions_allow.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        m.decisions_deny.fetch_add(1, Ordering::Relaxed);
        let reason = if allow {
            "outside_token_scope"
        } else {
            "denied_by_policy"
        };
        guard::audit_async(
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

    /// The operation context: this caller, now, and what it holds.
    pub(super) fn ctx(&self) -> Ctx {
        let mut ctx = Ctx::new(self.id.principal.clone(), crate::time::now_ms());
        ctx.authority = Some(crate::token::mint::Authority {
            principal: self.id.principal.clone(),
            groups: self.id.groups.clone(),
            scopes: self.id.scopes.clone(),
            expires_at: self.id.expires_at,
            superuser: self.is_superuser(),
        });
        ctx
    }

    /// Does the caller hold the superuser grant, with no deny against it?
    fn is_superuser(&self) -> bool {
        self.state
            .policy
            .load()
            .is_superuser(&self.id.principal, &self.id.groups)
    }

    /// Authorize, then run a library operation on the store and answer with its JSON.
    pub(super) async fn run<T: serde::Serialize + Send + 'static>(
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

    /// Like [`Caller::run`], for operations that do slow work (argon2)
    /// between their reads and writes: they lock the store for each read
    /// and write only.
    pub(super) async fn run_unlocked<T: serde::Serialize + Send + 'static>(
        &self,
        action: Action,
        resource: &str,
        f: impl FnOnce(&std::sync::Mutex<Store>, &Ctx) -> Result<T> + Send + 'static,
    ) -> ApiResult {
        self.authorize(action, resource)?;
        let ctx = self.ctx();
        let store = self.state.store.clone();
        let out = super::with_slow_slot(&self.state, move || f(&store, &ctx))
            .await
            .and_then(|r| r)
            .map_err(|e| ApiError::new(e, &self.request_id))?;
        Ok(Json(
            serde_json::to_value(out)
                .map_err(|e| ApiError::new(Error::internal(e.to_string()), &self.request_id))?,
        )
        .into_response())
    }

    /// After a change to grants or groups: with --grant-reload auto, compile
    /// and publish a new snapshot at once.
    pub(super) async fn after_policy_change(&self) {
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

/// The id the access log gave this request ("" outside it).
fn request_id(ext: &axum::http::Extensions) -> &str {
    ext.get::<RequestId>().map_or("", |r| r.0.as_str())
}

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
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    let mut resp = if header_bytes > MAX_HEADER_BYTES {
        let mut e = ApiError::new(
            Error::usage(format!(
                "the request's headers are {} KiB; at most {} KiB are accepted",
                header_bytes / 1024,
                MAX_HEADER_BYTES / 1024
            )),
            &request_id,
        );
        e.status = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
        e.into_response()
    } else {
        next.run(req).await
    };
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
        .route("/v1/snapshots/prune", post(prune_snapshots))
        .route("/v1/audit", get(audit_log))
        .route("/v1/audit/verify", post(audit_verify))
        .route("/v1/audit/checkpoint", get(audit_checkpoint))
        .route("/v1/workers/connect", get(super::fleet::connect))
        .route("/v1/workers", get(worker_list))
        .route("/v1/workers/revoke", post(worker_revoke))
        .route("/v1/workers/{id}", get(worker_show))
        .route("/v1/workers/{id}/drain", post(worker_drain))
        .route("/v1/dispatches", post(dispatch))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn(access_log))
        .layer(axum::Extension(state_ext))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// axum's rejections (malformed JSON, a missing content type, a body over
/// the limit, a bad path or query parameter), in our error shape with
/// their own status.
trait Rejected {
    fn status_and_text(&self) -> (StatusCode, String);
}

macro_rules! rejected {
    ($($t:ty),*) => {$(
        impl Rejected for $t {
            fn status_and_text(&self) -> (StatusCode, String) {
                (self.status(), self.body_text())
            }
        }
    )*};
}
rejected!(
    axum::extract::rejection::JsonRejection,
    axum::extract::rejection::PathRejection,
    axum::extract::rejection::QueryRejection
);

fn rejection(r: &impl Rejected, ext: &axum::http::Extensions) -> ApiError {
    let (status, text) = r.status_and_text();
    let mut e = Error::usage(text);
    if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        e = e.with_hint("send Content-Type: application/json");
    }
    let mut e = ApiError::new(e, request_id(ext));
    e.status = status;
    e
}

/// A JSON request body; malformed ones get our error shape.
pub(super) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> std::result::Result<Self, ApiError> {
        let ext = req.extensions().clone();
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| JsonBody(v))
            .map_err(|r| rejection(&r, &ext))
    }
}

/// A path or query extractor (`Checked<Path<i64>>`); a bad parameter gets
/// our error shape.
pub(super) struct Checked<E>(pub E);

impl<S: Send + Sync, E> FromRequestParts<S> for Checked<E>
where
    E: FromRequestParts<S>,
    E::Rejection: Rejected,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> std::result::Result<Self, ApiError> {
        E::from_request_parts(parts, state)
            .await
            .map(Checked)
            .map_err(|r| rejection(&r, &parts.extensions))
    }
}

/// Unknown routes and methods: our error shape, not an empty body.
async fn no_route(req: Request) -> ApiError {
    let id = request_id(req.extensions());
    ApiError::new(
        Error::not_found(format!("no route {} {}", req.method(), req.uri().path()))
            .with_hint("API routes start with /v1/, e.g. /v1/tokens"),
        id,
    )
}

async fn wrong_method(req: Request) -> ApiError {
    let id = request_id(req.extensions());
    let mut e = ApiError::new(
        Error::usage(format!(
            "{} is not allowed on {}",
            req.method(),
            req.uri().path()
        )),
        id,
    );
    e.status = StatusCode::METHOD_NOT_ALLOWED;
    e
}

/// An ApiError for this caller's request.
pub(super) fn bad(e: Error, c: &Caller) -> ApiError {
    ApiError::new(e, &c.request_id)
}

/// A JSON body, with malformed input reported in our error shape.
pub(super) fn body<T: serde::de::DeserializeOwned>(
    c: &Caller,
    v: Value,
) -> std::result::Result<T, ApiError> {
    serde_json::from_value(v)
        .map_err(|e| bad(Error::usage(format!("malformed request body: {e}")), c))
}

/// `{"ids": [...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IdsBody {
    pub(super) ids: Vec<String>,
}
