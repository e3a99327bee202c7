//! The PostgreSQL store on a real server: the key file every replica
//! shares, the schema version guard, atomic enrolment and concurrent
//! writers across processes, and no raw secret in the database.

use std::sync::{Arc, Barrier};

use moat::credential::CredentialKind;
use moat::token::{self, CreateRequest, Ctx, MaxUses};

use crate::common::*;

fn ctx() -> Ctx {
    Ctx::new("test", moat::time::now_ms())
}

#[test]
fn a_database_url_without_a_key_file_is_a_usage_error_that_writes_nothing() {
    let env = Env::postgres();
    let out = env
        .cmd("token")
        .args(["create"])
        .env_remove("MOAT_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--state-key-file"),
        "{}",
        stderr(&out)
    );
    assert!(!env.key().exists());
}

#[test]
fn a_replica_with_another_key_file_is_refused() {
    let env = Env::postgres();
    env.create(&[]);
    let other = env.dir.path().join("other.key");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&other)
            .unwrap();
        f.write_all(&[7u8; 32]).unwrap();
    }
    let out = env
        .cmd("token")
        .args(["list"])
        .env("MOAT_KEY_FILE", &other)
        .output()
        .unwrap();
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(stderr(&out).contains("does not belong"), "{}", stderr(&out));
    // The right key still works.
    assert_eq!(env.json("token", &["list"]).as_array().unwrap().len(), 1);
}

#[test]
fn a_database_newer_than_the_binary_is_refused() {
    let env = Env::postgres();
    env.create(&[]);
    env.tamper("INSERT INTO moat_schema (version) VALUES (999)");
    let out = env.run("token", &["list"], b"");
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("newer than this moat"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn sixteen_machines_racing_for_a_three_use_token_get_three_bindings() {
    let env = Env::postgres();
    let raw = {
        let mut store = env.store();
        let req = CreateRequest {
            kind: CredentialKind::Enrol,
            ttl: None,
            allow_long_ttl: false,
            max_uses: Some(MaxUses::Limited(3)),
            label: None,
            principal: None,
            scopes: vec![],
            public_key: None,
        };
        token::create(&mut store, &ctx(), &req)
            .unwrap()
            .token
            .unwrap()
    };
    let barrier = Arc::new(Barrier::new(16));
    let env = Arc::new(env);
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let (barrier, env, raw) = (barrier.clone(), env.clone(), raw.clone());
            std::thread::spawn(move || {
                // One connection each, as separate processes or replicas have.
                let mut store = env.store();
                barrier.wait();
                token::redeem(&mut store, &ctx(), &raw, &format!("machine-{i}")).is_ok()
            })
        })
        .collect();
    let won = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|ok| *ok)
        .count();
    assert_eq!(won, 3);
    let tokens = env.json("token", &["list"]);
    assert_eq!(
        tokens[0]["machines"].as_array().map(Vec::len),
        Some(3),
        "{tokens}"
    );
    env.assert_audit_intact();
}

#[test]
fn eight_writers_lose_no_token_and_keep_one_audit_chain() {
    let env = Env::postgres();
    env.create(&[]); // the key file and schema exist before the race
    // Eight writers, each a sequence of separate `token create` processes.
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..25 {
                    let out = env.run("token", &["create", "--label", "w", "-q"], b"");
                    assert_eq!(code(&out), 0, "{}", stderr(&out));
                }
            });
        }
    });
    let tokens = env.json("token", &["list"]);
    assert_eq!(tokens.as_array().unwrap().len(), 1 + 8 * 25);
    let v = env.json("audit", &["verify"]);
    assert_eq!(v["intact"], true, "{v}");
    assert_eq!(v["events"], 1 + 8 * 25);
}

#[test]
fn no_raw_secret_reaches_the_database() {
    let env = Env::postgres();
    let t = env.create(&["--kind", "api", "--principal", "user:alice"]);
    let raw = t["token"].as_str().unwrap();
    let dump: Vec<u8> = env.snapshot().into_values().flatten().collect();
    assert!(!dump.is_empty());
    assert_no_secret(&dump, secret_of(raw), "the PostgreSQL state");
    // The token works, so the stored hash is of that secret.
    let out = env.run("token", &["verify"], raw.as_bytes());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn copying_an_sqlite_state_moves_every_record_and_the_chain() {
    let src = Env::new();
    // A few thousand records: grants, tokens, groups, snapshots, workers,
    // and the audit events of all of it.
    let grants: Vec<serde_json::Value> = (0..2500)
        .map(|i| serde_json::json!({"subject": format!("user:u{i}"), "actions": ["read"], "resource": format!("vault:s{i}")}))
        .collect();
    let file = serde_json::json!({ "grants": grants }).to_string();
    src.json_in("grant", &["apply", "-"], file.as_bytes());
    for i in 0..30 {
        src.create(&["--label", &format!("t{i}")]);
        src.json(
            "grant",
            &[
                "group",
                "add",
                &format!("g{}", i % 5),
                &format!("user:m{i}"),
            ],
        );
    }
    src.json("reload", &[]);
    src.json(
        "grant",
        &[
            "add",
            "--subject",
            "user:x",
            "--action",
            "run",
            "--resource",
            "worker:*",
        ],
    );
    src.json("reload", &[]);
    crate::worker_cli::enrolled(&src, &["copy-a", "copy-b"]);

    let dst = Env::postgres();
    let url = dst.pg.clone().unwrap();
    let out = src.run("serve", &["copy-state", "--to", &url], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["audit"]["intact"], true, "{report}");
    assert!(report["rows"]["grants"].as_u64() >= Some(2501), "{report}");
    assert_eq!(report["rows"]["workers"], 2, "{report}");
    // The destination's replicas use the source's key file.
    std::fs::create_dir_all(dst.key().parent().unwrap()).unwrap();
    std::fs::copy(src.key(), dst.key()).unwrap();

    for (bin, args) in [
        ("token", &["list"][..]),
        ("grant", &["list"][..]),
        ("grant", &["group", "list"][..]),
        ("reload", &["history"][..]),
        ("worker", &["list", "--all"][..]),
        ("audit", &["log"][..]),
    ] {
        assert_eq!(
            src.json(bin, args),
            dst.json(bin, args),
            "{bin} {args:?} differs"
        );
    }
    let (a, b) = (
        src.json("audit", &["verify"]),
        dst.json("audit", &["verify"]),
    );
    assert_eq!(b["intact"], true, "{b}");
    assert_eq!(a["events"], b["events"]);
    assert_eq!(a["head"], b["head"]);
    // A decision comes out the same.
    let check = [
        "check",
        "--principal",
        "user:u7",
        "--action",
        "read",
        "--resource",
        "vault:s7",
    ];
    assert_eq!(code(&dst.run("grant", &check, b"")), 0);

    let again = src.run("serve", &["copy-state", "--to", &url], b"");
    assert_eq!(code(&again), 4, "{}", stderr(&again));
    assert!(
        stderr(&again).contains("state_not_empty"),
        "{}",
        stderr(&again)
    );
}

/// A state on the test cluster over TCP, where it takes only TLS.
fn over_tcp(query: &str) -> Env {
    let PgCluster { port, .. } = pg_cluster();
    let mut env = Env::sqlite();
    env.pg = Some(format!(
        "postgres://moat@127.0.0.1:{port}/{}{query}",
        pg_new_database()
    ));
    env
}

#[test]
fn tls_to_postgresql_when_the_url_asks_with_the_certificate_checked() {
    let root = format!("{}/server.crt", pg_cluster().dir);
    // The cluster's TCP port takes only TLS (the next test shows a plain
    // connection refused there), so every command here that works spoke
    // TLS, with the server's certificate as its root.
    let env = over_tcp(&format!("?sslmode=verify-full&sslrootcert={root}"));
    let created = env.json("token", &["create", "--label", "over-tls"]);
    let listed = env.json("token", &["list"]);
    assert_eq!(listed[0]["id"], created["id"]);
    let out = env.run("audit", &["verify"], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn tls_with_an_unknown_certificate_or_none_asked_for_is_refused_in_words() {
    // sslmode=require checks the certificate too: this one is self-signed
    // and no sslrootcert names it.
    let env = over_tcp("?sslmode=require");
    let out = env.run("token", &["create"], b"");
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("TLS certificate was refused"), "{err}");
    assert!(err.contains("sslrootcert"), "{err}");
    // Plain TCP to a server that takes only TLS: refused by the server,
    // and the hint says how to ask for TLS.
    let env = over_tcp("");
    let out = env.run("token", &["create"], b"");
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(stderr(&out).contains("sslmode=require"), "{}", stderr(&out));
    // So is a root certificate file that is not there.
    let env = over_tcp("?sslrootcert=/nonexistent/ca.pem");
    let out = env.run("token", &["create"], b"");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot read sslrootcert"),
        "{}",
        stderr(&out)
    );
    // A mode libpq does not know is a usage error before any connection.
    let env = over_tcp("?sslmode=sometimes");
    let out = env.run("token", &["create"], b"");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sslmode=sometimes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_write_outside_the_writers_queue_cannot_append_to_the_audit_chain() {
    let env = Env::new();
    env.create(&[]);
    let mut store = env.store();
    let e = store
        .write_unordered(|tx| {
            tx.append_audit(
                moat::audit::NewEvent::new("token_created", "local:test", None),
                moat::time::now_ms(),
            )
        })
        .unwrap_err();
    assert_eq!(e.exit, moat::Exit::Internal, "{}", e.message);
    drop(store);
    let log = env.json("audit", &["log"]);
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
    env.assert_audit_intact();
}
