//! `token`: create, list, show, revoke, prune and verify enrol and api tokens.

use std::time::Duration;

use clap::{Parser, Subcommand};

use super::{App, Command, Global, duration_arg, exit_codes_help, parsed};
use crate::credential::CredentialKind;

use crate::error::{Error, Exit, Result};
use crate::input::{expand_ids, read_text};
use crate::ops::tokens::{TokenList, TokenPrune, TokenRevoke, TokenShow, TokenVerify, Unusable};
use crate::policy::{Principal, Scope};
use crate::token::{CreateRequest, MaxUses, TokenState};

pub const EXAMPLES: &str = "Examples:
  # An enrol token for one machine, valid 2 hours; keep only the raw token
  token create --ttl 2h | jq -r .token
  token create --ttl 2h -q > enrol.token

  # An api token for alice, limited to running build workers
  token create --kind api --principal user:alice --scope 'run:worker:build-*'

  # Revoke every expired token
  token list --state expired | token revoke - --reason cleanup

  # Which token is this, and can it still be used?
  token verify < enrol.token

  # A signer key for alice: no secret crosses the wire (--signing-key)
  token keygen --out ~/.ssh/moat_alice
  token create --kind key --principal user:alice --public-key ~/.ssh/moat_alice.pub";

/// Create and manage moat enrol and api tokens.
///
/// Enrol tokens (mte_...) let a machine join the fleet; api tokens (mta_...)
/// authenticate a principal to `serve`. The raw token is printed once, at
/// creation; the state file keeps only an argon2id hash of its secret.
/// Signer keys (key_...) are a principal's Ed25519 public keys: requests
/// signed with the private half (--signing-key) need no token at all.
#[derive(Debug, Parser)]
#[command(name = "token", version, after_long_help = format!("{EXAMPLES}\n\n{}", exit_codes_help()))]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Token subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create a token and print it (the only time the raw token is shown)
    Create(CreateArgs),
    /// List tokens with their computed state
    List(ListArgs),
    /// Show one token
    Show {
        /// Token id (tok_... or the bare id)
        id: String,
    },
    /// Revoke tokens (all or nothing); workers enrolled with them lose access
    Revoke {
        /// Token ids, or - to read ids from stdin (JSON array, NDJSON with "id", or one per line)
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
        /// Why, kept in the record and the audit trail
        #[arg(long)]
        reason: Option<String>,
    },
    /// Delete expired and revoked token records (their audit history stays)
    Prune {
        /// Only records that expired or were revoked at least this long ago
        #[arg(long, default_value = "7d", value_parser = duration_arg, value_name = "D")]
        older_than: Duration,
    },
    /// Read a raw token on stdin and report which record it is and its state, without using it
    ///
    /// Exits 0 when the token is usable, 4 when it is expired, revoked or exhausted
    /// (the record is printed either way), 2 when it is not a well-formed token and 5
    /// when no record in this state file matches it.
    Verify,
    /// Make an Ed25519 key pair in OpenSSH format: FILE (private, 0600) and FILE.pub
    ///
    /// Register FILE.pub with `token create --kind key --principal P --public-key
    /// FILE.pub` and sign with `--signing-key FILE`. Keys made by `ssh-keygen -t
    /// ed25519` work the same. Nothing is written to the state.
    Keygen {
        /// Where to write the private key (FILE.pub gets the public key); never overwritten
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
        /// A comment in the public key, e.g. alice@laptop
        #[arg(long, default_value = "moat")]
        comment: String,
    },
}

/// `token create` flags.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// enrol: lets one machine join; api: authenticates a principal to serve; key: registers a principal's public key
    #[arg(long, value_enum, default_value = "enrol")]
    pub kind: KindArg,
    /// Lifetime, e.g. 30m, 2h, 7d [default: 1h for enrol (max 24h), 30d for api (max 365d)]
    #[arg(long, value_parser = duration_arg, value_name = "D")]
    pub ttl: Option<Duration>,
    /// Allow an enrol token to live longer than 24h (up to 365d)
    #[arg(long)]
    pub allow_long_ttl: bool,
    /// How many machines may enrol with it: a number or `unlimited` [default: 1]
    #[arg(long, value_parser = parsed::<MaxUses>, value_name = "N|unlimited")]
    pub max_uses: Option<MaxUses>,
    /// A note for people, shown in lists
    #[arg(long)]
    pub label: Option<String>,
    /// The principal an api token or key authenticates, e.g. user:alice
    #[arg(long, value_parser = parsed::<Principal>)]
    pub principal: Option<Principal>,
    /// Narrow an api token or key to ACTION:KIND:PATTERN (repeatable), e.g. run:worker:build-*
    #[arg(long, value_parser = parsed::<Scope>)]
    pub scope: Vec<Scope>,
    /// A key's OpenSSH Ed25519 public key file (from `token keygen` or `ssh-keygen -t ed25519`)
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<std::path::PathBuf>,
}

/// `token list` filters.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only tokens of this kind
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// Only tokens in this state
    #[arg(long, value_enum)]
    pub state: Option<TokenState>,
}

/// Token kinds a person can create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    Enrol,
    Api,
    Key,
}

impl From<KindArg> for CredentialKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Enrol => CredentialKind::Enrol,
            KindArg::Api => CredentialKind::Api,
            KindArg::Key => CredentialKind::Key,
        }
    }
}

impl Command for Cli {
    fn global(&self) -> &Global {
        &self.global
    }

    fn run(self, app: &mut App) -> Result<Exit> {
        match self.cmd {
            Cmd::Create(a) => {
                let req = CreateRequest {
                    kind: a.kind.into(),
                    ttl: a.ttl,
                    allow_long_ttl: a.allow_long_ttl,
                    max_uses: a.max_uses,
                    label: a.label,
                    principal: a.principal,
                    scopes: a.scope,
                    public_key: match &a.public_key {
                        // Read and checked here: a bad file never reaches the state.
                        Some(f) => Some(crate::sign::keys::read_public(f)?.openssh),
                        None => None,
                    },
                };
                req.validate()?;
                app.may_create_state();
                let v = app.run(req)?;
                if app.global.quiet {
                    // The raw token; a key has none, so its id.
                    let shown = v["token"].as_str().or(v["id"].as_str());
                    app.out.line(shown.unwrap_or_default())?;
                } else {
                    app.out.value(&v, false)?;
                }
            }
            Cmd::List(a) => {
                let v = app.run(TokenList {
                    kind: a.kind.map(Into::into),
                    state: a.state,
                })?;
                app.out.value(&v, true)?;
            }
            Cmd::Show { id } => {
                let v = app.run(TokenShow { id: id.parse()? })?;
                app.out.value(&v, false)?;
            }
            Cmd::Revoke { ids, reason } => {
                let ids = expand_ids(&ids, std::io::stdin().lock())?;
                let ids = ids.iter().map(|i| i.parse()).collect::<Result<_>>()?;
                let v = app.run(TokenRevoke { ids, reason })?;
                app.out.value(&v, true)?;
            }
            Cmd::Prune { older_than } => {
                let v = app.run(TokenPrune {
                    older_than: Some(older_than),
                })?;
                app.note(&format!(
                    "pruned {} token record(s)",
                    v.as_array().map_or(0, Vec::len)
                ));
                app.out.value(&v, true)?;
            }
            Cmd::Keygen { out, comment } => {
                let public = crate::sign::keys::generate(&out, &comment)?;
                let v = serde_json::json!({
                    "private_key_file": out.display().to_string(),
                    "public_key_file": format!("{}.pub", out.display()),
                    "fingerprint": public.fingerprint,
                    "public_key": public.openssh,
                });
                if app.global.quiet {
                    app.out.line(&public.fingerprint)?;
                } else {
                    app.out.value(&v, false)?;
                }
            }
            Cmd::Verify => {
                let token = read_text(std::io::stdin().lock(), "stdin")?;
                let v = app.run(TokenVerify { token })?;
                app.out.value(&v["record"], false)?;
                let refusal: Option<Unusable> = serde_json::from_value(v["refusal"].clone())
                    .map_err(|e| Error::internal(format!("unexpected verify answer: {e}")))?;
                if let Some(u) = refusal {
                    return Err(Error::new(Exit::Conflict, u.code, u.message));
                }
            }
        }
        Ok(Exit::Success)
    }
}
