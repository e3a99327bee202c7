//! SQL for the audit chain.

use super::Tx;
use super::sql::{Cell, Row, args};
use crate::audit::{Event, EventRef, GENESIS, Head, NewEvent, Verification, Verifier};
use crate::credential::{hex, hmac_sha256};
use crate::error::{Code, Error, Exit, Result};

/// Seal of the prune anchor.
fn anchor_mac(pepper: &[u8], h: &Head) -> String {
    hex(&hmac_sha256(
        pepper,
        &[
            b"moat audit anchor\0",
            h.seq.to_string().as_bytes(),
            b"\0",
            h.hash.as_bytes(),
        ],
    ))
}
use crate::time::Millis;

/// Filters for reading the audit log.
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    pub since: Option<Millis>,
    pub until: Option<Millis>,
    pub kind: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<String>,
    pub after_seq: Option<i64>,
}

const COLUMNS: &str =
    "seq, ts, type, actor, target, outcome, source, request_id, details, prev_hash, hash";

fn event_from_row(r: &Row<'_>) -> Result<Event> {
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
        if self.unordered {
            return Err(Error::internal(
                "an audit event appended outside the writers' queue",
            ));
        }
        let head = match self.head.take() {
            Some(h) => Some(h),
            None => self.audit_head()?,
        };
        let mut event = Event {
            seq: head.as_ref().map_or(1, |h| h.seq + 1),
            ts: now,
            kind: e.kind.to_owned(),
            actor: e.actor,
            target: e.target,
            outcome: e.outcome.to_owned(),
            source: e.source.unwrap_or_else(|| self.source.to_owned()),
            request_id: e.request_id,
            details: e.details,
            prev_hash: head.map_or_else(|| GENESIS.to_owned(), |h| h.hash),
            hash: String::new(),
        };
        event.hash = event.expected_hash(self.pepper);
        self.tx.exec(
            &format!("INSERT INTO audit_events ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
            args![
                event.seq,
                event.ts,
                event.kind,
                event.actor,
                event.target,
                event.outcome,
                event.source,
                event.request_id,
                crate::audit::canonical_details(&event.details),
                event.prev_hash,
                event.hash
            ],
        )?;
        self.head = Some(Head {
            seq: event.seq,
            hash: event.hash.clone(),
        });
        Ok(event)
    }

    /// The last event's `{seq, hash}`; after everything was pruned, the anchor.
    pub fn audit_head(&self) -> Result<Option<Head>> {
        let last = self.tx.row(
            "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
            args![],
            |r| {
                Ok(Head {
                    seq: r.get(0)?,
                    hash: r.get(1)?,
                })
            },
        )?;
        match last {
            Some(h) => Ok(Some(h)),
            None => self.audit_anchor(),
        }
    }

    /// Events matching `q`, oldest first, passed to `f` one at a time.
    pub fn audit_events(
        &self,
        q: &AuditQuery,
        mut f: impl FnMut(Event) -> Result<()>,
    ) -> Result<()> {
        self.tx.each(
            &format!(
                "SELECT {COLUMNS} FROM audit_events
             WHERE (CAST(?1 AS BIGINT) IS NULL OR ts >= ?1) AND (CAST(?2 AS BIGINT) IS NULL OR ts <= ?2)
               AND (CAST(?3 AS TEXT) IS NULL OR type = ?3) AND (CAST(?4 AS TEXT) IS NULL OR actor = ?4)
               AND (CAST(?5 AS BIGINT) IS NULL OR seq > ?5) AND (CAST(?6 AS TEXT) IS NULL OR target = ?6)
               AND (CAST(?7 AS TEXT) IS NULL OR outcome = ?7)
             ORDER BY seq"
            ),
            args![
                q.since,
                q.until,
                q.kind,
                q.actor,
                q.after_seq,
                q.target,
                q.outcome
            ],
            |r| {
                f(event_from_row(r)?)?;
                Ok(true)
            },
        )
    }

    /// The point the chain starts from after a prune: the last pruned
    /// event's `{seq, hash}`, sealed with an HMAC so it cannot be moved
    /// without the pepper. `None` when nothing was ever pruned.
    pub fn audit_anchor(&self) -> Result<Option<Head>> {
        let Some(raw) = self.meta("audit_anchor")? else {
            return Ok(None);
        };
        let bad = || {
            Error::new(
                Exit::Negative,
                Code::AuditAnchorInvalid,
                "the audit prune anchor was altered",
            )
        };
        let v: serde_json::Value = serde_json::from_str(&raw).map_err(|_| bad())?;
        let head = Head {
            seq: v["seq"].as_i64().ok_or_else(bad)?,
            hash: v["hash"].as_str().ok_or_else(bad)?.to_owned(),
        };
        let mac = v["mac"].as_str().ok_or_else(bad)?;
        if !crate::credential::ct_eq(anchor_mac(self.pepper, &head).as_bytes(), mac.as_bytes()) {
            return Err(bad());
        }
        Ok(Some(head))
    }

    /// Delete every event with `seq <= through` and move the anchor there.
    pub fn prune_audit(&mut self, through: &Head) -> Result<usize> {
        self.head = None;
        let n = self.tx.exec(
            "DELETE FROM audit_events WHERE seq <= ?1",
            args![through.seq],
        )?;
        let value = serde_json::json!({
            "seq": through.seq,
            "hash": through.hash,
            "mac": anchor_mac(self.pepper, through),
        });
        self.set_meta("audit_anchor", &value.to_string())?;
        Ok(n)
    }

    /// The last event before `ts` (the cut of a prune), if any.
    pub fn audit_last_before(&self, ts: Millis) -> Result<Option<Head>> {
        self.tx.row(
            "SELECT seq, hash FROM audit_events WHERE seq < COALESCE(
                (SELECT MIN(seq) FROM audit_events WHERE ts >= ?1),
                (SELECT MAX(seq) + 1 FROM audit_events))
             ORDER BY seq DESC LIMIT 1",
            args![ts],
            |r| {
                Ok(Head {
                    seq: r.get(0)?,
                    hash: r.get(1)?,
                })
            },
        )
    }

    /// Count events matching a type and outcome since `since`.
    pub fn audit_count(&self, kinds: &[&str], outcome: &str, since: Millis) -> Result<i64> {
        let mut n = 0;
        for k in kinds {
            n += self
                .tx
                .row(
                    "SELECT COUNT(*) FROM audit_events WHERE type = ?1 AND outcome = ?2 AND ts >= ?3",
                    args![k, outcome, since],
                    |r| r.get::<i64>(0),
                )?
                .unwrap_or(0);
        }
        Ok(n)
    }

    /// The most recent event of a type.
    pub fn audit_last_of(&self, kind: &str) -> Result<Option<Event>> {
        self.tx.row(
            &format!(
                "SELECT {COLUMNS} FROM audit_events WHERE type = ?1 ORDER BY seq DESC LIMIT 1"
            ),
            args![kind],
            event_from_row,
        )
    }

    /// Walk the whole chain and check every link, streaming.
    pub fn verify_audit(&self, checkpoint: Option<&Head>) -> Result<Verification> {
        let mut v = match self.audit_anchor() {
            Ok(Some(anchor)) => Verifier::from_anchor(self.pepper, anchor),
            Ok(None) => Verifier::new(self.pepper),
            Err(e) => {
                return Ok(Verification {
                    intact: false,
                    events: 0,
                    head: None,
                    first_bad_seq: None,
                    problem: Some(e.message),
                });
            }
        };
        let sql = format!("SELECT {COLUMNS} FROM audit_events ORDER BY seq");
        self.tx.each(&sql, args![], |r| {
            // Borrow every column: a million events verify without a
            // million allocations. A non-text value counts as tampering.
            let text = |i: usize| match r.cell(i) {
                Ok(Cell::Text(t)) => Some(t),
                _ => None,
            };
            let opt = |i: usize| match r.cell(i) {
                Ok(Cell::Null) => Some(None),
                Ok(Cell::Text(t)) => Some(Some(t)),
                _ => None,
            };
            let seq: i64 = r.get(0)?;
            let parsed = (|| {
                Some(EventRef {
                    seq,
                    ts: r.get(1).ok()?,
                    kind: text(2)?,
                    actor: text(3)?,
                    target: opt(4)?,
                    outcome: text(5)?,
                    source: text(6)?,
                    request_id: opt(7)?,
                    details: text(8)?,
                    prev_hash: text(9)?,
                    hash: text(10)?,
                })
            })();
            Ok(match parsed {
                Some(e) => v.push_ref(&e),
                None => v.push_malformed(seq),
            })
        })?;
        let anchor = self.audit_anchor().ok().flatten();
        let at_checkpoint = match checkpoint {
            // A checkpoint inside the pruned part: the anchor is all that is left of it.
            Some(cp) if anchor.as_ref().is_some_and(|a| cp.seq < a.seq) => Some(cp.hash.clone()),
            Some(cp) if anchor.as_ref().is_some_and(|a| cp.seq == a.seq) => anchor.map(|a| a.hash),
            Some(cp) => self.tx.row(
                "SELECT hash FROM audit_events WHERE seq = ?1",
                args![cp.seq],
                |r| r.get::<String>(0),
            )?,
            None => None,
        };
        Ok(v.finish(checkpoint, at_checkpoint))
    }
}
