//! SQL for workers, their session credentials and dispatches.

use super::Tx;
use super::sql::{Engine, Row, args};
use crate::error::{Error, Result};
use crate::time::Millis;

/// A worker as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerRow {
    pub id: String,
    pub name: String,
    pub machine_id: String,
    pub token_id: String,
    pub status: String,
    pub labels: serde_json::Value,
    pub capacity: i64,
    pub version: Option<String>,
    pub created_at: Millis,
    pub last_seen_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
    pub reason: Option<String>,
}

/// A session credential as stored (the secret only as an HMAC).
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialRow {
    pub id: String,
    pub worker_id: String,
    pub hash: String,
    pub state: String,
    pub expires_at: Millis,
}

const WORKER_COLUMNS: &str = "id, name, machine_id, token_id, status, labels, capacity, version, created_at, last_seen_at, revoked_at, reason";

fn row_to_worker(r: &Row<'_>) -> Result<WorkerRow> {
    let labels: &str = r.get(5)?;
    Ok(WorkerRow {
        id: r.get(0)?,
        name: r.get(1)?,
        machine_id: r.get(2)?,
        token_id: r.get(3)?,
        status: r.get(4)?,
        labels: serde_json::from_str(labels).unwrap_or(serde_json::Value::Null),
        capacity: r.get(6)?,
        version: r.get(7)?,
        created_at: r.get(8)?,
        last_seen_at: r.get(9)?,
        revoked_at: r.get(10)?,
        reason: r.get(11)?,
    })
}

impl Tx<'_> {
    /// Insert a worker.
    pub fn insert_worker(&mut self, w: &WorkerRow) -> Result<()> {
        self.tx.exec(
            &format!("INSERT INTO workers ({WORKER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
            args![
                w.id, w.name, w.machine_id, w.token_id, w.status, w.labels.to_string(), w.capacity, w.version,
                w.created_at, w.last_seen_at, w.revoked_at, w.reason
            ],
        )?;
        Ok(())
    }

    /// One worker by bare id.
    pub fn worker(&self, id: &str) -> Result<Option<WorkerRow>> {
        self.tx.row(
            &format!("SELECT {WORKER_COLUMNS} FROM workers WHERE id = ?1"),
            args![id],
            row_to_worker,
        )
    }

    /// The worker a token enrolled for a machine, if any.
    pub fn worker_by_binding(&self, token_id: &str, machine_id: &str) -> Result<Option<WorkerRow>> {
        self.tx.row(
            &format!(
                "SELECT {WORKER_COLUMNS} FROM workers WHERE token_id = ?1 AND machine_id = ?2"
            ),
            args![token_id, machine_id],
            row_to_worker,
        )
    }

    /// Every worker, oldest first.
    pub fn workers(&self) -> Result<Vec<WorkerRow>> {
        self.tx.rows(
            &format!("SELECT {WORKER_COLUMNS} FROM workers ORDER BY created_at, id"),
            args![],
            row_to_worker,
        )
    }

    /// Set a worker's status (and `last_seen_at`).
    /// `connected` records this replica as the socket's holder;
    /// `disconnected` is only this replica's to say (another may hold the
    /// worker's new socket by now).
    pub fn set_worker_status(&mut self, id: &str, status: &str, now: Millis) -> Result<()> {
        if status == "disconnected" {
            self.tx.exec(
                "UPDATE workers SET status = ?2, last_seen_at = ?3, replica = NULL
                 WHERE id = ?1 AND status != 'revoked' AND (replica IS NULL OR replica = ?4)",
                args![id, status, now, self.replica],
            )?;
        } else {
            self.tx.exec(
                "UPDATE workers SET status = ?2, last_seen_at = ?3, replica = ?4 WHERE id = ?1 AND status != 'revoked'",
                args![id, status, now, self.replica],
            )?;
        }
        Ok(())
    }

    /// Whether another live replica holds this worker's socket.
    pub fn held_elsewhere(&self, worker_id: &str) -> Result<bool> {
        let holder: Option<Option<String>> = self.tx.row(
            "SELECT replica FROM workers WHERE id = ?1 AND status IN ('connected', 'draining')",
            args![worker_id],
            |r| r.get(0),
        )?;
        match holder.flatten() {
            Some(r) if Some(r.as_str()) != self.replica => self.replica_alive(&r),
            _ => Ok(false),
        }
    }

    /// The replica holding a worker's socket, looked up by the worker's
    /// name: `(worker id, replica)`, when one holds it.
    pub fn worker_holder(&self, name: &str) -> Result<Option<(String, String)>> {
        self.tx.row(
            "SELECT id, replica FROM workers
             WHERE name = ?1 AND status = 'connected' AND replica IS NOT NULL
             ORDER BY last_seen_at DESC LIMIT 1",
            args![name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// The names of connected workers whose label `key` is `value` and
    /// whose socket a live replica other than this one holds, sorted (for
    /// `--select` once this replica's own workers have no room).
    pub fn labelled_elsewhere(&self, key: &str, value: &str) -> Result<Vec<String>> {
        let rows: Vec<(String, String, String)> = self.tx.rows(
            "SELECT name, labels, replica FROM workers
             WHERE status = 'connected' AND replica IS NOT NULL",
            args![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut alive = std::collections::BTreeMap::new();
        let mut names = Vec::new();
        for (name, labels, replica) in rows {
            if Some(replica.as_str()) == self.replica {
                continue;
            }
            let labels: serde_json::Value = serde_json::from_str(&labels)
                .map_err(|e| Error::corrupt(format!("worker {name}'s labels: {e}")))?;
            if labels.get(key).and_then(|v| v.as_str()) != Some(value) {
                continue;
            }
            let live = match alive.get(&replica) {
                Some(l) => *l,
                None => *alive
                    .entry(replica.clone())
                    .or_insert(self.replica_alive(&replica)?),
            };
            if live {
                names.push(name);
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Whether serve replica `id` has a session open on the database (a
    /// replica that died has none: PostgreSQL ends a session whose socket
    /// closed). On SQLite there are no other replicas.
    pub fn replica_alive(&self, id: &str) -> Result<bool> {
        if self.tx.engine() == Engine::Sqlite {
            return Ok(false);
        }
        let app = super::pg::replica_app(id)?;
        let n: i64 = self
            .tx
            .row(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = ?1",
                args![app],
                |r| r.get(0),
            )?
            .unwrap_or(0);
        Ok(n > 0)
    }

    /// Mark a worker draining, whether connected or not; its `last_seen_at`
    /// stays what it was.
    pub fn set_worker_draining(&mut self, id: &str) -> Result<()> {
        self.tx.exec(
            "UPDATE workers SET status = 'draining' WHERE id = ?1 AND status != 'revoked'",
            args![id],
        )?;
        Ok(())
    }

    /// Workers marked draining.
    pub fn workers_draining(&self) -> Result<Vec<String>> {
        self.tx.rows(
            "SELECT id FROM workers WHERE status = 'draining'",
            args![],
            |r| r.get(0),
        )
    }

    /// At serve's start no worker can be connected yet.
    /// On PostgreSQL, only the workers of replicas that are gone: the live
    /// ones still hold theirs. Returns how many were reset.
    pub fn reset_worker_status(&mut self) -> Result<usize> {
        match self.tx.engine() {
            Engine::Sqlite => self.tx.exec(
                "UPDATE workers SET status = 'disconnected', replica = NULL WHERE status IN ('connected', 'draining')",
                args![],
            ),
            Engine::Postgres => self.tx.exec(
                "UPDATE workers SET status = 'disconnected', replica = NULL
                 WHERE status IN ('connected', 'draining')
                   AND (replica IS NULL OR replica NOT IN (
                        SELECT substr(application_name, 14) FROM pg_stat_activity
                        WHERE application_name LIKE 'moat-replica:%'))",
                args![],
            ),
        }
    }

    /// `(count, latest revoked_at)` of revoked workers: changes whenever a
    /// worker is revoked, so serve only looks for sockets to cut then.
    pub fn worker_revocation_fingerprint(&self) -> Result<(i64, i64)> {
        Ok(self
            .tx
            .row(
                "SELECT COUNT(revoked_at), COALESCE(MAX(revoked_at), 0) FROM workers",
                args![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .unwrap_or((0, 0)))
    }

    /// Revoked workers whose revocation is at or after `since`, with the reason.
    pub fn workers_revoked_since(&self, since: Millis) -> Result<Vec<(String, Option<String>)>> {
        self.tx.rows(
            "SELECT id, reason FROM workers WHERE revoked_at >= ?1 AND status = 'revoked'",
            args![since],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Note that a worker was seen.
    pub fn touch_worker(&mut self, id: &str, now: Millis) -> Result<()> {
        self.tx.exec(
            "UPDATE workers SET last_seen_at = ?2 WHERE id = ?1",
            args![id, now],
        )?;
        Ok(())
    }

    /// Revoke a worker and every credential it holds.
    pub fn revoke_worker(&mut self, id: &str, now: Millis, reason: &str) -> Result<()> {
        self.tx.exec(
            "UPDATE workers SET status = 'revoked', revoked_at = ?2, reason = ?3 WHERE id = ?1",
            args![id, now, reason],
        )?;
        self.tx.exec(
            "UPDATE worker_credentials SET state = 'retired', retired_at = ?2 WHERE worker_id = ?1 AND state != 'retired'",
            args![id, now],
        )?;
        Ok(())
    }

    /// Workers enrolled with a token that are not revoked yet.
    pub fn workers_of_token(&self, token_id: &str) -> Result<Vec<String>> {
        self.tx.rows(
            "SELECT id FROM workers WHERE token_id = ?1 AND status != 'revoked'",
            args![token_id],
            |r| r.get(0),
        )
    }

    /// Store a new session credential.
    pub fn insert_credential(&mut self, c: &CredentialRow, now: Millis) -> Result<()> {
        self.tx.exec("INSERT INTO worker_credentials (id, worker_id, hash, state, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", args![c.id, c.worker_id, c.hash, c.state, now, c.expires_at])?;
        Ok(())
    }

    /// One credential by public id.
    pub fn credential(&self, id: &str) -> Result<Option<CredentialRow>> {
        self.tx.row(
            "SELECT id, worker_id, hash, state, expires_at FROM worker_credentials WHERE id = ?1",
            args![id],
            |r| {
                Ok(CredentialRow {
                    id: r.get(0)?,
                    worker_id: r.get(1)?,
                    hash: r.get(2)?,
                    state: r.get(3)?,
                    expires_at: r.get(4)?,
                })
            },
        )
    }

    /// Make `id` the worker's current credential; retire the others that
    /// were current or pending.
    pub fn promote_credential(&mut self, worker_id: &str, id: &str, now: Millis) -> Result<()> {
        self.tx.exec("UPDATE worker_credentials SET state = 'retired', retired_at = ?3 WHERE worker_id = ?1 AND state IN ('current', 'pending') AND id != ?2", args![worker_id, id, now])?;
        self.tx.exec(
            "UPDATE worker_credentials SET state = 'current' WHERE id = ?1",
            args![id],
        )?;
        Ok(())
    }

    /// Retire a worker's pending credentials (a new one is about to be issued).
    pub fn retire_pending(&mut self, worker_id: &str, now: Millis) -> Result<()> {
        self.tx.exec("UPDATE worker_credentials SET state = 'retired', retired_at = ?2 WHERE worker_id = ?1 AND state = 'pending'", args![worker_id, now])?;
        Ok(())
    }

    /// Forget a worker's credentials retired before `before`: reuse is
    /// detected for credentials rotated out since, and older ones are refused
    /// as unknown. Keeps the table from growing with every heartbeat.
    pub fn forget_retired(&mut self, worker_id: &str, before: Millis) -> Result<usize> {
        self.tx.exec(
            "DELETE FROM worker_credentials WHERE worker_id = ?1 AND state = 'retired' AND retired_at < ?2",
            args![worker_id, before],
        )
    }

    /// Record a dispatch being sent.
    pub fn insert_dispatch(
        &mut self,
        id: &str,
        worker_id: &str,
        argv: &str,
        secrets: &str,
        by: &str,
        now: Millis,
    ) -> Result<()> {
        self.tx.exec(
            "INSERT INTO dispatches (id, worker_id, argv, secrets, requested_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            args![id, worker_id, argv, secrets, by, now],
        )?;
        Ok(())
    }

    /// Record a dispatch's (redacted) result.
    pub fn finish_dispatch(
        &mut self,
        id: &str,
        exit_code: i64,
        stdout: &str,
        stderr: &str,
        duration_ms: i64,
        now: Millis,
    ) -> Result<()> {
        self.tx.exec(
            "UPDATE dispatches SET finished_at = ?2, exit_code = ?3, stdout = ?4, stderr = ?5, duration_ms = ?6 WHERE id = ?1",
            args![id, now, exit_code, stdout, stderr, duration_ms],
        )?;
        Ok(())
    }
}
