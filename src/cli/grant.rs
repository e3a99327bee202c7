//! `grant`: stage grants and group memberships, and ask the policy for
//! decisions (DESIGN §5).

use std::io::BufReader;
use std::path::Path;

use clap::{Parser, Subcommand};

use super::{App, Command, Global, exit_codes_help, parsed};
use crate::error::{Error, Exit, Result};
use crate::grant;
use crate::input::{expand_ids, read_text};
pub use crate::ops::grants::GrantState;
use crate::ops::grants::{
    ActionList, BATCH_ERRORS, BATCH_REQUESTS, Check, CheckBatch, GrantAdd, GrantApply, GrantExport,
    GrantList, GrantRevoke, GroupAdd, GroupList, GroupRemove,
};
use crate::output::Format;
use crate::policy::grant::{Actions, Effect, Subject};
use crate::policy::{Principal, ResourcePattern};

pub const EXAMPLES: &str = "Examples:
  # Let the ops group run build workers, but never the release signer
  grant add --subject group:ops --action run --resource 'worker:build-*'
  grant add --subject group:ops --action run --resource worker:build-signer --deny
  grant group add ops user:alice user:bob
  reload

  # Ask, and see why (exit 0 allow, 1 deny)
  grant check --principal user:alice --action run --resource worker:build-1 --explain

  # A decision point for scripts: NDJSON requests in, decisions out, in order
  grant check --batch - < requests.ndjson

  # Declarative: the file's grants become the full set of source file:ops
  grant export > ops.json && grant apply ops.json";

/// Manage grants and groups, and ask the policy for decisions.
///
/// Changes are staged: `grant check` and serve use the active snapshot until
/// `reload` compiles the staged grants and memberships into a new one.
/// Decision: any matching deny wins; else any matching allow; else deny.
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
    /// Stage an allow (or, with --deny, a deny) grant
    Add {
        /// user:<id>, group:<name> or worker:<id>
        #[arg(long, value_parser = parsed::<Subject>)]
        subject: Subject,
        /// read, run, write, admin (repeat or comma-separate for several)
        #[arg(long, required = true)]
        action: Vec<String>,
        /// <kind>:<pattern>: an exact name, a prefix ending in *, or *; the kind may be *
        #[arg(long, value_parser = parsed::<ResourcePattern>)]
        resource: ResourcePattern,
        /// Make this a deny grant (deny always wins, even over superusers)
        #[arg(long)]
        deny: bool,
        /// A note for people
        #[arg(long)]
        note: Option<String>,
    },
    /// List grants (built-in role grants first)
    List {
        /// Only grants to this subject
        #[arg(long)]
        subject: Option<String>,
        /// Only grants with exactly this resource pattern
        #[arg(long)]
        resource: Option<String>,
        /// Only grants from this source: cli, file:<name>, admins, builtin
        #[arg(long)]
        source: Option<String>,
        /// Only active or only revoked grants
        #[arg(long, value_enum)]
        state: Option<GrantState>,
    },
    /// Revoke grants, all or nothing (ids, or - for stdin)
    Revoke {
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Decide whether a principal may perform an action (exit 0 allow, 1 deny)
    Check(CheckArgs),
    /// Manage group membership (groups are flat sets of principals)
    #[command(subcommand)]
    Group(GroupCmd),
    /// Make a file's grants the full set of source file:<name> (all or nothing)
    ///
    /// A rule that some active grant already gives is left alone; a rule this
    /// source had before is reactivated; others are created; this source's
    /// grants missing from the file are revoked. An invalid file changes nothing.
    Apply {
        /// Grant file, or - for stdin
        file: String,
        /// Source name [default: the file name without extension, or stdin]
        #[arg(long)]
        name: Option<String>,
    },
    /// Print the active grants as a file `apply` accepts
    Export,
}

/// `grant check` flags.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// user:<id> or worker:<id>
    #[arg(long, required_unless_present = "batch")]
    pub principal: Option<String>,
    /// read, run, write or admin
    #[arg(long, required_unless_present = "batch")]
    pub action: Option<String>,
    /// <kind>:<name>, e.g. worker:build-1
    #[arg(long, required_unless_present = "batch")]
    pub resource: Option<String>,
    /// Also list near misses: this principal's grants that failed only on action or only on resource
    #[arg(long)]
    pub explain: bool,
    /// Evaluate the staged grants instead of the active snapshot
    #[arg(long)]
    pub staged: bool,
    /// Read NDJSON requests {"principal","action","resource"} from FILE or - and print one decision per line
    ///
    /// Exits 0 when every line was decided (allow or deny), 2 when any line was malformed
    /// (that line's output is {"error":{"code","message","line"}}).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["principal", "action", "resource"])]
    pub batch: Option<String>,
}

/// `grant group` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// Add principals to a group
    Add {
        /// Group name, e.g. ops or role:admin
        group: String,
        #[arg(required = true, value_parser = parsed::<Principal>)]
        principals: Vec<Principal>,
    },
    /// Remove principals from a group (all or nothing)
    Remove {
        group: String,
        #[arg(required = true, value_parser = parsed::<Principal>)]
        principals: Vec<Principal>,
    },
    /// List groups and their members
    List,
}

fn batch_remote(app: &mut App, src: &str) -> Result<Exit> {
    let text = if src == "-" {
        read_text(std::io::stdin().lock(), "stdin")?
    } else {
        let f = std::fs::File::open(src).map_err(|e| Error::io(format!("cannot open {src}"), e))?;
        read_text(f, src)?
    };
    let Some(r) = app.remote()? else {
        return Err(Error::internal("remote batch without a server"));
    };
    let (out, headers) = r.post_text::<CheckBatch>(text)?;
    let num = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (errors, requests) = (num(BATCH_ERRORS), num(BATCH_REQUESTS));
    app.out
        .writer()
        .write_all(out.as_bytes())
        .map_err(|e| Error::io("writing decisions", e))?;
    if errors > 0 {
        app.out.flush()?;
        return Err(Error::usage(format!(
            "{errors} of {requests} request lines were malformed (see their error lines)"
        )));
    }
    Ok(Exit::Success)
}

fn check(app: &mut App, a: CheckArgs) -> Result<Exit> {
    if let Some(src) = a.batch {
        if app.global.server.is_some() {
            return batch_remote(app, &src);
        }
        // Never dropped: the process ends right after, and the kernel takes
        // back a million-grant index far faster than millions of frees.
        let policy = std::mem::ManuallyDrop::new(grant::load_policy(app.store()?, a.staged, None)?);
        let sum = if src == "-" {
            let stdin = std::io::stdin().lock();
            grant::check_batch(
                &policy,
                BufReader::with_capacity(256 * 1024, stdin),
                app.out.writer(),
                a.explain,
            )?
        } else {
            let f = std::fs::File::open(&src)
                .map_err(|e| Error::io(format!("cannot open {src}"), e))?;
            grant::check_batch(
                &policy,
                BufReader::with_capacity(256 * 1024, f),
                app.out.writer(),
                a.explain,
            )?
        };
        if sum.errors > 0 {
            app.out.flush()?;
            return Err(Error::usage(format!(
                "{} of {} request lines were malformed (see their error lines)",
                sum.errors, sum.requests
            )));
        }
        return Ok(Exit::Success);
    }
    // required_unless_present guarantees all three without --batch.
    let (Some(p), Some(act), Some(res)) = (a.principal, a.action, a.resource) else {
        return Err(Error::usage(
            "give --principal, --action and --resource, or --batch",
        ));
    };
    let v = app.run(Check {
        principal: p.parse()?,
        action: act.parse()?,
        resource: res.parse()?,
        explain: a.explain,
        staged: a.staged,
    })?;
    app.out.value(&v, false)?;
    Ok(if v["decision"] == "allow" {
        Exit::Success
    } else {
        Exit::Negative
    })
}

impl Command for Cli {
    fn global(&self) -> &Global {
        &self.global
    }

    fn run(self, app: &mut App) -> Result<Exit> {
        match self.cmd {
            Cmd::Add {
                subject,
                action,
                resource,
                deny,
                note,
            } => {
                let req = GrantAdd {
                    subject,
                    effect: if deny { Effect::Deny } else { Effect::Allow },
                    actions: ActionList(Actions::parse_list(&action)?),
                    resource,
                    note,
                };
                req.clone().request().validate()?;
                app.may_create_state();
                let v = app.run(req)?;
                if app.global.server.is_none() {
                    app.note("staged; run `reload` to make it take effect");
                }
                app.out.value(&v, false)?;
            }
            Cmd::List {
                subject,
                resource,
                source,
                state,
            } => {
                let v = app.run(GrantList {
                    subject,
                    resource,
                    source,
                    state,
                })?;
                app.out.value(&v, true)?;
            }
            Cmd::Revoke { ids } => {
                let ids = expand_ids(&ids, std::io::stdin().lock())?;
                let ids = ids.iter().map(|i| i.parse()).collect::<Result<_>>()?;
                let v = app.run(GrantRevoke { ids })?;
                app.out.value(&v, true)?;
            }
            Cmd::Check(a) => return check(app, a),
            Cmd::Group(GroupCmd::Add { group, principals }) => {
                app.may_create_state();
                let v = app.run(GroupAdd {
                    group: group.parse()?,
                    principals,
                })?;
                app.out.value(&v, false)?;
            }
            Cmd::Group(GroupCmd::Remove { group, principals }) => {
                let v = app.run(GroupRemove {
                    group: group.parse()?,
                    principals,
                })?;
                app.out.value(&v, false)?;
            }
            Cmd::Group(GroupCmd::List) => {
                let v = app.run(GroupList {})?;
                app.out.value(&v, true)?;
            }
            Cmd::Apply { file, name } => {
                let (text, default_name) = if file == "-" {
                    (
                        read_text(std::io::stdin().lock(), "stdin")?,
                        "stdin".to_owned(),
                    )
                } else {
                    let f = std::fs::File::open(&file)
                        .map_err(|e| Error::io(format!("cannot open {file}"), e))?;
                    let stem = Path::new(&file)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "file".into());
                    (read_text(f, &file)?, stem)
                };
                let req = GrantApply {
                    name: name.unwrap_or(default_name),
                    text,
                };
                // Refuse a bad file before anything is sent or opened.
                req.parse()?;
                app.may_create_state();
                let v = app.run(req)?;
                app.out.value(&v, false)?;
            }
            Cmd::Export => {
                let v = app.run(GrantExport {})?;
                match (app.out.format, v["grants"].as_array()) {
                    (Format::Ndjson, Some(grants)) => {
                        for g in grants {
                            app.out.json_line(g)?;
                        }
                    }
                    _ => app.out.json_line(&v)?,
                }
            }
        }
        Ok(Exit::Success)
    }
}
