//! `audit` through the real binaries (DESIGN §8): follow, check, prune,
//! export, tamper detection, and coverage of every event type.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use moat::audit::NewEvent;
use moat::credential::CredentialKind;
use moat::store::Store;
use moat::token::{self, CreateRequest, Ctx, MaxUses};
use serde_json::Value;

use crate::both_modes;
use crate::common::*;

fn ctx_at(now: i64) -> Ctx {
    Ctx::new("local:test", now)
}

fn enrol(store: &mut Store, ctx: &Ctx, ttl_h: u64, uses: MaxUses) -> String {
    let req = CreateRequest {
        kind: CredentialKind::Enrol,
        ttl: Some(Duration::from_secs(ttl_h * 3600)),
        allow_long_ttl: true,
        max_uses: Some(uses),
        label: None,
        principal: None,
        scopes: vec![],
        public_key: None,
    };
    token::create(store, ctx, &req).unwrap().token.unwrap()
}

fn findings(env: &Env, args: &[&str]) -> (i32, Vec<Value>) {
    let mut full = vec!["check"];
    full.extend_from_slice(args);
    let out = env.run("audit", &full, b"");
    let v: Vec<Value> =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", stderr(&out)));
    (code(&out), v)
}

both_modes! {
    fn check_on_a_clean_state_finds_nothing(env) {
    env.create(&[]);
    env.json(
        "grant",
        &[
            "add",
            "--subject",
            "group:ops",
            "--action",
            "run",
            "--resource",
            "worker:build-*",
        ],
    );
    env.json("reload", &[]);
    let (c, f) = findings(env, &["--fail-on", "low"]);
    assert_eq!((c, f.len()), (0, 0), "{f:?}");
    // People see that the check ran; scripts still get an empty list.
    let out = env.run("audit", &["check", "--format", "table"], b"");
    assert!(stderr(&out).contains("no findings"), "{}", stderr(&out));
    let quiet = env.run("audit", &["check", "-q"], b"");
    assert_eq!(stderr(&quiet), "");
    assert_eq!(quiet.stdout, b"[]\n");
    }
}

#[test]
fn check_reports_one_of_each_problem() {
    let env = Env::new();
    let now = moat::time::now_ms();
    let day = 86_400_000;
    {
        let mut store = env.store();
        // A long-lived enrol token, and one with unlimited uses.
        enrol(&mut store, &ctx_at(now), 48, MaxUses::Limited(1));
        enrol(&mut store, &ctx_at(now), 1, MaxUses::Unlimited);
        // A bound token whose machine was last seen 10 days ago.
        let old = enrol(
            &mut store,
            &ctx_at(now - 10 * day),
            24 * 30,
            MaxUses::Limited(2),
        );
        token::redeem(&mut store, &ctx_at(now - 10 * day), &old, "gone-machine").unwrap();
        // A token that expired 9 days ago and was never pruned.
        enrol(&mut store, &ctx_at(now - 10 * day), 24, MaxUses::Limited(1));
        // 25 refused enrolments in the last hour.
        for i in 0..25 {
            let fake = moat::credential::RawCredential::generate(CredentialKind::Enrol).expose();
            assert!(token::redeem(&mut store, &ctx_at(now), &fake, &format!("m{i}")).is_err());
        }
        // A worker last seen 10 days ago.
        store
            .write(|tx| {
                tx.insert_worker(&moat::store::WorkerRow {
                    id: "0000000000aa".into(),
                    name: "old-box".into(),
                    machine_id: "m-old".into(),
                    token_id: "000000000000".into(),
                    status: "disconnected".into(),
                    labels: serde_json::json!({}),
                    capacity: 1,
                    version: None,
                    created_at: now - 10 * day,
                    last_seen_at: Some(now - 10 * day),
                    revoked_at: None,
                    reason: None,
                })
            })
            .unwrap();
        // 22 snapshots, one active: 21 never pruned.
        store
            .write(|tx| {
                for i in 0..22 {
                    let row = moat::store::SnapshotRow {
                        version: 0,
                        digest: format!("sha256:{i}"),
                        created_at: now,
                        created_by: "user:test".into(),
                        grants: 0,
                        members: 0,
                        content: Some(br#"{"grants":[],"members":[]}"#.to_vec()),
                    };
                    let v = tx.insert_snapshot(&row, &[])?;
                    tx.set_active_snapshot(v)?;
                }
                Ok(())
            })
            .unwrap();
        // serve's start record with auth disabled.
        store
            .write(|tx| {
                let e = NewEvent::new("serve_started", "serve", None)
                    .details(serde_json::json!({"auth_mode": "none"}));
                tx.append_audit(e, now)
            })
            .unwrap();
    }
    env.json(
        "grant",
        &[
            "add",
            "--subject",
            "group:dev",
            "--action",
            "read",
            "--resource",
            "*:*",
        ],
    );
    env.json(
        "grant",
        &[
            "add",
            "--subject",
            "user:root",
            "--action",
            "admin",
            "--resource",
            "access:*",
        ],
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(env.key(), std::fs::Permissions::from_mode(0o640)).unwrap();

    let (c, f) = findings(&env, &[]);
    assert_eq!(c, 1, "high findings fail the default --fail-on high");
    let ids: Vec<&str> = f.iter().map(|x| x["id"].as_str().unwrap()).collect();
    for want in [
        "enrol_token_long_ttl",
        "enrol_token_unlimited_uses",
        "bound_token_stale",
        "tokens_not_pruned",
        "snapshots_not_pruned",
        "broad_allow_grant",
        "superuser",
        "insecure_file_permissions",
        "auth_failure_spike",
        "auth_mode_none",
        "worker_not_seen",
    ] {
        assert!(ids.contains(&want), "missing {want} in {ids:?}");
    }
    for x in &f {
        for field in ["id", "severity", "subject", "message", "hint"] {
            assert!(x[field].is_string(), "{field} in {x}");
        }
    }
    // Sorted worst first.
    assert_eq!(f[0]["severity"], "high");

    // A broken chain is a finding too (restore the key's mode first).
    std::fs::set_permissions(env.key(), std::fs::Permissions::from_mode(0o600)).unwrap();
    env.tamper("UPDATE audit_events SET actor = 'x' WHERE seq = 2");
    let (_, f) = findings(&env, &[]);
    assert!(
        f.iter()
            .any(|x| x["id"] == "audit_chain_broken" && x["subject"] == "event 2"),
        "{f:?}"
    );
}

both_modes! {
    fn fail_on_sets_the_threshold(env) {
    env.create(&["--max-uses", "unlimited"]); // medium
    assert_eq!(findings(env, &["--fail-on", "high"]).0, 0);
    assert_eq!(findings(env, &["--fail-on", "medium"]).0, 1);
    let out = env.run("audit", &["check", "--fail-on", "severe"], b"");
    assert_eq!(code(&out), 2);
    }
}

#[test]
fn follow_prints_another_process_commit_within_a_second() {
    let env = Env::new();
    env.create(&[]);
    let mut child = env
        .std_cmd("audit")
        .args(["log", "--follow", "--format", "ndjson"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["type"], "token_created");

    let rec = env.create(&["--label", "followed"]);
    let committed = Instant::now();
    let next: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let waited = committed.elapsed();
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(next["target"], rec["id"]);
    assert!(waited < Duration::from_secs(1), "took {waited:?}");
}

#[test]
fn ocsf_export_has_the_api_activity_required_fields() {
    let env = Env::new();
    let t = env.create(&[]);
    env.json("token", &["revoke", t["id"].as_str().unwrap()]);
    env.json(
        "grant",
        &[
            "add",
            "--subject",
            "user:a",
            "--action",
            "read",
            "--resource",
            "vault:x",
        ],
    );
    let out = env.run("audit", &["export", "--schema", "ocsf"], b"");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 3);
    // OCSF 1.1 API Activity (6003): required attributes.
    for e in &events {
        for f in [
            "activity_id",
            "category_uid",
            "class_uid",
            "type_uid",
            "time",
            "severity_id",
            "metadata",
            "actor",
            "api",
            "src_endpoint",
        ] {
            assert!(!e[f].is_null(), "missing {f}: {e}");
        }
        assert_eq!(e["class_uid"], 6003);
        assert_eq!(e["category_uid"], 6);
        assert_eq!(
            e["type_uid"].as_u64().unwrap(),
            600300 + e["activity_id"].as_u64().unwrap()
        );
        assert!(e["metadata"]["product"]["vendor_name"].is_string());
        assert!(e["metadata"]["version"].is_string());
        assert!(e["api"]["operation"].is_string());
        assert!(e["time"].is_i64());
    }
    assert_eq!(events[0]["activity_id"], 1, "created");
    assert_eq!(events[1]["activity_id"], 4, "revoked");

    let cef = env.run("audit", &["export", "--schema", "cef"], b"");
    let cef = String::from_utf8(cef.stdout).unwrap();
    assert_eq!(cef.lines().count(), 3);
    assert!(cef.lines().all(|l| l.starts_with("CEF:0|moat|moat|")));
    let moat = env.run("audit", &["export"], b"");
    let first: Value = serde_json::from_str(
        String::from_utf8(moat.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["seq"], 1);
}

both_modes! {
    fn an_inserted_event_is_caught(env) {
    for _ in 0..3 {
        env.create(&[]);
    }
    env.tamper(
        "UPDATE audit_events SET seq = seq + 10 WHERE seq >= 2;
         UPDATE audit_events SET seq = seq - 9 WHERE seq >= 12;
         INSERT INTO audit_events (seq, ts, type, actor, target, outcome, source, request_id, details, prev_hash, hash)
           SELECT 2, ts, 'token_created', 'local:mallory', 'tok_fake', 'success', 'cli', NULL, '{}', hash, hash
           FROM audit_events WHERE seq = 1;",
    );
    let out = env.run("audit", &["verify"], b"");
    assert_eq!(code(&out), 1);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["first_bad_seq"], 2);
    }
}

#[test]
fn prune_keeps_the_chain_verifiable_and_seals_its_anchor() {
    let env = Env::sqlite(); // the file itself is what is tested
    for _ in 0..3 {
        env.create(&[]);
    }
    let cp = env.run("audit", &["checkpoint"], b"");
    let cp_file = env.dir.path().join("cp.json");
    std::fs::write(&cp_file, &cp.stdout).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    env.create(&[]);
    let r = env.json("audit", &["prune", "--before", "1s"]);
    assert_eq!(
        (r["pruned"].as_i64(), r["through_seq"].as_i64()),
        (Some(3), Some(3))
    );
    let log = env.json("audit", &["log"]);
    let types: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["token_created", "audit_pruned"]);
    env.assert_audit_intact();
    // The checkpoint taken before the prune still verifies (it is the anchor).
    env.json(
        "audit",
        &["verify", "--checkpoint", cp_file.to_str().unwrap()],
    );

    // Moving the anchor without the pepper is caught.
    let conn = rusqlite::Connection::open(env.state()).unwrap();
    conn.execute(
        "UPDATE meta SET value = json_set(value, '$.seq', 1) WHERE key = 'audit_anchor'",
        [],
    )
    .unwrap();
    drop(conn);
    let out = env.run("audit", &["verify"], b"");
    assert_eq!(code(&out), 1);
    let out = env.run("audit", &["prune", "--before", "0s"], b"");
    assert_eq!(
        code(&out),
        4,
        "pruning a broken chain is refused: {}",
        stderr(&out)
    );
}

/// Every event type moat emits is produced by this scenario (plus a worker
/// scenario with a real serve and worker); a new type without coverage fails here.
#[test]
fn every_event_type_is_emitted_in_the_same_transaction_as_its_change() {
    let env = Env::new();
    let t = env.create(&["--ttl", "1s"]);
    {
        let mut store = env.store();
        let now = moat::time::now_ms();
        let raw = enrol(&mut store, &ctx_at(now), 1, MaxUses::Limited(1));
        token::redeem(&mut store, &ctx_at(now), &raw, "m1").unwrap();
        token::redeem(&mut store, &ctx_at(now), &raw, "m2").unwrap_err();
    }
    env.json("token", &["revoke", t["id"].as_str().unwrap()]);
    let g = env.json(
        "grant",
        &[
            "add",
            "--subject",
            "user:a",
            "--action",
            "read",
            "--resource",
            "vault:x",
        ],
    );
    env.json("grant", &["group", "add", "ops", "user:a"]);
    env.json("reload", &[]);
    env.json("grant", &["revoke", g["id"].as_str().unwrap()]);
    env.json("reload", &[]);
    env.json("reload", &["rollback", "1"]);
    env.json("reload", &["prune", "--keep", "0"]);
    env.json_in(
        "grant",
        &["apply", "-"],
        br#"{"grants":[{"subject":"user:b","actions":["run"],"resource":"worker:x"}]}"#,
    );
    std::thread::sleep(Duration::from_millis(1100));
    env.json("token", &["prune", "--older-than", "0s"]);

    // serve's events: a refused start, a start (admins materialized), an
    // api-token login, failures until throttled, and a denied request.
    let refused = env
        .cmd("serve")
        .args(["--host", "0.0.0.0", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(code(&refused), 2);
    let api = env.create(&["--kind", "api", "--principal", "user:reader"]);
    let server = Server::start(
        env.dir.path(),
        &env.state(),
        &["--admins", "user:root"],
        &[],
    );
    let remote = |bearer: &str, args: &[&str]| {
        env.cmd("token")
            .args(args)
            .env("MOAT_SERVER", &server.url)
            .env("MOAT_AUTH_TOKEN", bearer)
            .output()
            .unwrap()
    };
    assert_eq!(
        code(&remote(api["token"].as_str().unwrap(), &["create"])),
        5,
        "access denied"
    );
    let bad = moat::credential::RawCredential::generate(CredentialKind::Api).expose();
    for _ in 0..12 {
        remote(&bad, &["list"]);
    }
    drop(server);
    assert!(env.assert_ocsf_valid() > 20);
    let types = |env: &Env| -> std::collections::BTreeSet<String> {
        let log = env.json("audit", &["log"]);
        log.as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut seen = types(&env);
    let pruned = env.json("audit", &["prune", "--before", "1s"]);
    std::thread::sleep(Duration::from_millis(100));
    assert!(pruned["pruned"].as_i64().unwrap() > 0);
    seen.extend(types(&env));
    env.assert_ocsf_valid(); // the prune's anchor event too
    seen.extend(crate::workers::worker_event_types());
    for t in moat::audit::types::ALL {
        assert!(
            seen.contains(*t),
            "event type {t} was never emitted; seen {seen:?}"
        );
    }
    env.assert_audit_intact();
}

#[test]
fn free_space_left_by_pruned_snapshots_is_a_finding_until_vacuumed() {
    let env = Env::sqlite(); // the file itself is what is tested
    env.json("reload", &[]);
    // An old snapshot of ~80 MB (incompressible), then pruned.
    {
        let mut store = env.store();
        let mut bulk = vec![0u8; 80 << 20];
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for b in bulk.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        store
            .write(|tx| {
                let row = moat::store::SnapshotRow {
                    version: 0,
                    digest: "sha256:bulk".into(),
                    created_at: moat::time::now_ms(),
                    created_by: "user:test".into(),
                    grants: 0,
                    members: 0,
                    content: Some(bulk.clone()),
                };
                tx.insert_snapshot(&row, &[]).map(|_| ())
            })
            .unwrap();
    }
    let pruned = env.json("reload", &["prune", "--keep", "0"]);
    assert_eq!(pruned.as_array().unwrap().len(), 1);
    let ids = |f: &[Value]| -> Vec<String> {
        f.iter()
            .map(|x| x["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (c, f) = findings(&env, &[]);
    assert_eq!(
        c, 0,
        "a low finding does not fail the default --fail-on high"
    );
    assert!(
        ids(&f).contains(&"state_file_mostly_free".to_owned()),
        "{f:?}"
    );
    let hint = f
        .iter()
        .find(|x| x["id"] == "state_file_mostly_free")
        .map(|x| x["hint"].as_str().unwrap().to_owned())
        .unwrap();
    assert!(hint.contains("reload prune --vacuum"), "{hint}");
    let out = env.run("reload", &["prune", "--vacuum"], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (_, f) = findings(&env, &[]);
    assert!(
        !ids(&f).contains(&"state_file_mostly_free".to_owned()),
        "{f:?}"
    );
}

both_modes! {
    fn export_writes_one_line_per_event_in_each_schema(env) {
        let t = env.create(&[]);
        env.json("token", &["revoke", t["id"].as_str().unwrap()]);
        let events = env.json("audit", &["log"]).as_array().unwrap().len();
        let lines = |schema: &str| -> Vec<String> {
            let out = env.run("audit", &["export", "--schema", schema], b"");
            assert_eq!(code(&out), 0, "{}", stderr(&out));
            String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
        };
        let moat = lines("moat");
        assert_eq!(moat.len(), events);
        for l in &moat {
            let v: Value = serde_json::from_str(l).unwrap();
            assert!(v["seq"].is_i64() && v["hash"].is_string(), "{l}");
        }
        let ocsf = lines("ocsf");
        assert_eq!(ocsf.len(), events);
        for l in &ocsf {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["class_uid"], 6003, "{l}");
        }
        let cef = lines("cef");
        assert_eq!(cef.len(), events);
        assert!(cef.iter().all(|l| l.starts_with("CEF:0|")), "{cef:?}");
        let since = lines("moat").len();
        let out = env.run("audit", &["export", "--since", "1h"], b"");
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), since);
        let out = env.run("audit", &["export", "--since", "yesterday-ish"], b"");
        assert_eq!(code(&out), 2, "{}", stderr(&out));
    }
}

both_modes! {
    fn prune_cuts_old_events_behind_a_verifiable_anchor(env) {
        env.create(&[]);
        std::thread::sleep(Duration::from_millis(1100));
        let kept = env.create(&["--label", "kept"]);
        let r = env.json("audit", &["prune", "--before", "1s"]);
        assert!(r["pruned"].as_i64().unwrap() >= 1, "{r}");
        assert!(r["anchor_hash"].is_string(), "{r}");
        let log = env.json("audit", &["log"]);
        let log = log.as_array().unwrap();
        assert!(log.iter().any(|e| e["type"] == "audit_pruned"), "{log:?}");
        assert!(log.iter().any(|e| e["target"] == kept["id"]), "{log:?}");
        assert!(log.iter().all(|e| e["seq"].as_i64() > r["through_seq"].as_i64()));
        env.assert_audit_intact();
        let out = env.run("audit", &["prune", "--before", "someday"], b"");
        assert_eq!(code(&out), 2, "{}", stderr(&out));
    }
}
