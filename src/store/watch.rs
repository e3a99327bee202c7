//! Reads and single appends that serve's watcher and request path make on
//! their own, each in its own transaction, so callers outside the store
//! never open one.

use super::Store;
use crate::audit::{Head, NewEvent};
use crate::error::Result;
use crate::time::Millis;

impl Store {
    /// The active snapshot's version and the token revocation fingerprint,
    /// read together.
    pub fn watch_state(&mut self) -> Result<(Option<i64>, (i64, i64))> {
        self.read(|tx| Ok((tx.active_snapshot()?, tx.revocation_fingerprint()?)))
    }

    /// The token revocation fingerprint (changes whenever one is revoked).
    pub fn token_revocations(&mut self) -> Result<(i64, i64)> {
        self.read(|tx| tx.revocation_fingerprint())
    }

    /// The worker revocation fingerprint.
    pub fn worker_revocations(&mut self) -> Result<(i64, i64)> {
        self.read(|tx| tx.worker_revocation_fingerprint())
    }

    /// Workers revoked at or after `since`, with the reason.
    pub fn revoked_workers_since(
        &mut self,
        since: Millis,
    ) -> Result<Vec<(String, Option<String>)>> {
        self.read(|tx| tx.workers_revoked_since(since))
    }

    /// Workers marked draining.
    pub fn draining_workers(&mut self) -> Result<Vec<String>> {
        self.read(|tx| tx.workers_draining())
    }

    /// At serve's start: no worker is connected.
    /// On PostgreSQL serve also calls it every few seconds: a replica
    /// that died leaves its workers shown connected until then.
    pub fn reset_worker_statuses(&mut self) -> Result<usize> {
        self.write(|tx| tx.reset_worker_status())
    }

    /// The audit chain's head.
    pub fn audit_head(&mut self) -> Result<Option<Head>> {
        self.read(|tx| tx.audit_head())
    }

    /// Append one audit event in its own transaction.
    pub fn append_event(&mut self, e: NewEvent, now: Millis) -> Result<()> {
        self.write(|tx| tx.append_audit(e, now).map(|_| ()))
    }
}
