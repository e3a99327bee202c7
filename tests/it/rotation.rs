//! Credential rotation bookkeeping at the library level, with a controlled
//! clock: batched rotations answer each worker on its own, rotated-out
//! credentials are remembered for `REUSE_MEMORY_MS` (reuse revokes) and then
//! forgotten (refused as unknown), so the table does not grow per heartbeat.

use std::collections::BTreeMap;
use std::time::Duration;

use moat::credential::CredentialKind;
use moat::store::Store;
use moat::token::{self, Ctx, MaxUses};
use moat::worker;

fn ctx(now: i64) -> Ctx {
    Ctx::new("test", now)
}

/// Rotations every second, each audited (`serve --rotate-every 1s --audit-rotations`).
const EVERY_SECOND: worker::Rotation = worker::Rotation {
    every: Duration::from_secs(1),
    audit: true,
};

/// A store with `n` enrolled workers: (id, first credential) each.
fn fleet(dir: &std::path::Path, n: usize, now: i64) -> (Store, Vec<(String, String)>) {
    let mut store = Store::open(&dir.join("state.db")).unwrap();
    let req = token::CreateRequest {
        kind: CredentialKind::Enrol,
        ttl: Some(Duration::from_secs(3600)),
        allow_long_ttl: false,
        max_uses: Some(MaxUses::Unlimited),
        label: None,
        principal: None,
        scopes: vec![],
        public_key: None,
    };
    let tok = token::create(&mut store, &ctx(now), &req)
        .unwrap()
        .token
        .unwrap();
    let workers = (0..n)
        .map(|i| {
            let (w, cred, _) = worker::enroll(
                &mut store,
                &ctx(now),
                &tok,
                &format!("machine-{i}"),
                &BTreeMap::new(),
                1,
                "test",
                &EVERY_SECOND,
                &|_| true,
            )
            .unwrap();
            (w.id, cred)
        })
        .collect();
    (store, workers)
}

/// `SELECT COUNT(*)` over the state file, read through a second connection.
fn count(dir: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(dir.join("state.db"))
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// Heartbeat like a worker: acknowledge the credential received last.
fn beat(store: &mut Store, id: &str, ack: &mut Option<String>, now: i64) -> String {
    let (cred, _) = worker::rotate(store, &ctx(now), id, ack.as_deref(), &EVERY_SECOND).unwrap();
    *ack = Some(cred.clone());
    cred
}

#[test]
fn a_batch_answers_each_worker_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let now = moat::time::now_ms();
    let (mut store, ws) = fleet(dir.path(), 3, now);
    worker::revoke(&mut store, &ctx(now), &[ws[1].0.clone()], "test").unwrap();
    let beats: Vec<worker::Beat<'_>> = ws
        .iter()
        .map(|(id, _)| worker::Beat {
            worker: id,
            ack: None,
            issue: true,
        })
        .collect();
    let answers = worker::rotate_many(&mut store, now + 1, &beats, &EVERY_SECOND).unwrap();
    assert_eq!(answers.len(), 3);
    assert!(answers[0].is_ok());
    assert_eq!(answers[1].as_ref().unwrap_err().code, "worker_revoked");
    assert!(answers[2].is_ok());
    // Both healthy workers' rotations were committed and audited.
    let rotated = count(
        dir.path(),
        "SELECT COUNT(*) FROM audit_events WHERE type = 'credential_rotated'",
    );
    assert_eq!(rotated, 2);
}

#[test]
fn rotated_out_credentials_are_remembered_then_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = moat::time::now_ms();
    let (mut store, ws) = fleet(dir.path(), 2, t0);
    let (id, first) = ws[0].clone();
    let mut ack = None;
    // Heartbeats every second for ten minutes of simulated time.
    let mut recent = String::new();
    let mut now = t0;
    for i in 0..600 {
        now = t0 + (i + 1) * 1000;
        let cred = beat(&mut store, &id, &mut ack, now);
        if i == 590 {
            recent = cred;
        }
    }
    // Without forgetting there would be 601 rows for this worker; with it,
    // about REUSE_MEMORY_MS worth of heartbeats (plus the other worker's one).
    let rows = count(dir.path(), "SELECT COUNT(*) FROM worker_credentials");
    let window = worker::REUSE_MEMORY_MS / 1000;
    assert!(rows <= window + 4, "{rows} credential rows");
    assert!(rows >= window - 2, "{rows} credential rows");

    // The first credential is long forgotten: refused as unknown, and the
    // worker is not revoked by it.
    let err = worker::resume(&mut store, &ctx(now), &first, "machine-0", &|_| true).unwrap_err();
    assert_eq!(err.code, "invalid_credential", "{}", err.message);
    let w = store.read(|tx| tx.worker(&id)).unwrap().unwrap();
    assert_ne!(w.status, "revoked");

    // A credential rotated out within the window is reuse: the worker is revoked.
    let err = worker::resume(&mut store, &ctx(now), &recent, "machine-0", &|_| true).unwrap_err();
    assert_eq!(err.code, "credential_reuse", "{}", err.message);
    let w = store.read(|tx| tx.worker(&id)).unwrap().unwrap();
    assert_eq!(w.status, "revoked");
}

/// Remembering runs from when a credential was rotated out, not from when
/// it was issued: a credential held for an hour (a worker that was off) and
/// then rotated out is still reuse if presented right after.
#[test]
fn an_old_credential_rotated_out_just_now_is_still_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = moat::time::now_ms();
    let (mut store, ws) = fleet(dir.path(), 1, t0);
    let (id, first) = ws[0].clone();
    let hour = 60 * 60 * 1000;
    let mut ack = None;
    beat(&mut store, &id, &mut ack, t0 + hour);
    // This heartbeat acknowledges the new credential: `first` is rotated out.
    beat(&mut store, &id, &mut ack, t0 + hour + 1000);
    let err = worker::resume(
        &mut store,
        &ctx(t0 + hour + 2000),
        &first,
        "machine-0",
        &|_| true,
    )
    .unwrap_err();
    assert_eq!(err.code, "credential_reuse", "{}", err.message);
}

/// A state file from before migration 4 (no `retired_at`) upgrades on open:
/// its retired credentials count as retired when they were issued, and the
/// rest keep working.
#[test]
fn a_version_3_state_file_upgrades() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = moat::time::now_ms();
    let (mut store, ws) = fleet(dir.path(), 1, t0);
    let (id, _) = ws[0].clone();
    let mut ack = None;
    beat(&mut store, &id, &mut ack, t0 + 1000);
    let live = beat(&mut store, &id, &mut ack, t0 + 2000);
    drop(store);
    // Undo migrations 4 and later by hand, as a version 3 binary left the file.
    let conn = rusqlite::Connection::open(dir.path().join("state.db")).unwrap();
    conn.execute_batch(
        "DROP TABLE signer_keys;
         DROP TABLE relays;
         ALTER TABLE workers DROP COLUMN replica;
         ALTER TABLE snapshots DROP COLUMN packed;
         ALTER TABLE tokens DROP COLUMN groups;
         DROP INDEX workers_draining;
         DROP INDEX workers_by_revoked;
         DROP INDEX worker_credentials_by_worker;
         ALTER TABLE worker_credentials DROP COLUMN retired_at;
         CREATE INDEX worker_credentials_by_worker ON worker_credentials (worker_id, state);
         PRAGMA user_version = 3;",
    )
    .unwrap();
    drop(conn);

    let mut store = Store::open(&dir.path().join("state.db")).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("state.db")).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, moat::store::SCHEMA_VERSION);
    let unset: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM worker_credentials WHERE state = 'retired' AND retired_at IS NOT created_at",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unset, 0, "retired rows take their issue time");
    let retired: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM worker_credentials WHERE state = 'retired'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(retired >= 1);
    // The worker carries on from the upgraded file.
    let (session_worker, _, _) =
        worker::resume(&mut store, &ctx(t0 + 3000), &live, "machine-0", &|_| true).unwrap();
    assert_eq!(session_worker.id, id);
    beat(&mut store, &id, &mut ack, t0 + 4000);
}
