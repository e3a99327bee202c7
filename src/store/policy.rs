//! SQL for grants, group memberships, snapshots and the active-snapshot pointer.

use super::Tx;
use super::sql::{Arg, Row, ToArg, args};
use crate::error::{Error, Result};
use crate::policy::engine::Membership;
use crate::policy::grant::{Actions, Effect, Grant};
use crate::policy::snapshot::PolicySet;
use crate::time::Millis;

/// Which grants to read.
#[derive(Debug, Default, Clone)]
pub struct GrantFilter {
    pub subject: Option<String>,
    pub resource: Option<String>,
    pub source: Option<String>,
    pub active: Option<bool>,
}

/// A stored snapshot (content only when asked for).
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRow {
    pub version: i64,
    pub digest: String,
    pub created_at: Millis,
    pub created_by: String,
    pub grants: i64,
    pub members: i64,
    pub content: Option<Vec<u8>>,
}

/// A snapshot's content, decoded (see [`Tx::snapshot_set`]).
#[derive(Debug)]
pub struct SnapshotSet {
    pub digest: String,
    pub set: PolicySet,
    /// False when it was decoded from JSON because the snapshot has no
    /// packed form this binary reads (it was made before migration 5).
    pub from_packed: bool,
}

const GRANT_COLUMNS: &str =
    "id, subject, effect, actions, resource, source, active, note, created_at, created_by";

fn corrupt(what: &str) -> Error {
    Error::corrupt(format!("invalid {what} in the grants table"))
}

fn row_to_grant(r: &Row<'_>) -> Result<Grant> {
    let subject: &str = r.get(1)?;
    let effect: &str = r.get(2)?;
    let resource: &str = r.get(4)?;
    Ok(Grant {
        id: r.get(0)?,
        subject: subject.parse().map_err(|_| corrupt("subject"))?,
        effect: effect.parse::<Effect>().map_err(|_| corrupt("effect"))?,
        actions: Actions(r.get::<u8>(3)?),
        resource: resource.parse().map_err(|_| corrupt("resource"))?,
        source: r.get(5)?,
        active: r.get(6)?,
        note: r.get(7)?,
        created_at: r.get(8)?,
        created_by: r.get(9)?,
    })
}

const META_ACTIVE: &str = "active_snapshot";
/// Bumped by every committed transaction that changes grants or memberships.
const META_GENERATION: &str = "policy_generation";
/// `VERSION:GENERATION`: snapshot VERSION held exactly what the grant and
/// membership tables held at policy generation GENERATION.
const META_TABLES_MATCH: &str = "tables_match_snapshot";

impl Tx<'_> {
    /// Insert a new grant.
    pub fn insert_grant(&mut self, g: &Grant) -> Result<()> {
        self.policy_changed = true;
        self.tx.exec(
            &format!(
                "INSERT INTO grants ({GRANT_COLUMNS}, changed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?9)"
            ),
            args![
                g.id,
                g.subject.as_str(),
                g.effect.as_str(),
                g.actions.0,
                g.resource.to_string(),
                g.source,
                g.active,
                g.note,
                g.created_at,
                g.created_by
            ],
        )?;
        Ok(())
    }

    /// One grant by full id (`grt_...`).
    pub fn grant(&self, id: &str) -> Result<Option<Grant>> {
        self.tx.row(
            &format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = ?1"),
            args![id],
            row_to_grant,
        )
    }

    /// Grants matching `f`, oldest first.
    pub fn grants(&self, f: &GrantFilter) -> Result<Vec<Grant>> {
        // Only the filters given are in the query, so SQLite can use the
        // subject and source indexes (`?1 IS NULL OR subject = ?1` would
        // scan every grant).
        let given: Vec<(&str, Arg<'_>)> = [
            ("subject", f.subject.as_ref().map(ToArg::to_arg)),
            ("resource", f.resource.as_ref().map(ToArg::to_arg)),
            ("source", f.source.as_ref().map(ToArg::to_arg)),
            ("active", f.active.as_ref().map(ToArg::to_arg)),
        ]
        .into_iter()
        .filter_map(|(column, v)| v.map(|v| (column, v)))
        .collect();
        let mut sql = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE 1 = 1");
        for (i, (column, _)) in given.iter().enumerate() {
            sql.push_str(&format!(" AND {column} = ?{}", i + 1));
        }
        sql.push_str(" ORDER BY created_at, id");
        let values: Vec<Arg<'_>> = given.iter().map(|(_, v)| *v).collect();
        self.tx.rows(&sql, &values, row_to_grant)
    }

    /// Every active grant, in no particular order: for callers that sort
    /// them their own way (a snapshot sorts by id), so a million rows are
    /// not sorted twice.
    pub fn active_grants(&self) -> Result<Vec<Grant>> {
        self.tx.rows(
            &format!("SELECT {GRANT_COLUMNS} FROM grants WHERE active = 1"),
            args![],
            row_to_grant,
        )
    }

    /// Activate or revoke a grant.
    pub fn set_grant_active(&mut self, id: &str, active: bool, now: Millis) -> Result<()> {
        self.policy_changed = true;
        self.tx.exec(
            "UPDATE grants SET active = ?2, changed_at = ?3 WHERE id = ?1",
            args![id, active, now],
        )?;
        Ok(())
    }

    /// Add a membership; false when it already existed.
    pub fn add_member(&mut self, m: &Membership, now: Millis, by: &str) -> Result<bool> {
        self.policy_changed = true;
        let n = self.tx.exec(
            "INSERT INTO group_members (group_name, principal, added_at, added_by)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            args![m.group, m.principal, now, by],
        )?;
        Ok(n == 1)
    }

    /// Remove a membership; false when there was none.
    pub fn remove_member(&mut self, m: &Membership) -> Result<bool> {
        self.policy_changed = true;
        let n = self.tx.exec(
            "DELETE FROM group_members WHERE group_name = ?1 AND principal = ?2",
            args![m.group, m.principal],
        )?;
        Ok(n == 1)
    }

    /// Every membership, sorted by group then principal.
    pub fn members(&self) -> Result<Vec<Membership>> {
        self.tx.rows(
            "SELECT group_name, principal FROM group_members ORDER BY group_name, principal",
            args![],
            |r| {
                Ok(Membership {
                    group: r.get(0)?,
                    principal: r.get(1)?,
                })
            },
        )
    }

    /// Store a new snapshot, its content in JSON (`s.content`) and packed
    /// (`packed`, the same content), and return its version (one more than
    /// the highest).
    pub fn insert_snapshot(&mut self, s: &SnapshotRow, packed: &[u8]) -> Result<i64> {
        let content = s
            .content
            .as_deref()
            .ok_or_else(|| Error::internal("snapshot without content"))?;
        let version: i64 = self
            .tx
            .row(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM snapshots",
                args![],
                |r| r.get(0),
            )?
            .unwrap_or(1);
        self.tx.exec(
            "INSERT INTO snapshots (version, digest, created_at, created_by, grants, members, content, packed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            args![version, s.digest, s.created_at, s.created_by, s.grants, s.members, content, packed],
        )?;
        Ok(version)
    }

    /// How many committed transactions have changed grants or memberships.
    pub fn policy_generation(&self) -> Result<i64> {
        self.meta(META_GENERATION)?.map_or(Ok(0), |s| {
            s.parse()
                .map_err(|_| Error::internal("the policy generation is not a number"))
        })
    }

    /// Count this transaction's change to grants or memberships.
    pub(super) fn bump_policy_generation(&mut self) -> Result<()> {
        let next = self.policy_generation()? + 1;
        self.set_meta(META_GENERATION, &next.to_string())
    }

    /// Record that snapshot `version` holds exactly what the grant and
    /// membership tables hold now (`reload` made it from them, or found it
    /// equal to them). Not when this transaction changed them itself: that
    /// change is counted only at the commit.
    pub fn mark_snapshot_current(&mut self, version: i64) -> Result<()> {
        if self.policy_changed {
            return Ok(());
        }
        let generation = self.policy_generation()?;
        self.set_meta(META_TABLES_MATCH, &format!("{version}:{generation}"))
    }

    /// Whether the grant and membership tables still hold exactly snapshot
    /// `version`'s content: it was marked current and nothing has changed
    /// them since.
    pub fn tables_match_snapshot(&self, version: i64) -> Result<bool> {
        let mark = self.meta(META_TABLES_MATCH)?;
        let now = format!("{version}:{}", self.policy_generation()?);
        Ok(mark.as_deref() == Some(now.as_str()))
    }

    /// Give snapshot `version` its packed form (for snapshots made before
    /// there was one).
    pub fn set_snapshot_packed(&mut self, version: i64, packed: &[u8]) -> Result<()> {
        self.tx.exec(
            "UPDATE snapshots SET packed = ?2 WHERE version = ?1",
            args![version, packed],
        )?;
        Ok(())
    }

    /// Delete snapshot `version` (never the active one: callers check).
    pub fn delete_snapshot(&mut self, version: i64) -> Result<()> {
        self.tx
            .exec("DELETE FROM snapshots WHERE version = ?1", args![version])?;
        Ok(())
    }

    /// Snapshot `version`'s content, decoded and re-validated: from the
    /// packed form when it has one this binary reads (a third of the bytes,
    /// decoded on every core), else from the JSON.
    pub fn snapshot_set(&self, version: i64) -> Result<Option<SnapshotSet>> {
        self.snapshot_set_for(version, None)
    }

    /// [`Tx::snapshot_set`], with only what deciding for `principal` reads
    /// when it is given ([`PolicySet::only_for`]).
    pub fn snapshot_set_for(
        &self,
        version: i64,
        principal: Option<&str>,
    ) -> Result<Option<SnapshotSet>> {
        // Decoded where SQLite holds it, not copied out first.
        let row = self.tx.row(
            "SELECT digest, packed FROM snapshots WHERE version = ?1",
            args![version],
            |r| {
                let digest: String = r.get(0)?;
                let packed: Option<&[u8]> = r.get(1)?;
                Ok((digest, packed.map(|p| PolicySet::unpack_for(p, principal))))
            },
        )?;
        let Some((digest, unpacked)) = row else {
            return Ok(None);
        };
        // The packed form is a cache of the JSON, which the digest is over:
        // one that cannot be read (another format, damage) is passed over.
        if let Some(Ok(Some(set))) = unpacked {
            return Ok(Some(SnapshotSet {
                digest,
                set,
                from_packed: true,
            }));
        }
        let content: Option<Vec<u8>> = self.tx.row(
            "SELECT content FROM snapshots WHERE version = ?1",
            args![version],
            |r| r.get(0),
        )?;
        let set = PolicySet::decode(content.as_deref().unwrap_or_default())?;
        Ok(Some(SnapshotSet {
            digest,
            set: match principal {
                Some(p) => set.only_for(p),
                None => set,
            },
            from_packed: false,
        }))
    }

    /// A snapshot, with its content when `with_content`.
    pub fn snapshot(&self, version: i64, with_content: bool) -> Result<Option<SnapshotRow>> {
        let sql = if with_content {
            "SELECT version, digest, created_at, created_by, grants, members, content FROM snapshots WHERE version = ?1"
        } else {
            "SELECT version, digest, created_at, created_by, grants, members, NULL FROM snapshots WHERE version = ?1"
        };
        self.tx.row(sql, args![version], row_to_snapshot)
    }

    /// All snapshots without content, oldest first.
    pub fn snapshots(&self) -> Result<Vec<SnapshotRow>> {
        self.tx.rows(
            "SELECT version, digest, created_at, created_by, grants, members, NULL FROM snapshots ORDER BY version",
            args![],
            row_to_snapshot,
        )
    }

    /// The active snapshot version, if any.
    pub fn active_snapshot(&self) -> Result<Option<i64>> {
        self.meta(META_ACTIVE)?
            .map(|s| {
                s.parse()
                    .map_err(|_| Error::internal("the active snapshot pointer is not a number"))
            })
            .transpose()
    }

    /// Point the active snapshot at `version`.
    pub fn set_active_snapshot(&mut self, version: i64) -> Result<()> {
        self.set_meta(META_ACTIVE, &version.to_string())
    }
}

fn row_to_snapshot(r: &Row<'_>) -> Result<SnapshotRow> {
    Ok(SnapshotRow {
        version: r.get(0)?,
        digest: r.get(1)?,
        created_at: r.get(2)?,
        created_by: r.get(3)?,
        grants: r.get(4)?,
        members: r.get(5)?,
        content: r.get(6)?,
    })
}
