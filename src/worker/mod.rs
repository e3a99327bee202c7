//! Workers (DESIGN §7): the wire protocol, and the library operations serve
//! runs for the worker socket — enrol, resume, rotate credentials, detect a
//! reused credential, revoke — plus listing for `worker list|show|revoke`.

pub mod client;
pub mod dispatch;
pub mod exec;
pub mod supervise;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{NewEvent, types};
use crate::credential::{CredentialKind, KeyedHmac, RawCredential, ct_eq, hex32};
use crate::error::{Code, Error, Exit, Result};
use crate::store::{CredentialRow, Store, Tx, WorkerRow};
use crate::time::{Millis, rfc3339};
use crate::token::Ctx;

/// Protocol version spoken by this build. 2: a `heartbeat_ack` carries a
/// credential only when one falls due.
pub const PROTOCOL: u32 = 2;
/// Time between heartbeats unless `serve --heartbeat-every` says otherwise
/// (serve tells each worker in its `welcome`). Heartbeats are signs of life,
/// answered from memory; a session silent for [`QUIET_BEATS`] of them is
/// dropped by either side.
pub const DEFAULT_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(5);
/// Heartbeats a session may miss before it counts as lost.
pub const QUIET_BEATS: u32 = 5;
/// The heartbeat periods serve may ask for, in seconds.
pub const HEARTBEAT_RANGE_S: std::ops::RangeInclusive<u64> = 1..=60;
/// How often a connected worker's `last_seen_at` reaches the store.
pub const LAST_SEEN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// Default period of credential rotation (`serve --rotate-every`).
pub const DEFAULT_ROTATE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// How session credentials rotate: on their own period, apart from
/// heartbeats (`serve --rotate-every`), and whether each rotation is
/// audited (`serve --audit-rotations`; by default they are counted on the
/// worker's disconnect event instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub every: std::time::Duration,
    pub audit: bool,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            every: DEFAULT_ROTATE_EVERY,
            audit: false,
        }
    }
}

impl Rotation {
    /// A credential lives two rotation periods.
    pub fn credential_ttl_ms(&self) -> Millis {
        2 * crate::time::duration_ms(self.every)
    }

    /// How long a rotated-out credential is remembered: at least one
    /// rotation period, and at least [`REUSE_MEMORY_MS`].
    pub fn reuse_window_ms(&self) -> Millis {
        crate::time::duration_ms(self.every).max(REUSE_MEMORY_MS)
    }
}

/// Frames a worker sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    Enroll {
        token: String,
        machine_id: String,
        instance: String,
        protocol: u32,
        version: String,
        #[serde(default)]
        labels: BTreeMap<String, String>,
        #[serde(default = "one")]
        capacity: u32,
    },
    Resume {
        credential: String,
        machine_id: String,
        instance: String,
        protocol: u32,
    },
    Heartbeat {
        /// Id of the last credential received and saved.
        ack: Option<String>,
    },
    Result {
        id: String,
        exit_code: i32,
        stdout: String,
        stderr: String,
        duration_ms: u64,
    },
}

fn one() -> u32 {
    1
}

/// Frames serve sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Welcome {
        worker_id: String,
        name: String,
        credential: String,
        expires_at: String,
        heartbeat_s: u64,
    },
    /// `credential` only when a rotation fell due.
    HeartbeatAck {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credential: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<String>,
    },
    Dispatch {
        id: String,
        argv: Vec<String>,
        env: BTreeMap<String, String>,
        stdin: String,
        timeout_s: u64,
    },
    Cancel {
        id: String,
    },
    Drain,
    Revoked {
        reason: String,
    },
    Error {
        code: crate::error::Code,
        message: String,
    },
}

/// A worker as `worker list|show` print it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct WorkerView {
    pub id: String,
    pub name: String,
    pub machine_id: String,
    pub token: String,
    pub status: String,
    pub labels: serde_json::Value,
    pub capacity: i64,
    pub last_seen_at: Option<String>,
    pub version: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub reason: Option<String>,
}

impl From<&WorkerRow> for WorkerView {
    fn from(w: &WorkerRow) -> Self {
        WorkerView {
            id: display_id(&w.id),
            name: w.name.clone(),
            machine_id: w.machine_id.clone(),
            token: crate::context::token_display_id(&w.token_id),
            status: w.status.clone(),
            labels: w.labels.clone(),
            capacity: w.capacity,
            last_seen_at: w.last_seen_at.map(rfc3339),
            version: w.version.clone(),
            created_at: rfc3339(w.created_at),
            revoked_at: w.revoked_at.map(rfc3339),
            reason: w.reason.clone(),
        }
    }
}

/// `wrk_<id>`.
pub fn display_id(id: &str) -> String {
    crate::context::worker_display_id(id)
}

/// Accept `wrk_<id>` or a bare id.
pub fn parse_id(s: &str) -> Result<String> {
    let bare = s.strip_prefix("wrk_").unwrap_or(s);
    if crate::credential::is_valid_id(bare) {
        Ok(bare.to_owned())
    } else {
        Err(Error::usage(format!(
            "'{}' is not a worker id",
            crate::credential::shown(s)
        ))
        .with_hint("worker ids look like wrk_0a1b2c3d4e5f; see `worker list`"))
    }
}

/// A new session credential for a worker (stored as an HMAC of its secret).
fn issue(
    tx: &mut Tx<'_>,
    worker_id: &str,
    state: &str,
    now: Millis,
    ttl_ms: Millis,
) -> Result<(String, Millis)> {
    let raw = RawCredential::generate(CredentialKind::Worker);
    let mac = KeyedHmac::new(tx.pepper());
    let hash = String::from_utf8_lossy(&hex32(&mac.mac(&[raw.secret().as_bytes()]))).into_owned();
    let expires_at = now + ttl_ms;
    tx.insert_credential(
        &CredentialRow {
            id: raw.id.clone(),
            worker_id: worker_id.to_owned(),
            hash,
            state: state.to_owned(),
            expires_at,
        },
        now,
    )?;
    Ok((raw.expose(), expires_at))
}

/// Enrolment accepted: the worker, its first credential and its expiry.
pub type Session = (WorkerRow, String, Millis);

/// Enrol a machine with an enrol token (the redemption is atomic and
/// audited), creating its worker on first enrolment. `claim` reserves the
/// worker's live connection: when it says no (the worker is connected
/// already), nothing is written and `already_connected` is returned.
#[allow(clippy::too_many_arguments)]
pub fn enroll(
    mut store: impl crate::store::Access,
    ctx: &Ctx,
    token: &str,
    machine_id: &str,
    labels: &BTreeMap<String, String>,
    capacity: u32,
    version: &str,
    rotation: &Rotation,
    claim: &dyn Fn(&str) -> bool,
) -> Result<Session> {
    // Everything the frame says is checked before the token is used, so a
    // refused enrolment never spends one of its uses.
    let name = labels
        .get("name")
        .cloned()
        .unwrap_or_else(|| machine_id.to_owned());
    if !crate::policy::is_ident(&name) {
        return Err(Error::usage(
            "a worker name (label name=...) is 1–128 letters, digits, '.', '_', '@' or '-'",
        ));
    }
    if let Ok(raw) = RawCredential::parse(token) {
        let known = store.with(|s| s.read(|tx| tx.worker_by_binding(&raw.id, machine_id)))?;
        if let Some(w) = known.filter(|w| w.status != "revoked")
            && !claim(&w.id)
        {
            return Err(already_connected());
        }
    }
    let red = crate::token::redeem(&mut store, ctx, token, machine_id)?;
    let token_id = red.token_id.trim_start_matches("tok_").to_owned();
    store.with(|s| {
        s.write(|tx| {
            let worker = match tx.worker_by_binding(&token_id, machine_id)? {
                Some(w) if w.status == "revoked" => {
                    return Err(Error::new(
                        Exit::Conflict,
                        Code::WorkerRevoked,
                        format!("worker {} was revoked", display_id(&w.id)),
                    ));
                }
                Some(w) => w,
                None => {
                    let w = WorkerRow {
                        id: crate::credential::random_id(),
                        name: name.clone(),
                        machine_id: machine_id.to_owned(),
                        token_id: token_id.clone(),
                        status: "connected".into(),
                        labels: json!(labels),
                        capacity: i64::from(capacity),
                        version: Some(version.to_owned()),
                        created_at: ctx.now,
                        last_seen_at: Some(ctx.now),
                        revoked_at: None,
                        reason: None,
                    };
                    tx.insert_worker(&w)?;
                    w
                }
            };
            if tx.held_elsewhere(&worker.id)? || !claim(&worker.id) {
                return Err(already_connected());
            }
            tx.set_worker_status(&worker.id, "connected", ctx.now)?;
            let (cred, exp) = issue(
                tx,
                &worker.id,
                "current",
                ctx.now,
                rotation.credential_ttl_ms(),
            )?;
            tx.promote_credential(
                &worker.id,
                cred.split('_').nth(1).unwrap_or_default(),
                ctx.now,
            )?;
            let e = NewEvent::new(
                types::WORKER_CONNECTED,
                &format!("worker:{}", worker.name),
                Some(display_id(&worker.id)),
            )
            .details(json!({"via": "enroll", "machine_id": machine_id, "token": red.token_id}));
            tx.append_audit(e, ctx.now)?;
            Ok((worker, cred, exp))
        })
    })
}

/// A second live connection for one worker.
pub fn already_connected() -> Error {
    Error::new(
        Exit::Conflict,
        Code::AlreadyConnected,
        "this worker already has a live connection",
    )
}

/// Why a resume failed, when the failure must also be written down.
fn refuse(code: Code, msg: &str) -> Error {
    Error::new(Exit::Auth, code, msg.to_owned())
}

/// Resume with a session credential. A rotated-out credential is treated
/// as theft: the worker is revoked and the reuse audited.
/// `claim` as for [`enroll`].
pub fn resume(
    store: &mut Store,
    ctx: &Ctx,
    credential: &str,
    machine_id: &str,
    claim: &dyn Fn(&str) -> bool,
) -> Result<Session> {
    let raw = RawCredential::parse(credential).map_err(|e| refuse(e.code(), e.message()))?;
    if raw.kind != CredentialKind::Worker {
        return Err(refuse(
            Code::InvalidCredential,
            "resume needs a worker session credential (mtw_...)",
        ));
    }
    store.write(|tx| {
        let Some(row) = tx.credential(&raw.id)? else {
            return Ok(Err(refuse(
                Code::InvalidCredential,
                "unknown session credential; enrol again with a token",
            )));
        };
        let mac = KeyedHmac::new(tx.pepper());
        let hash = hex32(&mac.mac(&[raw.secret().as_bytes()]));
        if !ct_eq(&hash, row.hash.as_bytes()) {
            return Ok(Err(refuse(
                Code::InvalidCredential,
                "the session credential is not valid",
            )));
        }
        let Some(worker) = tx.worker(&row.worker_id)? else {
            return Ok(Err(refuse(Code::InvalidCredential, "the worker is gone")));
        };
        if worker.status == "revoked" {
            return Ok(Err(Error::new(
                Exit::Conflict,
                Code::WorkerRevoked,
                "this worker was revoked",
            )));
        }
        if row.state == "retired" {
            tx.revoke_worker(&worker.id, ctx.now, "credential_reuse")?;
            let e = NewEvent::new(
                types::CREDENTIAL_REUSE,
                &format!("worker:{}", worker.name),
                Some(display_id(&worker.id)),
            )
            .outcome("failure")
            .details(json!({"credential": raw.id, "machine_id": machine_id}));
            tx.append_audit(e, ctx.now)?;
            let e = NewEvent::new(types::WORKER_REVOKED, "serve", Some(display_id(&worker.id)))
                .details(json!({"reason": "credential_reuse"}));
            tx.append_audit(e, ctx.now)?;
            return Ok(Err(Error::new(
                Exit::Conflict,
                Code::CredentialReuse,
                "a rotated-out credential was presented: the worker is revoked",
            )));
        }
        if row.expires_at <= ctx.now {
            return Ok(Err(refuse(
                Code::CredentialExpired,
                "the session credential expired; enrol again with a token",
            )));
        }
        if worker.machine_id != machine_id {
            return Ok(Err(refuse(
                Code::MachineMismatch,
                "this credential belongs to another machine",
            )));
        }
        if tx.held_elsewhere(&worker.id)? || !claim(&worker.id) {
            return Ok(Err(already_connected()));
        }
        tx.promote_credential(&worker.id, &row.id, ctx.now)?;
        tx.set_worker_status(&worker.id, "connected", ctx.now)?;
        let e = NewEvent::new(
            types::WORKER_CONNECTED,
            &format!("worker:{}", worker.name),
            Some(display_id(&worker.id)),
        )
        .details(json!({"via": "resume", "machine_id": machine_id}));
        tx.append_audit(e, ctx.now)?;
        Ok(Ok((worker, credential.to_owned(), row.expires_at)))
    })?
}

/// A credential issued by a rotation, with its expiry.
pub type Issued = (String, Millis);

/// One heartbeat that needs the store: `ack` names the credential the worker
/// saved last (promote it); `issue` says a rotation fell due (issue the next
/// credential, pending until acknowledged). Either way `last_seen_at` moves.
#[derive(Debug, Clone, Copy)]
pub struct Beat<'a> {
    pub worker: &'a str,
    pub ack: Option<&'a str>,
    pub issue: bool,
}

/// A rotation for one worker: promote what it acknowledged and issue the
/// next credential.
pub fn rotate(
    store: &mut Store,
    ctx: &Ctx,
    worker_id: &str,
    ack: Option<&str>,
    rotation: &Rotation,
) -> Result<(String, Millis)> {
    let beat = Beat {
        worker: worker_id,
        ack,
        issue: true,
    };
    let issued = store.write(|tx| beat_in(tx, ctx.now, &beat, rotation))??;
    issued.ok_or_else(|| Error::internal("a rotation issued no credential"))
}

/// Many workers' heartbeats in one write transaction (serve batches those
/// that arrive together, so a fleet costs one commit per batch rather than
/// one per heartbeat). Each answer is that worker's own: one refusal does
/// not affect the others. An answer holds the new credential when one was
/// issued.
pub fn rotate_many(
    store: &mut Store,
    now: Millis,
    beats: &[Beat<'_>],
    rotation: &Rotation,
) -> Result<Vec<Result<Option<Issued>>>> {
    store.write(|tx| {
        beats
            .iter()
            .map(|b| beat_in(tx, now, b, rotation))
            .collect()
    })
}

/// How long a rotated-out credential is remembered at the least, so that
/// presenting it revokes the worker. Older ones are forgotten (and refused
/// as unknown), so the state file does not grow with every rotation.
pub const REUSE_MEMORY_MS: Millis = 2 * 60 * 1000;

/// One heartbeat inside a write transaction. The outer error is a storage
/// failure (abandon the transaction); the inner one refuses this worker.
fn beat_in(
    tx: &mut Tx<'_>,
    now: Millis,
    beat: &Beat<'_>,
    rotation: &Rotation,
) -> Result<Result<Option<Issued>>> {
    let worker_id = beat.worker;
    let Some(worker) = tx.worker(worker_id)? else {
        return Ok(Err(Error::not_found("worker is gone")));
    };
    if worker.status == "revoked" {
        return Ok(Err(Error::new(
            Exit::Conflict,
            Code::WorkerRevoked,
            "this worker was revoked",
        )));
    }
    // The ack names the credential id the worker saved (or the whole credential).
    let acked = match beat.ack {
        Some(a) => {
            let id = RawCredential::parse(a).map_or_else(|_| a.to_owned(), |r| r.id);
            tx.credential(&id)?
                .filter(|c| c.worker_id == worker_id && c.state == "pending")
        }
        None => None,
    };
    if let Some(c) = acked {
        tx.promote_credential(worker_id, &c.id, now)?;
    }
    let mut issued = None;
    if beat.issue {
        tx.retire_pending(worker_id, now)?;
        tx.forget_retired(worker_id, now - rotation.reuse_window_ms())?;
        let (cred, exp) = issue(tx, worker_id, "pending", now, rotation.credential_ttl_ms())?;
        if rotation.audit {
            let e = NewEvent::new(
                types::CREDENTIAL_ROTATED,
                &format!("worker:{}", worker.name),
                Some(display_id(worker_id)),
            )
            .details(json!({"credential": cred.split('_').nth(1).unwrap_or_default()}));
            tx.append_audit(e, now)?;
        }
        issued = Some((cred, exp));
    }
    tx.touch_worker(worker_id, now)?;
    Ok(Ok(issued))
}

/// The socket closed, after `rotations` credential rotations.
pub fn disconnected(store: &mut Store, ctx: &Ctx, worker_id: &str, rotations: u64) -> Result<()> {
    store.write(|tx| {
        let Some(w) = tx.worker(worker_id)? else {
            return Ok(());
        };
        if w.status != "revoked" {
            tx.set_worker_status(worker_id, "disconnected", ctx.now)?;
        }
        let e = NewEvent::new(
            types::WORKER_DISCONNECTED,
            &format!("worker:{}", w.name),
            Some(display_id(worker_id)),
        )
        .details(json!({ "rotations": rotations }));
        tx.append_audit(e, ctx.now).map(|_| ())
    })
}

/// What `worker drain` prints: the worker, and whether serve told a live
/// session (always false for a local drain).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Drained {
    #[serde(flatten)]
    pub worker: WorkerView,
    pub connected: bool,
}

/// Drain a worker: it finishes the steps it runs and is sent no new one.
/// The status and its `worker_drained` event are one transaction. Through
/// serve, `connected` says whether a live session was told at once; a
/// local drain leaves that to a running serve's watcher (within a second).
pub fn drain(store: &mut Store, ctx: &Ctx, id: &str, connected: bool) -> Result<Drained> {
    let id = parse_id(id)?;
    store.write(|tx| {
        let w = tx
            .worker(&id)?
            .ok_or_else(|| Error::not_found(format!("no worker {}", display_id(&id))))?;
        if w.status == "revoked" {
            return Err(Error::new(
                Exit::Conflict,
                Code::AlreadyRevoked,
                format!(
                    "worker {} is revoked: there is nothing to drain",
                    display_id(&id)
                ),
            ));
        }
        tx.set_worker_draining(&id)?;
        let e = NewEvent::new(types::WORKER_DRAINED, &ctx.actor, Some(display_id(&id)))
            .details(json!({ "connected": connected }));
        tx.append_audit(e, ctx.now)?;
        let w = tx
            .worker(&id)?
            .ok_or_else(|| Error::internal("worker vanished"))?;
        Ok(Drained {
            worker: WorkerView::from(&w),
            connected,
        })
    })
}

/// Revoke workers, all or nothing.
pub fn revoke(
    store: &mut Store,
    ctx: &Ctx,
    ids: &[String],
    reason: &str,
) -> Result<Vec<WorkerView>> {
    let ids: Vec<String> = ids.iter().map(|i| parse_id(i)).collect::<Result<_>>()?;
    store.write(|tx| {
        let mut out = Vec::new();
        for id in &ids {
            let w = tx
                .worker(id)?
                .ok_or_else(|| Error::not_found(format!("no worker {}", display_id(id))))?;
            if w.status == "revoked" {
                return Err(Error::new(
                    Exit::Conflict,
                    Code::AlreadyRevoked,
                    format!("worker {} is already revoked", display_id(id)),
                ));
            }
            tx.revoke_worker(id, ctx.now, reason)?;
            let e = NewEvent::new(types::WORKER_REVOKED, &ctx.actor, Some(display_id(id)))
                .details(json!({"reason": reason}));
            tx.append_audit(e, ctx.now)?;
            let w = tx
                .worker(id)?
                .ok_or_else(|| Error::internal("worker vanished"))?;
            out.push(WorkerView::from(&w));
        }
        Ok(out)
    })
}

/// Workers; revoked ones only with `all`; with `stale`, only those not seen for that long.
pub fn list(
    store: &mut Store,
    now: Millis,
    all: bool,
    stale: Option<std::time::Duration>,
) -> Result<Vec<WorkerView>> {
    let rows = store.read(|tx| tx.workers())?;
    Ok(rows
        .iter()
        .filter(|w| all || w.status != "revoked")
        .filter(|w| {
            stale.is_none_or(|d| {
                now - w.last_seen_at.unwrap_or(w.created_at) > crate::time::duration_ms(d)
            })
        })
        .map(WorkerView::from)
        .collect())
}

/// One worker.
pub fn show(store: &mut Store, id: &str) -> Result<WorkerView> {
    let id = parse_id(id)?;
    let w = store
        .read(|tx| tx.worker(&id))?
        .ok_or_else(|| Error::not_found(format!("no worker {}", display_id(&id))))?;
    Ok(WorkerView::from(&w))
}

/// Replace every occurrence of each secret value with `[REDACTED]`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "[REDACTED]");
    }
    out
}
