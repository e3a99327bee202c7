//! `audit prune`: drop old events while keeping the chain verifiable. The
//! last dropped event's `{seq, hash}` becomes a sealed anchor the verifier
//! starts from, and an `audit_pruned` event records the cut in the chain.

use serde::Serialize;
use serde_json::json;

use super::{NewEvent, types};
use crate::error::{Code, Error, Exit, Result};
use crate::store::Store;
use crate::time::{Millis, rfc3339};
use crate::token::Ctx;

/// What a prune did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PruneReport {
    pub pruned: usize,
    /// The anchor: last pruned sequence number and its hash.
    pub through_seq: Option<i64>,
    pub anchor_hash: Option<String>,
    pub before: String,
}

/// Delete every event older than `before`, in one transaction, refusing a
/// chain that does not verify (pruning must never hide tampering).
pub fn prune(store: &mut Store, ctx: &Ctx, before: Millis) -> Result<PruneReport> {
    store.write(|tx| {
        let v = tx.verify_audit(None)?;
        if !v.intact {
            return Err(Error::new(
                Exit::Conflict,
                Code::ChainBroken,
                format!(
                    "the audit chain is broken at event {}; refusing to prune",
                    v.first_bad_seq
                        .map_or_else(|| "?".into(), |s| s.to_string())
                ),
            )
            .with_hint("run `audit verify` and investigate before pruning"));
        }
        let Some(cut) = tx.audit_last_before(before)? else {
            return Ok(PruneReport {
                pruned: 0,
                through_seq: None,
                anchor_hash: None,
                before: rfc3339(before),
            });
        };
        let pruned = tx.prune_audit(&cut)?;
        let event =
            NewEvent::new(types::AUDIT_PRUNED, &ctx.actor, Some("audit".into())).details(json!({
                "pruned": pruned,
                "through_seq": cut.seq,
                "anchor_hash": cut.hash,
                "before": rfc3339(before),
            }));
        tx.append_audit(event, ctx.now)?;
        Ok(PruneReport {
            pruned,
            through_seq: Some(cut.seq),
            anchor_hash: Some(cut.hash),
            before: rfc3339(before),
        })
    })
}
