//! `audit`: read and verify the tamper-evident audit trail (DESIGN §8).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::{App, Command, Global, exit_codes_help};
use crate::audit::{Event, Head};
use crate::error::{Error, Exit, Result};
use crate::input::read_text;
use crate::output::{Tabular, cell};
use crate::store::AuditQuery;
use crate::time::{now_ms, parse_since, rfc3339};

pub const EXAMPLES: &str = "Examples:
  audit log --since 1h --type token_revoked
  audit checkpoint > /backup/moat-checkpoint.json
  audit verify --checkpoint /backup/moat-checkpoint.json";

/// Read and verify the audit trail.
///
/// Every security event is appended to a hash chain keyed with the state's
/// pepper, in the same transaction as the change it records.
#[derive(Debug, Parser)]
#[command(name = "audit", version, after_long_help = format!("{EXAMPLES}\n\n{}", exit_codes_help()))]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Print events, oldest first
    Log {
        /// Only events at or after this time (duration ago like 4h, or RFC 3339)
        #[arg(long, value_name = "D|TS")]
        since: Option<String>,
        /// Only events at or before this time (duration ago, or RFC 3339)
        #[arg(long, value_name = "D|TS")]
        until: Option<String>,
        /// Only events of this type, e.g. token_created
        #[arg(long = "type", value_name = "T")]
        kind: Option<String>,
        /// Only events by this actor
        #[arg(long)]
        actor: Option<String>,
        /// Keep printing new events as they are committed
        #[arg(long)]
        follow: bool,
    },
    /// Check every link of the chain (exit 0 intact, 1 broken)
    Verify {
        /// A checkpoint saved by `audit checkpoint`: also detects truncation and rewrites
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Print the chain head {seq, hash} to keep somewhere else
    Checkpoint,
    /// Lint the state for security problems (cron-friendly)
    Check {
        #[arg(long, value_name = "low|medium|high")]
        fail_on: Option<String>,
        #[arg(long, value_name = "D")]
        stale: Option<String>,
    },
    /// Drop events before a time, keeping the chain verifiable
    Prune {
        #[arg(long, value_name = "D|TS")]
        before: String,
    },
    /// Export events as NDJSON in a SIEM schema
    Export {
        #[arg(long, default_value = "moat")]
        schema: String,
    },
}

impl Tabular for Event {
    fn headers() -> &'static [&'static str] {
        &["seq", "ts", "type", "actor", "target", "outcome", "details"]
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.seq.to_string(),
            rfc3339(self.ts),
            self.kind.clone(),
            self.actor.clone(),
            cell(self.target.as_ref()),
            self.outcome.clone(),
            self.details.to_string(),
        ]
    }
}

impl Tabular for crate::audit::Verification {
    fn headers() -> &'static [&'static str] {
        &["intact", "events", "head", "first_bad_seq", "problem"]
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.intact.to_string(),
            self.events.to_string(),
            cell(self.head.as_ref().map(|h| h.seq)),
            cell(self.first_bad_seq),
            cell(self.problem.as_ref()),
        ]
    }
}

impl Tabular for Head {
    fn headers() -> &'static [&'static str] {
        &["seq", "hash"]
    }
    fn row(&self) -> Vec<String> {
        vec![self.seq.to_string(), self.hash.clone()]
    }
}

fn read_checkpoint(path: &PathBuf) -> Result<Head> {
    let f = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot open checkpoint {}", path.display()), e))?;
    let text = read_text(f, "the checkpoint file")?;
    serde_json::from_str(&text).map_err(|e| {
        Error::usage(format!("{} is not a checkpoint: {e}", path.display())).with_hint(
            "a checkpoint is the JSON printed by `audit checkpoint`: {\"seq\":N,\"hash\":\"...\"}",
        )
    })
}

impl Command for Cli {
    fn global(&self) -> &Global {
        &self.global
    }

    fn run(self, app: &mut App) -> Result<Exit> {
        match self.cmd {
            Cmd::Log {
                since,
                until,
                kind,
                actor,
                follow,
            } => {
                if follow {
                    return Err(Error::not_implemented("audit log --follow"));
                }
                let now = now_ms();
                let q = AuditQuery {
                    since: since.map(|s| parse_since(&s, now)).transpose()?,
                    until: until.map(|s| parse_since(&s, now)).transpose()?,
                    kind,
                    actor,
                    after_seq: None,
                };
                let mut events = Vec::new();
                app.store()?.read(|tx| {
                    tx.audit_events(&q, |e| {
                        events.push(e);
                        Ok(())
                    })
                })?;
                app.out.list(&events)?;
                Ok(Exit::Success)
            }
            Cmd::Verify { checkpoint } => {
                let cp = checkpoint.as_ref().map(read_checkpoint).transpose()?;
                let v = app.store()?.read(|tx| tx.verify_audit(cp.as_ref()))?;
                app.out.record(&v)?;
                if v.intact {
                    Ok(Exit::Success)
                } else {
                    app.note(&format!(
                        "audit: chain broken at event {}: {}",
                        cell(v.first_bad_seq),
                        cell(v.problem.as_ref())
                    ));
                    Ok(Exit::Negative)
                }
            }
            Cmd::Checkpoint => {
                let head = app.store()?.read(|tx| tx.audit_head())?;
                let head = head.ok_or_else(|| Error::not_found("the audit log is empty"))?;
                app.out.record(&head)?;
                Ok(Exit::Success)
            }
            Cmd::Check { .. } => Err(Error::not_implemented("audit check")),
            Cmd::Prune { .. } => Err(Error::not_implemented("audit prune")),
            Cmd::Export { .. } => Err(Error::not_implemented("audit export")),
        }
    }
}
