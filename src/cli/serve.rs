//! `serve`: the orchestrator (DESIGN §6). Defined for help and docs; the
//! server lands with the serve issue.

use std::path::PathBuf;

use clap::Parser;

use super::{App, Command, Global, exit_codes_help};
use crate::env;
use crate::error::{Error, Exit, Result};

pub const EXAMPLES: &str = "Examples:
  serve --admins user:alice                       # loopback, api tokens
  serve --host 0.0.0.0 --port 8443 --cert-file cert.pem --key-file key.pem --auth-mode token,jwt";

/// Run the moat orchestrator: HTTPS API, worker WebSocket, metrics.
#[derive(Debug, Parser)]
#[command(name = "serve", version, after_long_help = format!("{EXAMPLES}\n\n{}", exit_codes_help()))]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Address to bind; anything but loopback needs TLS and authentication
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one)
    #[arg(long, default_value_t = 8443)]
    pub port: u16,
    #[arg(long)]
    pub cert_file: Option<PathBuf>,
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// token, jwt, token,jwt or none (loopback only, deprecated)
    #[arg(long, default_value = "token")]
    pub auth_mode: String,
    #[arg(long)]
    pub jwt_secret_file: Option<PathBuf>,
    /// user:role pairs, e.g. alice:admin,bob:viewer
    #[arg(long, env = env::USERS)]
    pub users: Option<String>,
    /// Principals that get the superuser grant on every start
    #[arg(long)]
    pub admins: Option<String>,
    /// auto: rebuild the snapshot after every change; manual: wait for `reload`
    #[arg(long, default_value = "manual")]
    pub grant_reload: String,
    /// JSON object of secret name to value (0600)
    #[arg(long)]
    pub secrets_file: Option<PathBuf>,
    /// Validate flags and files, then exit
    #[arg(long)]
    pub check_config: bool,
}

impl Command for Cli {
    fn global(&self) -> &Global {
        &self.global
    }
    fn run(self, _app: &mut App) -> Result<Exit> {
        Err(Error::not_implemented("serve"))
    }
}
