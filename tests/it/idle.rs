//! A fleet at rest costs nothing (DESIGN §7, §9.10; issue: idle fleet,
//! items 1 and 2): credentials rotate on their own period, not per
//! heartbeat; an idle worker appends no audit event and does not grow the
//! state file; a restart of serve brings every worker back by resume.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::workers::{Fleet, WorkerProc, next_text, raw_socket, resume_with, wait_for_file};

fn state_sizes(env: &Env) -> Vec<u64> {
    ["state.db", "state.db-wal"]
        .iter()
        .map(|f| {
            std::fs::metadata(env.state().with_file_name(f))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .collect()
}

fn events(env: &Env) -> usize {
    env.json("audit", &["log"]).as_array().unwrap().len()
}

#[test]
fn credentials_rotate_on_their_period_not_per_heartbeat() {
    let f = Fleet::with(&["--rotate-every", "3s"]);
    let _w = f.start_worker("periodic", &[]);
    let file = f.cache("periodic").join("credential");
    let first = wait_for_file(&file);
    let mut seen = BTreeSet::from([first.clone()]);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(c) = std::fs::read_to_string(&file) {
            seen.insert(c);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Five heartbeats in 10 s; a rotation every 3 s (at the heartbeat that
    // finds it due) makes two or three credentials after the first.
    assert!(
        (3..=4).contains(&seen.len()),
        "{} credentials in 10 s",
        seen.len()
    );
    // The first one was rotated out: presenting it is theft.
    let machine = std::fs::read_to_string(f.cache("periodic").join("machine-id")).unwrap();
    let reply = resume_with(&f.server.url, &first, &machine);
    assert_eq!(reply["code"], "credential_reuse", "{reply}");
    // No rotation was audited one by one; the disconnect counts them.
    std::thread::sleep(Duration::from_millis(500));
    let log = f.env.json("audit", &["log"]);
    let log = log.as_array().unwrap();
    assert!(!log.iter().any(|e| e["type"] == "credential_rotated"));
    let gone = log
        .iter()
        .find(|e| e["type"] == "worker_disconnected")
        .unwrap();
    assert!(
        gone["details"]["rotations"].as_u64().unwrap() >= 2,
        "{gone}"
    );
    f.env.assert_audit_intact();
}

#[test]
fn an_idle_worker_writes_nothing() {
    let f = Fleet::with(&[]);
    let w = f.start_worker("idle-1", &[]);
    std::thread::sleep(Duration::from_secs(1));
    let (before, sizes, credential) = (
        events(&f.env),
        state_sizes(&f.env),
        wait_for_file(&f.cache("idle-1").join("credential")),
    );
    // Six heartbeats.
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(events(&f.env), before, "audit events while idle");
    assert_eq!(state_sizes(&f.env), sizes, "the state grew while idle");
    let now = std::fs::read_to_string(f.cache("idle-1").join("credential")).unwrap();
    assert_eq!(now, credential, "a credential rotated before its period");
    assert!(!w.log().contains("connection lost"), "{}", w.log());
    // Still alive and fresh enough for `worker list --stale`.
    let stale = f.remote("worker", &["list", "--stale", "1m", "--format", "json"]);
    assert_eq!(String::from_utf8_lossy(&stale.stdout).trim(), "[]");
    let connected = f.workers();
    assert_eq!(connected[0]["status"], "connected");
}

/// serve sets the heartbeat period (`--heartbeat-every`) and tells each
/// worker in its welcome; a real worker keeps to it (its own default, 5 s,
/// would be dropped by a 1 s serve), and a session that stays silent for
/// five periods is dropped.
#[test]
fn serve_sets_the_heartbeat_and_drops_a_silent_session() {
    let f = Fleet::with(&["--heartbeat-every", "1s"]);
    let w = f.start_worker("brisk", &[]);
    f.wait_connected("brisk", Duration::from_secs(10));

    let token = f.enrol_token(&[]);
    let mut s = raw_socket(&f.server.url);
    if let tungstenite::stream::MaybeTlsStream::Plain(t) = s.get_mut() {
        t.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    }
    let hello = serde_json::json!({"type": "enroll", "token": token, "machine_id": "silent-machine", "instance": "i",
                                   "protocol": moat::worker::PROTOCOL, "version": "0", "labels": {"name": "silent"}});
    s.send(tungstenite::Message::text(hello.to_string()))
        .unwrap();
    let welcome = next_text(&mut s);
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["heartbeat_s"], 1, "{welcome}");
    let start = Instant::now();
    // No heartbeat from here on: serve closes the socket.
    assert_eq!(next_text(&mut s), serde_json::Value::Null);
    let gone = start.elapsed();
    assert!(
        gone >= Duration::from_millis(4500) && gone < Duration::from_secs(10),
        "a silent session was dropped after {gone:?}, not after five 1 s heartbeats"
    );
    // The real worker, meanwhile, kept its one session.
    assert!(!w.log().contains("connection lost"), "{}", w.log());
    assert_eq!(w.log().matches("connected as").count(), 1, "{}", w.log());
    let brisk = f
        .workers()
        .into_iter()
        .find(|w| w["name"] == "brisk")
        .unwrap();
    assert_eq!(brisk["status"], "connected");
}

#[test]
fn every_worker_resumes_after_serve_is_killed() {
    const N: usize = 12;
    let mut f = Fleet::with(&[]);
    let workers: Vec<WorkerProc> = (0..N)
        .map(|i| f.start_worker(&format!("fleet-{i}"), &[]))
        .collect();
    let enrolled = f
        .env
        .json("audit", &["log", "--type", "enrolment_accepted"]);
    let enrolled = enrolled.as_array().unwrap().len();
    // Killed, not stopped: no graceful goodbye to anyone.
    f.restart(true);
    let start = Instant::now();
    loop {
        let up = f
            .workers()
            .iter()
            .filter(|w| w["status"] == "connected")
            .count();
        if up == N {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{up} of {N} resumed in 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let again = f
        .env
        .json("audit", &["log", "--type", "enrolment_accepted"]);
    assert_eq!(
        again.as_array().unwrap().len(),
        enrolled,
        "a worker enrolled again"
    );
    assert!(f.workers().iter().all(|w| w["status"] != "revoked"));
    for w in &workers {
        assert!(!w.log().contains("revoked"), "{}", w.log());
    }
    f.env.assert_audit_intact();
}

/// Past `--max-workers` a socket is refused (the worker retries later), and
/// an open-files limit too low for it is reported at start.
#[test]
fn serve_bounds_its_workers_and_says_what_to_raise() {
    let f = Fleet::with(&["--max-workers", "1"]);
    let _w = f.start_worker("only-1", &[]);
    let reply = resume_with(&f.server.url, "mtw_x", "m");
    assert_eq!(reply["code"], "serve_full", "{reply}");

    let env = Env::new();
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "ulimit -n 256 && exec \"$0\" --port 0 --max-workers 5000 --check-config",
        ])
        .arg(assert_cmd::cargo::cargo_bin("serve"))
        .env_clear()
        .env("MOAT_STATE", env.state())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ulimit -n") && err.contains("6024"), "{err}");
}
