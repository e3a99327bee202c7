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
        };
        token::create(&mut store, &ctx(), &req).unwrap().token
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
