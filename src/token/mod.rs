//! Token operations (DESIGN §4): create, list, show, revoke, prune, verify,
//! and redemption — the atomic binding of a machine to an enrol token.

pub mod keys;
pub mod mint;

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::audit::{NewEvent, types};
use crate::credential::{self, CredentialKind, FormatError, RawCredential};
use crate::error::{Code, Error, Exit, Result};
use crate::policy::{Principal, Scope};
use crate::store::{Store, TokenFilter, TokenRow, Tx};
use crate::time::{Millis, duration_ms, format_duration, rfc3339};

/// Default lifetime of an enrol token.
pub const ENROL_DEFAULT_TTL: Duration = Duration::from_secs(3_600);
/// Longest enrol token lifetime without `--allow-long-ttl`.
pub const ENROL_MAX_TTL: Duration = Duration::from_secs(24 * 3_600);
/// Default lifetime of an api token.
pub const API_DEFAULT_TTL: Duration = Duration::from_secs(30 * 86_400);
/// Longest lifetime of any token.
pub const MAX_TTL: Duration = Duration::from_secs(365 * 86_400);
/// Longest label.
const MAX_LABEL: usize = 200;

pub use crate::context::Ctx;

/// The computed lifecycle state of a token.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    serde::Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TokenState {
    /// Unused and valid.
    Pending,
    /// Used by some machines (or, for api tokens, used at least once) and still valid.
    Bound,
    /// Every use is bound; no new machine may enrol.
    Exhausted,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

impl TokenState {
    /// The state's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Pending => "pending",
            TokenState::Bound => "bound",
            TokenState::Exhausted => "exhausted",
            TokenState::Expired => "expired",
            TokenState::Revoked => "revoked",
        }
    }
}

/// The state of `t` at time `now`.
pub fn state_of(t: &TokenRow, now: Millis) -> TokenState {
    let used = match t.kind {
        CredentialKind::Api => t.last_used_at.is_some(),
        _ => !t.machines.is_empty(),
    };
    if t.revoked_at.is_some() {
        TokenState::Revoked
    } else if t.expires_at <= now {
        TokenState::Expired
    } else if t.kind == CredentialKind::Enrol
        && t.max_uses.is_some_and(|m| t.machines.len() as i64 >= m)
    {
        TokenState::Exhausted
    } else if used {
        TokenState::Bound
    } else {
        TokenState::Pending
    }
}

/// A token as shown by `list`, `show` and `create` (never the secret or its hash).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub kind: &'static str,
    pub label: Option<String>,
    pub principal: Option<String>,
    pub scopes: Vec<String>,
    pub state: TokenState,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: String,
    /// `bound/max` for enrol tokens (`max` may be `unlimited`); null for api tokens.
    pub uses: Option<String>,
    pub machines: Vec<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    pub reason: Option<String>,
    /// A signer key's SHA-256 fingerprint (`SHA256:...`); keys only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// A signer key's OpenSSH public key; keys only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

impl TokenView {
    /// Present a stored row.
    pub fn new(t: &TokenRow, now: Millis) -> Self {
        let uses = (t.kind == CredentialKind::Enrol).then(|| {
            let max = t
                .max_uses
                .map_or_else(|| "unlimited".to_owned(), |m| m.to_string());
            format!("{}/{max}", t.machines.len())
        });
        TokenView {
            id: display_id(&t.id),
            kind: t.kind.as_str(),
            label: t.label.clone(),
            principal: t.principal.clone(),
            scopes: t.scopes.clone(),
            state: state_of(t, now),
            created_at: rfc3339(t.created_at),
            created_by: t.created_by.clone(),
            expires_at: rfc3339(t.expires_at),
            uses,
            machines: t.machines.clone(),
            last_used_at: t.last_used_at.map(rfc3339),
            revoked_at: t.revoked_at.map(rfc3339),
            reason: t.reason.clone(),
            fingerprint: None,
            public_key: None,
        }
    }
}

/// The output of `token create`: the raw token (shown once) and its record.
/// A signer key has no secret, so no `token`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Created {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(flatten)]
    pub record: TokenView,
}

/// `tok_<id>`.
pub fn display_id(id: &str) -> String {
    crate::context::token_display_id(id)
}

/// Accept `tok_<id>`, a bare id, or `key_<id>` (kept with its prefix, so
/// a signer key stays told apart); anything else is invalid input.
pub fn parse_id(s: &str) -> Result<String> {
    if keys::bare(s).is_some_and(credential::is_valid_id) {
        return Ok(s.to_owned());
    }
    let bare = s.strip_prefix("tok_").unwrap_or(s);
    if credential::is_valid_id(bare) {
        Ok(bare.to_owned())
    } else {
        Err(
            Error::usage(format!("'{}' is not a token id", credential::shown(s)))
                .with_hint("token ids look like tok_0a1b2c3d4e5f (key_0a1b2c3d4e5f for signer keys); see `token list`"),
        )
    }
}

/// How many machines an enrol token may bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxUses {
    Limited(u32),
    Unlimited,
}

impl std::str::FromStr for MaxUses {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s == "unlimited" {
            return Ok(MaxUses::Unlimited);
        }
        match s.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(MaxUses::Limited(n)),
            _ => Err(
                Error::usage(format!("invalid --max-uses '{}'", credential::shown(s)))
                    .with_hint("give a whole number of machines (1 or more) or `unlimited`"),
            ),
        }
    }
}

impl std::fmt::Display for MaxUses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxUses::Limited(n) => write!(f, "{n}"),
            MaxUses::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// What `token create` asks for (the `POST /v1/tokens` body).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// `enrol` (the default) or `api`.
    #[serde(default = "enrol")]
    pub kind: CredentialKind,
    /// Lifetime [default: 1h for enrol, 30d for api].
    #[serde(default, with = "crate::ops::wire::opt_duration")]
    #[schema(value_type = Option<String>)]
    pub ttl: Option<Duration>,
    #[serde(default)]
    pub allow_long_ttl: bool,
    /// Machines an enrol token may bind: a number or `unlimited` [default: 1].
    #[serde(default)]
    pub max_uses: Option<MaxUses>,
    #[serde(default)]
    pub label: Option<String>,
    /// The principal an api token authenticates.
    #[serde(default)]
    pub principal: Option<Principal>,
    /// Narrow an api token to these `ACTION:KIND:PATTERN`s.
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// A key's OpenSSH Ed25519 public key (`ssh-ed25519 AAAA...`).
    #[serde(default)]
    pub public_key: Option<String>,
}

fn enrol() -> CredentialKind {
    CredentialKind::Enrol
}

impl CreateRequest {
    /// Check every field and resolve defaults; returns (ttl, max_uses).
    pub fn validate(&self) -> Result<(Duration, Option<i64>)> {
        check_note(self.label.as_deref(), "label")?;
        if self.public_key.is_some() && self.kind != CredentialKind::Key {
            return Err(Error::usage("--public-key applies to signer keys only")
                .with_hint("add --kind key"));
        }
        match self.kind {
            CredentialKind::Enrol => {
                if self.principal.is_some() || !self.scopes.is_empty() {
                    return Err(
                        Error::usage("--principal and --scope apply to api tokens only")
                            .with_hint("add --kind api"),
                    );
                }
                let ttl = self.ttl.unwrap_or(ENROL_DEFAULT_TTL);
                let max = if self.allow_long_ttl {
                    MAX_TTL
                } else {
                    ENROL_MAX_TTL
                };
                check_ttl(ttl, max, !self.allow_long_ttl)?;
                let uses = match self.max_uses.unwrap_or(MaxUses::Limited(1)) {
                    MaxUses::Limited(n) => Some(i64::from(n)),
                    MaxUses::Unlimited => None,
                };
                Ok((ttl, uses))
            }
            CredentialKind::Api => {
                if self.principal.is_none() {
                    return Err(Error::usage("an api token needs --principal")
                        .with_hint("for example --principal user:alice"));
                }
                if self.max_uses.is_some() {
                    return Err(Error::usage("--max-uses applies to enrol tokens only"));
                }
                if self.allow_long_ttl {
                    return Err(
                        Error::usage("--allow-long-ttl applies to enrol tokens only")
                            .with_hint("api tokens may live up to 365d"),
                    );
                }
                let ttl = self.ttl.unwrap_or(API_DEFAULT_TTL);
                check_ttl(ttl, MAX_TTL, false)?;
                Ok((ttl, None))
            }
            CredentialKind::Key => Ok((keys::validate(self)?, None)),
            CredentialKind::Worker => Err(Error::usage(
                "worker credentials are issued by serve at enrolment, not created by hand",
            )),
        }
    }
}

/// A free-text field (label, reason) is short and has no control characters.
pub(crate) fn check_note(text: Option<&str>, what: &str) -> Result<()> {
    match text {
        Some(t) if t.chars().count() > MAX_LABEL || t.chars().any(char::is_control) => {
            Err(Error::usage(format!(
                "a {what} must be at most {MAX_LABEL} characters with no control characters"
            )))
        }
        _ => Ok(()),
    }
}

pub(crate) fn check_ttl(ttl: Duration, max: Duration, long_allowed_with_flag: bool) -> Result<()> {
    if ttl.is_zero() {
        return Err(Error::usage("--ttl must be longer than 0s"));
    }
    if ttl > max {
        let mut e = Error::usage(format!(
            "--ttl {} is longer than the maximum of {}",
            format_duration(ttl),
            format_duration(max)
        ));
        if long_allowed_with_flag {
            e = e.with_hint("enrol tokens should live hours, not days; add --allow-long-ttl if you really need up to 365d");
        }
        return Err(e);
    }
    Ok(())
}

/// Create a token. Returns the raw token once; only its argon2id hash is stored.
/// Through serve, the minting rule of DESIGN §4 applies ([`mint::terms`]).
pub fn create(
    mut store: impl crate::store::Access,
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<Created> {
    if req.kind == CredentialKind::Key {
        return keys::create(store, ctx, req);
    }
    let (ttl, max_uses) = req.validate()?;
    let principal = req.principal.as_ref().map(|p| p.to_string());
    let terms = mint::terms(
        ctx.authority.as_ref(),
        ctx.now,
        principal.as_deref(),
        ttl,
        req.ttl.is_some(),
        max_uses,
        &req.scopes,
    )?;
    let raw = RawCredential::generate(req.kind);
    // Hash before taking the write lock: argon2 is the slow part.
    let secret_hash = credential::hash_secret(raw.secret())?;
    let row = TokenRow {
        id: raw.id.clone(),
        kind: req.kind,
        secret_hash,
        label: req.label.clone(),
        principal,
        scopes: terms.scopes.iter().map(|s| s.to_string()).collect(),
        groups: terms.groups.clone(),
        max_uses: terms.max_uses,
        created_at: ctx.now,
        created_by: ctx.actor.clone(),
        expires_at: ctx.now.saturating_add(duration_ms(terms.ttl)),
        revoked_at: None,
        reason: None,
        last_used_at: None,
        machines: vec![],
    };
    store.with(|s| {
        s.write(|tx| {
            tx.insert_token(&row)?;
            let event = NewEvent::new(types::TOKEN_CREATED, &ctx.actor, Some(display_id(&row.id)))
                .details(json!({
                    "kind": row.kind.as_str(),
                    "label": row.label,
                    "principal": row.principal,
                    "scopes": row.scopes,
                    "max_uses": row.max_uses,
                    "expires_at": rfc3339(row.expires_at),
                    "groups": row.groups,
                    "for_other": terms.for_other.then_some("superuser"),
                }));
            tx.append_audit(event, ctx.now)?;
            Ok(())
        })
    })?;
    Ok(Created {
        token: Some(raw.expose()),
        record: TokenView::new(&row, ctx.now),
    })
}

/// List tokens, optionally by kind and state.
pub fn list(
    store: &mut Store,
    now: Millis,
    kind: Option<CredentialKind>,
    state: Option<TokenState>,
) -> Result<Vec<TokenView>> {
    let (rows, keys) = store.read(|tx| {
        let rows = match kind {
            Some(CredentialKind::Key) => vec![],
            _ => tx.tokens(&TokenFilter { kind })?,
        };
        let keys = match kind {
            None | Some(CredentialKind::Key) => tx.keys()?,
            _ => vec![],
        };
        Ok((rows, keys))
    })?;
    // Oldest first across both tables, as each table lists itself.
    let mut all: Vec<(Millis, String, TokenView)> = rows
        .iter()
        .map(|t| (t.created_at, t.id.clone(), TokenView::new(t, now)))
        .chain(
            keys.iter()
                .map(|k| (k.created_at, k.id.clone(), keys::view(k, now))),
        )
        .filter(|(_, _, v)| state.is_none_or(|s| v.state == s))
        .collect();
    all.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok(all.into_iter().map(|(_, _, v)| v).collect())
}

fn get(tx: &Tx<'_>, id: &str) -> Result<TokenRow> {
    tx.token(id)?.ok_or_else(|| {
        Error::not_found(format!("no token {}", display_id(id)))
            .with_hint("see `token list --format json`")
    })
}

/// One token by id (`tok_<id>` or bare).
pub fn show(store: &mut Store, now: Millis, id: &str) -> Result<TokenView> {
    let id = parse_id(id)?;
    if let Some(k) = keys::bare(&id) {
        let row = store.read(|tx| keys::get(tx, k))?;
        return Ok(keys::view(&row, now));
    }
    let row = store.read(|tx| get(tx, &id))?;
    Ok(TokenView::new(&row, now))
}

/// Revoke tokens, all or nothing: an unknown or already revoked id changes nothing.
pub fn revoke(
    store: &mut Store,
    ctx: &Ctx,
    ids: &[String],
    reason: Option<&str>,
) -> Result<Vec<TokenView>> {
    let mut parsed = Vec::with_capacity(ids.len());
    for id in ids {
        let id = parse_id(id)?;
        if !parsed.contains(&id) {
            parsed.push(id);
        }
    }
    check_note(reason, "reason")?;
    store.write(|tx| {
        let mut out = Vec::with_capacity(parsed.len());
        for id in &parsed {
            if let Some(k) = keys::bare(id) {
                out.push(keys::revoke(tx, ctx, k, reason)?);
                continue;
            }
            let mut row = get(tx, id)?;
            if row.revoked_at.is_some() {
                return Err(already_revoked("token", &display_id(id)));
            }
            tx.revoke_token(id, ctx.now, reason)?;
            // Cascade: workers enrolled with this token lose access too.
            for w in tx.workers_of_token(id)? {
                tx.revoke_worker(&w, ctx.now, "token_revoked")?;
                let e = NewEvent::new(
                    types::WORKER_REVOKED,
                    &ctx.actor,
                    Some(crate::context::worker_display_id(&w)),
                )
                .details(json!({ "reason": "token_revoked", "token": display_id(id) }));
                tx.append_audit(e, ctx.now)?;
            }
            row.revoked_at = Some(ctx.now);
            row.reason = reason.map(str::to_owned);
            let event = NewEvent::new(types::TOKEN_REVOKED, &ctx.actor, Some(display_id(id)))
                .details(json!({ "reason": reason, "machines": row.machines }));
            tx.append_audit(event, ctx.now)?;
            out.push(TokenView::new(&row, ctx.now));
        }
        Ok(out)
    })
}

/// The refusal of revoking `shown` (`tok_…`, `key_…`) a second time.
pub(crate) fn already_revoked(what: &str, shown: &str) -> Error {
    Error::new(
        Exit::Conflict,
        Code::AlreadyRevoked,
        format!("{what} {shown} is already revoked"),
    )
    .with_hint("nothing was changed; drop it from the list and retry")
}

/// Delete expired and revoked tokens whose expiry or revocation is older
/// than `older_than`. Their audit history stays.
pub fn prune(store: &mut Store, ctx: &Ctx, older_than: Duration) -> Result<Vec<TokenView>> {
    let cutoff = ctx.now.saturating_sub(duration_ms(older_than));
    store.write(|tx| {
        let rows = tx.tokens(&TokenFilter::default())?;
        let mut out = Vec::new();
        for row in rows {
            let ended = match (row.revoked_at, row.expires_at <= ctx.now) {
                (Some(at), _) => Some(at),
                (None, true) => Some(row.expires_at),
                (None, false) => None,
            };
            if ended.is_some_and(|at| at <= cutoff) {
                let view = TokenView::new(&row, ctx.now);
                tx.delete_token(&row.id)?;
                let event = NewEvent::new(types::TOKEN_PRUNED, &ctx.actor, Some(view.id.clone()))
                    .details(json!({ "state": view.state.as_str(), "kind": view.kind }));
                tx.append_audit(event, ctx.now)?;
                out.push(view);
            }
        }
        out.extend(keys::prune(tx, ctx, cutoff)?);
        Ok(out)
    })
}

/// The refusal error for a token that cannot be used in state `s`, if any.
pub fn refusal(s: TokenState, id: &str) -> Option<Error> {
    let (code, what) = match s {
        TokenState::Expired => (Code::TokenExpired, "has expired"),
        TokenState::Revoked => (Code::TokenRevoked, "was revoked"),
        TokenState::Exhausted => (Code::TokenExhausted, "has no uses left"),
        TokenState::Pending | TokenState::Bound => return None,
    };
    Some(Error::new(
        Exit::Conflict,
        code,
        format!("token {} {what}", display_id(id)),
    ))
}

/// Identify a raw token without using it: which record it is, and its state.
/// Returns the record; `Err` says why the token could not be used now.
pub fn verify(
    mut store: impl crate::store::Access,
    now: Millis,
    raw: &str,
) -> Result<(TokenView, Option<Error>)> {
    let raw =
        RawCredential::parse(raw).map_err(|e| Error::new(Exit::Usage, e.code(), e.message()))?;
    if raw.kind == CredentialKind::Worker {
        return Err(Error::usage(
            "this is a worker session credential; only serve can check those",
        ));
    }
    let row = store.with(|s| s.read(|tx| tx.token(&raw.id)))?;
    let row = match row {
        Some(r)
            if r.kind == raw.kind && credential::verify_secret(raw.secret(), &r.secret_hash) =>
        {
            r
        }
        _ => {
            return Err(Error::new(
                Exit::Auth,
                Code::InvalidToken,
                "no token in this state file matches (wrong secret, pruned, or from another state file)",
            ));
        }
    };
    let view = TokenView::new(&row, now);
    let refusal = refusal(view.state, &row.id);
    Ok((view, refusal))
}

/// The stored record for a presented credential's public id (serve
/// authenticating an api token; the secret is checked by the caller).
pub fn stored(store: &mut Store, id: &str) -> Result<Option<TokenRow>> {
    store.read(|tx| tx.token(id))
}

/// A successful use of api token `token_id` (`tok_<id>`): its last-used
/// time and an `auth_success` event, in one transaction.
pub fn record_use(store: &mut Store, token_id: &str, principal: &str, now: Millis) -> Result<()> {
    let bare = token_id.trim_start_matches("tok_");
    store.write(|tx| {
        tx.touch_token(bare, now)?;
        let e = NewEvent::new(types::AUTH_SUCCESS, principal, Some(token_id.to_owned()))
            .details(json!({"method": "token"}));
        tx.append_audit(e, now).map(|_| ())
    })
}

/// The result of a successful redemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redemption {
    pub token_id: String,
    pub machine_id: String,
    /// False when the machine was already bound (a reconnect).
    pub new_binding: bool,
}

/// Is `s` an acceptable machine id: 1–128 of `[A-Za-z0-9._-]`?
pub fn is_valid_machine_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Redeem an enrol token for `machine_id`, atomically: under concurrent
/// redemption a `--max-uses k` token gets exactly k bindings. A machine that
/// is already bound reconnects without a new binding. Every refusal of a
/// token that exists is audited with its reason.
/// The secret is checked (argon2) between the read and the write, with the
/// store unlocked when `store` is shared.
pub fn redeem(
    mut store: impl crate::store::Access,
    ctx: &Ctx,
    raw: &str,
    machine_id: &str,
) -> Result<Redemption> {
    if !is_valid_machine_id(machine_id) {
        return Err(Error::usage(
            "a machine id is 1–128 letters, digits, '.', '_' or '-'",
        ));
    }
    let auth_err = |e: FormatError| Error::new(Exit::Auth, e.code(), e.message());
    let raw = RawCredential::parse(raw).map_err(auth_err)?;
    if raw.kind != CredentialKind::Enrol {
        return Err(auth_err(FormatError::Invalid).with_hint("enrol with an mte_ token"));
    }
    let stored = store.with(|s| s.read(|tx| tx.token(&raw.id)))?;
    let secret_ok = stored.as_ref().is_some_and(|r| {
        r.kind == CredentialKind::Enrol && credential::verify_secret(raw.secret(), &r.secret_hash)
    });
    let target = Some(display_id(&raw.id));
    let outcome: std::result::Result<Redemption, Error> = store.with(|s| {
        s.write(|tx| {
            let refuse =
                |tx: &mut Tx<'_>, err: Error| -> Result<std::result::Result<Redemption, Error>> {
                    let event = NewEvent::new(types::ENROLMENT_REFUSED, &ctx.actor, target.clone())
                        .outcome("failure")
                        .details(json!({ "reason": err.code, "machine_id": machine_id }));
                    tx.append_audit(event, ctx.now)?;
                    Ok(Err(err))
                };
            // Re-read under the write lock: the count of bindings must be current.
            let row = match tx.token(&raw.id)? {
                Some(r) if secret_ok => r,
                _ => {
                    let err = Error::new(
                        Exit::Auth,
                        Code::InvalidToken,
                        "the enrol token is not valid",
                    );
                    return refuse(tx, err);
                }
            };
            let state = state_of(&row, ctx.now);
            let already = row.machines.iter().any(|m| m == machine_id);
            if state == TokenState::Revoked
                || (!already && state != TokenState::Pending && state != TokenState::Bound)
            {
                let err = refusal(state, &row.id)
                    .unwrap_or_else(|| Error::internal("unexpected token state"));
                return refuse(tx, err);
            }
            if already {
                tx.touch_token(&row.id, ctx.now)?;
            } else {
                tx.bind_machine(&row.id, machine_id, ctx.now)?;
            }
            let event = NewEvent::new(types::ENROLMENT_ACCEPTED, &ctx.actor, target.clone())
                .details(json!({ "machine_id": machine_id, "reconnect": already }));
            tx.append_audit(event, ctx.now)?;
            Ok(Ok(Redemption {
                token_id: display_id(&row.id),
                machine_id: machine_id.to_owned(),
                new_binding: !already,
            }))
        })
    })?;
    outcome
}

/// Insert `n` enrol token records that share one argon2id hash, in one
/// transaction, without audit events. For benchmarks and tests only: it
/// exists so that seeding 10,000 tokens takes a second, not minutes.
#[doc(hidden)]
pub fn seed_records(store: &mut Store, n: usize, now: Millis) -> Result<()> {
    let hash = credential::hash_secret("seed")?;
    store.write(|tx| {
        for i in 0..n {
            tx.insert_token(&TokenRow {
                id: credential::random_id(),
                kind: CredentialKind::Enrol,
                secret_hash: hash.clone(),
                label: Some(format!("seed {i}")),
                principal: None,
                scopes: vec![],
                groups: vec![],
                max_uses: Some(1),
                created_at: now,
                created_by: "local:seed".into(),
                expires_at: now + 3_600_000,
                revoked_at: None,
                reason: None,
                last_used_at: None,
                machines: vec![],
            })?;
        }
        Ok(())
    })
}
