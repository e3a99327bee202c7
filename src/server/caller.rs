//! The caller of a request: authentication (api token, JWT), the one
//! authorization check every route goes through, and running an operation
//! for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::IntoResponse;
use serde_json::json;

use super::api_error::{ApiError, ApiResult};
use super::auth::{Authenticator, Identity, Refusal};
use super::extract::{RequestInfo, request_id};
use super::{AppState, guard};
use crate::audit::{NewEvent, types};
use crate::error::{Code, Error, Exit};
use crate::ops::{Effect, Operation, Route};
use crate::policy::Action;
use crate::policy::engine::parse_resource;
use crate::token::Ctx;

/// The authenticated caller of a request, with its request id.
pub struct Caller {
    pub id: Arc<Identity>,
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
) -> std::result::Result<Arc<Identity>, ApiError> {
    if state.cfg.auth.is_none() {
        return Ok(Arc::new(Identity {
            principal: "user:anonymous".into(),
            groups: vec!["group:role:admin".into()],
            scopes: vec![],
            token_id: None,
            expires_at: None,
            method: "none",
        }));
    }
    let unauth =
        |code: Code, msg: String| ApiError::new(Error::new(Exit::Auth, code, msg), request_id);
    if state.cfg.auth.signature && super::signed::is_signed(&parts.headers) {
        return authenticate_signed(state, parts, addr, request_id).await;
    }
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
                Code::Throttled,
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
        guard::failed(state, addr, None, Code::Unauthenticated, here);
        let how = if state.cfg.auth.signature {
            "send Authorization: Bearer <api token or JWT>, or sign the request (--signing-key)"
        } else {
            "send Authorization: Bearer <api token or JWT>"
        };
        return Err(unauth(Code::Unauthenticated, how.into()));
    };
    let result: std::result::Result<(Identity, Instant), Refusal> =
        if auth.wants_token_lookup(bearer) {
            let bearer_owned = bearer.to_owned();
            let store = state.store.clone();
            super::with_slow_slot(state, move || {
                let now = crate::time::now_ms();
                let row = crate::credential::RawCredential::parse(&bearer_owned)
                    .ok()
                    .and_then(|raw| {
                        let mut s = store.lock();
                        crate::token::stored(&mut s, &raw.id).ok().flatten()
                    });
                // argon2 runs here, with the store unlocked.
                let (id, expires_at) = Authenticator::check_token(&bearer_owned, row, now)?;
                let left = Duration::from_millis(u64::try_from(expires_at - now).unwrap_or(0));
                if let Some(tid) = &id.token_id {
                    let mut s = store.lock();
                    let _ = crate::token::record_use(&mut s, tid, &id.principal, now);
                }
                Ok((id, Instant::now() + left))
            })
            .await
            .map_err(|e| unauth(Code::Internal, format!("authentication failed: {e}")))?
        } else if state.cfg.auth.jwt {
            auth.check_jwt(bearer)
        } else {
            Err(Refusal::Unauthenticated(
                Code::InvalidToken,
                "this server accepts api tokens (mta_...)".into(),
                None,
            ))
        };
    match result {
        Ok((id, until)) => {
            let id = Arc::new(id);
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

/// A signed request (RFC 9421): throttled and audited like a bearer.
async fn authenticate_signed(
    state: &Arc<AppState>,
    parts: &Parts,
    addr: Option<std::net::IpAddr>,
    request_id: &str,
) -> std::result::Result<Arc<Identity>, ApiError> {
    let claimed = super::signed::claimed_key(&parts.headers);
    let here = json!({"request_id": request_id, "method": "signature"});
    if let Some(t) = guard::throttled(state, addr, claimed.as_deref(), here.clone()) {
        let r = (
            Code::Throttled,
            "too many failed authentications from this address; slow down".to_owned(),
            None,
        );
        let mut e = super::signed::error(&r, request_id);
        e.retry_after = Some(t.wait);
        return Err(e);
    }
    match super::signed::verify(state, parts).await {
        Ok(id) => Ok(Arc::new(id)),
        Err(r) => {
            let tried = r.2.as_deref().or(claimed.as_deref());
            guard::failed(state, addr, tried, r.0, here);
            Err(super::signed::error(&r, request_id))
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
                Code::Forbidden,
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

    /// An ApiError for this request.
    pub(super) fn bad(&self, e: Error) -> ApiError {
        ApiError::new(e, &self.request_id)
    }

    /// Authorize and run an operation on the store, then refresh what
    /// serve caches that it changed; answer with its JSON.
    pub(super) async fn perform<O: Operation>(&self, req: O) -> ApiResult {
        self.permit(O::ROUTE, &req.resource())?;
        let effect = req.effect();
        let ctx = self.ctx();
        let store = self.state.store.clone();
        let out = if O::SLOW {
            super::with_slow_slot(&self.state, move || req.run(super::Shared(&store), &ctx))
                .await
                .and_then(|r| r)
        } else {
            tokio::task::spawn_blocking(move || req.run(super::Shared(&store), &ctx))
                .await
                .map_err(|e| Error::internal(format!("worker thread failed: {e}")))
                .and_then(|r| r)
        }
        .map_err(|e| self.bad(e))?;
        match effect {
            Effect::None => {}
            Effect::Policy => self.after_policy_change().await,
            Effect::TokensRevoked(ids) => self.state.auth.forget(Some(&ids)),
            Effect::WorkersRevoked => {
                // Cut the sockets now rather than at the next watcher tick.
                let state = self.state.clone();
                let _ = tokio::task::spawn_blocking(move || state.refresh()).await;
            }
        }
        self.json(&out)
    }

    /// A response body.
    pub(super) fn json(&self, out: &impl serde::Serialize) -> ApiResult {
        let v = serde_json::to_value(out).map_err(|e| self.bad(Error::internal(e.to_string())))?;
        Ok(Json(v).into_response())
    }

    /// The permission a route needs (none beyond authentication when its
    /// resource is empty).
    pub(super) fn permit(
        &self,
        route: &Route,
        resource: &str,
    ) -> std::result::Result<(), ApiError> {
        if resource.is_empty() {
            return Ok(());
        }
        self.authorize(route.action, resource)
    }

    /// After a change to grants or groups: with --grant-reload auto, compile
    /// and publish a new snapshot at once.
    pub(super) async fn after_policy_change(&self) {
        let state = self.state.clone();
        let ctx = self.ctx();
        let _ = tokio::task::spawn_blocking(move || {
            let mut s = state.store.lock();
            if state.cfg.auto_reload {
                let _ = crate::reload::reload(&mut s, &ctx, false);
            }
            let _ = state.swap_policy(&mut s);
        })
        .await;
    }
}
