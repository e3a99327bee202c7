//! `worker`: connect this machine to serve, manage the fleet, dispatch steps (DESIGN §7).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use super::{App, Command, Global, duration_arg, exit_codes_help};
use crate::error::{Error, Exit, Result};
use crate::input::{expand_ids, read_text};
use crate::ops::workers::{Dispatch, WorkerDrain, WorkerList, WorkerRevoke, WorkerShow};
use crate::output::Format;
use crate::policy::NamePattern;
use crate::worker;

pub const EXAMPLES: &str = "Examples:
  # On the worker machine (the orchestrator can then run code here)
  worker connect --server wss://orchestrator:8443 --token-file enrol.token --cache-dir /var/lib/moat-worker --label name=build-1

  # On the orchestrator
  worker list --stale 1h
  worker dispatch --to build-1 --secret DEPLOY_KEY --timeout 10m -- make deploy
  worker dispatch --select pool=build -- make test
  worker revoke wrk_0a1b2c3d4e5f";

/// Connect this machine as a worker, or manage the fleet.
///
/// Warning: the orchestrator a worker connects to can run code on this machine.
///
/// `worker connect` exits 4 when serve revokes the worker or its token is
/// expired, revoked or exhausted (it does not retry those), 5 when the token is
/// not valid, 2 on a protocol mismatch; other failures are retried with
/// capped exponential backoff.
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
    /// The orchestrator is the global --server wss://HOST:PORT (ws:// only to loopback); several replicas as --server wss://A:8443,wss://B:8443, tried in turn when one goes away.
    Connect {
        /// Enrol token (mte_...); prefer --token-file, which keeps it out of `ps`
        #[arg(long, conflicts_with = "token_file")]
        token: Option<String>,
        /// File holding the enrol token
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Directory for the machine id and session credential (0700)
        #[arg(long, value_name = "DIR")]
        cache_dir: PathBuf,
        /// k=v label (repeatable); name=... names the worker
        #[arg(long = "label", value_name = "K=V")]
        labels: Vec<String>,
        /// Steps run at once (1 or more)
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
        capacity: u32,
        /// Only run commands whose argv[0] matches (exact or prefix*; repeatable)
        #[arg(long, value_name = "PATTERN")]
        allow_command: Vec<String>,
        /// Also require the server's public key to have this SHA-256 (base64 of the SPKI)
        #[arg(long, value_name = "B64")]
        pin_sha256: Option<String>,
        /// Run steps as this user (name, uid or uid:gid); needs a root worker
        #[arg(long, value_name = "USER")]
        run_as: Option<String>,
        /// Let steps run as root (refused by default, like GitHub's runner)
        #[arg(long)]
        allow_root: bool,
    },
    /// List workers (revoked ones with --all)
    List(WorkerList),
    /// Show one worker
    Show { id: String },
    /// Revoke workers and disconnect them now (ids, or - for stdin)
    Revoke {
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Stop sending new steps to a worker (audited; a running serve tells its live session)
    Drain { id: String },
    /// Run a step on a worker and print its result; the exit code mirrors the step's (needs --server)
    Dispatch {
        /// Worker name
        #[arg(long, required_unless_present = "select", conflicts_with = "select")]
        to: Option<String>,
        /// Any connected worker with this label, as key=value (e.g. pool=build)
        #[arg(long, value_name = "K=V")]
        select: Option<String>,
        /// Secret from serve's --secrets-file to pass as an environment variable (repeatable)
        #[arg(long)]
        secret: Vec<String>,
        /// Kill the step after this long
        #[arg(long, value_name = "D", value_parser = duration_arg, default_value = "10m")]
        timeout: Duration,
        /// The command and its arguments
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },
}

impl Command for Cli {
    fn global(&self) -> &Global {
        &self.global
    }

    fn run(self, app: &mut App) -> Result<Exit> {
        match self.cmd {
            Cmd::Connect {
                token,
                token_file,
                cache_dir,
                labels,
                capacity,
                allow_command,
                pin_sha256,
                run_as,
                allow_root,
            } => {
                let url = app.global.server.clone().ok_or_else(|| {
                    Error::usage("worker connect needs --server wss://HOST:PORT")
                        .with_hint("or set MOAT_SERVER")
                })?;
                let token = match token_file {
                    Some(f) => {
                        let file = std::fs::File::open(&f)
                            .map_err(|e| Error::io(format!("cannot read {}", f.display()), e))?;
                        Some(read_text(file, "the token file")?.trim().to_owned())
                    }
                    None => token,
                };
                let mut map = BTreeMap::new();
                for l in labels {
                    let (k, v) = l.split_once('=').ok_or_else(|| {
                        Error::usage(format!("invalid --label '{l}'")).with_hint("write key=value")
                    })?;
                    map.insert(k.to_owned(), v.to_owned());
                }
                let allow = allow_command
                    .iter()
                    .map(|p| NamePattern::parse(p, "--allow-command pattern"))
                    .collect::<Result<_>>()?;
                let mut isolation = worker::exec::Isolation::new(allow);
                isolation.run_as = run_as
                    .as_deref()
                    .map(worker::exec::RunAs::parse)
                    .transpose()?;
                check_root(&isolation, allow_root)?;
                let urls = worker::client::server_urls(&url)?;
                worker::client::run(worker::client::Options {
                    url: urls[0].clone(),
                    urls,
                    token,
                    cache_dir,
                    labels: map,
                    capacity,
                    isolation,
                    ca_file: app.global.ca_file.clone(),
                    pin_sha256: pin_sha256
                        .as_deref()
                        .map(worker::client::parse_pin)
                        .transpose()?,
                })
            }
            Cmd::List(filters) => {
                let v = app.run(filters)?;
                app.out.value(&v, true)?;
                Ok(Exit::Success)
            }
            Cmd::Show { id } => {
                let v = app.run(WorkerShow { id: id.parse()? })?;
                app.out.value(&v, false)?;
                Ok(Exit::Success)
            }
            Cmd::Revoke { ids } => {
                let ids = expand_ids(&ids, std::io::stdin().lock())?;
                let ids = ids.iter().map(|i| i.parse()).collect::<Result<_>>()?;
                let v = app.run(WorkerRevoke { ids })?;
                app.out.value(&v, true)?;
                Ok(Exit::Success)
            }
            Cmd::Drain { id } => {
                let v = app.run(WorkerDrain { id: id.parse()? })?;
                app.out.value(&v, false)?;
                Ok(Exit::Success)
            }
            Cmd::Dispatch {
                to,
                select,
                secret,
                timeout,
                argv,
            } => {
                let Some(r) = app.remote()? else {
                    return Err(Error::usage(
                        "worker dispatch goes through the running serve: give --server",
                    ));
                };
                // serve answers within the step's timeout, its grace period
                // and a margin; the request waits that long, not 120 s.
                let v = r.call(&Dispatch {
                    to: to.unwrap_or_default(),
                    select,
                    argv,
                    secrets: secret,
                    stdin: String::new(),
                    timeout: Some(timeout),
                })?;
                let code = v["exit_code"].as_i64().unwrap_or(1);
                if app.out.format == Format::Table {
                    // Like ssh: the step's output on our stdout and stderr.
                    app.out
                        .writer()
                        .write_all(v["stdout"].as_str().unwrap_or_default().as_bytes())
                        .map_err(|e| Error::io("writing", e))?;
                    eprint!("{}", v["stderr"].as_str().unwrap_or_default());
                } else {
                    app.out.value(&v, false)?;
                }
                app.out.flush()?;
                std::process::exit(i32::try_from(code.clamp(0, 255)).unwrap_or(1));
            }
        }
    }
}

/// Refuse to run steps as root unless asked to (`--allow-root`).
fn check_root(iso: &worker::exec::Isolation, allow_root: bool) -> Result<()> {
    let uid = match iso.run_as {
        Some(u) => u.uid,
        None => rustix::process::geteuid().as_raw(),
    };
    if uid == 0 && !allow_root {
        return Err(
            Error::usage("refusing to run dispatched steps as root").with_hint(
                "give --run-as USER (e.g. --run-as nobody), or --allow-root if you really mean it",
            ),
        );
    }
    if iso.run_as.is_some() && !rustix::process::geteuid().is_root() {
        return Err(Error::usage("--run-as needs a worker started as root")
            .with_hint("start the worker as root, or drop --run-as to run steps as this user"));
    }
    Ok(())
}
