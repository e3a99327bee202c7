//! Schema migrations: an append-only list per engine. Never edit or reorder
//! an entry; add a new one. SQLite's `PRAGMA user_version` and PostgreSQL's
//! `moat_schema` table record how many have run.

use super::sql::{Conn, Engine, Mode, Txn, args};

use crate::error::{Code, Error, Exit, Result};

const MIGRATIONS: &[&str] = &[
    // 1: tokens, their machine bindings, the audit chain, and a key/value meta table.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE tokens (
        id           TEXT PRIMARY KEY,
        kind         TEXT NOT NULL CHECK (kind IN ('enrol', 'api')),
        secret_hash  TEXT NOT NULL,
        label        TEXT,
        principal    TEXT,
        scopes       TEXT NOT NULL DEFAULT '[]',
        max_uses     INTEGER,
        created_at   INTEGER NOT NULL,
        created_by   TEXT NOT NULL,
        expires_at   INTEGER NOT NULL,
        revoked_at   INTEGER,
        reason       TEXT,
        last_used_at INTEGER
    );
    CREATE INDEX tokens_by_expiry ON tokens (expires_at);
    CREATE TABLE token_bindings (
        token_id   TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
        machine_id TEXT NOT NULL,
        bound_at   INTEGER NOT NULL,
        PRIMARY KEY (token_id, machine_id)
    );
    CREATE TABLE audit_events (
        seq        INTEGER PRIMARY KEY,
        ts         INTEGER NOT NULL,
        type       TEXT NOT NULL,
        actor      TEXT NOT NULL,
        target     TEXT,
        outcome    TEXT NOT NULL,
        source     TEXT NOT NULL,
        request_id TEXT,
        details    TEXT NOT NULL,
        prev_hash  TEXT NOT NULL,
        hash       TEXT NOT NULL
    );
    CREATE INDEX audit_events_by_ts ON audit_events (ts);
    "#,
    // 2: policy: grants (staged), group memberships, compiled snapshots.
    r#"
    CREATE TABLE grants (
        id         TEXT PRIMARY KEY,
        subject    TEXT NOT NULL,
        effect     TEXT NOT NULL CHECK (effect IN ('allow', 'deny')),
        actions    INTEGER NOT NULL CHECK (actions BETWEEN 1 AND 15),
        resource   TEXT NOT NULL,
        source     TEXT NOT NULL,
        active     INTEGER NOT NULL CHECK (active IN (0, 1)),
        note       TEXT,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        changed_at INTEGER NOT NULL
    );
    CREATE INDEX grants_by_source ON grants (source, active);
    CREATE INDEX grants_by_subject ON grants (subject);
    CREATE TABLE group_members (
        group_name TEXT NOT NULL,
        principal  TEXT NOT NULL,
        added_at   INTEGER NOT NULL,
        added_by   TEXT NOT NULL,
        PRIMARY KEY (group_name, principal)
    );
    CREATE TABLE snapshots (
        version    INTEGER PRIMARY KEY,
        digest     TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        grants     INTEGER NOT NULL,
        members    INTEGER NOT NULL,
        content    BLOB NOT NULL
    );
    "#,
    // 3: workers, their rotating session credentials, and dispatches.
    r#"
    CREATE TABLE workers (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        machine_id   TEXT NOT NULL,
        token_id     TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('connected', 'disconnected', 'draining', 'revoked')),
        labels       TEXT NOT NULL DEFAULT '{}',
        capacity     INTEGER NOT NULL DEFAULT 1,
        version      TEXT,
        created_at   INTEGER NOT NULL,
        last_seen_at INTEGER,
        revoked_at   INTEGER,
        reason       TEXT,
        UNIQUE (token_id, machine_id)
    );
    CREATE INDEX workers_by_name ON workers (name);
    CREATE TABLE worker_credentials (
        id         TEXT PRIMARY KEY,
        worker_id  TEXT NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
        hash       TEXT NOT NULL,
        state      TEXT NOT NULL CHECK (state IN ('pending', 'current', 'retired')),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX worker_credentials_by_worker ON worker_credentials (worker_id, state);
    CREATE TABLE dispatches (
        id           TEXT PRIMARY KEY,
        worker_id    TEXT NOT NULL,
        argv         TEXT NOT NULL,
        secrets      TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        finished_at  INTEGER,
        exit_code    INTEGER,
        stdout       TEXT,
        stderr       TEXT,
        duration_ms  INTEGER
    );
    "#,
    // 4: rotations look up a worker's live credentials and forget retired
    // ones some time after their retirement; serve watches for revoked workers.
    r#"
    ALTER TABLE worker_credentials ADD COLUMN retired_at INTEGER;
    UPDATE worker_credentials SET retired_at = created_at WHERE state = 'retired';
    DROP INDEX worker_credentials_by_worker;
    CREATE INDEX worker_credentials_by_worker ON worker_credentials (worker_id, state, retired_at);
    CREATE INDEX workers_by_revoked ON workers (revoked_at);
    "#,
    // 5: each snapshot's content also in a compact binary form, so loading
    // the active policy skips JSON parsing. NULL for older snapshots: their
    // JSON is read instead (and `reload` fills it in for the active one).
    r#"
    ALTER TABLE snapshots ADD COLUMN packed BLOB;
    "#,
    // 6: an api token minted through serve carries the groups its maker's
    // credential asserted (a JWT's role), so it holds neither more nor less.
    r#"
    ALTER TABLE tokens ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';
    "#,
    // 7: draining workers, found in a few index lookups by serve's watcher
    // (a local `worker drain` reaches a running serve that way).
    r#"
    CREATE INDEX workers_draining ON workers(id) WHERE status = 'draining';
    "#,
    // 8: which serve replica holds a worker's socket, and dispatches relayed
    // from the replica a caller reached to the one holding the worker.
    RELAYS,
    // 9: principals' Ed25519 public keys for signed requests and dispatches.
    SIGNER_KEYS,
];

/// Shared by both engines' lists (the same types on each).
const RELAYS: &str = r#"
    ALTER TABLE workers ADD COLUMN replica TEXT;
    CREATE TABLE relays (
        id           TEXT PRIMARY KEY,
        worker_id    TEXT NOT NULL,
        replica      TEXT NOT NULL,
        from_replica TEXT NOT NULL,
        request      TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('queued', 'taken', 'done')),
        result       TEXT,
        created_at   BIGINT NOT NULL
    );
    CREATE INDEX relays_by_replica ON relays (replica, state);
"#;

/// Shared by both engines' lists. A key record holds no secret: the
/// OpenSSH public key and its SHA-256 fingerprint, which is unique (one
/// record per key, so a key names one principal), and like an api token
/// the scopes and asserted groups its maker's credential carried.
const SIGNER_KEYS: &str = r#"
    CREATE TABLE signer_keys (
        id           TEXT PRIMARY KEY,
        principal    TEXT NOT NULL,
        public_key   TEXT NOT NULL,
        fingerprint  TEXT NOT NULL UNIQUE,
        label        TEXT,
        scopes       TEXT NOT NULL DEFAULT '[]',
        groups       TEXT NOT NULL DEFAULT '[]',
        created_at   BIGINT NOT NULL,
        created_by   TEXT NOT NULL,
        expires_at   BIGINT NOT NULL,
        revoked_at   BIGINT,
        reason       TEXT,
        last_used_at BIGINT
    );
    CREATE INDEX signer_keys_by_principal ON signer_keys (principal);
"#;

/// The PostgreSQL schema: its own append-only list, numbered on its own.
/// Entry 1 is the SQLite schema as of its entry 7, in PostgreSQL's types:
/// every integer is BIGINT (milliseconds, counts, 0/1 flags alike), blobs
/// are BYTEA, and the audit sequence is assigned by moat, as on SQLite.
const PG_MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE tokens (
        id           TEXT PRIMARY KEY,
        kind         TEXT NOT NULL CHECK (kind IN ('enrol', 'api')),
        secret_hash  TEXT NOT NULL,
        label        TEXT,
        principal    TEXT,
        scopes       TEXT NOT NULL DEFAULT '[]',
        max_uses     BIGINT,
        created_at   BIGINT NOT NULL,
        created_by   TEXT NOT NULL,
        expires_at   BIGINT NOT NULL,
        revoked_at   BIGINT,
        reason       TEXT,
        last_used_at BIGINT,
        groups       TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX tokens_by_expiry ON tokens (expires_at);
    CREATE TABLE token_bindings (
        token_id   TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
        machine_id TEXT NOT NULL,
        bound_at   BIGINT NOT NULL,
        PRIMARY KEY (token_id, machine_id)
    );
    CREATE TABLE audit_events (
        seq        BIGINT PRIMARY KEY,
        ts         BIGINT NOT NULL,
        type       TEXT NOT NULL,
        actor      TEXT NOT NULL,
        target     TEXT,
        outcome    TEXT NOT NULL,
        source     TEXT NOT NULL,
        request_id TEXT,
        details    TEXT NOT NULL,
        prev_hash  TEXT NOT NULL,
        hash       TEXT NOT NULL
    );
    CREATE INDEX audit_events_by_ts ON audit_events (ts);
    CREATE TABLE grants (
        id         TEXT PRIMARY KEY,
        subject    TEXT NOT NULL,
        effect     TEXT NOT NULL CHECK (effect IN ('allow', 'deny')),
        actions    BIGINT NOT NULL CHECK (actions BETWEEN 1 AND 15),
        resource   TEXT NOT NULL,
        source     TEXT NOT NULL,
        active     BIGINT NOT NULL CHECK (active IN (0, 1)),
        note       TEXT,
        created_at BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        changed_at BIGINT NOT NULL
    );
    CREATE INDEX grants_by_source ON grants (source, active);
    CREATE INDEX grants_by_subject ON grants (subject);
    CREATE TABLE group_members (
        group_name TEXT NOT NULL,
        principal  TEXT NOT NULL,
        added_at   BIGINT NOT NULL,
        added_by   TEXT NOT NULL,
        PRIMARY KEY (group_name, principal)
    );
    CREATE TABLE snapshots (
        version    BIGINT PRIMARY KEY,
        digest     TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        grants     BIGINT NOT NULL,
        members    BIGINT NOT NULL,
        content    BYTEA NOT NULL,
        packed     BYTEA
    );
    CREATE TABLE workers (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        machine_id   TEXT NOT NULL,
        token_id     TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('connected', 'disconnected', 'draining', 'revoked')),
        labels       TEXT NOT NULL DEFAULT '{}',
        capacity     BIGINT NOT NULL DEFAULT 1,
        version      TEXT,
        created_at   BIGINT NOT NULL,
        last_seen_at BIGINT,
        revoked_at   BIGINT,
        reason       TEXT,
        UNIQUE (token_id, machine_id)
    );
    CREATE INDEX workers_by_name ON workers (name);
    CREATE INDEX workers_by_revoked ON workers (revoked_at);
    CREATE INDEX workers_draining ON workers (id) WHERE status = 'draining';
    CREATE TABLE worker_credentials (
        id         TEXT PRIMARY KEY,
        worker_id  TEXT NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
        hash       TEXT NOT NULL,
        state      TEXT NOT NULL CHECK (state IN ('pending', 'current', 'retired')),
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        retired_at BIGINT
    );
    CREATE INDEX worker_credentials_by_worker ON worker_credentials (worker_id, state, retired_at);
    CREATE TABLE dispatches (
        id           TEXT PRIMARY KEY,
        worker_id    TEXT NOT NULL,
        argv         TEXT NOT NULL,
        secrets      TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        created_at   BIGINT NOT NULL,
        finished_at  BIGINT,
        exit_code    BIGINT,
        stdout       TEXT,
        stderr       TEXT,
        duration_ms  BIGINT
    );
    "#,
    RELAYS,
    SIGNER_KEYS,
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Bring the database up to the engine's latest schema in one exclusive
/// transaction, or refuse a database written by a newer moat. `name` says
/// which state in errors (a path, or a URL without its password).
pub fn run(conn: &mut Conn, name: &str) -> Result<()> {
    let (list, version_sql, latest) = match conn.engine() {
        Engine::Sqlite => (MIGRATIONS, "PRAGMA user_version", SCHEMA_VERSION),
        Engine::Postgres => {
            let pg = PG_MIGRATIONS.len() as i64;
            (
                PG_MIGRATIONS,
                "SELECT COALESCE(MAX(version), 0) FROM moat_schema",
                pg,
            )
        }
    };
    let read = |tx: &Txn<'_>| -> Result<i64> {
        Ok(tx.row(version_sql, args![], |r| r.get(0))?.unwrap_or(0))
    };
    if conn.engine() == Engine::Sqlite {
        let tx = conn.begin(Mode::Read)?;
        if read(&tx)? == latest {
            return Ok(());
        }
    }
    let tx = conn.begin(Mode::Migrate)?;
    if tx.engine() == Engine::Postgres {
        // Under the write lock, so replicas starting together make it once.
        tx.batch("CREATE TABLE IF NOT EXISTS moat_schema (version BIGINT NOT NULL)")?;
    }
    // Re-read under the lock: another process may have migrated meanwhile.
    let current = read(&tx)?;
    if current > latest {
        return Err(Error::new(
            Exit::Unavailable,
            Code::StateTooNew,
            format!(
                "{name} has schema version {current}, newer than this moat understands ({latest})"
            ),
        )
        .with_hint("upgrade moat; an older binary must not write to a newer state"));
    }
    for (i, sql) in list.iter().enumerate().skip(current as usize) {
        tx.batch(sql)?;
        let version = (i + 1) as i64;
        match tx.engine() {
            Engine::Sqlite => tx.batch(&format!("PRAGMA user_version = {version}"))?,
            Engine::Postgres => {
                tx.exec(
                    "INSERT INTO moat_schema (version) VALUES (?1)",
                    args![version],
                )?;
            }
        }
    }
    tx.commit()
}
