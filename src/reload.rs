//! Policy snapshots (DESIGN §5): compile the staged grants and memberships
//! into a numbered, digested snapshot and make it active; diff, history,
//! rollback. Each change appends its audit event in the same transaction.

use serde::Serialize;
use serde_json::json;

use crate::audit::{NewEvent, types};
use crate::error::{Code, Error, Exit, Result};
use crate::grant::staged_set;
use crate::policy::snapshot::{Diff, PolicySet, digest};
use crate::store::{SnapshotRow, SnapshotSet, Store, Tx};
use crate::time::rfc3339;
use crate::token::Ctx;

/// What `reload` did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReloadReport {
    /// The active snapshot afterwards (unchanged on a dry run or no change).
    pub version: Option<i64>,
    pub previous: Option<i64>,
    pub changed: bool,
    pub dry_run: bool,
    pub digest: String,
    pub grants: usize,
    pub members: usize,
    #[serde(flatten)]
    pub diff: Diff,
}

/// A snapshot in `reload history`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SnapshotInfo {
    pub version: i64,
    pub active: bool,
    pub digest: String,
    pub grants: i64,
    pub members: i64,
    pub created_at: String,
    pub created_by: String,
}

impl SnapshotInfo {
    fn new(r: &SnapshotRow, active: Option<i64>) -> Self {
        SnapshotInfo {
            version: r.version,
            active: active == Some(r.version),
            digest: r.digest.clone(),
            grants: r.grants,
            members: r.members,
            created_at: rfc3339(r.created_at),
            created_by: r.created_by.clone(),
        }
    }
}

/// The active snapshot's version and content, if there is one.
pub fn active_set(tx: &Tx<'_>) -> Result<Option<(i64, SnapshotSet)>> {
    match tx.active_snapshot()? {
        None => Ok(None),
        Some(v) => {
            let s = tx
                .snapshot_set(v)?
                .ok_or_else(|| Error::internal(format!("active snapshot {v} is missing")))?;
            Ok(Some((v, s)))
        }
    }
}

/// Compile the staged policy into a new active snapshot. With `dry_run`
/// nothing is written. When the staged policy equals the active snapshot no
/// new version is made.
pub fn reload(store: &mut Store, ctx: &Ctx, dry_run: bool) -> Result<ReloadReport> {
    let run = |tx: &mut Tx<'_>| -> Result<ReloadReport> {
        let staged = staged_set(tx)?;
        // Encoding, digesting and packing the staged set need only it;
        // reading the active snapshot and diffing need the database. Each
        // side is most of a second at a million grants: do them side by side.
        let (active, diff, (content, d, packed)) = std::thread::scope(|s| {
            let encoded = s.spawn(|| {
                let content = staged.encode();
                let d = digest(&content);
                let packed = (!dry_run).then(|| staged.pack());
                (content, d, packed)
            });
            let active = active_set(tx);
            let diff = active.as_ref().ok().map(|active| {
                let none = PolicySet::default();
                Diff::between(active.as_ref().map_or(&none, |(_, a)| &a.set), &staged)
            });
            let encoded = encoded
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            Ok::<_, Error>((active?, diff.unwrap_or_default(), encoded))
        })?;
        let previous = active.as_ref().map(|(v, _)| *v);
        let changed = active.as_ref().map(|(_, a)| a.digest.as_str()) != Some(d.as_str());
        let mut report = ReloadReport {
            version: previous,
            previous,
            changed,
            dry_run,
            digest: d.clone(),
            grants: staged.grants.len(),
            members: staged.members.len(),
            diff,
        };
        if dry_run {
            return Ok(report);
        }
        if !changed {
            if let Some((v, a)) = &active {
                // A snapshot from before packed forms existed gets one now.
                if !a.from_packed {
                    tx.set_snapshot_packed(*v, &a.set.pack())?;
                }
                // It equals the staged policy: single checks may read that.
                tx.mark_snapshot_current(*v)?;
            }
            return Ok(report);
        }
        let version = tx.insert_snapshot(
            &SnapshotRow {
                version: 0,
                digest: d.clone(),
                created_at: ctx.now,
                created_by: ctx.actor.clone(),
                grants: staged.grants.len() as i64,
                members: staged.members.len() as i64,
                content: Some(content),
            },
            &packed.unwrap_or_else(|| staged.pack()),
        )?;
        tx.set_active_snapshot(version)?;
        tx.mark_snapshot_current(version)?;
        let event = NewEvent::new(
            types::SNAPSHOT_RELOADED,
            &ctx.actor,
            Some(format!("snapshot:{version}")),
        )
        .details(json!({
            "version": version,
            "previous": previous,
            "digest": d,
            "grants": report.grants,
            "members": report.members,
            "grants_added": report.diff.grants_added.len(),
            "grants_removed": report.diff.grants_removed.len(),
            "members_added": report.diff.members_added.len(),
            "members_removed": report.diff.members_removed.len(),
        }));
        tx.append_audit(event, ctx.now)?;
        report.version = Some(version);
        Ok(report)
    };
    if dry_run {
        store.read(run)
    } else {
        store.write(run)
    }
}

/// Every snapshot, oldest first.
pub fn history(store: &mut Store) -> Result<Vec<SnapshotInfo>> {
    store.read(|tx| {
        let active = tx.active_snapshot()?;
        Ok(tx
            .snapshots()?
            .iter()
            .map(|r| SnapshotInfo::new(r, active))
            .collect())
    })
}

/// Make an earlier snapshot active again.
pub fn rollback(store: &mut Store, ctx: &Ctx, version: i64) -> Result<SnapshotInfo> {
    store.write(|tx| {
        let row = tx.snapshot(version, false)?.ok_or_else(|| {
            Error::not_found(format!("no snapshot {version}")).with_hint("see `reload history`")
        })?;
        let previous = tx.active_snapshot()?;
        if previous == Some(version) {
            return Err(Error::new(
                Exit::Conflict,
                Code::AlreadyActive,
                format!("snapshot {version} is already active"),
            ));
        }
        tx.set_active_snapshot(version)?;
        let event = NewEvent::new(
            types::SNAPSHOT_ROLLED_BACK,
            &ctx.actor,
            Some(format!("snapshot:{version}")),
        )
        .details(json!({ "version": version, "previous": previous, "digest": row.digest }));
        tx.append_audit(event, ctx.now)?;
        Ok(SnapshotInfo::new(&row, Some(version)))
    })
}

/// Old snapshots `reload prune` keeps unless told otherwise.
pub const DEFAULT_KEEP: usize = 10;

/// Delete the snapshots older than the `keep` newest, never the active one,
/// so that the state file stops growing by a whole policy per reload. Each
/// deleted snapshot gets a `snapshot_pruned` event; with `dry_run` nothing
/// is deleted. Returns the snapshots deleted (or that would be), oldest
/// first.
pub fn prune(
    store: &mut Store,
    ctx: &Ctx,
    keep: usize,
    dry_run: bool,
) -> Result<Vec<SnapshotInfo>> {
    let run = |tx: &mut Tx<'_>| -> Result<Vec<SnapshotInfo>> {
        let active = tx.active_snapshot()?;
        let mut rows = tx.snapshots()?;
        rows.retain(|r| Some(r.version) != active);
        let old = rows.len().saturating_sub(keep);
        let mut out = Vec::with_capacity(old);
        for r in &rows[..old] {
            if !dry_run {
                tx.delete_snapshot(r.version)?;
                let event = NewEvent::new(
                    types::SNAPSHOT_PRUNED,
                    &ctx.actor,
                    Some(format!("snapshot:{}", r.version)),
                )
                .details(json!({
                    "version": r.version,
                    "digest": r.digest,
                    "grants": r.grants,
                    "members": r.members,
                    "active": active,
                }));
                tx.append_audit(event, ctx.now)?;
            }
            out.push(SnapshotInfo::new(r, active));
        }
        Ok(out)
    };
    if dry_run {
        store.read(run)
    } else {
        store.write(run)
    }
}
