//! `token` through the real binary: the workflows of DESIGN §4 and the
//! bad-input guarantees of §9 (exit codes, nothing changed, no secrets).

use serde_json::Value;

use crate::common::*;

/// The `{"error":{...}}` line a JSON-format failure prints on stderr.
fn error_code(out: &std::process::Output) -> String {
    let err = stderr(out);
    let line = err
        .lines()
        .find(|l| l.starts_with("{\"error\""))
        .unwrap_or_else(|| panic!("no JSON error on stderr: {err}"));
    let v: Value = serde_json::from_str(line).expect("error line is JSON");
    v["error"]["code"].as_str().expect("code").to_owned()
}

both_modes! {
    fn create_prints_a_checksummed_token_once_and_stores_only_a_hash(env) {
    let rec = env.create(&["--ttl", "2h", "--label", "ci runner"]);
    let raw = rec["token"].as_str().expect("token field");
    assert!(raw.starts_with("mte_"), "{raw}");
    assert_eq!(rec["kind"], "enrol");
    assert_eq!(rec["state"], "pending");
    assert_eq!(rec["uses"], "0/1");
    assert_eq!(rec["label"], "ci runner");
    assert!(rec["id"].as_str().unwrap().starts_with("tok_"));

    // The checksum verifies: `token verify` recognises it as this record.
    let v = env.json_in("token", &["verify"], raw.as_bytes());
    assert_eq!(v["id"], rec["id"]);
    assert_eq!(v["state"], "pending");

    // -q prints only the token.
    let out = env.run("token", &["create", "-q"], b"");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.trim().starts_with("mte_") && !text.contains('{'));

    // No piece of either secret is in the state directory (db, WAL, key).
    let bytes = env.state_bytes();
    assert_no_secret(&bytes, secret_of(raw), "state directory");
    assert_no_secret(&bytes, secret_of(text.trim()), "state directory");
    env.assert_audit_intact();
}
}

#[test]
fn state_and_key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::sqlite(); // the file itself is what is tested
    env.create(&[]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.state()), 0o600);
    assert_eq!(mode(&env.key()), 0o600);
    assert_eq!(mode(env.state().parent().unwrap()), 0o700);
    assert_eq!(std::fs::read(env.key()).unwrap().len(), 32);
}

both_modes! {
    fn api_tokens_carry_principal_and_scopes(env) {
    let rec = env.create(&[
        "--kind",
        "api",
        "--principal",
        "user:alice",
        "--scope",
        "run:worker:build-*",
        "--scope",
        "read:access:audit",
    ]);
    assert!(rec["token"].as_str().unwrap().starts_with("mta_"));
    assert_eq!(rec["principal"], "user:alice");
    assert_eq!(
        rec["scopes"],
        serde_json::json!(["run:worker:build-*", "read:access:audit"])
    );
    assert_eq!(rec["uses"], Value::Null);
    let created: i64 = humantime::parse_rfc3339(rec["created_at"].as_str().unwrap())
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expires: i64 = humantime::parse_rfc3339(rec["expires_at"].as_str().unwrap())
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(expires - created, 30 * 86_400, "api default TTL is 30d");
}
}

both_modes! {
    fn list_expired_piped_into_revoke_revokes_exactly_those(env) {
    let short1 = env.create(&["--ttl", "1s"]);
    let short2 = env.create(&["--ttl", "1s", "--kind", "api", "--principal", "user:bob"]);
    let keep = env.create(&["--ttl", "1h"]);
    std::thread::sleep(std::time::Duration::from_millis(1_200));

    let listed = env.run(
        "token",
        &["list", "--state", "expired", "--format", "json"],
        b"",
    );
    assert!(listed.status.success());
    let expired: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let mut ids: Vec<&str> = expired.iter().map(|t| t["id"].as_str().unwrap()).collect();
    ids.sort();
    let mut want = vec![
        short1["id"].as_str().unwrap(),
        short2["id"].as_str().unwrap(),
    ];
    want.sort();
    assert_eq!(ids, want);

    let revoked = env.json_in(
        "token",
        &["revoke", "-", "--reason", "cleanup"],
        &listed.stdout,
    );
    assert_eq!(revoked.as_array().unwrap().len(), 2);

    let all = env.json("token", &["list"]);
    for t in all.as_array().unwrap() {
        let should_be_revoked = want.contains(&t["id"].as_str().unwrap());
        assert_eq!(t["state"] == "revoked", should_be_revoked, "{t}");
        if should_be_revoked {
            assert_eq!(t["reason"], "cleanup");
        }
    }
    assert_eq!(
        env.json("token", &["show", keep["id"].as_str().unwrap()])["state"],
        "pending"
    );
    env.assert_audit_intact();
}
}

both_modes! {
    fn ndjson_and_bare_ids_feed_revoke_too(env) {
    let a = env.create(&[]);
    let b = env.create(&[]);
    let out = env.run("token", &["list", "--format", "ndjson"], b"");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    let revoked = env.json_in("token", &["revoke", "-"], &out.stdout);
    assert_eq!(revoked.as_array().unwrap().len(), 2);

    let c = env.create(&[]);
    let bare = c["id"]
        .as_str()
        .unwrap()
        .trim_start_matches("tok_")
        .to_owned()
        + "\n";
    env.json_in("token", &["revoke", "-"], bare.as_bytes());
    for t in [a, b, c] {
        assert_eq!(
            env.json("token", &["show", t["id"].as_str().unwrap()])["state"],
            "revoked"
        );
    }
}
}

both_modes! {
    fn verify_reports_state_and_refusal_codes(env) {
    let rec = env.create(&[]);
    let raw = rec["token"].as_str().unwrap().to_owned();
    env.json("token", &["revoke", rec["id"].as_str().unwrap()]);
    let out = env.run("token", &["verify"], raw.as_bytes());
    assert_eq!(code(&out), 4);
    assert_eq!(error_code(&out), "token_revoked");
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["state"], "revoked");

    // A typo is caught by the checksum, without a lookup, and not echoed.
    let mut typo = raw.clone().into_bytes();
    let i = typo.len() - 10;
    typo[i] = if typo[i] == b'x' { b'y' } else { b'x' };
    let out = env.run("token", &["verify"], &typo);
    assert_eq!(code(&out), 2);
    assert_eq!(error_code(&out), "checksum_mismatch");
    assert_no_secret(&out.stderr, secret_of(&raw), "verify's error");

    let out = env.run("token", &["verify"], b"hello world");
    assert_eq!(code(&out), 2);
    assert_eq!(error_code(&out), "invalid_token");

    // A well-formed token this state never issued.
    let other = Env::new();
    let foreign = other.create(&[])["token"].as_str().unwrap().to_owned();
    let out = env.run("token", &["verify"], foreign.as_bytes());
    assert_eq!(code(&out), 5);
    assert_eq!(error_code(&out), "invalid_token");
}
}

both_modes! {
    fn prune_deletes_old_dead_records_but_keeps_their_audit(env) {
    let dead = env.create(&["--ttl", "1s"]);
    let live = env.create(&[]);
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    // Not old enough yet with the default of 7d.
    assert_eq!(env.json("token", &["prune"]).as_array().unwrap().len(), 0);
    let pruned = env.json("token", &["prune", "--older-than", "0s"]);
    assert_eq!(pruned.as_array().unwrap().len(), 1);
    assert_eq!(pruned[0]["id"], dead["id"]);
    let out = env.run("token", &["show", dead["id"].as_str().unwrap()], b"");
    assert_eq!(code(&out), 3);
    env.json("token", &["show", live["id"].as_str().unwrap()]);

    let log = env.json("audit", &["log", "--type", "token_pruned"]);
    let expected_source = if env.remote.is_some() { "serve" } else { "cli" };
    assert_eq!(log[0]["source"], expected_source);
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0]["target"], dead["id"]);
    let created = env.json("audit", &["log", "--type", "token_created"]);
    assert_eq!(
        created.as_array().unwrap().len(),
        2,
        "creation history survives the prune"
    );
    env.assert_audit_intact();
}
}

// Every bad input exits with its code, says why, and leaves the state
// directory byte-for-byte unchanged.
both_modes! {
    fn bad_input_changes_nothing(env) {
    let rec = env.create(&[]);
    let id = rec["id"].as_str().unwrap().to_owned();
    let revoked = env.create(&[]);
    let revoked_id = revoked["id"].as_str().unwrap().to_owned();
    env.json("token", &["revoke", &revoked_id]);
    let before = env.snapshot();

    let cases: Vec<(Vec<&str>, &[u8], i32, &str)> = vec![
        (vec!["create", "--bogus"], b"", 2, "unexpected argument"),
        (vec!["create", "--ttl", "5x"], b"", 2, "invalid duration"),
        (
            vec!["create", "--ttl", "400d"],
            b"",
            2,
            "longer than the maximum",
        ),
        (vec!["create", "--ttl", "25h"], b"", 2, "--allow-long-ttl"),
        (
            vec![
                "create",
                "--kind",
                "api",
                "--principal",
                "user:a",
                "--ttl",
                "400d",
            ],
            b"",
            2,
            "maximum",
        ),
        (vec!["create", "--ttl", "0s"], b"", 2, "longer than 0s"),
        (vec!["create", "--max-uses", "0"], b"", 2, "max-uses"),
        (vec!["create", "--kind", "api"], b"", 2, "--principal"),
        (
            vec!["create", "--kind", "api", "--principal", "alice"],
            b"",
            2,
            "invalid principal",
        ),
        (
            vec![
                "create",
                "--kind",
                "api",
                "--principal",
                "user:a",
                "--scope",
                "run:wor*ker:x",
            ],
            b"",
            2,
            "kind",
        ),
        (
            vec!["create", "--principal", "user:a"],
            b"",
            2,
            "api tokens only",
        ),
        (
            vec![
                "create",
                "--kind",
                "api",
                "--principal",
                "user:a",
                "--max-uses",
                "2",
            ],
            b"",
            2,
            "enrol tokens only",
        ),
        (vec!["revoke", "-"], b"{\"id\": ", 2, "malformed JSON"),
        (
            vec!["revoke", "-"],
            b"[\"tok_aaaaaaaaaaaa\"",
            2,
            "JSON array",
        ),
        (vec!["revoke", "-"], b"\xff\xfe tok_\n", 2, "UTF-8"),
        (vec!["verify"], b"mte_\xff\xff", 2, "UTF-8"),
        (vec!["revoke", "not-an-id"], b"", 2, "not a token id"),
        (vec!["show", "tok_aaaaaaaaaaaa"], b"", 3, "no token"),
        (vec!["revoke", &id, "tok_aaaaaaaaaaaa"], b"", 3, "no token"),
        (vec!["revoke", &id, &revoked_id], b"", 4, "already revoked"),
        (vec!["list", "--state", "sideways"], b"", 2, "invalid value"),
        (
            vec!["prune", "--older-than", "soon"],
            b"",
            2,
            "invalid duration",
        ),
    ];
    for (args, stdin, want, needle) in cases {
        let out = env.run("token", &args, stdin);
        let err = stderr(&out);
        assert_eq!(code(&out), want, "token {args:?}: {err}");
        assert!(
            err.contains(needle),
            "token {args:?}: stderr lacks {needle:?}: {err}"
        );
        assert!(err.starts_with("token: error:"), "token {args:?}: {err}");
        assert!(
            out.stdout.is_empty(),
            "token {args:?} printed data on failure"
        );
        assert!(
            env.snapshot() == before,
            "token {args:?} changed the state directory"
        );
    }
    // The token named together with a bad id was not revoked.
    assert_eq!(env.json("token", &["show", &id])["state"], "pending");
    env.assert_audit_intact();
}
}

both_modes! {
    fn huge_stdin_is_refused_cleanly(env) {
    env.create(&[]);
    let before = env.snapshot();
    let huge = vec![b'a'; 17 * 1024 * 1024];
    let out = env.run("token", &["revoke", "-"], &huge);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("larger than"));
    assert!(env.snapshot() == before);
}
}

#[test]
fn broken_pipe_is_a_quiet_success() {
    let env = Env::new();
    crate::state::seed_tokens(&env, 500);
    let bin = assert_cmd::cargo::cargo_bin("token");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; '{}' list --format ndjson | head -n 1 >/dev/null",
            bin.display()
        ))
        .env_clear()
        .env("MOAT_STATE", env.state())
        .env("MOAT_KEY_FILE", env.key())
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?} {}", out.status, stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

both_modes! {
    fn table_format_is_for_people_and_json_errors_are_structured(env) {
    let rec = env.create(&["--label", "nightly"]);
    let out = env.run("token", &["list", "--format", "table"], b"");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("STATE") && text.contains("nightly"), "{text}");
    assert!(text.contains(rec["id"].as_str().unwrap()));

    let out = env.run(
        "token",
        &["show", "tok_aaaaaaaaaaaa", "--format", "table"],
        b"",
    );
    let err = stderr(&out);
    assert!(
        err.starts_with("token: error: no token tok_aaaaaaaaaaaa"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    assert!(
        !err.contains("{\"error\""),
        "table mode prints no JSON error: {err}"
    );
    let out = env.run("token", &["show", "tok_aaaaaaaaaaaa", "--format", "json"], b"");
    let err = stderr(&out);
    let line = err.lines().find(|l| l.starts_with("{\"error\"")).unwrap_or_default();
    let v: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("{err}"));
    assert_eq!(v["error"]["code"], "not_found", "{err}");
    assert!(v["error"]["hint"].as_str().is_some_and(|h| !h.is_empty()), "{err}");
}
}

/// DESIGN §9.8: concurrent writers never lose a write and never fail.
#[test]
fn eight_processes_creating_100_tokens_each_lose_nothing() {
    let env = Env::new();
    env.create(&[]); // the state exists before the race, as in production
    let bin = assert_cmd::cargo::cargo_bin("token");
    let script = format!(
        "for i in $(seq 100); do '{}' create -q >/dev/null || exit 1; done",
        bin.display()
    );
    let children: Vec<_> = (0..8)
        .map(|_| {
            std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .env_clear()
                .env("MOAT_STATE", env.state())
                .env("MOAT_KEY_FILE", env.key())
                .env("PATH", "/usr/bin:/bin")
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "a writer failed: {}", stderr(&out));
    }
    let all = env.json("token", &["list"]);
    assert_eq!(all.as_array().unwrap().len(), 801);
    let created = env.json("audit", &["log", "--type", "token_created"]);
    assert_eq!(created.as_array().unwrap().len(), 801);
    env.assert_audit_intact();
}

#[test]
fn unreachable_servers_are_reported_and_every_binary_teaches() {
    let env = Env::new();
    let out = env.run("token", &["list", "--server", "https://127.0.0.1:1"], b"");
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot reach"));
    let out = env.run(
        "token",
        &["list", "--server", "http://example.com:8443"],
        b"",
    );
    assert_eq!(code(&out), 2, "plain http off loopback is refused");
    for bin in ["token", "grant", "reload", "worker", "audit", "serve"] {
        let help = env.run(bin, &["--help"], b"");
        assert!(help.status.success());
        assert!(String::from_utf8_lossy(&help.stdout).contains("Exit status"));
    }
}
