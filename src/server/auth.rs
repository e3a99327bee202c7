//! Who is calling: api tokens (argon2id at rest, verified once and cached
//! by an HMAC of the raw token for at most 60 s), HS256 JWTs, and the
//! throttling of authentication failures per address and per token id
//! tried from it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::config::{AuthModes, ROLES};
use crate::credential::{self, CredentialKind, KeyedHmac, RawCredential};
use crate::error::Code;
use crate::policy::Scope;
use crate::store::TokenRow;
use crate::token::{TokenState, state_of};

/// How long a verified credential is trusted without looking again.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// Failures allowed per address or token id in one window.
pub const MAX_FAILURES: u32 = 10;
/// The throttling window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// An authenticated caller.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub principal: String,
    /// Group subjects from outside the policy (a JWT role's `group:role:<role>`).
    pub groups: Vec<String>,
    /// An api token's scopes; empty means the principal's full permissions.
    #[serde(serialize_with = "ser_scopes")]
    pub scopes: Vec<Scope>,
    /// `tok_<id>` for api tokens.
    pub token_id: Option<String>,
    /// When the credential stops working (ms since the epoch), if it does.
    pub expires_at: Option<crate::time::Millis>,
    /// `token`, `jwt`, `signature` or `none`.
    pub method: &'static str,
}

fn ser_scopes<S: serde::Serializer>(v: &[Scope], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| x.to_string()))
}

/// Why a caller was turned away.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// 401: no or bad credentials. (code, message, token id if known)
    Unauthenticated(Code, String, Option<String>),
}

/// A verified identity and until when it may be reused without a lookup.
type Cached = (std::sync::Arc<Identity>, Instant);

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
    /// The last attempt let through while over the limit.
    last_try: Option<Instant>,
    /// Whether this window's throttling was audited already.
    audited: bool,
}

/// While over the limit, a source may still try this often: throttling
/// slows a source down, it never locks a genuine credential out.
pub const SLOW_TRY: Duration = Duration::from_secs(1);

/// A source turned away: how long to wait, and whether it is the first
/// refusal of its window (the one that is audited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub wait: Duration,
    pub first: bool,
}

/// Authentication state shared by all requests.
pub struct Authenticator {
    modes: AuthModes,
    mac: KeyedHmac,
    jwt: Option<(DecodingKey, Validation)>,
    users: Option<std::collections::BTreeMap<String, String>>,
    cache: Mutex<FxHashMap<[u8; 32], Cached>>,
    failures: Mutex<HashMap<String, Window>>,
    /// Signer keys and nonces seen (`--auth-mode signature`).
    pub signed: super::signed::SignedState,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    #[allow(dead_code)]
    exp: u64,
}

/// What a token lookup found, for [`Authenticator::check_token`].
pub type TokenLookup = Option<TokenRow>;

impl Authenticator {
    /// Set up from the configuration and the state's pepper.
    pub fn new(
        modes: AuthModes,
        pepper: &[u8],
        jwt_secret: Option<&[u8]>,
        users: Option<std::collections::BTreeMap<String, String>>,
    ) -> Self {
        let jwt = jwt_secret.map(|s| {
            let mut v = Validation::new(Algorithm::HS256);
            v.algorithms = vec![Algorithm::HS256];
            v.set_required_spec_claims(&["exp", "sub"]);
            v.validate_nbf = true;
            v.leeway = 0;
            (DecodingKey::from_secret(s), v)
        });
        Authenticator {
            modes,
            mac: KeyedHmac::new(pepper),
            jwt,
            users,
            cache: Mutex::new(FxHashMap::default()),
            failures: Mutex::new(HashMap::new()),
            signed: super::signed::SignedState::default(),
        }
    }

    /// The cache key of a raw credential (never the credential itself).
    pub fn cache_key(&self, bearer: &str) -> [u8; 32] {
        self.mac.mac(&[b"moat auth cache\0", bearer.as_bytes()])
    }

    /// A cached identity, if still fresh.
    pub fn cached(&self, key: &[u8; 32]) -> Option<std::sync::Arc<Identity>> {
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match c.get(key) {
            Some((id, until)) if *until > Instant::now() => Some(id.clone()),
            Some(_) => {
                c.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remember a verified identity until `until` (at most [`CACHE_TTL`]).
    pub fn remember(&self, key: [u8; 32], id: std::sync::Arc<Identity>, until: Instant) {
        let until = until.min(Instant::now() + CACHE_TTL);
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (id, until));
    }

    /// Forget cached identities of these token ids (`tok_...`) and signer
    /// keys (`key_...`), or all.
    pub fn forget(&self, token_ids: Option<&[String]>) {
        self.signed.forget(token_ids);
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match token_ids {
            None => c.clear(),
            Some(ids) => {
                c.retain(|_, (id, _)| id.token_id.as_ref().is_none_or(|t| !ids.contains(t)))
            }
        }
    }

    /// Throttling keys: the address, and the token id *as tried from that
    /// address*. A token id alone is public, so keying on it would let
    /// anyone lock out its holder by sending forged tokens that carry it.
    fn window_keys(addr: Option<IpAddr>, token_id: Option<&str>) -> Vec<String> {
        let a = addr.map_or_else(|| "-".to_owned(), |a| a.to_string());
        let mut keys = vec![format!("addr:{a}")];
        if let Some(t) = token_id {
            keys.push(format!("token:{t}@{a}"));
        }
        keys
    }

    /// Must this attempt wait? Call before any argon2 work. Over the limit a
    /// source gets one attempt per [`SLOW_TRY`]; the others are refused.
    pub fn throttled(&self, addr: Option<IpAddr>, token_id: Option<&str>) -> Option<Throttle> {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let mut worst: Option<Throttle> = None;
        let mut over = Vec::new();
        for k in Self::window_keys(addr, token_id) {
            let Some(w) = f.get_mut(&k) else { continue };
            if w.count < MAX_FAILURES || now.duration_since(w.start) >= WINDOW {
                continue;
            }
            match w.last_try {
                Some(t) if now.duration_since(t) < SLOW_TRY => {
                    let t = Throttle {
                        wait: SLOW_TRY - now.duration_since(t),
                        first: !w.audited,
                    };
                    w.audited = true;
                    worst = Some(worst.map_or(t, |x| Throttle {
                        wait: x.wait.max(t.wait),
                        first: x.first || t.first,
                    }));
                }
                _ => over.push(k),
            }
        }
        if worst.is_none() {
            // Let this one through, and count it as the slot for now.
            for k in over {
                if let Some(w) = f.get_mut(&k) {
                    w.last_try = Some(now);
                }
            }
        }
        worst
    }

    /// Count a failure against the address and the token id tried from it.
    pub fn record_failure(&self, addr: Option<IpAddr>, token_id: Option<&str>) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if f.len() > 100_000 {
            f.retain(|_, w| now.duration_since(w.start) < WINDOW);
        }
        for k in Self::window_keys(addr, token_id) {
            let fresh = Window {
                start: now,
                count: 0,
                last_try: None,
                audited: false,
            };
            let w = f.entry(k).or_insert(fresh);
            if now.duration_since(w.start) >= WINDOW {
                *w = fresh;
            }
            w.count += 1;
        }
    }

    /// The token id a bearer claims to be, if it is shaped like an api token.
    pub fn claimed_token_id(bearer: &str) -> Option<String> {
        RawCredential::parse(bearer)
            .ok()
            .filter(|r| r.kind == CredentialKind::Api)
            .map(|r| crate::token::display_id(&r.id))
    }

    /// Is this bearer an api token this server accepts?
    pub fn wants_token_lookup(&self, bearer: &str) -> bool {
        self.modes.token && bearer.starts_with("mta_")
    }

    /// Check an api token against its stored record (argon2id; slow, run off
    /// the async threads). Returns the identity and how long it stays valid.
    pub fn check_token(
        bearer: &str,
        row: TokenLookup,
        now: i64,
    ) -> Result<(Identity, i64), Refusal> {
        let bad = |code, msg: &str, id: Option<String>| {
            Refusal::Unauthenticated(code, msg.to_owned(), id)
        };
        let raw = RawCredential::parse(bearer).map_err(|e| bad(e.code(), e.message(), None))?;
        let id = crate::token::display_id(&raw.id);
        let Some(row) = row.filter(|r| r.kind == CredentialKind::Api) else {
            return Err(bad(
                Code::InvalidToken,
                "the api token is not valid",
                Some(id),
            ));
        };
        if !credential::verify_secret(raw.secret(), &row.secret_hash) {
            return Err(bad(
                Code::InvalidToken,
                "the api token is not valid",
                Some(id),
            ));
        }
        match state_of(&row, now) {
            TokenState::Expired => {
                return Err(bad(
                    Code::TokenExpired,
                    "the api token has expired",
                    Some(id),
                ));
            }
            TokenState::Revoked => {
                return Err(bad(
                    Code::TokenRevoked,
                    "the api token was revoked",
                    Some(id),
                ));
            }
            _ => {}
        }
        let scopes = row.scopes.iter().filter_map(|s| s.parse().ok()).collect();
        let principal = row.principal.clone().unwrap_or_default();
        Ok((
            Identity {
                principal,
                groups: row.groups.clone(),
                scopes,
                token_id: Some(id),
                expires_at: Some(row.expires_at),
                method: "token",
            },
            row.expires_at,
        ))
    }

    /// Check an HS256 JWT: signature, `exp`, `sub`, `role`; with `--users`
    /// the user must be listed and the configured role wins.
    pub fn check_jwt(&self, bearer: &str) -> Result<(Identity, Instant), Refusal> {
        let bad = |code, msg: String| Refusal::Unauthenticated(code, msg, None);
        let Some((key, validation)) = &self.jwt else {
            return Err(bad(
                Code::InvalidToken,
                "this server does not accept JWTs".into(),
            ));
        };
        let data = jsonwebtoken::decode::<Claims>(bearer, key, validation).map_err(|e| {
            bad(
                Code::InvalidJwt,
                format!("the JWT was rejected: {}", jwt_reason(&e)),
            )
        })?;
        let c = data.claims;
        if !crate::policy::is_ident(&c.sub) {
            return Err(bad(
                Code::InvalidJwt,
                "the JWT's sub is not a valid user id".into(),
            ));
        }
        let role = match &self.users {
            Some(users) => users.get(&c.sub).cloned().ok_or_else(|| {
                bad(
                    Code::UnknownUser,
                    "the JWT's user is not listed in --users".into(),
                )
            })?,
            None if ROLES.contains(&c.role.as_str()) => c.role,
            None => {
                return Err(bad(
                    Code::InvalidJwt,
                    "the JWT's role must be viewer, operator or admin".into(),
                ));
            }
        };
        // `exp` may be anything up to u64::MAX; the cache holds it at most
        // CACHE_TTL whatever it says.
        let secs_left = c.exp.saturating_sub(crate::time::now_ms() as u64 / 1000);
        let until = Instant::now() + Duration::from_secs(secs_left).min(CACHE_TTL);
        Ok((
            Identity {
                principal: format!("user:{}", c.sub),
                groups: vec![format!("group:role:{role}")],
                scopes: vec![],
                token_id: None,
                expires_at: Some(i64::try_from(c.exp.saturating_mul(1000)).unwrap_or(i64::MAX)),
                method: "jwt",
            },
            until,
        ))
    }
}

/// A short reason for a JWT rejection (never echoes the token).
fn jwt_reason(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => "expired",
        K::ImmatureSignature => "not valid yet (nbf is in the future)",
        K::InvalidAlgorithm | K::InvalidAlgorithmName => "wrong algorithm (HS256 only)",
        K::InvalidSignature => "bad signature",
        K::MissingRequiredClaim(_) => "a required claim (sub, role, exp) is missing",
        K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => "malformed",
        _ => "invalid",
    }
}
