//! `reload`: compile staged grants into a policy snapshot (DESIGN §5).
//! Defined for help and docs; the compiler lands with the policy issue.

use clap::{Parser, Subcommand};

use super::{App, Command, Global, exit_codes_help};
use crate::error::{Error, Exit, Result};

pub const EXAMPLES: &str = "Examples:
  reload --dry-run      # what would change
  reload                # compile and activate a new snapshot
  reload history
  reload rollback 6";

/// Compile the staged grants and memberships into a new active policy snapshot.
#[derive(Debug, Parser)]
#[command(name = "reload", version, args_conflicts_with_subcommands = true,
          after_long_help = format!("{EXAMPLES}\n\n{}", exit_codes_help()))]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Print the diff without applying it
    #[arg(long)]
    pub dry_run: bool,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

/// Reload subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List snapshots
    History,
    /// Make an earlier snapshot active again
    Rollback {
        /// Snapshot version
        version: u64,
    },
}

impl Command for Cli {
    fn global(&self) -> &Global {
        &self.global
    }
    fn run(self, _app: &mut App) -> Result<Exit> {
        Err(Error::not_implemented("reload"))
    }
}
