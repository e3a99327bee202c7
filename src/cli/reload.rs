//! `reload`: compile staged grants into a policy snapshot, show the diff,
//! list history, roll back (DESIGN §5).

use clap::{Parser, Subcommand};

use super::{App, Command, Global, exit_codes_help};
use crate::error::{Error, Exit, Result};
use crate::ops::policy::{Reload, SnapshotList, SnapshotPrune, SnapshotRollback};

pub const EXAMPLES: &str = "Examples:
  reload --dry-run      # what would change
  reload                # compile and activate a new snapshot
  reload history
  reload rollback 6
  reload prune --keep 20 --dry-run   # which old snapshots would be deleted
  reload prune --keep 2 --vacuum     # delete them and shrink the state file";

/// Compile the staged grants and memberships into a new active policy snapshot.
///
/// Snapshots are numbered and digested; decisions name the snapshot they used.
/// Nothing new is made when the staged policy equals the active snapshot.
#[derive(Debug, Parser)]
#[command(name = "reload", version,
          after_long_help = format!("{EXAMPLES}\n\n{}", exit_codes_help()))]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Print the diff (grants and memberships added/removed) without applying it
    /// (before `prune`, the same as its own --dry-run)
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
    /// Delete old snapshots, keeping the active one and the newest others
    ///
    /// Every reload stores a whole copy of the policy, so the state file grows by
    /// one policy per reload until old snapshots are pruned. Deleted snapshots can
    /// no longer be rolled back to; their audit events stay. SQLite reuses the freed
    /// space for later snapshots; the file itself shrinks only with --vacuum.
    Prune {
        /// How many snapshots to keep besides the active one
        #[arg(long, default_value_t = crate::reload::DEFAULT_KEEP, value_name = "N")]
        keep: usize,
        /// List what would be deleted without deleting it
        #[arg(long)]
        dry_run: bool,
        /// Then rewrite the state file without its free space, so it shrinks
        /// (local state file only; holds the write lock while it runs and needs
        /// free disk for a copy of the live data)
        #[arg(long)]
        vacuum: bool,
    },
}

impl Command for Cli {
    fn global(&self) -> &Global {
        &self.global
    }

    fn run(self, app: &mut App) -> Result<Exit> {
        if self.dry_run && matches!(self.cmd, Some(Cmd::History | Cmd::Rollback { .. })) {
            return Err(Error::usage(
                "--dry-run is for `reload` itself and `reload prune`, not history or rollback",
            ));
        }
        match self.cmd {
            None => {
                let dry_run = self.dry_run;
                if !dry_run {
                    app.may_create_state();
                }
                let v = app.run(Reload { dry_run })?;
                if v["changed"] == false {
                    app.note("no changes: the staged policy equals the active snapshot");
                } else if !dry_run {
                    app.note(&format!("snapshot {} is active", v["version"]));
                }
                app.out.value(&v, false)?;
            }
            Some(Cmd::History) => {
                let v = app.run(SnapshotList {})?;
                app.out.value(&v, true)?;
            }
            Some(Cmd::Rollback { version }) => {
                let v = app.run(SnapshotRollback { version })?;
                app.out.value(&v, false)?;
            }
            Some(Cmd::Prune {
                keep,
                dry_run,
                vacuum,
            }) => {
                let dry_run = dry_run || self.dry_run;
                if vacuum && dry_run {
                    return Err(Error::usage("--vacuum cannot be combined with --dry-run"));
                }
                if vacuum && app.global.server.is_some() {
                    return Err(Error::usage(
                        "--vacuum works on the local state file, not through --server",
                    )
                    .with_hint(
                        "run `reload prune --vacuum` on the machine that holds the state file",
                    ));
                }
                let v = app.run(SnapshotPrune { keep, dry_run })?;
                let n = v.as_array().map_or(0, Vec::len);
                app.note(&if dry_run {
                    format!("would prune {n} snapshot(s)")
                } else {
                    format!("pruned {n} snapshot(s)")
                });
                if vacuum {
                    app.note("vacuuming the state file...");
                    let r = app.store()?.vacuum()?;
                    app.note(&format!(
                        "state file: {} MB -> {} MB",
                        r.bytes_before.div_ceil(1 << 20),
                        r.bytes_after.div_ceil(1 << 20)
                    ));
                }
                app.out.value(&v, true)?;
            }
        }
        Ok(Exit::Success)
    }
}
