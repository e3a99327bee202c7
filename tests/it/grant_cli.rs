//! `grant` and `reload` through the real binaries (DESIGN §5).

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use crate::common::*;

fn check(env: &Env, principal: &str, action: &str, resource: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "check",
        "--principal",
        principal,
        "--action",
        action,
        "--resource",
        resource,
    ];
    args.extend_from_slice(extra);
    let out = env.run("grant", &args, b"");
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (code(&out), v)
}

fn add(env: &Env, args: &[&str]) -> Value {
    let mut full = vec!["add"];
    full.extend_from_slice(args);
    env.json("grant", &full)
}

both_modes! {
    fn staged_grants_take_effect_only_after_reload(env) {
    let g = add(
        env,
        &[
            "--subject",
            "group:ops",
            "--action",
            "run",
            "--resource",
            "worker:build-*",
        ],
    );
    assert_eq!(g["source"], "cli");
    assert_eq!(g["state"], "active");
    assert!(g["id"].as_str().unwrap().starts_with("grt_"));
    env.json("grant", &["group", "add", "ops", "user:alice"]);

    let (c, d) = check(env, "user:alice", "run", "worker:build-1", &[]);
    assert_eq!(
        (c, d["decision"].as_str(), d["snapshot"].as_i64()),
        (1, Some("deny"), Some(0))
    );
    // --staged sees it already.
    let (c, d) = check(env, "user:alice", "run", "worker:build-1", &["--staged"]);
    assert_eq!((c, d["decision"].as_str()), (0, Some("allow")));

    let r = env.json("reload", &[]);
    assert_eq!(r["version"], 1);
    assert_eq!(r["grants_added"], json!([g["id"]]));
    let (c, d) = check(env, "user:alice", "run", "worker:build-1", &[]);
    assert_eq!(c, 0);
    assert_eq!(d["reason"], "allowed");
    assert_eq!(d["snapshot"], 1);
    assert_eq!(
        d["matched"],
        json!([{"id": g["id"], "effect": "allow", "subject": "group:ops", "via": "group:ops"}])
    );

    // A reload with nothing staged makes no new snapshot.
    let r = env.json("reload", &[]);
    assert_eq!(
        (r["changed"].as_bool(), r["version"].as_i64()),
        (Some(false), Some(1))
    );
    env.assert_audit_intact();
}
}

both_modes! {
    fn deny_wins_and_explain_shows_near_misses(env) {
    add(
        env,
        &[
            "--subject",
            "user:alice",
            "--action",
            "admin",
            "--resource",
            "access:*",
        ],
    );
    let deny = add(
        env,
        &[
            "--subject",
            "user:alice",
            "--action",
            "read",
            "--resource",
            "vault:root",
            "--deny",
        ],
    );
    add(
        env,
        &[
            "--subject",
            "user:bob",
            "--action",
            "read,write",
            "--resource",
            "vault:app-*",
        ],
    );
    env.json("reload", &[]);
    // Superuser allows anything ...
    assert_eq!(check(env, "user:alice", "run", "worker:x", &[]).0, 0);
    // ... except what a deny names.
    let (c, d) = check(env, "user:alice", "read", "vault:root", &[]);
    assert_eq!((c, d["reason"].as_str()), (1, Some("explicit_deny")));
    assert!(
        d["matched"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == deny["id"])
    );

    let (c, d) = check(env, "user:bob", "run", "vault:app-1", &["--explain"]);
    assert_eq!((c, d["reason"].as_str()), (1, Some("no_matching_grant")));
    assert_eq!(d["near_misses"][0]["failed_on"], "action");
    let (_, d) = check(env, "user:bob", "read", "vault:db", &["--explain"]);
    assert_eq!(d["near_misses"][0]["failed_on"], "resource");
}
}

both_modes! {
    fn builtin_roles_are_listed_and_cannot_be_revoked(env) {
    env.json("grant", &["group", "add", "role:viewer", "user:v"]);
    let list = env.json("grant", &["list", "--source", "builtin"]);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "grt_builtin_viewer",
            "grt_builtin_operator",
            "grt_builtin_admin"
        ]
    );
    let out = env.run("grant", &["revoke", "grt_builtin_admin"], b"");
    assert_eq!(code(&out), 4);
    env.json("reload", &[]);
    assert_eq!(check(env, "user:v", "read", "vault:x", &[]).0, 0);
    assert_eq!(check(env, "user:v", "write", "vault:x", &[]).0, 1);
}
}

both_modes! {
    fn rollback_restores_earlier_decisions(env) {
    let g = add(
        env,
        &[
            "--subject",
            "user:a",
            "--action",
            "read",
            "--resource",
            "vault:x",
        ],
    );
    env.json("reload", &[]);
    assert_eq!(check(env, "user:a", "read", "vault:x", &[]).0, 0);
    env.json("grant", &["revoke", g["id"].as_str().unwrap()]);
    env.json("reload", &[]);
    assert_eq!(
        check(env, "user:a", "read", "vault:x", &[]).1["snapshot"],
        2
    );
    assert_eq!(check(env, "user:a", "read", "vault:x", &[]).0, 1);

    let s = env.json("reload", &["rollback", "1"]);
    assert_eq!(s["active"], true);
    let (c, d) = check(env, "user:a", "read", "vault:x", &[]);
    assert_eq!((c, d["snapshot"].as_i64()), (0, Some(1)));
    let h = env.json("reload", &["history"]);
    assert_eq!(h.as_array().unwrap().len(), 2);
    assert_eq!(h[0]["active"], true);
    assert_eq!(code(&env.run("reload", &["rollback", "9"], b"")), 3);
    assert_eq!(code(&env.run("reload", &["rollback", "1"], b"")), 4);
    env.assert_audit_intact();
}
}

both_modes! {
    fn prune_deletes_old_snapshots_but_never_the_active_or_newest(env) {
    let versions = |v: &Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["version"].as_i64().unwrap())
            .collect()
    };
    for x in ["a", "b", "c", "d"] {
        let resource = format!("vault:{x}");
        add(
            env,
            &["--subject", "user:a", "--action", "read", "--resource", &resource],
        );
        env.json("reload", &[]);
    }
    env.json("reload", &["rollback", "2"]);

    // A dry run lists what would go and changes nothing.
    let before = env.snapshot();
    let would = env.json("reload", &["prune", "--keep", "1", "--dry-run"]);
    assert_eq!(versions(&would), [1, 3]);
    // Options before the subcommand are accepted too.
    let would = env.json("reload", &["--dry-run", "--format", "json", "prune", "--keep=1"]);
    assert_eq!(versions(&would), [1, 3]);
    assert!(env.snapshot() == before, "a dry run changed the state");

    // Kept: the active snapshot (2) and the newest other one (4).
    let pruned = env.json("reload", &["prune", "--keep", "1"]);
    assert_eq!(versions(&pruned), [1, 3]);
    assert_eq!(pruned[0]["active"], false);
    let h = env.json("reload", &["history"]);
    assert_eq!(versions(&h), [2, 4]);
    assert_eq!(h[0]["active"], true);
    // Decisions still come from the active snapshot: vault:b yes, vault:c not yet.
    let (c, d) = check(env, "user:a", "read", "vault:b", &[]);
    assert_eq!((c, d["snapshot"].as_i64()), (0, Some(2)));
    assert_eq!(check(env, "user:a", "read", "vault:c", &[]).0, 1);
    // A pruned snapshot cannot be rolled back to; a kept one can.
    assert_eq!(code(&env.run("reload", &["rollback", "3"], b"")), 3);
    env.json("reload", &["rollback", "4"]);
    assert_eq!(check(env, "user:a", "read", "vault:d", &[]).0, 0);

    // Nothing more to prune with the default keep.
    assert_eq!(versions(&env.json("reload", &["prune"])), Vec::<i64>::new());
    assert_eq!(versions(&env.json("reload", &["prune", "--keep", "0"])), [2]);
    assert_eq!(versions(&env.json("reload", &["history"])), [4]);

    let events = env.json("audit", &["log", "--type", "snapshot_pruned"]);
    let targets: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["snapshot:1", "snapshot:3", "snapshot:2"]);
    env.assert_audit_intact();
}
}

#[test]
fn prune_with_vacuum_shrinks_the_state_file_and_keeps_every_decision() {
    let env = Env::sqlite(); // the file itself is what is tested
    // (pages in use, free pages) in bytes, read beside the binaries.
    let pages = || -> (u64, u64) {
        let conn = rusqlite::Connection::open(env.state()).unwrap();
        let q = |p: &str| -> u64 {
            let v: i64 = conn.pragma_query_value(None, p, |r| r.get(0)).unwrap();
            v.try_into().unwrap()
        };
        let size = q("page_size");
        (q("page_count") * size, q("freelist_count") * size)
    };
    // Five snapshots of ~3,000 grants each.
    for round in 0..5 {
        let grants: Vec<Value> = (0..3000)
            .map(|i| {
                json!({
                    "subject": format!("user:u{i}"),
                    "effect": "allow",
                    "actions": ["read"],
                    "resource": format!("vault:round{round}-secret-{i}"),
                })
            })
            .collect();
        let file = json!({ "grants": grants }).to_string();
        env.json_in("grant", &["apply", "-", "--name", "bulk"], file.as_bytes());
        env.json("reload", &[]);
    }
    // Pruning frees pages inside the file but does not shrink it.
    let pruned = env.json("reload", &["prune", "--keep", "0"]);
    assert_eq!(pruned.as_array().unwrap().len(), 4);
    let (total, free) = pages();
    assert!(
        free > 1 << 20,
        "four pruned snapshots freed only {free} bytes"
    );

    // Another connection stays open throughout, as a running serve's would,
    // so closing the vacuuming one is not what checkpoints the WAL.
    let other = rusqlite::Connection::open(env.state()).unwrap();
    let _: i64 = other
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    let out = env.run("reload", &["prune", "--vacuum"], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, b"[]\n", "nothing more to prune");
    assert!(stderr(&out).contains("state file:"), "{}", stderr(&out));
    let (after, free_after) = pages();
    assert_eq!(free_after, 0);
    assert!(
        after <= total - free + (64 << 10),
        "vacuum left {after} bytes of {total}, {free} of them free"
    );
    // The file itself shrank, and the WAL that carried the rewrite was
    // checkpointed and truncated.
    assert_eq!(std::fs::metadata(env.state()).unwrap().len(), after);
    let wal = std::fs::metadata(env.state().with_extension("db-wal")).map_or(0, |m| m.len());
    assert_eq!(wal, 0, "the WAL kept {wal} bytes");
    drop(other);
    let mode = std::fs::metadata(env.state()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Same decisions from the same active snapshot, and the chain is whole.
    let (c, d) = check(&env, "user:u7", "read", "vault:round4-secret-7", &[]);
    assert_eq!((c, d["snapshot"].as_i64()), (0, Some(5)));
    assert_eq!(
        check(&env, "user:u7", "read", "vault:round3-secret-7", &[]).0,
        1
    );
    env.assert_audit_intact();
}

#[test]
fn vacuum_is_refused_with_a_dry_run_or_through_serve() {
    let env = Env::remote();
    env.json("reload", &[]);
    for args in [
        vec!["prune", "--vacuum"],
        vec!["prune", "--vacuum", "--dry-run"],
        vec!["--dry-run", "prune", "--vacuum"],
    ] {
        let before = env.snapshot();
        let out = env.run("reload", &args, b"");
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("--vacuum"), "{}", stderr(&out));
        assert!(env.snapshot() == before, "{args:?} changed the state");
    }
}

both_modes! {
    fn export_piped_into_apply_is_a_no_op(env) {
    add(
        env,
        &[
            "--subject",
            "group:ops",
            "--action",
            "run",
            "--resource",
            "worker:build-*",
            "--note",
            "builds",
        ],
    );
    add(
        env,
        &[
            "--subject",
            "user:x",
            "--action",
            "read",
            "--resource",
            "*:*",
            "--deny",
        ],
    );
    let exported = env.run("grant", &["export"], b"");
    assert!(exported.status.success());
    let before = env.snapshot();
    let r = env.json_in("grant", &["apply", "-"], &exported.stdout);
    assert_eq!(
        r,
        json!({"source": "file:stdin", "created": 0, "reactivated": 0, "revoked": 0, "unchanged": 2})
    );
    assert!(env.snapshot() == before, "a no-op apply changed the state");
}
}

both_modes! {
    fn apply_reconciles_its_source(env) {
    let dir = env.dir.path();
    let file = dir.join("team.json");
    let write =
        |grants: Value| std::fs::write(&file, json!({ "grants": grants }).to_string()).unwrap();
    let path = file.to_str().unwrap();

    write(json!([
        {"subject": "group:ops", "effect": "allow", "actions": ["run"], "resource": "worker:*", "note": null},
        {"subject": "user:a", "effect": "deny", "actions": ["admin"], "resource": "access:*"},
    ]));
    let r = env.json("grant", &["apply", path]);
    assert_eq!(
        (r["source"].as_str(), r["created"].as_i64()),
        (Some("file:team"), Some(2))
    );

    write(
        json!([{"subject": "group:ops", "effect": "allow", "actions": ["run"], "resource": "worker:*"}]),
    );
    let r = env.json("grant", &["apply", path]);
    assert_eq!(
        (r["unchanged"].as_i64(), r["revoked"].as_i64()),
        (Some(1), Some(1))
    );

    write(json!([
        {"subject": "group:ops", "effect": "allow", "actions": ["run"], "resource": "worker:*"},
        {"subject": "user:a", "effect": "deny", "actions": ["admin"], "resource": "access:*"},
    ]));
    let r = env.json("grant", &["apply", path]);
    assert_eq!(
        (r["reactivated"].as_i64(), r["created"].as_i64()),
        (Some(1), Some(0))
    );
    let listed = env.json(
        "grant",
        &["list", "--source", "file:team", "--state", "active"],
    );
    assert_eq!(listed.as_array().unwrap().len(), 2);
    env.assert_audit_intact();
}
}

both_modes! {
    fn bad_policy_input_exits_2_and_changes_nothing(env) {
    let g = add(
        env,
        &[
            "--subject",
            "group:ops",
            "--action",
            "run",
            "--resource",
            "worker:build-*",
        ],
    );
    env.json("grant", &["group", "add", "ops", "user:a"]);
    env.json("reload", &[]);
    let bad_file = env.dir.path().join("bad.json");
    std::fs::write(
        &bad_file,
        r#"{"grants":[{"subject":"user:a","actions":["read"],"resource":"vault:x"},{"subject":"user:b","actions":["read"],"resource":"wor*ker:x"}]}"#,
    )
    .unwrap();
    let bad_path = bad_file.to_str().unwrap();
    let before = env.snapshot();
    // (binary, args, stdin, exit code, a phrase the error must contain)
    type Case<'a> = (&'a str, Vec<&'a str>, &'a [u8], i32, &'a str);
    let cases: Vec<Case> = vec![
        (
            "grant",
            vec![
                "add",
                "--subject",
                "user:a",
                "--action",
                "run",
                "--resource",
                "wor*ker:x",
            ],
            b"",
            2,
            "kind 'wor*ker'",
        ),
        (
            "grant",
            vec![
                "add",
                "--subject",
                "user:a",
                "--action",
                "run",
                "--resource",
                "worker:a*b",
            ],
            b"",
            2,
            "only allowed once, at the end",
        ),
        (
            "grant",
            vec![
                "add",
                "--subject",
                "user:a",
                "--action",
                "fly",
                "--resource",
                "worker:x",
            ],
            b"",
            2,
            "unknown action 'fly'",
        ),
        (
            "grant",
            vec![
                "add",
                "--subject",
                "team:a",
                "--action",
                "run",
                "--resource",
                "worker:x",
            ],
            b"",
            2,
            "invalid subject",
        ),
        (
            "grant",
            vec![
                "add",
                "--subject",
                "user:a",
                "--action",
                "run",
                "--resource",
                "worker",
            ],
            b"",
            2,
            "<kind>:<name>",
        ),
        (
            "grant",
            vec![
                "check",
                "--principal",
                "user:a",
                "--action",
                "jump",
                "--resource",
                "worker:x",
            ],
            b"",
            2,
            "unknown action",
        ),
        (
            "grant",
            vec![
                "check",
                "--principal",
                "group:ops",
                "--action",
                "run",
                "--resource",
                "worker:x",
            ],
            b"",
            2,
            "invalid principal",
        ),
        (
            "grant",
            vec![
                "check",
                "--principal",
                "user:a",
                "--action",
                "run",
                "--resource",
                "worker:*",
            ],
            b"",
            2,
            "invalid resource",
        ),
        (
            "grant",
            vec!["apply", bad_path],
            b"",
            2,
            "grant file grant 2",
        ),
        (
            "grant",
            vec!["apply", "-"],
            b"{\"grants\": [",
            2,
            "grant file",
        ),
        ("grant", vec!["apply", "-"], b"\xff\xfe", 2, "UTF-8"),
        // A misspelt field must not drop the deny it meant.
        (
            "grant",
            vec!["apply", "-"],
            br#"{"grants":[{"subject":"user:a","efect":"deny","actions":["read"],"resource":"vault:x"}]}"#,
            2,
            "unknown field `efect`",
        ),
        (
            "grant",
            vec!["revoke", "grt_aaaaaaaaaaaa"],
            b"",
            3,
            "no grant",
        ),
        (
            "grant",
            vec!["revoke", g["id"].as_str().unwrap(), "nonsense"],
            b"",
            2,
            "not a grant id",
        ),
        (
            "grant",
            vec!["group", "remove", "ops", "user:zed"],
            b"",
            3,
            "not a member",
        ),
        (
            "grant",
            vec!["group", "add", "bad group", "user:a"],
            b"",
            2,
            "invalid group name",
        ),
        ("reload", vec!["rollback", "x"], b"", 2, "invalid value"),
        ("reload", vec!["prune", "--keep", "x"], b"", 2, "invalid value"),
        ("reload", vec!["--dry-run", "rollback", "1"], b"", 2, "--dry-run is for"),
        ("reload", vec!["prune", "--keep=-1"], b"", 2, "invalid value"),
    ];
    for (bin, args, stdin, want, needle) in cases {
        let out = env.run(bin, &args, stdin);
        let err = stderr(&out);
        assert_eq!(code(&out), want, "{bin} {args:?}: {err}");
        assert!(
            err.contains(needle),
            "{bin} {args:?}: stderr lacks {needle:?}: {err}"
        );
        assert!(env.snapshot() == before, "{bin} {args:?} changed the state");
    }
    env.assert_audit_intact();
}
}

both_modes! {
    fn batch_decides_in_order_and_numbers_malformed_lines(env) {
    add(
        env,
        &[
            "--subject",
            "user:a",
            "--action",
            "read",
            "--resource",
            "vault:*",
        ],
    );
    env.json("reload", &[]);
    let input = b"{\"principal\":\"user:a\",\"action\":\"read\",\"resource\":\"vault:x\"}\n\
{\"principal\":\"user:a\",\"action\":\"write\",\"resource\":\"vault:x\"}\n\
{\"principal\":\"user:a\"\n\
\n\
{\"principal\":\"user:a\",\"action\":\"read\",\"resource\":\"wor*ker:x\"}\n\
{\"principal\":\"user:b\",\"action\":\"read\",\"resource\":\"vault:x\"}\n";
    let before = env.snapshot();
    let out = env.run("grant", &["check", "--batch", "-"], input);
    assert_eq!(code(&out), 2);
    let lines: Vec<Value> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["decision"], "allow");
    assert_eq!(lines[1]["decision"], "deny");
    assert_eq!(lines[2]["error"]["line"], 3);
    assert_eq!(lines[3]["error"]["line"], 5);
    assert_eq!(lines[4]["decision"], "deny");
    assert!(stderr(&out).contains("2 of 5"));
    assert!(
        !stderr(&out).contains("\"hint\":null"),
        "an error without a hint has no hint field: {}",
        stderr(&out)
    );
    assert!(env.snapshot() == before);
}
}

/// The packed form of a snapshot is a cache of its JSON: a snapshot without
/// one (made before migration 5) or with a damaged one decides from the
/// JSON, and a `reload` that changes nothing gives the active snapshot a
/// packed form again.
#[test]
fn snapshots_without_a_readable_packed_form_decide_from_their_json() {
    let env = Env::sqlite(); // the file itself is what is tested
    for (resource, effect) in [("vault:x*", None), ("vault:xy", Some("--deny"))] {
        let mut args = vec![
            "--subject",
            "user:a",
            "--action",
            "read",
            "--resource",
            resource,
        ];
        args.extend(effect);
        add(&env, &args);
    }
    env.json("reload", &[]);
    let conn = rusqlite::Connection::open(env.state()).unwrap();
    let packed = || -> Option<Vec<u8>> {
        conn.query_row("SELECT packed FROM snapshots WHERE version = 1", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    let decisions = || {
        [("vault:x1", 0), ("vault:xy", 1), ("vault:z", 1)]
            .map(|(r, want)| (check(&env, "user:a", "read", r, &[]).0, want))
    };
    assert!(packed().is_some_and(|p| !p.is_empty()));
    for (got, want) in decisions() {
        assert_eq!(got, want);
    }
    for damage in ["X'01ffff'", "X''", "NULL"] {
        conn.execute_batch(&format!("UPDATE snapshots SET packed = {damage}"))
            .unwrap();
        for (got, want) in decisions() {
            assert_eq!(got, want, "packed = {damage}");
        }
    }
    let r = env.json("reload", &[]);
    assert_eq!(r["changed"], false);
    let restored = packed().expect("reload packs the active snapshot again");
    conn.execute_batch("UPDATE snapshots SET content = X''")
        .unwrap();
    // Now only the packed form can answer.
    assert_eq!(check(&env, "user:a", "read", "vault:x1", &[]).0, 0);
    assert!(!restored.is_empty());
}
