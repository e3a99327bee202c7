//! `grant`: the policy commands (DESIGN §5). Defined here so `--help`, man
//! pages and completions are complete; the engine lands with the policy issue.

use clap::{Parser, Subcommand};

use super::{App, Command, Global, exit_codes_help};
use crate::error::{Error, Exit, Result};

pub const EXAMPLES: &str = "Examples:
  grant add --subject group:ops --action run --resource 'worker:build-*'
  grant check --principal user:alice --action run --resource worker:build-1 --explain
  grant export > grants.json && grant apply grants.json";

/// Manage grants and groups, and ask the policy for decisions.
///
/// Changes are staged until `reload` compiles them into a new snapshot.
#[derive(Debug, Parser)]
#[command(name = "grant", version, after_long_help = format!("{EXAMPLES}\n\n{}", exit_codes_help()))]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Grant subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Add an allow (or, with --deny, a deny) grant
    Add {
        /// user:<id>, group:<name> or worker:<id>
        #[arg(long)]
        subject: String,
        /// read, run, write, admin (comma-separated for several)
        #[arg(long, value_delimiter = ',', required = true)]
        action: Vec<String>,
        /// <kind>:<pattern>, e.g. worker:build-* or *:*
        #[arg(long)]
        resource: String,
        /// Make this a deny grant (deny always wins)
        #[arg(long)]
        deny: bool,
        /// A note for people
        #[arg(long)]
        note: Option<String>,
    },
    /// List grants
    List {
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        resource: Option<String>,
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        state: Option<String>,
    },
    /// Revoke grants (ids, or - for stdin)
    Revoke {
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Decide whether a principal may perform an action (exit 0 allow, 1 deny)
    Check {
        #[arg(long, required_unless_present = "batch")]
        principal: Option<String>,
        #[arg(long, required_unless_present = "batch")]
        action: Option<String>,
        #[arg(long, required_unless_present = "batch")]
        resource: Option<String>,
        /// Also list near misses
        #[arg(long)]
        explain: bool,
        /// Evaluate staged grants instead of the active snapshot
        #[arg(long)]
        staged: bool,
        /// Read NDJSON requests from FILE or - and print one decision per line
        #[arg(long, value_name = "FILE", conflicts_with_all = ["principal", "action", "resource"])]
        batch: Option<String>,
    },
    /// Manage group membership
    #[command(subcommand)]
    Group(GroupCmd),
    /// Make a file's grants the full set of source file:<name>
    Apply {
        /// Grant file, or - for stdin
        file: String,
    },
    /// Print all grants as a file `apply` accepts
    Export,
}

/// `grant group` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// Add principals to a group
    Add {
        group: String,
        #[arg(required = true)]
        principals: Vec<String>,
    },
    /// Remove principals from a group
    Remove {
        group: String,
        #[arg(required = true)]
        principals: Vec<String>,
    },
    /// List groups and members
    List,
}

impl Command for Cli {
    fn global(&self) -> &Global {
        &self.global
    }
    fn run(self, _app: &mut App) -> Result<Exit> {
        Err(Error::not_implemented("grant"))
    }
}
