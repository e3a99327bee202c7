//! Failed and throttled authentication, handled one way for the `/v1` API
//! and the worker socket: counted per source before any argon2 work,
//! metered, and audited (a throttled source once per window, not per
//! request).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use super::AppState;
use super::auth::Throttle;
use crate::audit::{NewEvent, types};

fn actor(addr: Option<IpAddr>) -> String {
    addr.map_or_else(|| "-".into(), |a| a.to_string())
}

/// Append an audit event off the async threads.
pub(super) fn audit_async(state: &Arc<AppState>, e: NewEvent) {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let mut s = store.lock();
        if let Err(err) = s.append_event(e, crate::time::now_ms()) {
            eprintln!("serve: could not write an audit event: {err}");
        }
    });
}

/// Is this source throttled? Counts and (once per window) audits it.
pub(super) fn throttled(
    state: &Arc<AppState>,
    addr: Option<IpAddr>,
    token_id: Option<&str>,
    details: Value,
) -> Option<Throttle> {
    let t = state.auth.throttled(addr, token_id)?;
    state.metrics.throttled.fetch_add(1, Ordering::Relaxed);
    if t.first {
        let mut d = details;
        d["note"] = json!(
            "further refusals of this source in this window are counted in moat_auth_throttled_total"
        );
        audit_async(
            state,
            NewEvent::new(
                types::AUTH_THROTTLED,
                &actor(addr),
                token_id.map(str::to_owned),
            )
            .outcome("failure")
            .details(d),
        );
    }
    Some(t)
}

/// A failed attempt, counted against the source (and metered) without an
/// audit event: for refusals already audited by the operation itself
/// (`enrolment_refused`).
pub(super) fn counted(state: &Arc<AppState>, addr: Option<IpAddr>, token_id: Option<&str>) {
    state.metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
    state.auth.record_failure(addr, token_id);
}

/// A failed authentication: counted against the source and audited.
pub(super) fn failed(
    state: &Arc<AppState>,
    addr: Option<IpAddr>,
    token_id: Option<&str>,
    code: crate::error::Code,
    details: Value,
) {
    counted(state, addr, token_id);
    let mut d = details;
    d["reason"] = json!(code.as_str());
    audit_async(
        state,
        NewEvent::new(
            types::AUTH_FAILURE,
            &actor(addr),
            token_id.map(str::to_owned),
        )
        .outcome("failure")
        .details(d),
    );
}
