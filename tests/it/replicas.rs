//! Several serve replicas on one PostgreSQL database (DESIGN §10): real
//! serve processes, real workers, loopback. A dispatch sent to any replica
//! reaches the worker wherever it is connected; revocations and snapshot
//! activations reach every replica within a second; a replica that dies
//! mid-dispatch is reported to the caller, not silently lost.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;
use crate::workers::{Fleet, WorkerProc};

const SECRET_VALUE: &str = "s3cr3t-greeting-value-9f1c";

/// A fleet on a PostgreSQL state (replica A) and a second replica B.
fn two_replicas() -> (Fleet, Server) {
    let f = Fleet::on(Env::postgres(), &["--rotate-every", "2s"]);
    let secrets = f.env.dir.path().join("secrets.json");
    let b = Server::with_jwt(
        &f.env,
        &[
            "--auth-mode",
            "jwt",
            "--secrets-file",
            secrets.to_str().unwrap(),
            "--heartbeat-every",
            "2s",
        ],
    );
    (f, b)
}

/// Run `bin args` through replica `server` as the fleet's admin.
fn via(f: &Fleet, server: &Server, bin: &str, args: &[&str]) -> std::process::Output {
    f.env
        .cmd(bin)
        .args(args)
        .env("MOAT_SERVER", &server.url)
        .env("MOAT_AUTH_TOKEN", &f.admin)
        .output()
        .unwrap()
}

#[test]
fn a_dispatch_through_one_replica_runs_on_a_worker_connected_to_another() {
    let (f, b) = two_replicas();
    let _w = f.start_worker("far", &[]);
    // The step proves it got the value without naming it (argv is recorded).
    let script = format!(
        "test ${{#GREETING}} = {} && test \"${{GREETING#s3cr3t-}}\" != \"$GREETING\" && echo got-it && echo $GREETING",
        SECRET_VALUE.len()
    );
    let start = Instant::now();
    let out = via(
        &f,
        &b,
        "worker",
        &[
            "dispatch", "--to", "far", "--secret", "GREETING", "--format", "json", "--", "sh",
            "-c", &script,
        ],
    );
    let took = start.elapsed();
    assert_eq!(
        code(&out),
        0,
        "{}\nA: {}\nB: {}",
        stderr(&out),
        f.server.stderr(),
        b.stderr()
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["exit_code"], 0, "{v}");
    let stdout = v["stdout"].as_str().unwrap();
    assert!(stdout.starts_with("got-it\n"), "{v}");
    // The answer crossed the database, where a secret value never goes.
    assert!(!stdout.contains(SECRET_VALUE), "{v}");
    assert_no_secret(&f.env.state_bytes(), SECRET_VALUE, "the database");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // Recorded once, by the replica that ran it.
    let log = f.env.json("audit", &["log", "--type", "dispatch_sent"]);
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
    f.env.assert_audit_intact();
}

#[test]
fn select_finds_a_labelled_worker_another_replica_holds() {
    let (f, b) = two_replicas();
    let _w = f.start_worker("gpu-far", &["--label", "pool=gpu"]);
    let run = |sel: &str| {
        via(
            &f,
            &b,
            "worker",
            &[
                "dispatch", "--select", sel, "--format", "json", "--", "sh", "-c", "echo ran",
            ],
        )
    };
    // B holds no worker at all; A's worker is found through the database.
    let out = run("pool=gpu");
    assert_eq!(
        code(&out),
        0,
        "{}
A: {}
B: {}",
        stderr(&out),
        f.server.stderr(),
        b.stderr()
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stdout"], "ran\n", "{v}");
    let sent = f.env.json("audit", &["log", "--type", "dispatch_sent"]);
    let workers = f.env.json("worker", &["list"]);
    assert_eq!(sent[0]["details"]["worker"], workers[0]["id"], "{sent}");
    assert_eq!(workers[0]["name"], "gpu-far");
    // A label no worker anywhere has is still not found.
    let out = run("pool=tpu");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
}

#[test]
fn a_token_revoked_through_one_replica_cuts_the_worker_on_another_within_a_second() {
    let (f, b) = two_replicas();
    let mut w = f.start_worker("victim", &[]);
    let tok = f.workers()[0]["token"].as_str().unwrap().to_owned();
    let start = Instant::now();
    let out = via(&f, &b, "token", &["revoke", &tok]);
    assert!(out.status.success(), "{}", stderr(&out));
    let code = w.wait_exit(Duration::from_secs(3));
    let took = start.elapsed();
    assert_eq!(code, Some(4), "{}", w.log());
    assert!(
        took < Duration::from_millis(1500),
        "socket cut after {took:?}"
    );
}

#[test]
fn a_reload_through_one_replica_is_enforced_by_another_within_a_second() {
    let (f, b) = two_replicas();
    let check = |server: &Server| {
        via(
            &f,
            server,
            "grant",
            &[
                "check",
                "--principal",
                "user:bob",
                "--action",
                "read",
                "--resource",
                "vault:x",
            ],
        )
    };
    assert_eq!(code(&check(&b)), 1, "denied before");
    let out = via(
        &f,
        &f.server,
        "grant",
        &[
            "add",
            "--subject",
            "user:bob",
            "--action",
            "read",
            "--resource",
            "vault:x",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = via(&f, &f.server, "reload", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let start = Instant::now();
    while code(&check(&b)) != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "B still denies after {:?}",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_connection_for_a_worker_held_by_another_replica_is_refused() {
    let (f, b) = two_replicas();
    let _w = f.start_worker("once", &[]);
    let cache = f.cache("once");
    let credential = std::fs::read_to_string(cache.join("credential")).unwrap();
    let machine = std::fs::read_to_string(cache.join("machine-id")).unwrap();
    let answer = crate::workers::resume_with(&b.url, &credential, &machine);
    assert_eq!(answer["code"], "already_connected", "{answer}");
}

#[test]
fn a_replica_killed_mid_dispatch_fails_its_callers_dispatch_clearly() {
    let (mut f, b) = two_replicas();
    let _w: WorkerProc = f.start_worker("doomed", &[]);
    let caller = f
        .env
        .std_cmd("worker")
        .args([
            "dispatch", "--to", "doomed", "--format", "json", "--", "sleep", "30",
        ])
        .env("MOAT_SERVER", &b.url)
        .env("MOAT_AUTH_TOKEN", &f.admin)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let the step start on A, then kill A with no goodbye.
    let start = Instant::now();
    while f
        .env
        .json("audit", &["log", "--type", "dispatch_sent"])
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the step never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = f.server.child.kill();
    let _ = f.server.child.wait();
    let killed = Instant::now();
    let out = caller.wait_with_output().unwrap();
    let took = killed.elapsed();
    assert_eq!(code(&out), 6, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("replica_lost"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(5), "the caller waited {took:?}");
    f.env.assert_audit_intact();
    drop(b);
}

#[test]
fn a_worker_moves_to_another_replica_when_its_own_dies() {
    let (mut f, b) = two_replicas();
    let token = f.enrol_token(&[]);
    let list = format!("{},{}", f.server.url, b.url);
    let w = WorkerProc::start(
        &f.env,
        &list,
        Some(&token),
        &f.cache("mover"),
        &["--label", "name=mover"],
    );
    f.wait_connected("mover", Duration::from_secs(10));
    let _ = f.server.child.kill();
    let _ = f.server.child.wait();
    let killed = Instant::now();
    // Now only B answers: the worker shows connected through it again.
    loop {
        let out = via(&f, &b, "worker", &["list", "--format", "json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let on_b = v.as_array().is_some_and(|l| {
            l.iter()
                .any(|w| w["name"] == "mover" && w["status"] == "connected")
        });
        let ran = code(&via(
            &f,
            &b,
            "worker",
            &["dispatch", "--to", "mover", "--", "true"],
        ));
        if on_b && ran == 0 {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(6),
            "not back within the backoff bound: {v}\n{}",
            w.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(6), "{took:?}");
    eprintln!("failover took {took:?}");
    drop(w);
}

#[test]
fn sixteen_machines_racing_through_two_replicas_for_a_three_use_token_get_three() {
    let (f, b) = two_replicas();
    let token = f.enrol_token(&["--max-uses", "3"]);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(16));
    let urls = [f.server.url.clone(), b.url.clone()];
    let welcomed = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (barrier, url, token) = (barrier.clone(), urls[i % 2].clone(), token.clone());
                s.spawn(move || {
                    let mut sock = crate::workers::raw_socket(&url);
                    let hello = serde_json::json!({"type": "enroll", "token": token, "machine_id": format!("racer-{i}"),
                        "instance": "x", "protocol": moat::worker::PROTOCOL, "version": "test",
                        "labels": {"name": format!("racer-{i}")}});
                    barrier.wait();
                    sock.send(tungstenite::Message::text(hello.to_string())).unwrap();
                    crate::workers::next_text(&mut sock)["type"] == "welcome"
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|w| *w)
            .count()
    });
    assert_eq!(welcomed, 3);
    let tokens = f.env.json("token", &["list"]);
    let bound: usize = tokens
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["machines"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(bound, 3, "{tokens}");
    f.env.assert_audit_intact();
}

#[test]
fn eight_writers_creating_through_two_replicas_lose_nothing() {
    let (f, b) = two_replicas();
    let urls = [f.server.url.clone(), b.url.clone()];
    std::thread::scope(|s| {
        for w in 0..8 {
            let url = urls[w % 2].clone();
            let f = &f;
            s.spawn(move || {
                for _ in 0..100 {
                    let out = f
                        .env
                        .cmd("token")
                        .args(["create", "--label", "w", "-q"])
                        .env("MOAT_SERVER", &url)
                        .env("MOAT_AUTH_TOKEN", &f.admin)
                        .output()
                        .unwrap();
                    assert_eq!(code(&out), 0, "{}", stderr(&out));
                }
            });
        }
    });
    assert_eq!(
        f.env.json("token", &["list"]).as_array().unwrap().len(),
        800
    );
    let v = f.env.json("audit", &["verify"]);
    assert_eq!(v["intact"], true, "{v}");
}

#[test]
fn killing_a_replica_under_load_loses_no_acknowledged_write() {
    let (mut f, b) = two_replicas();
    let token = f.enrol_token(&["--max-uses", "unlimited"]);
    let list = format!("{},{}", f.server.url, b.url);
    let workers: Vec<WorkerProc> = (0..3)
        .map(|i| {
            let name = format!("load-{i}");
            WorkerProc::start(
                &f.env,
                &list,
                Some(&token),
                &f.cache(&name),
                &["--label", &format!("name={name}")],
            )
        })
        .collect();
    for i in 0..3 {
        f.wait_connected(&format!("load-{i}"), Duration::from_secs(10));
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (acked, dispatch_codes) = std::thread::scope(|s| {
        // Writers through both replicas; each acknowledged id is kept.
        let writers: Vec<_> = [f.server.url.clone(), b.url.clone()]
            .into_iter()
            .map(|url| {
                let (env, admin, stop) = (&f.env, &f.admin, &stop);
                s.spawn(move || {
                    let mut ids = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let out = env
                            .cmd("token")
                            .args(["create", "--label", "load", "--format", "json"])
                            .env("MOAT_SERVER", &url)
                            .env("MOAT_AUTH_TOKEN", admin)
                            .output()
                            .unwrap();
                        if code(&out) == 0 {
                            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                            ids.push(v["id"].as_str().unwrap().to_owned());
                        }
                    }
                    ids
                })
            })
            .collect();
        // Dispatches through B to workers held by A, the step outliving A.
        let dispatchers: Vec<_> = (0..3)
            .map(|i| {
                let (env, admin, url) = (&f.env, &f.admin, b.url.clone());
                s.spawn(move || {
                    let out = env
                        .cmd("worker")
                        .args([
                            "dispatch",
                            "--to",
                            &format!("load-{i}"),
                            "--format",
                            "json",
                            "--",
                            "sleep",
                            "3",
                        ])
                        .env("MOAT_SERVER", &url)
                        .env("MOAT_AUTH_TOKEN", admin)
                        .output()
                        .unwrap();
                    (code(&out), stderr(&out))
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        let _ = f.server.child.kill();
        let _ = f.server.child.wait();
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let acked: Vec<String> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        let codes: Vec<(i32, String)> =
            dispatchers.into_iter().map(|d| d.join().unwrap()).collect();
        (acked, codes)
    });
    // Every in-flight dispatch failed clearly: its replica was lost.
    for (c, err) in &dispatch_codes {
        assert_eq!(*c, 6, "{err}");
        assert!(err.contains("replica_lost"), "{err}");
    }
    // Every acknowledged create is in the database.
    let listed: std::collections::BTreeSet<String> = f
        .env
        .json("token", &["list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(acked.len() > 5, "too little load: {}", acked.len());
    for id in &acked {
        assert!(listed.contains(id), "acknowledged {id} is missing");
    }
    // A's workers come back through B within the backoff bound.
    let start = Instant::now();
    for i in 0..3 {
        let name = format!("load-{i}");
        loop {
            let ran = code(&via(
                &f,
                &b,
                "worker",
                &["dispatch", "--to", &name, "--", "true"],
            ));
            if ran == 0 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(6),
                "{name} did not come back"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    f.env.assert_audit_intact();
    drop(workers);
}

#[test]
fn replicas_booting_at_once_reconcile_admins_into_one_grant_each() {
    let env = Env::postgres();
    env.create(&[]); // the database's schema and key exist before the race
    let (dir, state) = (env.dir.path().to_owned(), env.state());
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(3));
    let boots: Vec<_> = (0..3)
        .map(|_| {
            let (dir, state, barrier) = (dir.clone(), state.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                Server::start(&dir, &state, &["--admins", "user:alice,user:bob"], &[])
            })
        })
        .collect();
    let mut replicas: Vec<Server> = boots.into_iter().map(|b| b.join().unwrap()).collect();
    for r in &mut replicas {
        r.stop();
    }
    let grants = env.json("grant", &["list", "--source", "admins"]);
    let grants = grants.as_array().unwrap();
    let mut subjects: Vec<&str> = grants
        .iter()
        .map(|g| g["subject"].as_str().unwrap())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["user:alice", "user:bob"], "{grants:?}");
    assert!(grants.iter().all(|g| g["state"] == "active"), "{grants:?}");
    env.assert_audit_intact();
}
