//! `audit`: read and verify the tamper-evident audit trail (DESIGN §8).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use super::{App, Command, Global, duration_arg, exit_codes_help};
use crate::audit::check::Severity;
use crate::audit::export::Schema;
use crate::audit::{Head, Verification};
use crate::error::{Error, Exit, Result};
use crate::input::read_text;
use crate::ops::audit::{
    AuditCheck, AuditCheckpoint, AuditExport, AuditLog, AuditPrune, AuditVerify,
};
use crate::output::Format;
use crate::output::cell;

pub const EXAMPLES: &str = "Examples:
  audit log --since 1h --type token_revoked
  audit log --follow --format ndjson     # new events as they are committed

  # Keep a checkpoint off the machine; verify against it (exit 1 if broken)
  audit checkpoint > /backup/moat-checkpoint.json
  audit verify --checkpoint /backup/moat-checkpoint.json

  # A nightly cron lint: exit 1 on medium findings or worse
  audit check --fail-on medium

  # Ship the last day to a SIEM
  audit export --schema ocsf --since 1d > moat-ocsf.ndjson";

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
        /// Only events of this type, e.g. token_created, grant_added, enrolment_refused
        #[arg(long = "type", value_name = "T")]
        kind: Option<String>,
        /// Only events by this actor, e.g. local:alice
        #[arg(long)]
        actor: Option<String>,
        /// Only events about this target, e.g. tok_0a1b2c3d4e5f
        #[arg(long)]
        target: Option<String>,
        /// Only events with this outcome: success, failure or denied
        #[arg(long)]
        outcome: Option<String>,
        /// Keep printing new events as they are committed, like tail -f (JSON becomes NDJSON)
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
    /// Lint the state for security problems; exit 1 when a finding reaches --fail-on
    ///
    /// Findings: enrol tokens over 24h or with unlimited uses, bound tokens not
    /// used for --stale, workers not seen for --stale, expired tokens not pruned,
    /// broad allow grants, superusers, more than 20 old policy snapshots, a state
    /// file mostly free space (64 MB or more), file permissions, auth-failure
    /// spikes, a broken audit chain, serve started with --auth-mode none.
    Check {
        /// Lowest severity that makes the exit status 1
        #[arg(long, value_enum, default_value = "high")]
        fail_on: Severity,
        /// Bound tokens not used, and workers not seen, for this long are reported
        #[arg(long, value_name = "D", default_value = "7d", value_parser = duration_arg)]
        stale: Duration,
        /// Failed authentications in the last hour that count as a spike
        #[arg(long, default_value_t = 20, value_name = "N")]
        spike: i64,
    },
    /// Drop events before a time, keeping the chain verifiable through a sealed anchor
    Prune {
        /// Cut-off: a duration ago (90d) or an RFC 3339 time
        #[arg(long, value_name = "D|TS")]
        before: String,
    },
    /// Export events as NDJSON in a SIEM schema (one event per line)
    Export {
        #[arg(long, value_enum, default_value = "moat")]
        schema: Schema,
        /// Only events at or after this time
        #[arg(long, value_name = "D|TS")]
        since: Option<String>,
    },
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

/// Events matching `q`, from the server or the state file.
fn fetch(app: &mut App, q: &AuditLog) -> Result<Vec<serde_json::Value>> {
    let v = app.run(q.clone())?;
    Ok(v.as_array().cloned().unwrap_or_default())
}

fn log(app: &mut App, q: AuditLog, follow: bool) -> Result<Exit> {
    let mut events = fetch(app, &q)?;
    if !follow {
        app.out.value(&serde_json::Value::Array(events), true)?;
        return Ok(Exit::Success);
    }
    // Follow: print what exists, then poll for new commits. Runs until
    // interrupted or until stdout closes (a broken pipe is a quiet success).
    let mut q = q;
    let table = app.out.format == Format::Table;
    loop {
        for e in &events {
            if table {
                let row: Vec<String> = e
                    .as_object()
                    .map(|m| m.values().map(crate::output::json_cell).collect())
                    .unwrap_or_default();
                app.out.line(&row.join("  "))?;
            } else {
                app.out.json_line(e)?;
            }
            q.after_seq = e["seq"].as_i64().or(q.after_seq);
        }
        app.out.flush()?;
        std::thread::sleep(FOLLOW_POLL);
        events = fetch(app, &q)?;
    }
}

/// How often `audit log --follow` looks for new events.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

impl Command for Cli {
    fn global(&self) -> &Global {
        &self.global
    }

    fn run(self, app: &mut App) -> Result<Exit> {
        // An audit of a mistyped path must say so before anything else,
        // not report an empty, intact log.
        if app.global.server.is_none() {
            app.existing_state_path()?;
        }
        match self.cmd {
            Cmd::Log {
                since,
                until,
                kind,
                actor,
                target,
                outcome,
                follow,
            } => {
                let q = AuditLog {
                    since: since.map(|s| s.parse()).transpose()?,
                    until: until.map(|s| s.parse()).transpose()?,
                    kind,
                    actor,
                    target,
                    outcome,
                    after_seq: None,
                };
                log(app, q, follow)
            }
            Cmd::Verify { checkpoint } => {
                let cp = checkpoint.as_ref().map(read_checkpoint).transpose()?;
                let v = app.run(AuditVerify { checkpoint: cp })?;
                let v: Verification = serde_json::from_value(v)
                    .map_err(|e| Error::internal(format!("unexpected verification shape: {e}")))?;
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
                let v = app.run(AuditCheckpoint {})?;
                app.out.value(&v, false)?;
                Ok(Exit::Success)
            }
            Cmd::Check {
                fail_on,
                stale,
                spike,
            } => {
                if app.global.server.is_none() {
                    // Loose permissions are findings here, not a refusal.
                    app.open_store_ignoring_permissions()?;
                }
                let v = app.run(AuditCheck { stale, spike })?;
                app.out.value(&v, true)?;
                let findings = v.as_array().cloned().unwrap_or_default();
                if findings.is_empty() {
                    app.note("audit check: no findings");
                }
                let worst = findings
                    .iter()
                    .filter_map(|f| serde_json::from_value::<Severity>(f["severity"].clone()).ok())
                    .max();
                if worst.is_some_and(|w| w >= fail_on) {
                    app.note(&format!(
                        "audit check: {} finding(s), worst {:?}",
                        findings.len(),
                        worst.unwrap_or(Severity::Low)
                    ));
                    Ok(Exit::Negative)
                } else {
                    Ok(Exit::Success)
                }
            }
            Cmd::Prune { before } => {
                let v = app.run(AuditPrune {
                    before: before.parse()?,
                })?;
                app.out.value(&v, false)?;
                Ok(Exit::Success)
            }
            Cmd::Export { schema, since } => {
                let v = app.run(AuditExport {
                    schema,
                    since: since.map(|s| s.parse()).transpose()?,
                })?;
                for l in v.as_array().into_iter().flatten() {
                    app.out.line(l.as_str().unwrap_or_default())?;
                }
                Ok(Exit::Success)
            }
        }
    }
}
