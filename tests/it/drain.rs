//! `worker drain` (DESIGN §7, §8): one operation, locally and through
//! serve, whose status change and `worker_drained` event are one
//! transaction; a drained worker gets no new step, and a local drain
//! reaches a running serve's live session.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;
use crate::workers::Fleet;

fn drained_events(env: &Env) -> Vec<Value> {
    env.json("audit", &["log", "--type", "worker_drained"])
        .as_array()
        .unwrap()
        .clone()
}

fn id_of(f: &Fleet, name: &str) -> String {
    f.workers().into_iter().find(|w| w["name"] == name).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn wait_log(w: &crate::workers::WorkerProc, needle: &str) {
    let start = Instant::now();
    while !w.log().contains(needle) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the worker never logged {needle:?}: {}",
            w.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn drain_through_serve_is_audited_and_stops_new_steps() {
    let f = Fleet::with(&[]);
    let w = f.start_worker("drain-remote", &[]);
    let id = id_of(&f, "drain-remote");
    let out = f.remote("worker", &["drain", &id, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["connected"].as_bool()),
        (Some("draining"), Some(true)),
        "{v}"
    );
    wait_log(&w, "draining");
    let events = drained_events(&f.env);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["target"], id.as_str());
    assert_eq!(events[0]["details"]["connected"], true);
    // No new step reaches it.
    let (status, v) = f.dispatch("drain-remote", &[], &["true"]);
    assert_ne!(status, 0, "{v}");
    // A revoked worker has nothing to drain: refused, and nothing audited.
    f.remote("worker", &["revoke", &id]);
    let again = f.remote("worker", &["drain", &id]);
    assert_eq!(code(&again), 4, "{}", stderr(&again));
    assert_eq!(drained_events(&f.env).len(), 1);
    f.env.assert_audit_intact();
}

#[test]
fn a_local_drain_is_audited_and_reaches_the_live_session() {
    let f = Fleet::with(&[]);
    let w = f.start_worker("drain-local", &[]);
    let id = id_of(&f, "drain-local");
    // No --server: the state file directly.
    let v = f.env.json("worker", &["drain", &id, "--format", "json"]);
    assert_eq!(
        (v["status"].as_str(), v["connected"].as_bool()),
        (Some("draining"), Some(false)),
        "{v}"
    );
    let events = drained_events(&f.env);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["connected"], false);
    // serve's watcher passes it on to the connected worker.
    wait_log(&w, "draining");
    let (status, v) = f.dispatch("drain-local", &[], &["true"]);
    assert_ne!(status, 0, "{v}");
    // Unknown ids are refused with the not-found code and change nothing.
    let out = f.env.run("worker", &["drain", "wrk_aaaaaaaaaaaa"], b"");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(drained_events(&f.env).len(), 1);
}
