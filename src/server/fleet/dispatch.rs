//! `POST /v1/dispatches`: send a step with only the secrets it names to a
//! connected worker and wait for its result.

use super::*;

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

/// Run a step on a named worker and wait for its result: on this replica
/// when it holds the worker's socket, else relayed to the replica that does
/// (PostgreSQL). Authorization (`run` on the worker, `read` on each secret)
/// is the caller's job.
pub async fn dispatch(
    s: &Arc<AppState>,
    actor: &str,
    b: crate::ops::workers::Dispatch,
) -> Result<serde_json::Value> {
    if s.replica.is_some() && !b.to.is_empty() && !s.fleet.holds(&b.to) {
        return super::relay::send(s, actor, b).await;
    }
    dispatch_here(s, actor, b).await
}

/// Run a step on a worker whose socket this replica holds.
pub async fn dispatch_here(
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
    let (w2, d2, a2, argv, names) = (
        wid.clone(),
        did.clone(),
        actor.to_owned(),
        b.argv.clone(),
        b.secrets.clone(),
    );
    with_store(&s.store, move |st| {
        let now = crate::time::now_ms();
        worker::dispatch::record_sent(st, &a2, &d2, &w2, &argv, &names, now)
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
        worker::dispatch::record_finished(st, &d3, code, &out_r, &err_r, dur, now)
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
