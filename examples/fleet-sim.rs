//! Fleet simulator: N simulated workers (real WebSocket clients speaking the
//! worker protocol, as async tasks on one thread, not one OS thread each)
//! against a real `serve`, through the life of a fleet: an enrolment storm,
//! an idle hold, dispatches, then `serve` killed and restarted under them
//! (the reconnect storm).
//!
//! It reports serve's RSS and CPU, the state file's growth and the audit
//! events appended while the fleet idles (both per hour), dispatch latency,
//! and how long all workers took to resume after the restart.
//!
//! With `--state postgres://...` (and MOAT_KEY_FILE) and `--replicas R`,
//! R serve replicas share the database and worker i connects to replica
//! i mod R; each replica's RSS and CPU are reported, and PostgreSQL's
//! (every process named `postgres` on the machine: proportional set size,
//! so shared buffers count once); dispatches all go to the first replica,
//! which relays those for the other replicas' workers.
//!
//! Usage: cargo run --release --example fleet-sim -- --workers N
//! (expects target/release/serve; scripts/bench-fleet builds it)

use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const SECRET: &str = "fleet-sim-jwt-secret-of-at-least-32-bytes";

#[derive(Parser)]
struct Args {
    /// Simulated workers.
    #[arg(long, default_value_t = 1000)]
    workers: usize,
    /// Seconds to hold the idle fleet while measuring.
    #[arg(long, default_value_t = 120)]
    hold: u64,
    /// serve's --rotate-every (its default is 10m).
    #[arg(long, default_value = "10m")]
    rotate_every: String,
    /// Dispatches to send after the hold.
    #[arg(long, default_value_t = 500)]
    dispatches: usize,
    /// Enrolments in flight at once (machines booting together).
    #[arg(long, default_value_t = 256)]
    enrol_concurrency: usize,
    /// Skip the kill-and-restart phase.
    #[arg(long)]
    no_restart: bool,
    /// A `postgres://` state URL (an empty database) instead of a new
    /// SQLite file; the key file comes from MOAT_KEY_FILE.
    #[arg(long)]
    state: Option<String>,
    /// serve replicas on the state (more than one needs PostgreSQL).
    #[arg(long, default_value_t = 1)]
    replicas: usize,
}

/// What the simulated workers count, shared by all of them.
#[derive(Default)]
struct Counts {
    connected: AtomicUsize,
    enrolled: AtomicUsize,
    resumed: AtomicUsize,
    rotations: AtomicUsize,
    refused: AtomicUsize,
    revoked: AtomicUsize,
    reconnects: AtomicUsize,
    stop: AtomicBool,
}

struct Sim {
    /// The replicas; worker i connects to `addrs[i % len]`.
    addrs: Vec<SocketAddr>,
    token: String,
    counts: Counts,
    enrol_slots: tokio::sync::Semaphore,
    /// Why sessions failed, and how often.
    errors: std::sync::Mutex<std::collections::BTreeMap<String, usize>>,
}

/// /proc/<pid>: (CPU ticks, RSS kB, peak RSS kB).
fn proc_stat(pid: u32) -> (u64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<u64> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (ticks, kb("VmRSS:"), kb("VmHWM:"))
}

/// PostgreSQL's CPU ticks and proportional set size in kB: every process
/// named `postgres` (the benchmark's cluster is the machine's only one).
fn postgres_stat() -> (u64, u64) {
    let mut total = (0, 0);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() != "postgres" {
            continue;
        }
        let (ticks, _, _) = proc_stat(pid);
        let pss = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("Pss:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        total.0 += ticks;
        total.1 += pss;
    }
    total
}

fn open_state(state: &Path) -> moat::Result<moat::store::Store> {
    moat::store::Store::open_at(state, moat::env::key_file().as_deref())
}

/// The state in bytes: an SQLite file with its write-ahead log, or the
/// PostgreSQL database's size.
fn state_bytes(state: &Path) -> u64 {
    if moat::store::is_database_url(state) {
        return open_state(state)
            .and_then(|mut s| s.read(|tx| tx.space()))
            .map_or(0, |(size, _)| size);
    }
    ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", state.display())).ok())
        .map(|m| m.len())
        .sum()
}

fn audit_seq(state: &Path) -> i64 {
    open_state(state)
        .and_then(|mut s| s.read(|tx| tx.audit_head()))
        .ok()
        .flatten()
        .map_or(0, |h| h.seq)
}

fn start_serve(state: &Path, port: u16, rotate_every: &str, log: &Path) -> (Child, SocketAddr) {
    let serve_bin = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("serve");
    let mut child = Command::new(&serve_bin)
        .env_clear()
        .env("MOAT_STATE", state)
        .envs(std::env::var_os("MOAT_KEY_FILE").map(|v| ("MOAT_KEY_FILE", v)))
        .env("MOAT_JWT_SECRET", SECRET)
        .envs(std::env::var("TOKIO_WORKER_THREADS").map(|v| ("TOKIO_WORKER_THREADS", v)))
        .args(["--port", &port.to_string(), "--auth-mode", "jwt"])
        .args(["--rotate-every", rotate_every])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let listening = serde_json::from_str::<Value>(&line).unwrap_or(Value::Null)["listening"]
        .as_str()
        .unwrap_or_else(|| panic!("serve did not start: {line}"))
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    (child, listening)
}

enum End {
    Lost,
    Done,
}

/// One simulated worker for the whole run: enrol, then resume after every
/// lost connection, waiting between attempts as the real worker does.
async fn worker(sim: Arc<Sim>, i: usize) {
    let mut credential: Option<String> = None;
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        match session(&sim, i, &mut credential).await {
            Ok(End::Done) => return,
            Ok(End::Lost) => {}
            Err(e) => {
                let mut errors = sim.errors.lock().unwrap();
                *errors.entry(e.to_string()).or_default() += 1;
            }
        }
        if sim.counts.stop.load(Ordering::Relaxed) {
            return;
        }
        if started.elapsed() > Duration::from_secs(30) {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        sim.counts.reconnects.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(moat::worker::client::reconnect_delay(failures)).await;
    }
}

async fn session(
    sim: &Sim,
    i: usize,
    credential: &mut Option<String>,
) -> Result<End, Box<dyn std::error::Error>> {
    let c = &sim.counts;
    let _slot = match credential {
        None => Some(sim.enrol_slots.acquire().await?),
        Some(_) => None,
    };
    // Spread sources over loopback addresses: one address has ~28,000
    // ephemeral ports, and a restart leaves many in TIME_WAIT.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + (i % 64) as u8)),
        0,
    ))?;
    let addr = sim.addrs[i % sim.addrs.len()];
    let stream = socket.connect(addr).await?;
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let url = format!("ws://{addr}/v1/workers/connect");
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?;
    let hello = match credential {
        None => json!({"type": "enroll", "token": sim.token, "machine_id": format!("sim-{i:06}"),
                       "instance": "sim", "protocol": moat::worker::PROTOCOL, "version": "sim",
                       "labels": {"name": format!("sim-{i}")}, "capacity": 1}),
        Some(cred) => {
            json!({"type": "resume", "credential": cred, "machine_id": format!("sim-{i:06}"),
                             "instance": "sim", "protocol": moat::worker::PROTOCOL})
        }
    };
    ws.send(Message::text(hello.to_string())).await?;
    let heartbeat = match ws.next().await {
        Some(Ok(Message::Text(t))) => {
            let v: Value = serde_json::from_str(&t)?;
            if v["type"] != "welcome" {
                c.refused.fetch_add(1, Ordering::Relaxed);
                eprintln!("worker {i}: refused: {t}");
                return Ok(End::Done);
            }
            match credential {
                None => c.enrolled.fetch_add(1, Ordering::Relaxed),
                Some(_) => c.resumed.fetch_add(1, Ordering::Relaxed),
            };
            *credential = v["credential"].as_str().map(str::to_owned);
            Duration::from_secs(v["heartbeat_s"].as_u64().unwrap_or(2))
        }
        _ => return Ok(End::Lost),
    };
    drop(_slot);
    c.connected.fetch_add(1, Ordering::Relaxed);
    let end = beat(sim, &mut ws, heartbeat, credential).await;
    c.connected.fetch_sub(1, Ordering::Relaxed);
    end
}

async fn beat<S>(
    sim: &Sim,
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
    heartbeat: Duration,
    credential: &mut Option<String>,
) -> Result<End, Box<dyn std::error::Error>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let c = &sim.counts;
    let mut ack: Option<String> = None;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if c.stop.load(Ordering::Relaxed) {
            return Ok(End::Done);
        }
        tokio::select! {
            _ = tick.tick() => {
                ws.send(Message::text(json!({"type": "heartbeat", "ack": ack.take()}).to_string())).await?;
            }
            frame = ws.next() => {
                let Some(Ok(frame)) = frame else { return Ok(End::Lost) };
                let Message::Text(t) = frame else { continue };
                let v: Value = serde_json::from_str(&t)?;
                match v["type"].as_str() {
                    Some("heartbeat_ack") => {
                        if let Some(cred) = v["credential"].as_str() {
                            c.rotations.fetch_add(1, Ordering::Relaxed);
                            ack = cred.split('_').nth(1).map(str::to_owned);
                            *credential = Some(cred.to_owned());
                        }
                    }
                    Some("dispatch") => {
                        let r = json!({"type": "result", "id": v["id"], "exit_code": 0, "stdout": "ok\n",
                                       "stderr": "", "duration_ms": 0});
                        ws.send(Message::text(r.to_string())).await?;
                    }
                    Some("revoked") => {
                        c.revoked.fetch_add(1, Ordering::Relaxed);
                        return Ok(End::Done);
                    }
                    _ => {}
                }
            }
        }
    }
}

fn wait_connected(c: &Counts, n: usize, limit: Duration) -> Duration {
    let t = Instant::now();
    while c.connected.load(Ordering::Relaxed) < n && t.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
    t.elapsed()
}

fn pct(v: &[Duration], p: usize) -> f64 {
    v.get((v.len() * p / 100).min(v.len().saturating_sub(1)))
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}

/// Dispatch round-trips to random workers through the first replica, each
/// beside a `GET /healthz` (the same HTTP path without the store or a
/// worker): `(to its own workers, relayed to other replicas', healthz)`.
fn dispatch(
    base: &str,
    n: usize,
    replicas: usize,
    count: usize,
) -> (Vec<Duration>, Vec<Duration>, Vec<Duration>) {
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "sim", "role": "admin", "exp": moat::time::now_ms() / 1000 + 3600}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let (mut local, mut relayed, mut health) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..count {
        let w = (i * 7919) % n;
        let t = Instant::now();
        let mut r = agent
            .post(format!("{base}/v1/dispatches"))
            .header("authorization", format!("Bearer {jwt}"))
            .send_json(json!({"to": format!("sim-{w}"), "argv": ["true"]}))
            .unwrap();
        let _ = r.body_mut().read_to_string();
        if r.status() == 200 {
            match w % replicas {
                0 => local.push(t.elapsed()),
                _ => relayed.push(t.elapsed()),
            }
        }
        let t = Instant::now();
        if let Ok(mut r) = agent.get(format!("{base}/healthz")).call() {
            let _ = r.body_mut().read_to_string();
            health.push(t.elapsed());
        }
    }
    local.sort();
    relayed.sort();
    health.sort();
    (local, relayed, health)
}

fn run(args: Args, state: PathBuf, dir: PathBuf, sim_slot: Arc<std::sync::OnceLock<Arc<Sim>>>) {
    let n = args.workers;
    let r = args.replicas.max(1);
    let mut children = Vec::new();
    let mut addrs = Vec::new();
    for k in 0..r {
        let log = dir.join(format!("serve-{k}.log"));
        let (child, addr) = start_serve(&state, 0, &args.rotate_every, &log);
        children.push(child);
        addrs.push(addr);
    }
    let base = format!("http://{}", addrs[0]);
    let token = {
        let mut store = open_state(&state).unwrap();
        let ctx = moat::token::Ctx::new("sim", moat::time::now_ms());
        let req = moat::token::CreateRequest {
            kind: moat::credential::CredentialKind::Enrol,
            ttl: Some(Duration::from_secs(3600)),
            allow_long_ttl: false,
            max_uses: Some(moat::token::MaxUses::Unlimited),
            label: None,
            principal: None,
            scopes: vec![],
            public_key: None,
        };
        moat::token::create(&mut store, &ctx, &req)
            .unwrap()
            .token
            .unwrap()
    };
    let sim = Arc::new(Sim {
        addrs: addrs.clone(),
        token,
        counts: Counts::default(),
        enrol_slots: tokio::sync::Semaphore::new(args.enrol_concurrency),
        errors: Default::default(),
    });
    let _ = sim_slot.set(sim.clone());
    let c = &sim.counts;
    let stats = |children: &[Child]| -> Vec<(u64, u64, u64)> {
        children.iter().map(|ch| proc_stat(ch.id())).collect()
    };

    // 1. Enrolment storm.
    let enrol_time = wait_connected(c, n, Duration::from_secs(900));
    let enrol_peaks: Vec<u64> = stats(&children).iter().map(|s| s.2).collect();
    eprintln!(
        "{} of {n} enrolled in {:.1} s ({:.0}/s), serve peak RSS {:?} MB",
        c.enrolled.load(Ordering::Relaxed),
        enrol_time.as_secs_f64(),
        n as f64 / enrol_time.as_secs_f64(),
        enrol_peaks.iter().map(|p| p / 1024).collect::<Vec<_>>()
    );

    for (e, k) in sim.errors.lock().unwrap().iter() {
        eprintln!("  while enrolling, {k} sessions failed: {e}");
    }

    // 2. The idle fleet. Let the first last_seen_at writes and the enrolment
    // burst's threads settle, then measure.
    std::thread::sleep(Duration::from_secs(10));
    let before = stats(&children);
    let pg0 = postgres_stat();
    let (bytes0, seq0, rot0) = (
        state_bytes(&state),
        audit_seq(&state),
        c.rotations.load(Ordering::Relaxed),
    );
    let window = Instant::now();
    // The state file's size each minute: growth that levels off is
    // bounded, growth that keeps its pace is not.
    while window.elapsed() < Duration::from_secs(args.hold) {
        let left = Duration::from_secs(args.hold).saturating_sub(window.elapsed());
        std::thread::sleep(left.min(Duration::from_secs(60)));
        eprintln!(
            "  {:>4.0} s: state {} B, audit seq {}, rotations {}",
            window.elapsed().as_secs_f64(),
            state_bytes(&state),
            audit_seq(&state),
            c.rotations.load(Ordering::Relaxed)
        );
    }
    let secs = window.elapsed().as_secs_f64();
    let after = stats(&children);
    let pg1 = postgres_stat();
    let (bytes1, seq1, rot1) = (
        state_bytes(&state),
        audit_seq(&state),
        c.rotations.load(Ordering::Relaxed),
    );
    let cpus: Vec<f64> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a.0 - b.0) as f64 / 100.0 / secs)
        .collect();
    let cpu: f64 = cpus.iter().sum();
    let rss1: u64 = after.iter().map(|a| a.1).sum();
    let pg_cpu = pg1.0.saturating_sub(pg0.0) as f64 / 100.0 / secs;
    let per_hour = 3600.0 / secs;
    let growth_mb_h = (bytes1 as f64 - bytes0 as f64) / 1e6 * per_hour;
    let audit_h = (seq1 - seq0) as f64 * per_hour;
    eprintln!(
        "idle {secs:.0} s: CPU {cpu:.3} cores, RSS {} → {} MB, state {bytes0} → {bytes1} B, audit +{}, rotations {}",
        before.iter().map(|b| b.1).sum::<u64>() / 1024,
        rss1 / 1024,
        seq1 - seq0,
        rot1 - rot0
    );

    // 3. Dispatches.
    let (lat, relayed, health) = dispatch(&base, n, r, args.dispatches);
    eprintln!(
        "dispatch p50 {:.2} p99 {:.2} ms ({} ok); relayed p50 {:.2} p99 {:.2} ms ({} ok)",
        pct(&lat, 50),
        pct(&lat, 99),
        lat.len(),
        pct(&relayed, 50),
        pct(&relayed, 99),
        relayed.len()
    );

    // 4. Kill the first replica under its workers and start it again on
    // the same port.
    let mut storm = None;
    if !args.no_restart {
        let (resumed0, enrolled0) = (
            c.resumed.load(Ordering::Relaxed),
            c.enrolled.load(Ordering::Relaxed),
        );
        let held = n.div_ceil(r);
        let _ = children[0].kill();
        let _ = children[0].wait();
        let t = Instant::now();
        while c.connected.load(Ordering::Relaxed) > n - held
            && t.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let log = dir.join("serve-0.log");
        let (restarted, _) = start_serve(&state, addrs[0].port(), &args.rotate_every, &log);
        children[0] = restarted;
        let back = wait_connected(c, n, Duration::from_secs(120));
        std::thread::sleep(Duration::from_secs(2));
        let (_, rss_after, _) = proc_stat(children[0].id());
        storm = Some((
            back,
            c.resumed.load(Ordering::Relaxed) - resumed0,
            c.enrolled.load(Ordering::Relaxed) - enrolled0,
            rss_after,
        ));
        eprintln!(
            "restart: {} resumed in {:.1} s",
            c.resumed.load(Ordering::Relaxed) - resumed0,
            back.as_secs_f64()
        );
    }

    let connected_end = c.connected.load(Ordering::Relaxed);
    c.stop.store(true, Ordering::Relaxed);
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }

    println!(
        "| workers | replicas | enrolled | enrol rate | serve peak RSS (enrolment) | idle RSS | idle CPU | state growth | audit events | rotations seen | dispatch p50 / p95 / p99 | `/healthz` p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {r} | {} | {:.0}/s | {} MB | {} MB | {cpu:.3} cores | {growth_mb_h:.2} MB/h | {audit_h:.0}/h | {} in {secs:.0} s | {:.2} / {:.2} / {:.2} ms ({}/{}) | {:.2} ms |",
        c.enrolled.load(Ordering::Relaxed),
        n as f64 / enrol_time.as_secs_f64(),
        enrol_peaks.iter().sum::<u64>() / 1024,
        rss1 / 1024,
        rot1 - rot0,
        pct(&lat, 50),
        pct(&lat, 95),
        pct(&lat, 99),
        lat.len(),
        args.dispatches,
        pct(&health, 99),
    );
    if r > 1 {
        println!();
        println!("| process | peak RSS (enrolment) | idle RSS | idle CPU |");
        println!("|---|---|---|---|");
        for k in 0..r {
            println!(
                "| replica {k} ({} workers) | {} MB | {} MB | {:.3} cores |",
                (0..n).filter(|i| i % r == k).count(),
                enrol_peaks[k] / 1024,
                after[k].1 / 1024,
                cpus[k]
            );
        }
        println!(
            "| PostgreSQL (all processes, PSS) | — | {} MB | {pg_cpu:.3} cores |",
            pg1.1 / 1024
        );
        println!(
            "\nrelayed dispatch (first replica to another's worker) p50 / p95 / p99: {:.2} / {:.2} / {:.2} ms ({} ok)",
            pct(&relayed, 50),
            pct(&relayed, 95),
            pct(&relayed, 99),
            relayed.len()
        );
    }
    if let Some((back, resumed, enrolled, rss)) = storm {
        println!();
        println!(
            "| workers on the restarted replica | resumed after restart | re-enrolled | revoked | refused | all back in | its RSS after | connected at end |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        println!(
            "| {} | {resumed} | {enrolled} | {} | {} | {:.1} s | {} MB | {connected_end} |",
            n.div_ceil(r),
            c.revoked.load(Ordering::Relaxed),
            c.refused.load(Ordering::Relaxed),
            back.as_secs_f64(),
            rss / 1024,
        );
    }
    println!(
        "\nserve --rotate-every {}; idle window {secs:.0} s; {} reconnect attempts in all",
        args.rotate_every,
        c.reconnects.load(Ordering::Relaxed)
    );
}

fn main() {
    let args = Args::parse();
    let n = args.workers;
    let dir = tempfile::tempdir().unwrap();
    let state = match &args.state {
        Some(url) => PathBuf::from(url),
        None => dir.path().join("state.db"),
    };
    assert!(
        args.replicas <= 1 || moat::store::is_database_url(&state),
        "--replicas needs a postgres:// --state"
    );
    // The simulated workers: async tasks on one thread, so the simulator
    // takes at most one of the cores it shares with serve.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let slot: Arc<std::sync::OnceLock<Arc<Sim>>> = Arc::default();
    let (s2, d2, st2) = (slot.clone(), dir.path().to_owned(), state.clone());
    let control = std::thread::spawn(move || run(args, st2, d2, s2));
    rt.block_on(async {
        while slot.get().is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let sim = slot.get().unwrap().clone();
        let tasks: Vec<_> = (0..n)
            .map(|i| tokio::spawn(worker(sim.clone(), i)))
            .collect();
        while !control.is_finished() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sim.counts.stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.abort();
        }
    });
    control.join().unwrap();
    // FLEET_SIM_KEEP=1 leaves the state file for a look.
    if std::env::var_os("FLEET_SIM_KEEP").is_some() {
        eprintln!("state kept in {}", dir.keep().display());
    }
}
