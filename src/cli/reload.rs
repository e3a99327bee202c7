//! `reload`: compile staged grants into a policy snapshot, show the diff,
//! list history, roll back (DESIGN §5).

use clap::{Parser, Subcommand};

use super::{App, Command, Global, exit_codes_help};
use crate::error::{Exit, Result};
use crate::output::Tabular;
use crate::reload::{self, ReloadReport, SnapshotInfo};
use crate::token::Ctx;

pub const EXAMPLES: &str = "Examples:
  reload --dry-run      # what would change
  reload                # compile and activate a new snapshot
  reload history
  reload rollback 6";

/// Compile the staged grants and memberships into a new active policy snapshot.
///
/// Snapshots are numbered and digested; decisions name the snapshot they used.
/// Nothing new is made when the staged policy equals the active snapshot.
#[derive(Debug, Parser)]
#[command(name = "reload", version, args_conflicts_with_subcommands = true,
          after_long_help = format!("{EXAMPLES}\n\n{}", exit_codes_help()))]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Print the diff (grants and memberships added/removed) without applying it
    #[arg(long)]
    pub dry_run: bool,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

/// Reload subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List snapshots, oldest first
    History,
    /// Make an earlier snapshot active again
    Rollback {
        /// Snapshot version (see `reload history`)
        version: i64,
    },
}

impl Tabular for ReloadReport {
    fn headers() -> &'static [&'static str] {
        &[
            "version",
            "previous",
            "changed",
            "dry_run",
            "digest",
            "grants",
            "members",
            "grants_added",
            "grants_removed",
            "members_added",
            "members_removed",
        ]
    }
    fn row(&self) -> Vec<String> {
        let m = |v: &[crate::policy::engine::Membership]| {
            v.iter()
                .map(|m| format!("{} in {}", m.principal, m.group))
                .collect::<Vec<_>>()
        };
        vec![
            crate::output::cell(self.version),
            crate::output::cell(self.previous),
            self.changed.to_string(),
            self.dry_run.to_string(),
            self.digest.clone(),
            self.grants.to_string(),
            self.members.to_string(),
            crate::output::cell_list(&self.diff.grants_added),
            crate::output::cell_list(&self.diff.grants_removed),
            crate::output::cell_list(&m(&self.diff.members_added)),
            crate::output::cell_list(&m(&self.diff.members_removed)),
        ]
    }
}

impl Tabular for SnapshotInfo {
    fn headers() -> &'static [&'static str] {
        &[
            "version",
            "active",
            "digest",
            "grants",
            "members",
            "created_at",
            "created_by",
        ]
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.version.to_string(),
            self.active.to_string(),
            self.digest.clone(),
            self.grants.to_string(),
            self.members.to_string(),
            self.created_at.clone(),
            self.created_by.clone(),
        ]
    }
}

impl Command for Cli {
    fn global(&self) -> &Global {
        &self.global
    }

    fn run(self, app: &mut App) -> Result<Exit> {
        let ctx = Ctx::local();
        match self.cmd {
            None => {
                let r = reload::reload(app.store()?, &ctx, self.dry_run)?;
                if !r.changed {
                    app.note("no changes: the staged policy equals the active snapshot");
                } else if !self.dry_run {
                    app.note(&format!(
                        "snapshot {} is active",
                        crate::output::cell(r.version)
                    ));
                }
                app.out.record(&r)?;
            }
            Some(Cmd::History) => {
                let h = reload::history(app.store()?)?;
                app.out.list(&h)?;
            }
            Some(Cmd::Rollback { version }) => {
                let s = reload::rollback(app.store()?, &ctx, version)?;
                app.out.record(&s)?;
            }
        }
        Ok(Exit::Success)
    }
}
