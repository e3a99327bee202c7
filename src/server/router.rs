//! The router: every `/v1` route from the operation table, the generic
//! handlers that decode a request with the shared codec and run its
//! operation, the fallbacks, and the access log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use serde_json::json;

use super::AppState;
use super::api_error::{ApiError, ApiResult};
use super::caller::Caller;
use super::extract::{JsonBytes, RequestId, RequestInfo, request_id};
use super::handlers;
use crate::error::Error;
use crate::ops::{self, Endpoint, Method, Operation};

/// Largest request body.
const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Most bytes of request headers answered normally; more gets 431 in the
/// error shape (up to what the HTTP layer buffers, [`HTTP_BUFFER`]).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// What the HTTP layer reads before giving up on a request head (its own
/// bare 431 past that).
pub const HTTP_BUFFER: usize = 4 * 1024 * 1024;

/// A GET operation: its fields come from the path and the query.
async fn get_op<O: Operation>(c: Caller, uri: Uri) -> ApiResult {
    let req =
        ops::decode::<O>(uri.path(), uri.query().unwrap_or(""), None).map_err(|e| c.bad(e))?;
    c.perform(req).await
}

/// A POST operation: its fields come from the path and the JSON body.
async fn post_op<O: Operation>(c: Caller, uri: Uri, JsonBytes(body): JsonBytes) -> ApiResult {
    let req = ops::decode_json::<O>(uri.path(), &body).map_err(|e| c.bad(e))?;
    c.perform(req).await
}

/// The generic handler of an operation, by its route's method.
fn op<O: Operation>() -> MethodRouter<Arc<AppState>> {
    match O::ROUTE.method {
        Method::Get => get(get_op::<O>),
        Method::Post => post(post_op::<O>),
    }
}

/// Add `handler` at `E`'s path; checks at start-up that the handler's
/// method is the table's.
fn at<E: Endpoint>(
    r: Router<Arc<AppState>>,
    method: Method,
    handler: MethodRouter<Arc<AppState>>,
) -> Router<Arc<AppState>> {
    assert_eq!(
        E::ROUTE.method,
        method,
        "{}: method differs from the route table",
        E::ROUTE.id
    );
    r.route(E::ROUTE.path, handler)
}

/// Every route. Each `/v1` path comes from the operation table; the test
/// `every_table_route_is_served` checks none is missing.
pub fn routes(state: Arc<AppState>) -> Router {
    use crate::ops::{audit::*, grants::*, policy::*, tokens::*, workers::*};
    let state_ext = state.clone();
    let mut r = Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(handlers::readyz))
        .route("/metrics", get(handlers::metrics))
        .route(ops::OPENAPI, get(handlers::openapi))
        .route(ops::WORKER_CONNECT, get(super::fleet::connect));
    r = at::<Whoami>(r, Method::Get, get(handlers::whoami));
    // Operations on the store, decoded and run generically. Two routes that
    // share a path (GET and POST /v1/tokens) are merged into one.
    let generic: Vec<(&'static str, MethodRouter<Arc<AppState>>)> = vec![
        (
            crate::token::CreateRequest::ROUTE.path,
            op::<crate::token::CreateRequest>(),
        ),
        (TokenList::ROUTE.path, op::<TokenList>()),
        (TokenShow::ROUTE.path, op::<TokenShow>()),
        (TokenRevoke::ROUTE.path, op::<TokenRevoke>()),
        (TokenPrune::ROUTE.path, op::<TokenPrune>()),
        (TokenVerify::ROUTE.path, op::<TokenVerify>()),
        (GrantAdd::ROUTE.path, op::<GrantAdd>()),
        (GrantList::ROUTE.path, op::<GrantList>()),
        (GrantRevoke::ROUTE.path, op::<GrantRevoke>()),
        (GrantApply::ROUTE.path, op::<GrantApply>()),
        (GrantExport::ROUTE.path, op::<GrantExport>()),
        (GroupList::ROUTE.path, op::<GroupList>()),
        (GroupAdd::ROUTE.path, op::<GroupAdd>()),
        (GroupRemove::ROUTE.path, op::<GroupRemove>()),
        (Reload::ROUTE.path, op::<Reload>()),
        (SnapshotList::ROUTE.path, op::<SnapshotList>()),
        (SnapshotRollback::ROUTE.path, op::<SnapshotRollback>()),
        (SnapshotPrune::ROUTE.path, op::<SnapshotPrune>()),
        (AuditLog::ROUTE.path, op::<AuditLog>()),
        (AuditVerify::ROUTE.path, op::<AuditVerify>()),
        (AuditCheckpoint::ROUTE.path, op::<AuditCheckpoint>()),
        (AuditCheck::ROUTE.path, op::<AuditCheck>()),
        (AuditPrune::ROUTE.path, op::<AuditPrune>()),
        (AuditExport::ROUTE.path, op::<AuditExport>()),
        (WorkerList::ROUTE.path, op::<WorkerList>()),
        (WorkerShow::ROUTE.path, op::<WorkerShow>()),
        (WorkerRevoke::ROUTE.path, op::<WorkerRevoke>()),
    ];
    let mut merged: Vec<(&'static str, MethodRouter<Arc<AppState>>)> = Vec::new();
    for (path, m) in generic {
        match merged.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => *existing = std::mem::take(existing).merge(m),
            None => merged.push((path, m)),
        }
    }
    for (path, m) in merged {
        r = r.route(path, m);
    }
    // Operations that need serve's live state besides the store.
    r = at::<Check>(r, Method::Post, post(handlers::check));
    r = at::<CheckBatch>(r, Method::Post, post(handlers::check_batch));
    r = at::<WorkerDrain>(r, Method::Post, post(handlers::worker_drain));
    r = at::<Dispatch>(r, Method::Post, post(handlers::dispatch));
    r.fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn(super::signed::body_digest))
        .layer(middleware::from_fn(access_log))
        .layer(axum::Extension(state_ext))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Unknown routes: the error shape, not an empty body.
async fn no_route(req: Request) -> ApiError {
    let id = request_id(req.extensions());
    ApiError::new(
        Error::not_found(format!("no route {} {}", req.method(), req.uri().path()))
            .with_hint("API routes start with /v1/, e.g. /v1/tokens; see /v1/openapi.json"),
        id,
    )
}

async fn wrong_method(req: Request) -> ApiError {
    let id = request_id(req.extensions());
    ApiError::new(
        Error::usage(format!(
            "{} is not allowed on {}",
            req.method(),
            req.uri().path()
        )),
        id,
    )
    .with_status(StatusCode::METHOD_NOT_ALLOWED)
}

async fn access_log(
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let request_id = format!("req_{}", crate::credential::random_id());
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
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
        ApiError::new(
            Error::usage(format!(
                "the request's headers are {} KiB; at most {} KiB are accepted",
                header_bytes / 1024,
                MAX_HEADER_BYTES / 1024
            )),
            &request_id,
        )
        .with_status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        .into_response()
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
    super::access_log::write(&super::access_log::Line {
        ts: crate::time::rfc3339(crate::time::now_ms()),
        request_id: &request_id,
        method: method.as_str(),
        route: route.as_ref().map_or("unmatched", MatchedPath::as_str),
        status: resp.status().as_u16(),
        duration_ms: (start.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        principal: principal.as_deref(),
        remote: addr,
    });
    resp
}
