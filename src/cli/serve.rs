//! `serve`: the orchestrator's HTTPS API (DESIGN §6).

use std::path::PathBuf;

use clap::Parser;

use super::{App, Command, Global, exit_codes_help};
use crate::env;
use crate::error::{Exit, Result};
use crate::server::{self, ServeConfig, ServeFlags};

pub const EXAMPLES: &str = "Examples:
  # Loopback, api tokens, alice is superuser (prints {\"listening\":\"http://127.0.0.1:8443\"})
  serve --admins user:alice

  # On the network: TLS and authentication are mandatory
  serve --host 0.0.0.0 --port 8443 --cert-file cert.pem --key-file key.pem --auth-mode token,jwt

  # Validate flags and files, then exit
  serve --host 0.0.0.0 --cert-file cert.pem --key-file key.pem --check-config

  # Replicas on one PostgreSQL database, each with the same key file
  serve --state postgres://moat@db/moat --state-key-file /etc/moat/state.key --port 8443 ...

  # Move a single machine's SQLite state into an empty PostgreSQL database
  serve --state /var/lib/moat/state.db copy-state --to postgres://moat@db/moat";

/// Run the moat orchestrator: the /v1 HTTPS API, health and metrics.
///
/// Refuses, before opening any port, a non-loopback --host without TLS or with
/// --auth-mode none, a key file others can read, and a JWT secret under 32 bytes.
/// Every request is authenticated and authorized through the policy; one JSON
/// access-log line per request goes to stderr.
#[derive(Debug, Parser)]
#[command(name = "serve", version, args_conflicts_with_subcommands = true, after_long_help = format!("{EXAMPLES}\n\n{}", exit_codes_help()))]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    /// Address to bind; anything but loopback needs TLS and authentication
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one; the chosen address is printed on stdout)
    #[arg(long, default_value_t = 8443)]
    pub port: u16,
    /// TLS certificate chain (PEM)
    #[arg(long, value_name = "FILE")]
    pub cert_file: Option<PathBuf>,
    /// TLS private key (PEM, mode 0600)
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// token (api tokens), jwt (HS256), token,jwt, or none (loopback only, deprecated)
    #[arg(long, default_value = "token", value_name = "MODES")]
    pub auth_mode: String,
    /// File holding the HS256 secret (≥ 32 bytes, mode 0600); or set MOAT_JWT_SECRET
    #[arg(long, value_name = "FILE")]
    pub jwt_secret_file: Option<PathBuf>,
    /// Authoritative user:role list for JWTs, e.g. alice:admin,bob:viewer
    #[arg(long, env = env::USERS, value_name = "LIST")]
    pub users: Option<String>,
    /// Principals given the superuser grant on every start (others lose it), e.g. user:alice
    #[arg(long, value_name = "LIST")]
    pub admins: Option<String>,
    /// auto: compile a new snapshot after every API change; manual: wait for `reload`
    #[arg(long, default_value = "manual", value_name = "auto|manual")]
    pub grant_reload: String,
    /// JSON object of secret name to value (mode 0600), for dispatches
    #[arg(long, value_name = "FILE")]
    pub secrets_file: Option<PathBuf>,
    /// Rotate each worker's session credential this often (it lives twice as long)
    #[arg(long, value_name = "D", value_parser = super::duration_arg, default_value = "10m")]
    pub rotate_every: std::time::Duration,
    /// How often workers send a sign of life; one silent for 5 of them is dropped
    #[arg(long, value_name = "D", value_parser = super::duration_arg, default_value = "5s")]
    pub heartbeat_every: std::time::Duration,
    /// Audit every routine credential rotation (by default worker_disconnected counts them)
    #[arg(long)]
    pub audit_rotations: bool,
    /// Live worker connections accepted at once (needs as many open files)
    #[arg(long, default_value_t = crate::server::config::DEFAULT_MAX_WORKERS, value_name = "N")]
    pub max_workers: usize,
    /// Validate flags and files, print the effective configuration, and exit
    #[arg(long)]
    pub check_config: bool,
}

/// What serve does besides serving.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Copy the state (tokens, bindings, workers, grants, groups, snapshots, the audit chain) into an empty PostgreSQL database, then verify the chain there
    ///
    /// The destination uses the source's key file (the same --state-key-file,
    /// or the one beside the SQLite file): copy that file to every replica.
    /// All or nothing; a destination that holds data is refused (exit 4).
    CopyState {
        /// The empty destination database, postgres://USER@HOST/DB
        #[arg(long, value_name = "URL")]
        to: PathBuf,
    },
}

impl Command for Cli {
    fn global(&self) -> &Global {
        &self.global
    }

    fn run(self, app: &mut App) -> Result<Exit> {
        if let Some(Cmd::CopyState { to }) = &self.cmd {
            let from = app.store()?;
            let key = from.key_file().to_owned();
            if !crate::store::is_database_url(to) {
                return Err(crate::error::Error::usage(
                    "copy-state copies into a PostgreSQL database: --to postgres://USER@HOST/DB",
                ));
            }
            let mut dest = crate::store::Store::open_at(to, Some(&key))?;
            let report = crate::store::copy_state(from, &mut dest)?;
            let intact = report.audit.intact;
            app.out.record(&serde_json::to_value(&report).map_err(|e| {
                crate::error::Error::internal(format!("encoding the report: {e}"))
            })?)?;
            return Ok(if intact {
                Exit::Success
            } else {
                Exit::Negative
            });
        }
        let state = app.global.state_path()?;
        let state_key = app.global.state_key_file.clone();
        let flags = ServeFlags {
            state: state.clone(),
            state_key: state_key.clone(),
            host: self.host,
            port: self.port,
            cert_file: self.cert_file,
            key_file: self.key_file,
            auth_mode: self.auth_mode,
            jwt_secret_file: self.jwt_secret_file,
            jwt_secret_env: std::env::var(env::JWT_SECRET)
                .ok()
                .filter(|s| !s.is_empty()),
            users: self.users,
            admins: self.admins,
            grant_reload: self.grant_reload,
            secrets_file: self.secrets_file,
            rotation: crate::worker::Rotation {
                every: self.rotate_every,
                audit: self.audit_rotations,
            },
            heartbeat: self.heartbeat_every,
            max_workers: self.max_workers,
        };
        let cfg = match ServeConfig::from_flags(flags.clone()) {
            Ok(c) => c,
            Err(e) => {
                // Record the refusal when there is a state to record it in.
                let store = (state.exists() || crate::store::is_database_url(&state))
                    .then(|| crate::store::Store::open_at(&state, state_key.as_deref()).ok())
                    .flatten();
                if let Some(mut store) = store {
                    store.set_audit_source("serve");
                    {
                        let _ = server::audit_start(
                            &mut store,
                            crate::audit::types::SERVE_REFUSED,
                            serde_json::json!({"host": flags.host, "reason": e.message}),
                        );
                    }
                }
                return Err(e);
            }
        };
        if self.check_config {
            if let Some(w) = server::config::ensure_open_files(cfg.max_workers) {
                eprintln!("{w}");
            }
            app.out.record(&serde_json::json!({
                "ok": true,
                "state": crate::store::shown(&cfg.state),
                "host": cfg.host,
                "port": cfg.port,
                "tls": cfg.tls.is_some(),
                "auth_mode": cfg.auth.describe(),
                "admins": cfg.admins.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "grant_reload": if cfg.auto_reload { "auto" } else { "manual" },
                "rotate_every": crate::time::format_duration(cfg.rotation.every),
                "audit_rotations": cfg.rotation.audit,
                "heartbeat_every": crate::time::format_duration(cfg.heartbeat),
                "max_workers": cfg.max_workers,
            }))?;
            return Ok(Exit::Success);
        }
        server::run(cfg)?;
        Ok(Exit::Success)
    }
}
