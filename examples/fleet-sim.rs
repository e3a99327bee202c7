//! Fleet simulator: N simulated workers (real WebSocket clients speaking the
//! worker protocol) held connected to a real `serve` with 1 s heartbeats.
//! Reports serve's RSS and CPU while holding them, and the round-trip of
//! dispatches through the HTTP API to the simulated workers (which answer
//! at once, so the figure is serve's overhead, not a step's run time).
//!
//! Usage: cargo run --release --example fleet-sim -- N [SECONDS]
//! (expects target/release/serve; scripts/bench-fleet builds it)

use std::io::BufRead;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::Message;

const SECRET: &str = "fleet-sim-jwt-secret-of-at-least-32-bytes";

fn proc_stat(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = fields
        .get(11)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (ticks, rss_kb)
}

fn simulated_worker(
    url: String,
    token: String,
    i: usize,
    stop: Arc<AtomicBool>,
    connected: Arc<AtomicUsize>,
) {
    // A burst of connects can overflow the listen backlog: retry a few times.
    let mut attempt = 0;
    let mut ws = loop {
        match tungstenite::connect(url.as_str()) {
            Ok((ws, _)) => break ws,
            Err(_) if attempt < 20 => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(200 * attempt));
            }
            Err(_) => return,
        }
    };
    let hello = json!({"type": "enroll", "token": token, "machine_id": format!("sim-{i:06}"), "instance": "sim",
                       "protocol": moat::worker::PROTOCOL, "version": "sim", "labels": {"name": format!("sim-{i}")}, "capacity": 1});
    if ws.send(Message::text(hello.to_string())).is_err() {
        return;
    }
    match ws.read() {
        Ok(Message::Text(t)) if t.contains("welcome") => {}
        _ => return,
    }
    connected.fetch_add(1, Ordering::Relaxed);
    let mut ack: Option<String> = None;
    let mut next = Instant::now() + Duration::from_secs(1);
    while !stop.load(Ordering::Relaxed) {
        // Sleep in read until the next heartbeat is due (a dispatch wakes it),
        // so 5,000 simulated workers do not busy the cores serve runs on.
        let wait = next
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(1), Duration::from_millis(500));
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_mut() {
            let _ = s.set_read_timeout(Some(wait));
        }
        if Instant::now() >= next {
            if ws
                .send(Message::text(
                    json!({"type": "heartbeat", "ack": ack.take()}).to_string(),
                ))
                .is_err()
            {
                break;
            }
            next += Duration::from_secs(1);
        }
        match ws.read() {
            Ok(Message::Text(t)) => {
                let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                match v["type"].as_str() {
                    Some("heartbeat_ack") => {
                        ack = v["credential"]
                            .as_str()
                            .and_then(|c| c.split('_').nth(1))
                            .map(str::to_owned)
                    }
                    Some("dispatch") => {
                        let r = json!({"type": "result", "id": v["id"], "exit_code": 0, "stdout": "ok\n", "stderr": "", "duration_ms": 0});
                        if ws.send(Message::text(r.to_string())).is_err() {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    connected.fetch_sub(1, Ordering::Relaxed);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let hold: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let mut store = moat::store::Store::open(&state).unwrap();
    let ctx = moat::token::Ctx::new("sim", moat::time::now_ms());
    let req = moat::token::CreateRequest {
        kind: moat::credential::CredentialKind::Enrol,
        ttl: Some(Duration::from_secs(3600)),
        allow_long_ttl: false,
        max_uses: Some(moat::token::MaxUses::Unlimited),
        label: None,
        principal: None,
        scopes: vec![],
    };
    let token = moat::token::create(&mut store, &ctx, &req).unwrap().token;
    drop(store);

    let serve_bin = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("serve");
    let mut child = std::process::Command::new(&serve_bin)
        .env_clear()
        .env("MOAT_STATE", &state)
        .env("MOAT_JWT_SECRET", SECRET)
        .args(["--port", "0", "--auth-mode", "jwt"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = serde_json::from_str::<Value>(&line).unwrap()["listening"]
        .as_str()
        .unwrap()
        .to_owned();
    let ws_url = format!("{}/v1/workers/connect", base.replacen("http", "ws", 1));

    let stop = Arc::new(AtomicBool::new(false));
    let connected = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (u, t, s, c) = (
                ws_url.clone(),
                token.clone(),
                stop.clone(),
                connected.clone(),
            );
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || simulated_worker(u, t, i, s, c))
                .unwrap()
        })
        .collect();
    while connected.load(Ordering::Relaxed) < n && started.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let enrol_time = started.elapsed();
    eprintln!(
        "{} of {n} workers connected in {:.1} s",
        connected.load(Ordering::Relaxed),
        enrol_time.as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(3));

    let (t0, _) = proc_stat(pid);
    let window = Instant::now();
    std::thread::sleep(Duration::from_secs(hold));
    let (t1, rss_kb) = proc_stat(pid);
    let hz = 100.0;
    let cpu = (t1 - t0) as f64 / hz / window.elapsed().as_secs_f64();

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
    let mut lat = Vec::new();
    let mut health = Vec::new();
    for i in 0..300 {
        let t = Instant::now();
        let mut r = agent
            .post(format!("{base}/v1/dispatches"))
            .header("authorization", format!("Bearer {jwt}"))
            .send_json(json!({"to": format!("sim-{}", (i * 7919) % n), "argv": ["true"]}))
            .unwrap();
        let _ = r.body_mut().read_to_string();
        if r.status() == 200 {
            lat.push(t.elapsed());
        }
        // The same path without the store or a worker: tells serve's
        // scheduling delays apart from the dispatch's own.
        let t = Instant::now();
        if let Ok(mut r) = agent.get(format!("{base}/healthz")).call() {
            let _ = r.body_mut().read_to_string();
            health.push(t.elapsed());
        }
    }
    lat.sort();
    health.sort();
    let connected_end = connected.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let _ = child.kill();
    let _ = child.wait();
    for t in threads {
        let _ = t.join();
    }
    let _ = TcpStream::connect("127.0.0.1:1");
    println!(
        "| workers | connected at end | enrol all | serve RSS | serve CPU (cores) | dispatch p50 | dispatch p95 | dispatch p99 | dispatches ok | /healthz p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let pct = |v: &[Duration], p: usize| {
        v.get(v.len() * p / 100)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "| {n} | {connected_end} | {:.1} s | {:.0} MB | {cpu:.2} | {:.2} ms | {:.2} ms | {:.2} ms | {}/300 | {:.2} ms |",
        enrol_time.as_secs_f64(),
        rss_kb as f64 / 1024.0,
        pct(&lat, 50),
        pct(&lat, 95),
        pct(&lat, 99),
        lat.len(),
        pct(&health, 99),
    );
}
