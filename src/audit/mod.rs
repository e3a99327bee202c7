//! The tamper-evident audit chain: event shapes, the canonical encoding that
//! is hashed, and verification. Each event's `hash` is
//! `HMAC-SHA256(pepper, prev_hash || canonical(event))`, so editing, deleting,
//! inserting or reordering any event breaks the chain from that point on.

use serde::Serialize;
use serde_json::{Value, json};

use crate::credential::{KeyedHmac, ct_eq, hex, hex32, hmac_sha256};
use crate::error::Result;
use crate::time::{Millis, rfc3339};

/// `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Audit event types emitted so far. Stable names: scripts filter on them.
pub mod check;
pub mod export;
pub mod prune;

pub mod types {
    pub const TOKEN_CREATED: &str = "token_created";
    pub const TOKEN_REVOKED: &str = "token_revoked";
    pub const TOKEN_PRUNED: &str = "token_pruned";
    pub const ENROLMENT_ACCEPTED: &str = "enrolment_accepted";
    pub const ENROLMENT_REFUSED: &str = "enrolment_refused";
    pub const GRANT_ADDED: &str = "grant_added";
    pub const GRANT_REVOKED: &str = "grant_revoked";
    pub const GRANT_APPLIED: &str = "grant_applied";
    pub const GROUP_CHANGED: &str = "group_changed";
    pub const SNAPSHOT_RELOADED: &str = "snapshot_reloaded";
    pub const SNAPSHOT_ROLLED_BACK: &str = "snapshot_rolled_back";
    pub const SNAPSHOT_PRUNED: &str = "snapshot_pruned";
    pub const AUDIT_PRUNED: &str = "audit_pruned";
    pub const ADMINS_MATERIALIZED: &str = "admins_materialized";
    pub const SERVE_STARTED: &str = "serve_started";
    pub const SERVE_REFUSED: &str = "serve_refused";
    pub const AUTH_SUCCESS: &str = "auth_success";
    pub const AUTH_FAILURE: &str = "auth_failure";
    pub const AUTH_THROTTLED: &str = "auth_throttled";
    pub const ACCESS_DENIED: &str = "access_denied";
    pub const WORKER_CONNECTED: &str = "worker_connected";
    pub const WORKER_DISCONNECTED: &str = "worker_disconnected";
    pub const WORKER_REVOKED: &str = "worker_revoked";
    pub const WORKER_DRAINED: &str = "worker_drained";
    pub const CREDENTIAL_ROTATED: &str = "credential_rotated";
    pub const CREDENTIAL_REUSE: &str = "credential_reuse";
    pub const DISPATCH_SENT: &str = "dispatch_sent";
    pub const DISPATCH_FINISHED: &str = "dispatch_finished";
    pub const SECRET_RESOLVED: &str = "secret_resolved";

    /// Every type emitted so far, for coverage tests and `--type` help.
    pub const ALL: &[&str] = &[
        TOKEN_CREATED,
        TOKEN_REVOKED,
        TOKEN_PRUNED,
        ENROLMENT_ACCEPTED,
        ENROLMENT_REFUSED,
        GRANT_ADDED,
        GRANT_REVOKED,
        GRANT_APPLIED,
        GROUP_CHANGED,
        SNAPSHOT_RELOADED,
        SNAPSHOT_ROLLED_BACK,
        SNAPSHOT_PRUNED,
        AUDIT_PRUNED,
        ADMINS_MATERIALIZED,
        SERVE_STARTED,
        SERVE_REFUSED,
        AUTH_SUCCESS,
        AUTH_FAILURE,
        AUTH_THROTTLED,
        ACCESS_DENIED,
        WORKER_CONNECTED,
        WORKER_DISCONNECTED,
        WORKER_REVOKED,
        WORKER_DRAINED,
        CREDENTIAL_ROTATED,
        CREDENTIAL_REUSE,
        DISPATCH_SENT,
        DISPATCH_FINISHED,
        SECRET_RESOLVED,
    ];
}

/// An event about to be appended.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: &'static str,
    pub actor: String,
    pub target: Option<String>,
    pub outcome: &'static str,
    /// Where it came from; `None` takes the store's default (`cli`, or
    /// `serve` inside the server).
    pub source: Option<String>,
    pub request_id: Option<String>,
    /// Never a secret: callers pass names and ids only.
    pub details: Value,
}

impl NewEvent {
    /// A successful event with empty details.
    pub fn new(kind: &'static str, actor: &str, target: Option<String>) -> Self {
        NewEvent {
            kind,
            actor: actor.to_owned(),
            target,
            outcome: "success",
            source: None,
            request_id: None,
            details: json!({}),
        }
    }

    /// Set the outcome (`success`, `failure`, `denied`).
    pub fn outcome(mut self, outcome: &'static str) -> Self {
        self.outcome = outcome;
        self
    }

    /// Set the details object.
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// A stored event, as `audit log` prints it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Event {
    pub seq: i64,
    #[serde(serialize_with = "ser_ts")]
    #[schema(value_type = String)]
    pub ts: Millis,
    #[serde(rename = "type")]
    pub kind: String,
    pub actor: String,
    pub target: Option<String>,
    pub outcome: String,
    pub source: String,
    pub request_id: Option<String>,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

fn ser_ts<S: serde::Serializer>(ts: &Millis, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*ts))
}

/// The hashed fields of an event, borrowed, with `details` as its stored
/// canonical JSON text: verification streams these without allocating.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub seq: i64,
    pub ts: Millis,
    pub kind: &'a str,
    pub actor: &'a str,
    pub target: Option<&'a str>,
    pub outcome: &'a str,
    pub source: &'a str,
    pub request_id: Option<&'a str>,
    pub details: &'a str,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

fn push_json_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        // Writing a &str to a Vec cannot fail.
        Some(s) => serde_json::to_writer(&mut *out, s).unwrap_or_default(),
        None => out.extend_from_slice(b"null"),
    }
}

impl EventRef<'_> {
    /// The bytes that are hashed: every field but the hashes, as one compact
    /// JSON object with keys in byte order; `details` verbatim as stored.
    pub fn canonical_into(&self, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(b"{\"actor\":");
        push_json_str(out, Some(self.actor));
        out.extend_from_slice(b",\"details\":");
        out.extend_from_slice(self.details.as_bytes());
        out.extend_from_slice(b",\"outcome\":");
        push_json_str(out, Some(self.outcome));
        out.extend_from_slice(b",\"request_id\":");
        push_json_str(out, self.request_id);
        out.extend_from_slice(format!(",\"seq\":{},\"source\":", self.seq).as_bytes());
        push_json_str(out, Some(self.source));
        out.extend_from_slice(b",\"target\":");
        push_json_str(out, self.target);
        out.extend_from_slice(format!(",\"ts\":{},\"type\":", self.ts).as_bytes());
        push_json_str(out, Some(self.kind));
        out.push(b'}');
    }

    /// The hash this event should carry, as lowercase hex.
    pub fn expected_hash(&self, mac: &KeyedHmac, buf: &mut Vec<u8>) -> [u8; 64] {
        self.canonical_into(buf);
        hex32(&mac.mac(&[self.prev_hash.as_bytes(), buf]))
    }
}

/// The canonical text of a details object (keys sorted at every level), as stored.
pub fn canonical_details(v: &Value) -> String {
    let mut out = Vec::with_capacity(128);
    write_canonical(v, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

impl Event {
    /// The canonical bytes of this event (details re-encoded canonically).
    pub fn canonical(&self) -> Vec<u8> {
        let details = canonical_details(&self.details);
        let mut out = Vec::with_capacity(256);
        self.as_ref(&details).canonical_into(&mut out);
        out
    }

    fn as_ref<'a>(&'a self, details: &'a str) -> EventRef<'a> {
        EventRef {
            seq: self.seq,
            ts: self.ts,
            kind: &self.kind,
            actor: &self.actor,
            target: self.target.as_deref(),
            outcome: &self.outcome,
            source: &self.source,
            request_id: self.request_id.as_deref(),
            details,
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
    }

    /// The hash this event should carry given its `prev_hash`.
    pub fn expected_hash(&self, pepper: &[u8]) -> String {
        hex(&hmac_sha256(
            pepper,
            &[self.prev_hash.as_bytes(), &self.canonical()],
        ))
    }
}

/// Compact JSON with object keys in byte order, recursively.
fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, val)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(Value::String(k.clone()).to_string().as_bytes());
                out.push(b':');
                write_canonical(val, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

/// The head of the chain, for `audit checkpoint`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Verification {
    pub intact: bool,
    pub events: u64,
    pub head: Option<Head>,
    pub first_bad_seq: Option<i64>,
    pub problem: Option<String>,
}

/// Incremental verifier: feed events in `seq` order.
pub struct Verifier {
    mac: KeyedHmac,
    buf: Vec<u8>,
    prev_seq: Option<i64>,
    prev_hash: String,
    events: u64,
    bad: Option<(i64, String)>,
}

impl Verifier {
    /// Start at the genesis of the chain.
    pub fn new(pepper: &[u8]) -> Self {
        Verifier {
            mac: KeyedHmac::new(pepper),
            buf: Vec::with_capacity(512),
            prev_seq: None,
            prev_hash: GENESIS.to_owned(),
            events: 0,
            bad: None,
        }
    }

    /// Start after a prune: the next event must follow `anchor`.
    pub fn from_anchor(pepper: &[u8], anchor: Head) -> Self {
        Verifier {
            mac: KeyedHmac::new(pepper),
            buf: Vec::with_capacity(512),
            prev_seq: Some(anchor.seq),
            prev_hash: anchor.hash,
            events: 0,
            bad: None,
        }
    }

    /// Check the next event. Returns false once the chain is broken.
    pub fn push(&mut self, e: &Event) -> bool {
        let details = canonical_details(&e.details);
        self.push_ref(&e.as_ref(&details))
    }

    /// Check the next event as stored. Returns false once the chain is broken.
    pub fn push_ref(&mut self, e: &EventRef<'_>) -> bool {
        if self.bad.is_some() {
            return false;
        }
        self.events += 1;
        let expected_seq = self.prev_seq.map_or(1, |s| s + 1);
        let problem = if e.seq != expected_seq {
            Some(format!(
                "expected event {expected_seq} but found {}: events were deleted, inserted or reordered",
                e.seq
            ))
        } else if !ct_eq(e.prev_hash.as_bytes(), self.prev_hash.as_bytes()) {
            Some(format!(
                "event {} does not link to the event before it",
                e.seq
            ))
        } else if !ct_eq(
            &e.expected_hash(&self.mac, &mut self.buf),
            e.hash.as_bytes(),
        ) {
            Some(format!("event {} was modified after it was written", e.seq))
        } else {
            None
        };
        if let Some(p) = problem {
            self.bad = Some((e.seq, p));
            return false;
        }
        self.prev_seq = Some(e.seq);
        self.prev_hash.clear();
        self.prev_hash.push_str(e.hash);
        true
    }

    /// Record an event whose columns are not even the right types.
    pub fn push_malformed(&mut self, seq: i64) -> bool {
        if self.bad.is_none() {
            self.events += 1;
            self.bad = Some((seq, format!("event {seq} has malformed columns")));
        }
        false
    }

    /// Finish, optionally checking that a saved checkpoint is still in the chain.
    pub fn finish(
        self,
        checkpoint: Option<&Head>,
        checkpoint_hash_at: Option<String>,
    ) -> Verification {
        let head = self.prev_seq.filter(|_| self.events > 0).map(|seq| Head {
            seq,
            hash: self.prev_hash.clone(),
        });
        let mut out = Verification {
            intact: self.bad.is_none(),
            events: self.events,
            head,
            first_bad_seq: self.bad.as_ref().map(|b| b.0),
            problem: self.bad.map(|b| b.1),
        };
        if let (true, Some(cp)) = (out.intact, checkpoint) {
            let problem = match checkpoint_hash_at {
                None => Some(format!(
                    "the checkpoint names event {} but the log ends before it: events were truncated",
                    cp.seq
                )),
                Some(h) if !ct_eq(h.as_bytes(), cp.hash.as_bytes()) => Some(format!(
                    "event {} differs from the checkpoint: the log was rewritten",
                    cp.seq
                )),
                Some(_) => None,
            };
            if let Some(p) = problem {
                out.intact = false;
                out.first_bad_seq = Some(cp.seq);
                out.problem = Some(p);
            }
        }
        out
    }
}

/// Verify a whole sequence of events (convenience for tests and small logs).
pub fn verify_all(pepper: &[u8], events: &[Event]) -> Result<Verification> {
    let mut v = Verifier::new(pepper);
    for e in events {
        if !v.push(e) {
            break;
        }
    }
    Ok(v.finish(None, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn chain(n: i64) -> Vec<Event> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = Event {
                    seq,
                    ts: seq * 1000,
                    kind: "token_created".into(),
                    actor: "local:test".into(),
                    target: Some(format!("tok_{seq}")),
                    outcome: "success".into(),
                    source: "cli".into(),
                    request_id: None,
                    details: json!({"b": 1, "a": [seq]}),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.expected_hash(KEY);
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let v = verify_all(KEY, &chain(5)).unwrap();
        assert!(v.intact, "{v:?}");
        assert_eq!(v.events, 5);
        assert_eq!(v.head.unwrap().seq, 5);
    }

    #[test]
    fn an_edit_is_caught() {
        let mut c = chain(5);
        c[2].actor = "local:mallory".into();
        let v = verify_all(KEY, &c).unwrap();
        assert!(!v.intact);
        assert_eq!(v.first_bad_seq, Some(3));
    }

    #[test]
    fn an_edit_with_a_recomputed_plain_hash_is_caught() {
        // Without the pepper an attacker cannot recompute the HMAC.
        let mut c = chain(3);
        c[1].details = json!({"edited": true});
        c[1].hash = c[1].expected_hash(b"attacker-guess-of-the-key-000000");
        assert_eq!(verify_all(KEY, &c).unwrap().first_bad_seq, Some(2));
    }

    #[test]
    fn a_deletion_is_caught() {
        let mut c = chain(5);
        c.remove(1);
        let v = verify_all(KEY, &c).unwrap();
        assert_eq!(v.first_bad_seq, Some(3));
    }

    #[test]
    fn a_reorder_is_caught() {
        let mut c = chain(5);
        c.swap(1, 2);
        c[1].seq = 2;
        c[2].seq = 3;
        let v = verify_all(KEY, &c).unwrap();
        assert!(!v.intact);
        assert_eq!(v.first_bad_seq, Some(2));
    }

    #[test]
    fn truncation_is_caught_only_with_a_checkpoint() {
        let full = chain(5);
        let cp = Head {
            seq: 5,
            hash: full[4].hash.clone(),
        };
        let mut v = Verifier::new(KEY);
        for e in &full[..3] {
            assert!(v.push(e));
        }
        let r = v.finish(Some(&cp), None);
        assert!(!r.intact);
        assert_eq!(r.first_bad_seq, Some(5));

        let mut v = Verifier::new(KEY);
        for e in &full {
            v.push(e);
        }
        assert!(v.finish(Some(&cp), Some(full[4].hash.clone())).intact);
    }

    #[test]
    fn canonical_form_sorts_keys() {
        let c = chain(1);
        let s = String::from_utf8(c[0].canonical()).unwrap();
        assert!(s.starts_with(r#"{"actor":"#), "{s}");
        assert!(s.contains(r#""details":{"a":[1],"b":1}"#), "{s}");
    }
}
