//! SQL for the audit chain.

use rusqlite::{OptionalExtension, Row, params};

use super::Tx;
use crate::audit::{Event, GENESIS, Head, NewEvent, Verification, Verifier};
use crate::error::{Error, Result};
use crate::time::Millis;

/// Filters for reading the audit log.
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    pub since: Option<Millis>,
    pub until: Option<Millis>,
    pub kind: Option<String>,
    pub actor: Option<String>,
    pub after_seq: Option<i64>,
}

const COLUMNS: &str =
    "seq, ts, type, actor, target, outcome, source, request_id, details, prev_hash, hash";

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<Event> {
    let details: String = r.get(8)?;
    Ok(Event {
        seq: r.get(0)?,
        ts: r.get(1)?,
        kind: r.get(2)?,
        actor: r.get(3)?,
        target: r.get(4)?,
        outcome: r.get(5)?,
        source: r.get(6)?,
        request_id: r.get(7)?,
        // A details column that is not JSON is kept as a string so that
        // verification reports a modified event instead of failing.
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::String(details)),
        prev_hash: r.get(9)?,
        hash: r.get(10)?,
    })
}

impl Tx<'_> {
    /// Append an event to the chain inside this transaction.
    pub fn append_audit(&mut self, e: NewEvent, now: Millis) -> Result<Event> {
        let head = self.audit_head()?;
        let mut event = Event {
            seq: head.as_ref().map_or(1, |h| h.seq + 1),
            ts: now,
            kind: e.kind.to_owned(),
            actor: e.actor,
            target: e.target,
            outcome: e.outcome.to_owned(),
            source: e.source,
            request_id: e.request_id,
            details: e.details,
            prev_hash: head.map_or_else(|| GENESIS.to_owned(), |h| h.hash),
            hash: String::new(),
        };
        event.hash = event.expected_hash(self.pepper);
        self.tx.execute(
            &format!("INSERT INTO audit_events ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
            params![
                event.seq,
                event.ts,
                event.kind,
                event.actor,
                event.target,
                event.outcome,
                event.source,
                event.request_id,
                event.details.to_string(),
                event.prev_hash,
                event.hash
            ],
        )?;
        Ok(event)
    }

    /// The last event's `{seq, hash}`, if any.
    pub fn audit_head(&self) -> Result<Option<Head>> {
        Ok(self
            .tx
            .query_row(
                "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
                [],
                |r| {
                    Ok(Head {
                        seq: r.get(0)?,
                        hash: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Events matching `q`, oldest first, passed to `f` one at a time.
    pub fn audit_events(
        &self,
        q: &AuditQuery,
        mut f: impl FnMut(Event) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.tx.prepare(&format!(
            "SELECT {COLUMNS} FROM audit_events
             WHERE (?1 IS NULL OR ts >= ?1) AND (?2 IS NULL OR ts <= ?2)
               AND (?3 IS NULL OR type = ?3) AND (?4 IS NULL OR actor = ?4)
               AND (?5 IS NULL OR seq > ?5)
             ORDER BY seq"
        ))?;
        let rows = stmt.query_map(
            params![q.since, q.until, q.kind, q.actor, q.after_seq],
            event_from_row,
        )?;
        for row in rows {
            f(row?)?;
        }
        Ok(())
    }

    /// Walk the whole chain and check every link, streaming.
    pub fn verify_audit(&self, checkpoint: Option<&Head>) -> Result<Verification> {
        let mut v = Verifier::new(self.pepper);
        let mut stmt = self
            .tx
            .prepare(&format!("SELECT {COLUMNS} FROM audit_events ORDER BY seq"))?;
        let rows = stmt.query_map([], event_from_row)?;
        for row in rows {
            if !v.push(&row?) {
                break;
            }
        }
        let at_checkpoint = match checkpoint {
            Some(cp) => self
                .tx
                .query_row(
                    "SELECT hash FROM audit_events WHERE seq = ?1",
                    [cp.seq],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(Error::from)?,
            None => None,
        };
        Ok(v.finish(checkpoint, at_checkpoint))
    }
}
