//! `--auth-mode signature`: requests signed per RFC 9421 with a principal's
//! registered Ed25519 key. The body is checked against its Content-Digest
//! (a middleware buffers signed bodies), the signature against the key,
//! its time window against a bounded skew, and its nonce against the ones
//! this replica has seen. Keys are cached for at most a minute and dropped
//! on any revocation; nonces are kept until their signature expires.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ed25519_dalek::VerifyingKey;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

use super::AppState;
use super::api_error::ApiError;
use super::auth::Identity;
use super::extract::request_id;
use crate::error::{Code, Error, Exit};
use crate::sign::http::{self as httpsig, Message, Presented};
use crate::store::KeyRow;
use crate::token::{TokenState, keys};

/// Clock difference tolerated between signer and serve.
pub const SKEW_S: i64 = 30;
/// Longest a signature may be valid (`expires - created`), and the oldest
/// `created` accepted.
pub const MAX_LIFETIME_S: i64 = 300;
/// Most nonces remembered at once; past it new signatures are refused
/// (429) until old ones expire, rather than forgetting a nonce too early.
const MAX_NONCES: usize = 4_000_000;
/// Largest signed body buffered for its digest.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// A cached key record and its parsed key.
struct CachedKey {
    row: KeyRow,
    key: VerifyingKey,
}

/// What this replica remembers for signed requests.
#[derive(Default)]
pub struct SignedState {
    keys: Mutex<FxHashMap<String, (Arc<CachedKey>, Instant)>>,
    /// sha256(keyid, nonce) → unix second after which it may be forgotten.
    nonces: Mutex<FxHashMap<[u8; 32], i64>>,
}

impl SignedState {
    /// Drop cached keys (these `key_` ids, however they were named in
    /// signatures, or all).
    pub fn forget(&self, ids: Option<&[String]>) {
        let mut k = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        match ids {
            None => k.clear(),
            Some(ids) => k.retain(|_, (c, _)| !ids.contains(&keys::display_id(&c.row.id))),
        }
    }

    fn cached(&self, id: &str) -> Option<Arc<CachedKey>> {
        let k = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        k.get(id)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(c, _)| c.clone())
    }

    /// Remember a nonce; false when it was seen before (a replay), None
    /// when the table is full.
    fn first_use(&self, keyid: &str, nonce: &str, forget_after: i64, now: i64) -> Option<bool> {
        let mut h = Sha256::new();
        h.update(keyid.as_bytes());
        h.update([0]);
        h.update(nonce.as_bytes());
        let k: [u8; 32] = h.finalize().into();
        let mut n = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        if n.get(&k).is_some_and(|&until| until >= now) {
            return Some(false);
        }
        if n.len() >= MAX_NONCES / 2 {
            n.retain(|_, until| *until >= now);
            if n.len() >= MAX_NONCES {
                return None;
            }
        }
        n.insert(k, forget_after);
        Some(true)
    }
}

/// What the body middleware found for a signed request.
#[derive(Clone, Debug)]
pub(super) struct BodyCheck {
    empty: bool,
    /// The Content-Digest's verdict, when the request has one.
    digest: Option<Result<bool, httpsig::Malformed>>,
}

/// For requests carrying `Signature-Input`: buffer the body, check it
/// against its `Content-Digest`, and pass both on.
pub(super) async fn body_digest(req: Request, next: Next) -> Response {
    if !req.headers().contains_key("signature-input") {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return ApiError::new(
            Error::usage(format!(
                "the request body is over {} MiB, or could not be read",
                BODY_LIMIT >> 20
            )),
            request_id(&parts.extensions),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        .into_response();
    };
    let digest = parts
        .headers
        .get("content-digest")
        .map(|v| match v.to_str() {
            Ok(v) => httpsig::digest_matches(v, &bytes),
            Err(_) => Err(httpsig::Malformed("Content-Digest is not ASCII".into())),
        });
    parts.extensions.insert(BodyCheck {
        empty: bytes.is_empty(),
        digest,
    });
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Does this request present a signature?
pub(super) fn is_signed(headers: &HeaderMap) -> bool {
    headers.contains_key("signature-input") || headers.contains_key("signature")
}

fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut it = headers.get_all(name).iter().peekable();
    it.peek()?;
    let mut out = String::new();
    for v in it {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(v.to_str().ok()?.trim());
    }
    Some(out)
}

/// A refusal: the code, a message, and the key id when known.
pub(super) type Refused = (Code, String, Option<String>);

fn refused(code: Code, msg: impl Into<String>, key: Option<&str>) -> Refused {
    (code, msg.into(), key.map(str::to_owned))
}

/// The keyid a request claims, for throttling before any work.
pub(super) fn claimed_key(headers: &HeaderMap) -> Option<String> {
    let input = joined(headers, "signature-input")?;
    let at = input.find("keyid=\"")? + 7;
    let id: String = input[at..]
        .chars()
        .take_while(|c| *c != '"')
        .take(64)
        .collect();
    keys::is_keyid(&id).then_some(id)
}

/// The signature's parts and base, checked for shape, coverage and time.
fn presented(state: &AppState, parts: &Parts, now: i64) -> Result<Presented, Refused> {
    let malformed = |m: String| refused(Code::MalformedSignature, m, None);
    let (Some(input), Some(sig)) = (
        joined(&parts.headers, "signature-input"),
        joined(&parts.headers, "signature"),
    ) else {
        return Err(malformed(
            "a signed request needs both Signature-Input and Signature".into(),
        ));
    };
    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| joined(&parts.headers, "host"))
        .unwrap_or_default();
    let scheme = if state.cfg.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let target = format!("{scheme}://{host}{path}");
    let lookup = |name: &str| joined(&parts.headers, name);
    let msg = Message {
        method: parts.method.as_str(),
        target_uri: &target,
        header: &lookup,
    };
    let p = httpsig::presented(&msg, &input, &sig).map_err(|m| malformed(m.0))?;
    let key = Some(p.params.keyid.as_str());
    for need in ["@method", "@target-uri"] {
        if !p.covers(need) {
            return Err(refused(
                Code::MalformedSignature,
                format!("the signature must cover {need}"),
                key,
            ));
        }
    }
    let body = parts.extensions.get::<BodyCheck>();
    let has_digest = body.is_some_and(|b| b.digest.is_some());
    if body.is_some_and(|b| !b.empty) && !(has_digest && p.covers("content-digest")) {
        return Err(refused(
            Code::DigestMismatch,
            "a request body must be signed: send Content-Digest and cover it",
            key,
        ));
    }
    match body.and_then(|b| b.digest.clone()) {
        Some(Ok(true)) | None => {}
        Some(Ok(false)) => {
            return Err(refused(
                Code::DigestMismatch,
                "the body does not match its Content-Digest",
                key,
            ));
        }
        Some(Err(m)) => return Err(refused(Code::DigestMismatch, m.0, key)),
    }
    let (created, expires) = (p.params.created, p.params.expires);
    if created > now + SKEW_S {
        return Err(refused(
            Code::FutureSignature,
            format!(
                "the signature was created {} s in the future; check the clock",
                created - now
            ),
            key,
        ));
    }
    if expires < created || expires - created > MAX_LIFETIME_S {
        return Err(refused(
            Code::MalformedSignature,
            format!("a signature may be valid for at most {MAX_LIFETIME_S} s (expires - created)"),
            key,
        ));
    }
    if expires + SKEW_S < now || created + MAX_LIFETIME_S + SKEW_S < now {
        return Err(refused(
            Code::StaleSignature,
            "the signature has expired; sign each request when it is sent",
            key,
        ));
    }
    Ok(p)
}

/// Verify a signed request and name its caller. Store work (a key not in
/// the cache) runs off the async threads.
pub(super) async fn verify(state: &Arc<AppState>, parts: &Parts) -> Result<Identity, Refused> {
    let now_ms = crate::time::now_ms();
    let now = now_ms / 1000;
    let p = presented(state, parts, now)?;
    let keyid = p.params.keyid.clone();
    let key = Some(keyid.as_str());
    let cached = match state.auth.signed.cached(&keyid) {
        Some(c) => c,
        None => {
            let store = state.store.clone();
            let id = keyid.clone();
            let row = tokio::task::spawn_blocking(move || {
                let mut s = store.lock();
                keys::stored(&mut s, &id)
            })
            .await
            .map_err(|e| refused(Code::Internal, format!("key lookup failed: {e}"), key))?
            .map_err(|e| refused(Code::Internal, format!("key lookup failed: {e}"), key))?;
            let Some(row) = row else {
                return Err(refused(
                    Code::UnknownKey,
                    "the signature's keyid names no registered key",
                    key,
                ));
            };
            let public = crate::sign::keys::parse_public(&row.public_key)
                .map_err(|_| refused(Code::Internal, "a stored key does not parse", key))?;
            let c = Arc::new(CachedKey {
                row,
                key: public.key,
            });
            // Only a key that can still sign is cached (and its use recorded).
            let usable = !matches!(
                keys::state_of(&c.row, now_ms),
                TokenState::Revoked | TokenState::Expired
            );
            if usable && p.verifies(&c.key) {
                let until = Instant::now() + super::auth::CACHE_TTL;
                state
                    .auth
                    .signed
                    .keys
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(keyid.clone(), (c.clone(), until));
                let store = state.store.clone();
                let (id, principal) = (c.row.id.clone(), c.row.principal.clone());
                tokio::task::spawn_blocking(move || {
                    let mut s = store.lock();
                    let _ = keys::record_use(&mut s, &id, &principal, now_ms);
                });
            }
            c
        }
    };
    match keys::state_of(&cached.row, now_ms) {
        TokenState::Revoked => {
            return Err(refused(
                Code::KeyRevoked,
                "the signing key was revoked",
                key,
            ));
        }
        TokenState::Expired => {
            return Err(refused(
                Code::KeyExpired,
                "the signing key has expired",
                key,
            ));
        }
        _ => {}
    }
    if !p.verifies(&cached.key) {
        return Err(refused(
            Code::BadSignature,
            "the signature does not verify with the registered key",
            key,
        ));
    }
    match state
        .auth
        .signed
        .first_use(&keyid, &p.params.nonce, p.params.expires + SKEW_S, now)
    {
        Some(true) => {}
        Some(false) => {
            return Err(refused(
                Code::ReplayedNonce,
                "this signature's nonce was used before: a replayed request",
                key,
            ));
        }
        None => {
            return Err(refused(
                Code::Throttled,
                "too many signed requests in flight; retry shortly",
                key,
            ));
        }
    }
    let row = &cached.row;
    let expires_at = row.expires_at;
    Ok(Identity {
        principal: row.principal.clone(),
        groups: row.groups.clone(),
        scopes: row.scopes.iter().filter_map(|s| s.parse().ok()).collect(),
        token_id: Some(keys::display_id(&row.id)),
        expires_at: Some(expires_at),
        method: "signature",
    })
}

/// The 401 for a refusal (429 for a full nonce table).
pub(super) fn error(r: &Refused, request_id: &str) -> ApiError {
    let mut e = ApiError::new(Error::new(Exit::Auth, r.0, r.1.clone()), request_id);
    if r.0 == Code::Throttled {
        e.status = StatusCode::TOO_MANY_REQUESTS;
        e.retry_after = Some(Duration::from_secs(1));
    }
    e
}
