//! `reload`: compile staged grants into a policy snapshot, show the diff,
//! list history, roll back (DESIGN §5).

use clap::{Parser, Subcommand};

use super::{App, Command, Global, exit_codes_help};
use crate::error::{Exit, Result};
use crate::reload;
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
