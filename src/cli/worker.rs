//! `worker`: connect a machine to serve and manage the fleet (DESIGN §7).
//! Defined for help and docs; the protocol lands with the worker issue.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::{App, Command, Global, exit_codes_help};
use crate::error::{Error, Exit, Result};

pub const EXAMPLES: &str = "Examples:
  worker connect --server wss://orchestrator:8443 --token \"$(cat enrol.token)\" --cache-dir /var/lib/moat-worker
  worker list --stale 1h
  worker dispatch --to build-1 --secret DEPLOY_KEY -- make deploy";

/// Connect this machine as a worker, or manage the fleet.
///
/// Warning: the orchestrator a worker connects to can run code on this machine.
#[derive(Debug, Parser)]
#[command(name = "worker", version, after_long_help = format!("{EXAMPLES}\n\n{}", exit_codes_help()))]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Worker subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Enrol (or resume) and run dispatched steps until stopped
    ///
    /// The orchestrator is the global --server wss://HOST:PORT (ws:// only to loopback).
    Connect {
        /// Enrol token (mte_...)
        #[arg(long)]
        token: Option<String>,
        /// Directory for the machine id and session credential (0700)
        #[arg(long)]
        cache_dir: PathBuf,
        /// k=v label (repeatable)
        #[arg(long)]
        label: Vec<String>,
        /// Steps run at once
        #[arg(long, default_value_t = 1)]
        capacity: u32,
        /// Only run commands whose argv[0] matches (repeatable)
        #[arg(long)]
        allow_command: Vec<String>,
        /// CA certificate for a private CA
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// Pin the server's SPKI SHA-256 (base64)
        #[arg(long)]
        pin_sha256: Option<String>,
    },
    /// List workers
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, value_name = "D")]
        stale: Option<String>,
    },
    /// Show one worker
    Show { id: String },
    /// Revoke workers and disconnect them now
    Revoke {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Stop sending new steps to a worker
    Drain { id: String },
    /// Run a step on a worker and print its result (exit code mirrors the step's)
    Dispatch {
        #[arg(long, conflicts_with = "select")]
        to: Option<String>,
        #[arg(long)]
        select: Option<String>,
        #[arg(long)]
        secret: Vec<String>,
        #[arg(long, value_name = "D")]
        timeout: Option<String>,
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },
}

impl Command for Cli {
    fn global(&self) -> &Global {
        &self.global
    }
    fn run(self, _app: &mut App) -> Result<Exit> {
        Err(Error::not_implemented("worker"))
    }
}
