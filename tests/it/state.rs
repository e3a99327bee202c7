//! The state file's guarantees: permissions, schema version, key file, and
//! the audit chain catching direct edits of the database.

use std::os::unix::fs::PermissionsExt;

use moat::store::Store;

use crate::common::*;

/// Insert `n` token records in one transaction (cheap: one shared hash).
pub fn seed_tokens(env: &Env, n: usize) {
    let mut store = env.store();
    moat::token::seed_records(&mut store, n, moat::time::now_ms()).unwrap();
}

#[test]
fn a_state_or_key_file_readable_by_others_is_refused() {
    let env = Env::sqlite(); // the file itself is what is tested
    env.create(&[]);
    for path in [env.state(), env.key()] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = env.run("token", &["list"], b"");
        assert_eq!(code(&out), 6, "{}", path.display());
        let err = stderr(&out);
        assert!(
            err.contains("group or others") && err.contains("chmod 600"),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    env.json("token", &["list"]);
}

#[test]
fn a_database_newer_than_the_binary_is_refused() {
    let env = Env::sqlite(); // the file itself is what is tested
    env.create(&[]);
    {
        let conn = rusqlite::Connection::open(env.state()).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
    }
    let before = env.snapshot();
    let out = env.run("token", &["create"], b"");
    assert_eq!(code(&out), 6);
    assert!(
        stderr(&out).contains("newer than this moat"),
        "{}",
        stderr(&out)
    );
    assert!(env.snapshot() == before);
}

#[test]
fn a_missing_key_for_existing_data_is_refused_not_recreated() {
    let env = Env::new();
    env.create(&[]);
    std::fs::remove_file(env.key()).unwrap();
    let out = env.run("token", &["list"], b"");
    assert_eq!(code(&out), 6);
    assert!(stderr(&out).contains("key file"), "{}", stderr(&out));
    assert!(!env.key().exists());
}

#[test]
fn only_commands_that_add_records_create_a_missing_state_file() {
    // A mistyped --state-file must be an error (exit 3), not an empty new
    // state that lists nothing, denies everything or audits as intact.
    let refuse: &[(&str, &[&str])] = &[
        ("token", &["list"]),
        ("token", &["show", "tok_0a1b2c3d4e5f"]),
        ("token", &["revoke", "tok_0a1b2c3d4e5f"]),
        ("token", &["prune"]),
        ("grant", &["list"]),
        ("grant", &["export"]),
        ("grant", &["group", "list"]),
        ("grant", &["group", "remove", "ops", "user:a"]),
        (
            "grant",
            &[
                "check",
                "--principal",
                "user:a",
                "--action",
                "read",
                "--resource",
                "worker:x",
            ],
        ),
        ("reload", &["--dry-run"]),
        ("reload", &["history"]),
        ("reload", &["rollback", "1"]),
        ("reload", &["prune"]),
        ("worker", &["list"]),
        ("audit", &["verify"]),
        ("audit", &["log"]),
        ("audit", &["checkpoint"]),
        ("audit", &["check"]),
        ("audit", &["export"]),
        ("audit", &["prune", "--before", "1d"]),
    ];
    let env = Env::sqlite(); // the file itself is what is tested
    for (bin, args) in refuse {
        let out = env.run(bin, args, b"");
        let err = stderr(&out);
        assert_eq!(code(&out), 3, "{bin} {args:?}: {err}");
        assert!(err.contains("no state file at"), "{bin} {args:?}: {err}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains("\"intact\""), "{bin} {args:?}: {stdout}");
        assert!(
            !env.state().parent().unwrap().exists(),
            "{bin} {args:?} created the state directory"
        );
    }
    let create: &[(&str, &[&str], &[u8])] = &[
        ("token", &["create"], b""),
        (
            "grant",
            &[
                "add",
                "--subject",
                "user:a",
                "--action",
                "read",
                "--resource",
                "worker:x",
            ],
            b"",
        ),
        ("grant", &["group", "add", "ops", "user:a"], b""),
        ("grant", &["apply", "-"], br#"{"grants":[]}"#),
        ("reload", &[], b""),
    ];
    for (bin, args, stdin) in create {
        let env = Env::sqlite();
        let out = env.run(bin, args, stdin);
        assert_eq!(code(&out), 0, "{bin} {args:?}: {}", stderr(&out));
        let mode = std::fs::metadata(env.state()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{bin} {args:?}");
    }
}

#[test]
fn migrations_bring_a_new_state_to_the_current_version() {
    let env = Env::sqlite(); // the file itself is what is tested
    env.create(&[]);
    let conn = rusqlite::Connection::open(env.state()).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, moat::store::SCHEMA_VERSION);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

fn sql(env: &Env, statement: &str) {
    env.tamper(statement);
}

fn verify_fails_at(env: &Env, seq: i64) {
    let out = env.run("audit", &["verify"], b"");
    assert_eq!(code(&out), 1, "verify should report a broken chain");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intact"], false);
    assert_eq!(v["first_bad_seq"], seq, "{v}");
}

fn three_events() -> Env {
    let env = Env::new();
    for _ in 0..3 {
        env.create(&[]);
    }
    env.assert_audit_intact();
    env
}

#[test]
fn editing_an_audit_row_is_caught() {
    let env = three_events();
    sql(
        &env,
        "UPDATE audit_events SET actor = 'local:mallory' WHERE seq = 2",
    );
    verify_fails_at(&env, 2);
}

#[test]
fn deleting_an_audit_row_is_caught() {
    let env = three_events();
    sql(&env, "DELETE FROM audit_events WHERE seq = 2");
    verify_fails_at(&env, 3);
}

#[test]
fn reordering_audit_rows_is_caught() {
    let env = three_events();
    sql(
        &env,
        "UPDATE audit_events SET seq = -1 WHERE seq = 1;
         UPDATE audit_events SET seq = 1 WHERE seq = 2;
         UPDATE audit_events SET seq = 2 WHERE seq = -1;",
    );
    verify_fails_at(&env, 1);
}

#[test]
fn truncation_is_caught_with_a_checkpoint() {
    let env = three_events();
    let cp = env.run("audit", &["checkpoint"], b"");
    assert!(cp.status.success());
    let cp_file = env.dir.path().join("checkpoint.json");
    std::fs::write(&cp_file, &cp.stdout).unwrap();
    let cp_arg = cp_file.to_str().unwrap();
    env.json("audit", &["verify", "--checkpoint", cp_arg]);

    sql(&env, "DELETE FROM audit_events WHERE seq = 3");
    // Without the checkpoint a clean truncation is invisible ...
    env.assert_audit_intact();
    // ... with it, it is caught.
    let out = env.run("audit", &["verify", "--checkpoint", cp_arg], b"");
    assert_eq!(code(&out), 1);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["first_bad_seq"], 3);
}

/// serve's commits leave WAL checkpoints to a separate connection: they no
/// longer checkpoint themselves, and the checkpointer copies everything back.
#[test]
fn checkpoints_can_be_left_to_a_separate_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut store = Store::open(&path).unwrap();
    let checkpointer = store
        .separate_checkpoints()
        .unwrap()
        .expect("SQLite checkpoints");
    // Enough pages that SQLite's default (1,000 frames) would have
    // checkpointed at this commit.
    moat::token::seed_records(&mut store, 50_000, moat::time::now_ms()).unwrap();
    let wal = std::fs::metadata(dir.path().join("state.db-wal"))
        .unwrap()
        .len();
    assert!(
        wal > 1000 * 4096,
        "WAL is {wal} bytes: a commit checkpointed it"
    );
    let (frames, copied) = checkpointer.run().unwrap();
    assert!(frames > 1000, "{frames} frames");
    assert_eq!(
        frames, copied,
        "a passive checkpoint with no readers copies all"
    );
    // The data is there for a fresh reader.
    drop(store);
    let n: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM tokens", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 50_000);
}
