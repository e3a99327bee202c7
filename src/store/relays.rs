//! SQL for dispatches relayed between serve replicas: queued by the
//! replica a caller reached, taken by the one holding the worker's socket,
//! answered, and removed by the caller's replica once it has the answer.

use super::Tx;
use super::sql::{Engine, args};
use crate::error::Result;
use crate::time::Millis;

/// Channels replicas `LISTEN` on: a relay queued for the replica named in
/// the payload, and a relay (its id in the payload) answered.
pub const RELAY_QUEUED: &str = "moat_relay";
pub const RELAY_DONE: &str = "moat_relay_done";

/// A relay as its caller's replica polls it: its state and, once done,
/// the answer.
pub struct RelayState {
    pub state: String,
    pub result: Option<String>,
}

impl Tx<'_> {
    /// Tell the replicas listening on `channel` (delivered at commit; on
    /// SQLite, where there are no other replicas, nothing).
    fn notify(&self, channel: &str, payload: &str) -> Result<()> {
        if self.tx.engine() == Engine::Postgres {
            self.tx
                .row("SELECT pg_notify(?1, ?2)", args![channel, payload], |_| {
                    Ok(())
                })?;
        }
        Ok(())
    }

    /// Queue a step for the replica holding `worker_id`'s socket.
    pub fn queue_relay(
        &mut self,
        id: &str,
        worker_id: &str,
        holder: &str,
        request: &str,
        now: Millis,
    ) -> Result<()> {
        self.tx.exec(
            "INSERT INTO relays (id, worker_id, replica, from_replica, request, state, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6)",
            args![
                id,
                worker_id,
                holder,
                self.replica.unwrap_or(""),
                request,
                now
            ],
        )?;
        self.notify(RELAY_QUEUED, holder)
    }

    /// Whether any relay waits for this replica (a read, so an idle
    /// replica's periodic look takes no write lock).
    pub fn relays_waiting(&self) -> Result<bool> {
        let n: i64 = self
            .tx
            .row(
                "SELECT COUNT(*) FROM relays WHERE replica = ?1 AND state = 'queued'",
                args![self.replica.unwrap_or("")],
                |r| r.get(0),
            )?
            .unwrap_or(0);
        Ok(n > 0)
    }

    /// Take every relay queued for this replica: `(id, request)`. Taken
    /// once: a relay is never run twice.
    pub fn take_relays(&mut self) -> Result<Vec<(String, String)>> {
        self.tx.rows(
            "UPDATE relays SET state = 'taken' WHERE replica = ?1 AND state = 'queued'
             RETURNING id, request",
            args![self.replica.unwrap_or("")],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Answer a relay this replica took.
    pub fn finish_relay(&mut self, id: &str, result: &str) -> Result<()> {
        self.tx.exec(
            "UPDATE relays SET state = 'done', result = ?2 WHERE id = ?1",
            args![id, result],
        )?;
        self.notify(RELAY_DONE, id)
    }

    /// A relay's state, if it still exists.
    pub fn relay(&self, id: &str) -> Result<Option<RelayState>> {
        self.tx.row(
            "SELECT state, result FROM relays WHERE id = ?1",
            args![id],
            |r| {
                Ok(RelayState {
                    state: r.get(0)?,
                    result: r.get(1)?,
                })
            },
        )
    }

    /// Remove a relay (answered, or given up on).
    pub fn delete_relay(&mut self, id: &str) -> Result<()> {
        self.tx
            .exec("DELETE FROM relays WHERE id = ?1", args![id])?;
        Ok(())
    }
}
