//! Dispatches between serve replicas on one PostgreSQL database: the
//! replica a caller reached queues the step for the replica holding the
//! worker's socket (`relays` table, woken by `LISTEN`/`NOTIFY`), that one
//! runs it as its own dispatch and writes the answer back, and the caller's
//! replica returns it. A relay is taken once, so a step never runs twice;
//! when the holder dies first, the caller gets `replica_lost`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};

use super::super::{AppState, with_store};
use crate::error::{Code, Error, Exit, Result};
use crate::ops::workers::Dispatch;
use crate::store::{RELAY_DONE, RELAY_QUEUED};

/// How often a waiting caller's replica checks that the holder is alive
/// (and the answer, should a notification be missed).
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// What the caller's replica sends: who asked (already authorized there)
/// and the step.
#[derive(Serialize, Deserialize)]
struct Request {
    actor: String,
    dispatch: Dispatch,
}

/// What comes back: the dispatch's JSON, or its error.
#[derive(Serialize, Deserialize)]
struct Answer {
    ok: Option<serde_json::Value>,
    code: Option<Code>,
    message: Option<String>,
}

/// This replica's side of relaying.
#[derive(Default)]
pub struct Relays {
    /// Callers waiting here, by relay id.
    waiting: Mutex<HashMap<String, oneshot::Sender<()>>>,
    /// Set when a relay was queued for this replica.
    queued: Notify,
}

impl Relays {
    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<()>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Start relaying when serve is one replica of several (a PostgreSQL
/// state): a thread that listens for notifications and a task that runs
/// the steps queued for this replica. Both end with the state.
pub fn start(state: &Arc<AppState>) -> Result<()> {
    let Some(me) = state.replica.clone() else {
        return Ok(());
    };
    let weak = Arc::downgrade(state);
    let first = tokio::task::block_in_place(|| {
        let store = state.store.lock();
        store.listen(&[RELAY_QUEUED, RELAY_DONE])
    })?;
    std::thread::Builder::new()
        .name("moat-relay-listen".into())
        .spawn(move || listen(weak, me, first))
        .map_err(|e| Error::io("starting the relay listener", e))?;
    let weak = Arc::downgrade(state);
    tokio::spawn(async move { take_loop(weak).await });
    Ok(())
}

fn listen(state: Weak<AppState>, me: String, mut listener: Option<crate::store::pg::Listener>) {
    while let Some(s) = state.upgrade() {
        let Some(l) = listener.as_mut() else {
            // Reconnect after a broken listening connection.
            drop(s);
            std::thread::sleep(Duration::from_secs(1));
            let Some(s) = state.upgrade() else { return };
            let store = s.store.lock();
            listener = store.listen(&[RELAY_QUEUED, RELAY_DONE]).ok().flatten();
            continue;
        };
        match l.next(Duration::from_millis(500)) {
            Ok(Some((channel, payload))) if channel == RELAY_QUEUED => {
                if payload == me {
                    s.relays.queued.notify_one();
                }
            }
            Ok(Some((_, id))) => {
                if let Some(tx) = s.relays.waiting().remove(&id) {
                    let _ = tx.send(());
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("serve: relay listener: {}", e.message);
                listener = None;
            }
        }
    }
}

/// Take and run the relays queued for this replica, when told and once a
/// second besides (a notification can be missed across a reconnect).
async fn take_loop(state: Weak<AppState>) {
    loop {
        let Some(s) = state.upgrade() else { return };
        let queued = s.relays.queued.notified();
        let taken = with_store(&s.store, |st| {
            if !st.read(|tx| tx.relays_waiting())? {
                return Ok(Vec::new());
            }
            st.write_unordered(|tx| tx.take_relays())
        })
        .await;
        match taken {
            Ok(list) => {
                for (id, request) in list {
                    let s = s.clone();
                    tokio::spawn(async move { run_one(&s, id, request).await });
                }
            }
            Err(e) => eprintln!("serve: taking relayed dispatches: {}", e.message),
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), queued).await;
    }
}

/// Run one relayed step here and write its answer back.
async fn run_one(s: &Arc<AppState>, id: String, request: String) {
    let answer = match serde_json::from_str::<Request>(&request) {
        Ok(r) => {
            // The answer crosses the database: secret values never do.
            let values: Vec<String> = r
                .dispatch
                .secrets
                .iter()
                .filter_map(|n| s.secrets.get(n).cloned())
                .collect();
            match super::dispatch::dispatch_here(s, &r.actor, r.dispatch).await {
                Ok(mut v) => {
                    for k in ["stdout", "stderr"] {
                        if let Some(t) = v.get(k).and_then(|t| t.as_str()) {
                            v[k] = crate::worker::redact(t, &values).into();
                        }
                    }
                    Answer {
                        ok: Some(v),
                        code: None,
                        message: None,
                    }
                }
                Err(e) => Answer {
                    ok: None,
                    code: Some(e.code),
                    message: Some(e.message),
                },
            }
        }
        Err(e) => Answer {
            ok: None,
            code: Some(Code::Internal),
            message: Some(format!("a relayed dispatch this replica cannot read: {e}")),
        },
    };
    let text = serde_json::to_string(&answer).unwrap_or_else(|_| "{}".into());
    let r = with_store(&s.store, move |st| {
        st.write_unordered(|tx| tx.finish_relay(&id, &text))
    })
    .await;
    if let Err(e) = r {
        eprintln!("serve: answering a relayed dispatch: {}", e.message);
    }
}

/// Send a step to a worker whose socket another replica holds, and wait
/// for the answer. Authorization was the caller's replica's job.
pub async fn send(s: &Arc<AppState>, actor: &str, b: Dispatch) -> Result<serde_json::Value> {
    let no_worker = || {
        Error::not_found(format!("no connected worker named {}", b.to))
            .with_hint("see `worker list`")
    };
    let name = b.to.clone();
    let holder = with_store(&s.store, move |st| {
        st.read(|tx| match tx.worker_holder(&name)? {
            Some((w, r)) if tx.replica_alive(&r)? => Ok(Some((w, r))),
            _ => Ok(None),
        })
    })
    .await?;
    let Some((worker_id, replica)) = holder.filter(|(_, r)| Some(r) != s.replica.as_ref()) else {
        return Err(no_worker());
    };
    let timeout = b.timeout.unwrap_or(crate::ops::workers::DISPATCH_TIMEOUT);
    let request = serde_json::to_string(&Request {
        actor: actor.to_owned(),
        dispatch: b,
    })
    .map_err(|e| Error::internal(format!("encoding a relay: {e}")))?;
    let id = format!("rly_{}", crate::credential::random_id());
    let (tx, rx) = oneshot::channel();
    let mut rx = Some(rx);
    s.relays.waiting().insert(id.clone(), tx);
    let (i2, r2) = (id.clone(), replica.clone());
    let queued = with_store(&s.store, move |st| {
        st.write_unordered(|tx| {
            tx.queue_relay(&i2, &worker_id, &r2, &request, crate::time::now_ms())
        })
    })
    .await;
    if let Err(e) = queued {
        s.relays.waiting().remove(&id);
        return Err(e);
    }
    let deadline = Instant::now() + timeout + Duration::from_secs(15);
    let outcome = loop {
        match rx.as_mut() {
            Some(r) => {
                if tokio::time::timeout(CHECK_EVERY, r).await.is_ok() {
                    rx = None; // answered (or the sender went): look now
                }
            }
            None => tokio::time::sleep(CHECK_EVERY).await,
        }
        let (i2, r2) = (id.clone(), replica.clone());
        let seen = with_store(&s.store, move |st| {
            st.read(|tx| Ok((tx.relay(&i2)?, tx.replica_alive(&r2)?)))
        })
        .await;
        match seen {
            Ok((Some(r), _)) if r.state == "done" => break Ok(r.result.unwrap_or_default()),
            Ok((_, false)) => {
                break Err(Error::new(
                    Exit::Unavailable,
                    Code::ReplicaLost,
                    "the serve replica holding the worker went away before answering; the step may or may not have run, and is not retried",
                )
                .with_hint("check `worker show` and the audit log, then dispatch again if needed"));
            }
            Ok(_) if Instant::now() > deadline => {
                break Err(Error::new(
                    Exit::Unavailable,
                    Code::DispatchTimeout,
                    "the worker did not answer in time",
                ));
            }
            Ok(_) => {}
            Err(e) => break Err(e),
        }
    };
    s.relays.waiting().remove(&id);
    let i2 = id.clone();
    let _ = with_store(&s.store, move |st| {
        st.write_unordered(|tx| tx.delete_relay(&i2))
    })
    .await;
    let answer: Answer = serde_json::from_str(&outcome?)
        .map_err(|e| Error::internal(format!("reading a relay's answer: {e}")))?;
    match (answer.ok, answer.code) {
        (Some(v), _) => Ok(v),
        (None, code) => {
            let code = code.unwrap_or(Code::Internal);
            Err(Error::new(
                code.exit(),
                code,
                answer.message.unwrap_or_default(),
            ))
        }
    }
}
