//! `serve`: the orchestrator's HTTPS API (DESIGN §6). The router is built by
//! [`router`] so tests can drive it in-process or over a real socket.

mod access_log;
mod api_error;
pub mod auth;
mod caller;
pub mod config;
mod extract;
pub mod fleet;
mod guard;
mod handlers;
pub mod pool;
mod rotator;
pub mod router;
mod signed;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::json;

use crate::audit::NewEvent;
use crate::error::{Error, Result};
use crate::policy::engine::Compiled;
use crate::store::Store;
use crate::token::Ctx;

pub use config::{ServeConfig, ServeFlags};

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub auth_failures: AtomicU64,
    pub throttled: AtomicU64,
    pub decisions_allow: AtomicU64,
    pub decisions_deny: AtomicU64,
    pub dispatches: AtomicU64,
}

/// Everything a request handler can reach.
pub struct AppState {
    pub cfg: ServeConfig,
    pub store: Arc<pool::Pool>,
    pub policy: ArcSwap<Compiled>,
    pub auth: auth::Authenticator,
    pub metrics: Metrics,
    /// Live worker connections.
    pub fleet: fleet::Fleet,
    /// Rotates credentials for heartbeats, many per transaction.
    pub rotator: rotator::Rotator,
    /// `--secrets-file`: name → value. Only ever sent inside a dispatch.
    pub secrets: std::collections::BTreeMap<String, String>,
    /// The snapshot version the enforced policy was compiled from.
    loaded: Mutex<Option<i64>>,
    /// Revocation fingerprint seen last, to drop cached credentials.
    revocations: Mutex<(i64, i64)>,
    /// Worker revocation fingerprint seen last, to cut revoked workers' sockets.
    worker_revocations: Mutex<(i64, i64)>,
    /// Admission to argon2 work: see [`with_slow_slot`].
    slow: tokio::sync::Semaphore,
    /// On PostgreSQL: this replica's id (its sessions and its workers carry it).
    pub replica: Option<String>,
    /// Dispatches relayed to and from other replicas.
    pub relays: fleet::relay::Relays,
    /// When this replica last marked the workers of dead replicas
    /// disconnected.
    reaped: Mutex<std::time::Instant>,
}

/// How often a replica looks for replicas that died holding workers.
const REAP_EVERY: Duration = Duration::from_secs(2);

/// Requests waiting for the store. The credential rotation thread steps
/// aside between its chunks while any is waiting, so a dispatch or an API
/// call never queues behind a whole batch of heartbeats.
pub(crate) static STORE_WAITERS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// The shared store as an operation reaches it inside serve: locked for
/// each read or write, counted as waiting (see [`STORE_WAITERS`]) while it
/// waits for the lock.
pub(crate) struct Shared<'a>(pub(crate) &'a pool::Pool);

impl crate::store::Access for Shared<'_> {
    fn with<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        STORE_WAITERS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut s = self.0.lock();
        STORE_WAITERS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        f(&mut s)
    }
}

/// Run a closure on the store off the async threads.
pub async fn with_store<T: Send + 'static>(
    store: &Arc<pool::Pool>,
    f: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
) -> Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        STORE_WAITERS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut s = store.lock();
        STORE_WAITERS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        f(&mut s)
    })
    .await
    .map_err(|e| Error::internal(format!("worker thread failed: {e}")))?
}

/// Blocking work that verifies or hashes a secret (argon2) in flight at
/// once. The argon2 pool itself has one thread per core; requests beyond
/// this wait here as cheap async tasks instead of each holding a blocking
/// thread (and its malloc arena) while they queue for the pool, so an
/// enrolment storm of thousands of machines costs queue slots, not memory.
pub fn slow_slots() -> usize {
    crate::credential::argon2_threads() * 2
}

/// Run `f`, which does argon2 work, on a blocking thread once one of the
/// [`slow_slots`] is free.
pub async fn with_slow_slot<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let _slot = state
        .slow
        .acquire()
        .await
        .map_err(|e| Error::internal(format!("the argon2 queue closed: {e}")))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("worker thread failed: {e}")))
}

/// What serve enforces ([`crate::grant::load_policy`]) and the snapshot
/// version it was compiled from (none when no snapshot is active: the
/// compiled policy is then labelled 0, a version no snapshot has).
fn load_policy(store: &mut Store) -> Result<(Compiled, Option<i64>)> {
    let compiled = crate::grant::load_policy(store, false, None)?;
    let version = compiled.version();
    Ok((compiled, (version != 0).then_some(version)))
}

impl AppState {
    /// Reload the enforced policy if the active snapshot moved (e.g. a
    /// local `reload` on the state file); drop cached credentials if any
    /// token was revoked. Called by the watcher and after API changes.
    pub fn refresh(&self) -> Result<()> {
        let mut store = self.store.lock();
        let (active, revs) = store.watch_state()?;
        {
            let mut seen = self.revocations.lock().unwrap_or_else(|p| p.into_inner());
            if *seen != revs {
                *seen = revs;
                self.auth.forget(None);
            }
        }
        fleet::kick_revoked(self, &mut store)?;
        fleet::pass_on_drains(self, &mut store)?;
        if self.replica.is_some() {
            let mut reaped = self.reaped.lock().unwrap_or_else(|p| p.into_inner());
            if reaped.elapsed() >= REAP_EVERY {
                *reaped = std::time::Instant::now();
                store.reset_worker_statuses()?;
            }
        }
        let loaded = *self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if loaded != active {
            self.swap_policy(&mut store)?;
        }
        Ok(())
    }

    /// Recompile and publish the enforced policy now.
    pub fn swap_policy(&self, store: &mut Store) -> Result<()> {
        let (compiled, active) = load_policy(store)?;
        self.policy.store(Arc::new(compiled));
        *self.loaded.lock().unwrap_or_else(|p| p.into_inner()) = active;
        Ok(())
    }
}

/// Build the shared state: open the store, materialize admins, load the policy.
pub fn prepare(cfg: ServeConfig) -> Result<Arc<AppState>> {
    // Several replicas may share a PostgreSQL state: this one gets a name.
    let replica = crate::store::is_database_url(&cfg.state).then(crate::credential::random_id);
    // Every connection of the pool is set up alike.
    let open = || -> Result<Store> {
        let mut s = Store::open_at(&cfg.state, cfg.state_key.as_deref())?;
        s.set_audit_source("serve");
        if let Some(r) = &replica {
            s.set_replica(r)?;
        }
        Ok(s)
    };
    let mut store = open()?;
    let ctx = Ctx::new("serve", crate::time::now_ms());
    let admins: Vec<String> = cfg.admins.iter().map(|p| p.to_string()).collect();
    crate::grant::materialize_admins(&mut store, &admins, &ctx)?;
    store.reset_worker_statuses()?;
    let (compiled, active) = load_policy(&mut store)?;
    let revs = store.token_revocations()?;
    let worker_revs = store.worker_revocations()?;
    let secrets = cfg.secrets.0.clone();
    let auth = auth::Authenticator::new(
        cfg.auth,
        store.pepper(),
        cfg.jwt_secret.as_deref(),
        cfg.users.clone(),
    );
    let store = Arc::new(pool::Pool::new(store, open)?);
    let rotation = cfg.rotation;
    Ok(Arc::new(AppState {
        cfg,
        rotator: rotator::Rotator::start(store.clone(), rotation)?,
        store,
        policy: ArcSwap::from_pointee(compiled),
        auth,
        metrics: Metrics::default(),
        fleet: fleet::Fleet::default(),
        secrets,
        loaded: Mutex::new(active),
        revocations: Mutex::new(revs),
        worker_revocations: Mutex::new(worker_revs),
        slow: tokio::sync::Semaphore::new(slow_slots()),
        replica,
        relays: fleet::relay::Relays::default(),
        reaped: Mutex::new(std::time::Instant::now()),
    }))
}

/// The axum router over prepared state.
pub fn router(state: Arc<AppState>) -> axum::Router {
    router::routes(state)
}

/// Record serve's start (or refusal) in the audit trail.
pub fn audit_start(
    store: &mut Store,
    kind: &'static str,
    details: serde_json::Value,
) -> Result<()> {
    let e = NewEvent::new(kind, "serve", Some("serve".into())).details(details);
    store.append_event(e, crate::time::now_ms())
}

/// Bind, announce, serve until SIGTERM/SIGINT, then drain for up to 5 s.
pub fn run(cfg: ServeConfig) -> Result<()> {
    crate::tls::init();
    // Store work is serialized by one connection anyway, and argon2 runs on
    // its own pool (admitted by `with_slow_slot`, which holds at most
    // `slow_slots()` of these threads): a small blocking pool leaves room
    // for store work during an enrolment burst without growing malloc arenas.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the runtime", e))?;
    rt.block_on(async move {
        if cfg.auth.is_none() {
            eprintln!("serve: warning: --auth-mode none is deprecated and only allowed on loopback: every caller is an administrator");
        }
        if let Some(w) = config::ensure_open_files(cfg.max_workers) {
            eprintln!("{w}");
        }
        let tls = cfg.tls.clone();
        let host = cfg.host.trim_start_matches('[').trim_end_matches(']').to_owned();
        // Store work blocks (PostgreSQL's client runs its own event loop):
        // off the async machinery, as every request's store work is.
        let state = tokio::task::block_in_place(|| prepare(cfg))?;
        let addr: SocketAddr = tokio::net::lookup_host((host.as_str(), state.cfg.port))
            .await
            .map_err(|e| Error::io(format!("cannot resolve {host}"), e))?
            .next()
            .ok_or_else(|| Error::usage(format!("cannot resolve {host}")))?;
        let listener = std::net::TcpListener::bind(addr).map_err(|e| Error::io(format!("cannot bind {addr}"), e))?;
        listener.set_nonblocking(true).map_err(|e| Error::io("socket setup", e))?;
        let local = listener.local_addr().map_err(|e| Error::io("socket setup", e))?;
        tokio::task::block_in_place(|| {
            let mut store = state.store.lock();
            audit_start(
                &mut store,
                crate::audit::types::SERVE_STARTED,
                json!({"addr": local.to_string(), "tls": tls.is_some(), "auth_mode": state.cfg.auth.describe(),
                       "admins": state.cfg.admins.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                       "grant_reload": if state.cfg.auto_reload { "auto" } else { "manual" }}),
            )
        })?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        // The one line on stdout: where to connect. Logs go to stderr.
        println!("{{\"listening\":\"{scheme}://{local}\"}}");
        eprintln!("serve: listening on {scheme}://{local}");

        fleet::relay::start(&state)?;
        if let Some(r) = &state.replica {
            eprintln!("serve: replica {r} on a shared PostgreSQL state");
        }
        let watcher = {
            let state = state.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    let s = state.clone();
                    let _ = tokio::task::spawn_blocking(move || s.refresh()).await;
                }
            })
        };
        {
            let checkpointer = state.store.lock().separate_checkpoints()?;
            let state = Arc::downgrade(&state);
            if let Some(checkpointer) = checkpointer {
            std::thread::Builder::new()
                .name("moat-checkpoint".into())
                .spawn(move || {
                    while state.upgrade().is_some() {
                        std::thread::sleep(Duration::from_millis(500));
                        if let Err(e) = checkpointer.run() {
                            eprintln!("serve: WAL checkpoint failed: {}", e.message);
                        }
                    }
                })
                .map_err(|e| Error::io("starting the checkpoint thread", e))?;
            }
        }
        let handle = axum_server::Handle::new();
        {
            let handle = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                eprintln!("serve: shutting down");
                handle.graceful_shutdown(Some(Duration::from_secs(5)));
            });
        }
        let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let served = match tls {
            Some((cert, key)) => {
                let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                    .await
                    .map_err(|e| Error::io(format!("loading TLS certificate {}", cert.display()), e))?;
                let mut server = axum_server::from_tcp_rustls(listener, config)
                    .map_err(|e| Error::io("socket setup", e))?
                    .handle(handle);
                server.http_builder().http1().max_buf_size(router::HTTP_BUFFER);
                server.serve(app).await
            }
            None => {
                let mut server = axum_server::from_tcp(listener)
                    .map_err(|e| Error::io("socket setup", e))?
                    .handle(handle);
                server.http_builder().http1().max_buf_size(router::HTTP_BUFFER);
                server.serve(app).await
            }
        };
        watcher.abort();
        access_log::flush();
        served.map_err(|e| Error::io("serving", e))
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
