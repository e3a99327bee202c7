//! Signer keys (DESIGN §11): a principal's Ed25519 public keys, records of
//! kind `key` (id `key_<id>`) that hold no secret and are created, listed,
//! shown, revoked and pruned beside tokens. Who may register a key for
//! whom is the minting rule of DESIGN §4, as for api tokens.

use std::time::Duration;

use serde_json::json;

use super::{CreateRequest, Created, Ctx, TokenState, TokenView, check_note, check_ttl, mint};
use crate::audit::{NewEvent, types};
use crate::error::{Code, Error, Exit, Result};
use crate::sign::keys::parse_public;
use crate::store::{KeyRow, Tx};
use crate::time::{Millis, duration_ms, rfc3339};

/// Default lifetime of a signer key: rotate at least quarterly.
pub const KEY_DEFAULT_TTL: Duration = Duration::from_secs(90 * 86_400);
/// Longest lifetime of a signer key.
pub const KEY_MAX_TTL: Duration = Duration::from_secs(365 * 86_400);
/// The display prefix of key ids.
pub const PREFIX: &str = "key_";

/// `key_<id>`.
pub fn display_id(id: &str) -> String {
    format!("{PREFIX}{id}")
}

/// The bare id of a `key_<id>`, if it is one.
pub fn bare(id: &str) -> Option<&str> {
    id.strip_prefix(PREFIX)
}

/// The computed state of a key: like an api token's.
pub fn state_of(k: &KeyRow, now: Millis) -> TokenState {
    if k.revoked_at.is_some() {
        TokenState::Revoked
    } else if k.expires_at <= now {
        TokenState::Expired
    } else if k.last_used_at.is_some() {
        TokenState::Bound
    } else {
        TokenState::Pending
    }
}

/// Present a key record the way tokens are presented.
pub fn view(k: &KeyRow, now: Millis) -> TokenView {
    TokenView {
        id: display_id(&k.id),
        kind: "key",
        label: k.label.clone(),
        principal: Some(k.principal.clone()),
        scopes: k.scopes.clone(),
        state: state_of(k, now),
        created_at: rfc3339(k.created_at),
        created_by: k.created_by.clone(),
        expires_at: rfc3339(k.expires_at),
        uses: None,
        machines: vec![],
        last_used_at: k.last_used_at.map(rfc3339),
        revoked_at: k.revoked_at.map(rfc3339),
        reason: k.reason.clone(),
        fingerprint: Some(k.fingerprint.clone()),
        public_key: Some(k.public_key.clone()),
    }
}

/// Check a key request; returns its lifetime.
pub(super) fn validate(req: &CreateRequest) -> Result<Duration> {
    if req.principal.is_none() {
        return Err(
            Error::usage("a key needs --principal").with_hint("for example --principal user:alice")
        );
    }
    if req.public_key.is_none() {
        return Err(Error::usage("a key needs --public-key FILE").with_hint(
            "make a pair with `token keygen --out FILE`, or use ssh-keygen -t ed25519",
        ));
    }
    if req.max_uses.is_some() || req.allow_long_ttl {
        return Err(Error::usage(
            "--max-uses and --allow-long-ttl apply to enrol tokens only",
        ));
    }
    let ttl = req.ttl.unwrap_or(KEY_DEFAULT_TTL);
    check_ttl(ttl, KEY_MAX_TTL, false)?;
    Ok(ttl)
}

/// Register a public key for a principal.
pub(super) fn create(
    mut store: impl crate::store::Access,
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<Created> {
    let ttl = validate(req)?;
    check_note(req.label.as_deref(), "label")?;
    let public = parse_public(req.public_key.as_deref().unwrap_or_default())?;
    let principal = req
        .principal
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let terms = mint::terms(
        ctx.authority.as_ref(),
        ctx.now,
        Some(&principal),
        ttl,
        req.ttl.is_some(),
        None,
        &req.scopes,
    )?;
    let row = KeyRow {
        id: crate::credential::random_id(),
        principal,
        public_key: public.openssh,
        fingerprint: public.fingerprint,
        label: req.label.clone(),
        scopes: terms.scopes.iter().map(ToString::to_string).collect(),
        groups: terms.groups.clone(),
        created_at: ctx.now,
        created_by: ctx.actor.clone(),
        expires_at: ctx.now.saturating_add(duration_ms(terms.ttl)),
        revoked_at: None,
        reason: None,
        last_used_at: None,
    };
    store.with(|s| {
        s.write(|tx| {
            if let Some(old) = tx.key_by_fingerprint(&row.fingerprint)? {
                return Err(Error::new(
                    Exit::Conflict,
                    Code::KeyRegistered,
                    format!(
                        "this public key is already registered as {}",
                        display_id(&old.id)
                    ),
                )
                .with_hint(
                    "a key belongs to one record; to rotate, make a new pair and register that",
                ));
            }
            tx.insert_key(&row)?;
            let event = NewEvent::new(types::TOKEN_CREATED, &ctx.actor, Some(display_id(&row.id)))
                .details(json!({
                    "kind": "key",
                    "label": row.label,
                    "principal": row.principal,
                    "fingerprint": row.fingerprint,
                    "scopes": row.scopes,
                    "expires_at": rfc3339(row.expires_at),
                    "groups": row.groups,
                    "for_other": terms.for_other.then_some("superuser"),
                }));
            tx.append_audit(event, ctx.now)?;
            Ok(())
        })
    })?;
    Ok(Created {
        token: None,
        record: view(&row, ctx.now),
    })
}

/// The key record `key_<bare>`, or not found.
pub(super) fn get(tx: &Tx<'_>, bare: &str) -> Result<KeyRow> {
    tx.key(bare)?.ok_or_else(|| {
        Error::not_found(format!("no key {}", display_id(bare)))
            .with_hint("see `token list --kind key`")
    })
}

/// Revoke one key inside a revocation transaction.
pub(super) fn revoke(
    tx: &mut Tx<'_>,
    ctx: &Ctx,
    bare: &str,
    reason: Option<&str>,
) -> Result<TokenView> {
    let mut row = get(tx, bare)?;
    if row.revoked_at.is_some() {
        return Err(super::already_revoked("key", &display_id(bare)));
    }
    tx.revoke_key(bare, ctx.now, reason)?;
    row.revoked_at = Some(ctx.now);
    row.reason = reason.map(str::to_owned);
    let event = NewEvent::new(types::TOKEN_REVOKED, &ctx.actor, Some(display_id(bare)))
        .details(json!({ "reason": reason, "kind": "key", "fingerprint": row.fingerprint }));
    tx.append_audit(event, ctx.now)?;
    Ok(view(&row, ctx.now))
}

/// Delete ended keys (expired or revoked before `cutoff`) inside a prune.
pub(super) fn prune(tx: &mut Tx<'_>, ctx: &Ctx, cutoff: Millis) -> Result<Vec<TokenView>> {
    let mut out = Vec::new();
    for row in tx.keys()? {
        let ended = row
            .revoked_at
            .or((row.expires_at <= ctx.now).then_some(row.expires_at));
        if ended.is_some_and(|at| at <= cutoff) {
            let v = view(&row, ctx.now);
            tx.delete_key(&row.id)?;
            let event = NewEvent::new(types::TOKEN_PRUNED, &ctx.actor, Some(v.id.clone()))
                .details(json!({ "state": v.state.as_str(), "kind": "key" }));
            tx.append_audit(event, ctx.now)?;
            out.push(v);
        }
    }
    Ok(out)
}

/// Is `keyid` shaped like a key reference: `key_<id>` or `SHA256:<fingerprint>`?
pub fn is_keyid(keyid: &str) -> bool {
    bare(keyid).is_some_and(crate::credential::is_valid_id)
        || keyid.strip_prefix("SHA256:").is_some_and(|f| {
            f.len() == 43
                && f.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
        })
}

/// The stored record a signature's keyid names: `key_<id>`, or the key's
/// `SHA256:` fingerprint (what `--signing-key` sends, so a signer needs
/// nothing but its private key).
pub fn stored(store: &mut crate::store::Store, keyid: &str) -> Result<Option<KeyRow>> {
    if !is_keyid(keyid) {
        return Ok(None);
    }
    match bare(keyid) {
        Some(b) => store.read(|tx| tx.key(b)),
        None => store.read(|tx| tx.key_by_fingerprint(keyid)),
    }
}

/// A key signed a request that serve accepted: its last-used time and an
/// `auth_success` event, in one transaction (once per key cache period,
/// not per request).
pub fn record_use(
    store: &mut crate::store::Store,
    bare_id: &str,
    principal: &str,
    now: Millis,
) -> Result<()> {
    store.write(|tx| {
        tx.touch_key(bare_id, now)?;
        let e = NewEvent::new(types::AUTH_SUCCESS, principal, Some(display_id(bare_id)))
            .details(json!({"method": "signature"}));
        tx.append_audit(e, now).map(|_| ())
    })
}
