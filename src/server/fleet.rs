//! The worker socket (`/v1/workers/connect`) and dispatch: enrolment or
//! resume on the first frame, heartbeats that rotate credentials, revocation
//! that cuts the socket, and `POST /v1/dispatches` that sends a step with only
//! the secrets it names and waits for its result.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::rotator::Rotation;
use super::{AppState, with_store};
use crate::audit::{NewEvent, types};
use crate::error::{Code, Error, Result};
use crate::token::Ctx;
use crate::worker::{self, ClientMsg, PROTOCOL, QUIET_BEATS, ServerMsg};

/// Largest frame accepted from a worker.
pub const MAX_FRAME: usize = 4 * 1024 * 1024;

/// A finished step as the worker reported it.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    pub duration_ms: u64,
}

struct Conn {
    name: String,
    labels: serde_json::Value,
    /// Steps it runs at once (`--capacity`).
    capacity: usize,
    tx: mpsc::UnboundedSender<ServerMsg>,
    pending: HashMap<String, oneshot::Sender<StepResult>>,
    /// Dispatches cancelled while running: their late results are dropped.
    cancelled: std::collections::HashSet<String>,
    draining: bool,
}

/// Live worker connections.
#[derive(Default)]
pub struct Fleet {
    conns: Mutex<HashMap<String, Conn>>,
    /// Workers whose enrolment or resume is committing: reserved, so a
    /// second connection is refused before it writes anything.
    claims: Mutex<std::collections::HashSet<String>>,
}

impl Fleet {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Conn>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserve `worker_id`'s connection; false when it is live or reserved.
    fn try_claim(&self, worker_id: &str) -> bool {
        let conns = self.lock();
        !conns.contains_key(worker_id) && self.claims().insert(worker_id.to_owned())
    }

    fn release(&self, worker_id: &str) {
        self.claims().remove(worker_id);
    }

    /// Ids of connected workers.
    pub fn connected(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// How many workers are connected.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no worker is connected.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Tell a worker it is revoked; its session ends.
    pub fn kick(&self, worker_id: &str, reason: &str) {
        if let Some(c) = self.lock().get(worker_id) {
            let _ = c.tx.send(ServerMsg::Revoked {
                reason: reason.to_owned(),
            });
        }
    }

    /// The name of a connected, non-draining worker with room for a step
    /// whose label `key` is `value` and that `eligible` accepts (the caller
    /// may run there); the first by name, so the choice is predictable.
    pub fn select(
        &self,
        key: &str,
        value: &str,
        eligible: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let conns = self.lock();
        let mut names: Vec<&String> = conns
            .values()
            .filter(|c| !c.draining && c.pending.len() < c.capacity)
            .filter(|c| c.labels.get(key).and_then(|v| v.as_str()) == Some(value))
            .filter(|c| eligible(&c.name))
            .map(|c| &c.name)
            .collect();
        names.sort();
        names.first().map(|n| (*n).clone())
    }

    /// Cancel a running dispatch: the worker stops the step; its late result is dropped.
    pub fn cancel(&self, worker_id: &str, dispatch_id: &str) {
        let mut conns = self.lock();
        let Some(c) = conns.get_mut(worker_id) else {
            return;
        };
        if c.pending.remove(dispatch_id).is_some() {
            c.cancelled.insert(dispatch_id.to_owned());
            let _ = c.tx.send(ServerMsg::Cancel {
                id: dispatch_id.to_owned(),
            });
        }
    }

    /// Stop sending steps to a worker.
    pub fn drain(&self, worker_id: &str) -> bool {
        match self.lock().get_mut(worker_id) {
            Some(c) => {
                if !c.draining {
                    c.draining = true;
                    let _ = c.tx.send(ServerMsg::Drain);
                }
                true
            }
            None => false,
        }
    }
}

/// `GET /v1/workers/connect`: upgrade, then run the session.
pub async fn connect(
    State(s): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    // tungstenite's default 128 KiB read buffer is zero-filled per socket:
    // 640 MB for 5,000 idle workers. Frames are small; larger ones grow it.
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| session(s, socket, addr))
}

async fn send(socket: &mut WebSocket, m: &ServerMsg) -> bool {
    match serde_json::to_string(m) {
        Ok(t) => socket.send(Message::Text(t.into())).await.is_ok(),
        Err(_) => false,
    }
}

async fn refuse(mut socket: WebSocket, code: Code, message: &str) {
    let _ = send(
        &mut socket,
        &ServerMsg::Error {
            code,
            message: message.into(),
        },
    )
    .await;
    let _ = socket.send(Message::Close(None)).await;
}

fn ctx(actor: String) -> Ctx {
    Ctx::new(actor, crate::time::now_ms())
}

async fn session(s: Arc<AppState>, mut socket: WebSocket, addr: SocketAddr) {
    if s.fleet.len() >= s.cfg.max_workers {
        let msg = format!(
            "serve holds its --max-workers {} connections; try another server or later",
            s.cfg.max_workers
        );
        return refuse(socket, Code::ServeFull, &msg).await;
    }
    let first = match tokio::time::timeout(Duration::from_secs(10), socket.recv()).await {
        Ok(Some(Ok(Message::Text(t)))) => t,
        Ok(Some(Ok(_))) => {
            return refuse(
                socket,
                Code::MalformedFrame,
                "the first frame must be a JSON text frame",
            )
            .await;
        }
        _ => return,
    };
    let hello: ClientMsg = match serde_json::from_str(&first) {
        Ok(m) => m,
        Err(e) => {
            return refuse(
                socket,
                Code::MalformedFrame,
                &format!("unreadable frame: {e}"),
            )
            .await;
        }
    };
    let actor = format!("worker@{}", addr.ip());
    let ip = Some(addr.ip());
    // Throttled before any argon2 work, per address and per credential id
    // tried from it.
    let (tried, via) = match &hello {
        ClientMsg::Enroll { token, .. } => (
            crate::credential::RawCredential::parse(token)
                .ok()
                .map(|r| crate::token::display_id(&r.id)),
            "enroll",
        ),
        ClientMsg::Resume { credential, .. } => (
            crate::credential::RawCredential::parse(credential)
                .ok()
                .map(|r| format!("cred_{}", r.id)),
            "resume",
        ),
        _ => (None, "frame"),
    };
    if let Some(t) = super::guard::throttled(&s, ip, tried.as_deref(), json!({"via": via})) {
        let msg = format!(
            "too many failed attempts from this address; retry in {} s",
            t.wait.as_secs().max(1)
        );
        return refuse(socket, Code::Throttled, &msg).await;
    }
    // The worker this session reserves, once enrolment or resume names it.
    let mine: Arc<Mutex<Option<String>>> = Arc::default();
    let claim_for = {
        let (s, mine) = (s.clone(), mine.clone());
        move |id: &str| {
            let mut m = mine.lock().unwrap_or_else(|p| p.into_inner());
            if m.as_deref() == Some(id) {
                return true;
            }
            if m.is_some() || !s.fleet.try_claim(id) {
                return false;
            }
            *m = Some(id.to_owned());
            true
        }
    };
    let accepted = match hello {
        ClientMsg::Enroll { protocol, .. } | ClientMsg::Resume { protocol, .. }
            if protocol != PROTOCOL =>
        {
            return refuse(
                socket,
                Code::ProtocolMismatch,
                &format!("serve speaks protocol {PROTOCOL}, the worker {protocol}"),
            )
            .await;
        }
        ClientMsg::Enroll {
            token,
            machine_id,
            labels,
            capacity,
            version,
            ..
        } => {
            let st = s.clone();
            // The store is locked only for the reads and writes, not
            // while argon2 checks the token.
            super::with_slow_slot(&s, move || {
                worker::enroll(
                    &*st.store,
                    &ctx(actor),
                    &token,
                    &machine_id,
                    &labels,
                    capacity,
                    &version,
                    &st.cfg.rotation,
                    &claim_for,
                )
            })
            .await
            .and_then(|r| r)
        }
        ClientMsg::Resume {
            credential,
            machine_id,
            ..
        } => {
            with_store(&s.store, move |st| {
                let resumed = worker::resume(st, &ctx(actor.clone()), &credential, &machine_id, &claim_for);
                match &resumed {
                    // Reuse is audited (with the revocation) by resume itself.
                    Err(e) if e.code != Code::CredentialReuse && e.code != Code::AlreadyConnected => {
                        // Only the credential's public id, never its secret.
                        let id = crate::credential::RawCredential::parse(&credential)
                            .ok()
                            .map(|r| r.id);
                        let e = NewEvent::new(types::AUTH_FAILURE, &actor, id)
                            .outcome("failure")
                            .details(json!({"reason": e.code, "via": "resume", "machine_id": machine_id}));
                        st.write(|tx| tx.append_audit(e, crate::time::now_ms()).map(|_| ()))?;
                    }
                    _ => {}
                }
                resumed
            })
            .await
        }
        _ => {
            return refuse(
                socket,
                Code::OutOfOrder,
                "the first frame must be enroll or resume",
            )
            .await;
        }
    };
    let (w, credential, expires_at) = match accepted {
        Ok(x) => x,
        Err(e) => {
            if let Some(id) = mine.lock().unwrap_or_else(|p| p.into_inner()).take() {
                s.fleet.release(&id);
            }
            if e.code != Code::AlreadyConnected && e.exit != crate::error::Exit::Internal {
                super::guard::counted(&s, ip, tried.as_deref());
            }
            return refuse(socket, e.code, &e.message).await;
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    {
        let mut conns = s.fleet.lock();
        s.fleet.release(&w.id);
        conns.insert(
            w.id.clone(),
            Conn {
                name: w.name.clone(),
                labels: w.labels.clone(),
                capacity: usize::try_from(w.capacity.max(1)).unwrap_or(1),
                tx,
                pending: HashMap::new(),
                cancelled: Default::default(),
                draining: false,
            },
        );
    }
    let welcome = ServerMsg::Welcome {
        worker_id: worker::display_id(&w.id),
        name: w.name.clone(),
        credential,
        expires_at: crate::time::rfc3339(expires_at),
        heartbeat_s: s.cfg.heartbeat.as_secs(),
    };
    let mut rotations = 0;
    if send(&mut socket, &welcome).await {
        rotations = run(&s, &mut socket, &mut rx, &w.id, &w.name).await;
    }
    s.fleet.lock().remove(&w.id);
    let id = w.id.clone();
    let _ = with_store(&s.store, move |st| {
        worker::disconnected(st, &ctx("serve".into()), &id, rotations)
    })
    .await;
}

/// The live session; returns how many credential rotations it had.
async fn run(
    s: &Arc<AppState>,
    socket: &mut WebSocket,
    rx: &mut mpsc::UnboundedReceiver<ServerMsg>,
    id: &str,
    name: &str,
) -> u64 {
    let quiet_limit = s.cfg.heartbeat * QUIET_BEATS;
    let mut last_heard = Instant::now();
    // Heartbeats are answered from memory; the store hears of this worker
    // when its credential falls due for rotation, when it acknowledges a
    // new one, and once every LAST_SEEN_EVERY.
    let mut rotated_at = Instant::now();
    let mut seen_at = Instant::now();
    let mut rotations = 0;
    // The heartbeat being rotated. The loop keeps forwarding dispatches and
    // results while it waits; a heartbeat that comes meanwhile only counts
    // as a sign of life (the worker has no newer credential to acknowledge).
    let mut rotation: Option<Rotation> = None;
    // One timer for the session, moved only when it fires early (a new
    // timer per frame cost a timer-wheel insert and remove per heartbeat).
    let quiet = tokio::time::sleep(quiet_limit);
    tokio::pin!(quiet);
    loop {
        tokio::select! {
            answer = async {
                match rotation.as_mut() {
                    Some(r) => r.await,
                    None => std::future::pending().await,
                }
            }, if rotation.is_some() => {
                rotation = None;
                seen_at = Instant::now();
                let ack = match answer.unwrap_or_else(|_| Err(Error::internal("the credential rotation thread stopped"))) {
                    Ok(Some((credential, exp))) => {
                        rotations += 1;
                        rotated_at = Instant::now();
                        ServerMsg::HeartbeatAck { credential: Some(credential), expires_at: Some(crate::time::rfc3339(exp)) }
                    }
                    Ok(None) => ServerMsg::HeartbeatAck { credential: None, expires_at: None },
                    Err(e) => {
                        eprintln!("serve: worker {name}: heartbeat failed: {} ({})", e.message, e.code);
                        let _ = send(socket, &ServerMsg::Error { code: e.code, message: e.message }).await;
                        return rotations;
                    }
                };
                if !send(socket, &ack).await {
                    return rotations;
                }
            }
            frame = socket.recv() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Binary(_))) => {
                        let _ = send(socket, &ServerMsg::Error { code: Code::MalformedFrame, message: "binary frames are not part of the protocol".into() }).await;
                        return rotations;
                    }
                    _ => return rotations,
                };
                last_heard = Instant::now();
                let msg: ClientMsg = match serde_json::from_str(&text) {
                    Ok(m) => m,
                    Err(e) => {
                        let _ = send(socket, &ServerMsg::Error { code: Code::MalformedFrame, message: format!("unreadable frame: {e}") }).await;
                        return rotations;
                    }
                };
                match msg {
                    ClientMsg::Heartbeat { ack } => {
                        if rotation.is_some() {
                            continue;
                        }
                        let due = rotated_at.elapsed() >= s.cfg.rotation.every;
                        if ack.is_some() || due || seen_at.elapsed() >= worker::LAST_SEEN_EVERY {
                            rotation = Some(s.rotator.submit(id, ack, due));
                        } else if !send(socket, &ServerMsg::HeartbeatAck { credential: None, expires_at: None }).await {
                            return rotations;
                        }
                    }
                    ClientMsg::Result { id: did, exit_code, stdout, stderr, duration_ms } => {
                        let (waiter, was_cancelled) = {
                            let mut conns = s.fleet.lock();
                            match conns.get_mut(id) {
                                Some(c) => (c.pending.remove(&did), c.cancelled.remove(&did)),
                                None => (None, false),
                            }
                        };
                        if was_cancelled {
                            continue;
                        }
                        match waiter {
                            Some(w) => { let _ = w.send(StepResult { exit_code, stdout, stderr, duration_ms }); }
                            None => {
                                let _ = send(socket, &ServerMsg::Error { code: Code::OutOfOrder, message: format!("no dispatch {did} is waiting") }).await;
                                return rotations;
                            }
                        }
                    }
                    ClientMsg::Enroll { .. } | ClientMsg::Resume { .. } => {
                        let _ = send(socket, &ServerMsg::Error { code: Code::OutOfOrder, message: "already connected".into() }).await;
                        return rotations;
                    }
                }
            }
            out = rx.recv() => {
                let Some(m) = out else { return rotations };
                let revoked = matches!(m, ServerMsg::Revoked { .. });
                if !send(socket, &m).await || revoked {
                    let _ = socket.send(Message::Close(None)).await;
                    return rotations;
                }
            }
            () = &mut quiet => {
                if last_heard.elapsed() >= quiet_limit {
                    return rotations;
                }
                quiet.as_mut().reset((last_heard + quiet_limit).into());
            }
        }
    }
}

/// Tell live sessions of workers marked draining in the store (by a local
/// `worker drain`) that they are; a session already told is left alone.
pub fn pass_on_drains(s: &AppState, store: &mut crate::store::Store) -> Result<()> {
    if s.fleet.is_empty() {
        return Ok(());
    }
    for id in store.read(|tx| tx.workers_draining())? {
        s.fleet.drain(&id);
    }
    Ok(())
}

/// Cut the sockets of workers revoked since the last look (by this serve,
/// a local `worker revoke`, or a token revocation's cascade). Costs one
/// aggregate query unless something was revoked.
pub fn kick_revoked(s: &AppState, store: &mut crate::store::Store) -> Result<()> {
    let now = store.read(|tx| tx.worker_revocation_fingerprint())?;
    let mut seen = s
        .worker_revocations
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if *seen == now {
        return Ok(());
    }
    if !s.fleet.is_empty() {
        // A margin for clocks of other processes a little behind this one.
        let since = seen.1.min(now.1) - 60_000;
        for (id, reason) in store.read(|tx| tx.workers_revoked_since(since))? {
            s.fleet.kick(&id, reason.as_deref().unwrap_or("revoked"));
        }
    }
    *seen = now;
    Ok(())
}

/// Cancels its dispatch when dropped while still armed.
struct CancelOnDrop<'a> {
    fleet: &'a Fleet,
    worker: String,
    id: String,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.fleet.cancel(&self.worker, &self.id);
        }
    }
}

/// Is `name` usable as an environment variable name?
fn env_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(b'A'..=b'Z' | b'a'..=b'z' | b'_'))
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Run a step on a named worker and wait for its result. Authorization
/// (`run` on the worker, `read` on each secret) is the caller's job.
pub async fn dispatch(
    s: &Arc<AppState>,
    actor: &str,
    b: crate::ops::workers::Dispatch,
) -> Result<serde_json::Value> {
    if b.argv.is_empty() {
        return Err(Error::usage("nothing to run: give the command after --"));
    }
    let timeout = b.timeout.unwrap_or(crate::ops::workers::DISPATCH_TIMEOUT);
    let mut env = BTreeMap::new();
    for name in &b.secrets {
        if !env_name(name) {
            return Err(Error::usage(format!(
                "secret name '{name}' is not a valid environment variable name"
            )));
        }
        let value = s.secrets.get(name).ok_or_else(|| {
            Error::not_found(format!("no secret named {name} in serve's --secrets-file"))
        })?;
        env.insert(name.clone(), value.clone());
    }
    let (wid, tx, rx, did) = {
        let mut conns = s.fleet.lock();
        let (wid, conn) = conns
            .iter_mut()
            .find(|(_, c)| c.name == b.to && !c.draining)
            .ok_or_else(|| {
                Error::not_found(format!("no connected worker named {}", b.to))
                    .with_hint("see `worker list`")
            })?;
        if conn.pending.len() >= conn.capacity {
            return Err(Error::new(
                crate::error::Exit::Conflict,
                Code::WorkerBusy,
                format!(
                    "worker {} is running {} step(s), its --capacity",
                    b.to,
                    conn.pending.len()
                ),
            )
            .with_hint("retry later, or use --select to pick any worker with room"));
        }
        let did = format!("dsp_{}", crate::credential::random_id());
        let (tx, rx) = oneshot::channel();
        conn.pending.insert(did.clone(), tx);
        (wid.clone(), conn.tx.clone(), rx, did)
    };
    let (w2, d2, a2, argv_json, names) = (
        wid.clone(),
        did.clone(),
        actor.to_owned(),
        json!(b.argv).to_string(),
        b.secrets.clone(),
    );
    with_store(&s.store, move |st| {
        let now = crate::time::now_ms();
        st.write(|t| {
            t.insert_dispatch(&d2, &w2, &argv_json, &json!(names).to_string(), &a2, now)?;
            for n in &names {
                let e = NewEvent::new(types::SECRET_RESOLVED, &a2, Some(format!("vault:{n}"))).details(json!({"dispatch": d2}));
                t.append_audit(e, now)?;
            }
            let e = NewEvent::new(types::DISPATCH_SENT, &a2, Some(d2.clone())).details(json!({"worker": worker::display_id(&w2), "argv0": serde_json::from_str::<Vec<String>>(&argv_json).ok().and_then(|v| v.first().cloned()), "secrets": names}));
            t.append_audit(e, now).map(|_| ())
        })
    })
    .await?;
    let _ = tx.send(ServerMsg::Dispatch {
        id: did.clone(),
        argv: b.argv.clone(),
        env: env.clone(),
        stdin: b.stdin,
        timeout_s: timeout.as_secs().max(1),
    });
    // If the caller goes away (or we give up waiting), cancel the step.
    let mut guard = CancelOnDrop {
        fleet: &s.fleet,
        worker: wid.clone(),
        id: did.clone(),
        armed: true,
    };
    let result = tokio::time::timeout(timeout + Duration::from_secs(15), rx)
        .await
        .map_err(|_| {
            Error::new(
                crate::error::Exit::Unavailable,
                Code::DispatchTimeout,
                "the worker did not answer in time",
            )
        })?
        .map_err(|_| {
            Error::new(
                crate::error::Exit::Unavailable,
                Code::WorkerLost,
                "the worker disconnected before answering",
            )
        })?;
    guard.armed = false;
    s.metrics
        .dispatches
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let values: Vec<String> = env.values().cloned().collect();
    let (out_r, err_r) = (
        worker::redact(&result.stdout, &values),
        worker::redact(&result.stderr, &values),
    );
    let (d3, code, dur) = (did.clone(), result.exit_code, result.duration_ms);
    with_store(&s.store, move |st| {
        let now = crate::time::now_ms();
        st.write(|t| {
            t.finish_dispatch(&d3, i64::from(code), &out_r, &err_r, dur as i64, now)?;
            let e = NewEvent::new(types::DISPATCH_FINISHED, "serve", Some(d3.clone()))
                .outcome(if code == 0 { "success" } else { "failure" })
                .details(json!({"exit_code": code, "duration_ms": dur}));
            t.append_audit(e, now).map(|_| ())
        })
    })
    .await?;
    Ok(json!({
        "id": did,
        "worker": worker::display_id(&wid),
        "exit_code": result.exit_code,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "duration_ms": result.duration_ms,
    }))
}
