//! The fleet: the registry of live worker sockets, and what serve's watcher
//! passes on to them (drains, revocations). The socket session and dispatch
//! live in their own files.

mod dispatch;
pub mod relay;
mod session;

pub use dispatch::dispatch;
pub use session::connect;

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

    /// Whether this replica holds the socket of a worker named `name`.
    pub fn holds(&self, name: &str) -> bool {
        self.lock().values().any(|c| c.name == name)
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

/// Tell live sessions of workers marked draining in the store (by a local
/// `worker drain`) that they are; a session already told is left alone.
pub fn pass_on_drains(s: &AppState, store: &mut crate::store::Store) -> Result<()> {
    if s.fleet.is_empty() {
        return Ok(());
    }
    for id in store.draining_workers()? {
        s.fleet.drain(&id);
    }
    Ok(())
}

/// Cut the sockets of workers revoked since the last look (by this serve,
/// a local `worker revoke`, or a token revocation's cascade). Costs one
/// aggregate query unless something was revoked.
pub fn kick_revoked(s: &AppState, store: &mut crate::store::Store) -> Result<()> {
    let now = store.worker_revocations()?;
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
        for (id, reason) in store.revoked_workers_since(since)? {
            s.fleet.kick(&id, reason.as_deref().unwrap_or("revoked"));
        }
    }
    *seen = now;
    Ok(())
}
