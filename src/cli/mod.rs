//! The command-line layer shared by the six binaries: global flags, the
//! runner that maps errors to exit codes, and one module per binary holding
//! its clap definition.

pub mod audit;
pub mod grant;
pub mod reload;
pub mod serve;
pub mod token;
pub mod worker;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser};

use crate::env;
use crate::error::{Error, Exit, Result};
use crate::output::{Format, Output, render_error};
use crate::store::Store;

/// Flags every binary accepts.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// State file (SQLite), or a postgres:// URL; give it before the subcommand. An SQLite file's key file sits beside it (.key)
    #[arg(long, value_name = "PATH|URL")]
    pub state: Option<PathBuf>,

    /// State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)
    #[arg(long, global = true, env = env::STATE, value_name = "PATH|URL")]
    pub state_file: Option<PathBuf>,

    /// Key file holding the state's pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]
    #[arg(long, global = true, env = env::KEY_FILE, value_name = "FILE")]
    pub state_key_file: Option<PathBuf>,

    /// Talk to a moat serve at URL instead of the local state file
    #[arg(long, global = true, env = env::SERVER, value_name = "URL")]
    pub server: Option<String>,

    /// File holding the api token or JWT used with --server
    #[arg(long, global = true, env = env::AUTH_TOKEN_FILE, value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,

    /// Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent
    #[arg(long, global = true, env = env::SIGNING_KEY, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,

    /// CA certificate (PEM) that signed serve's certificate, for --server
    #[arg(long, global = true, env = env::CA_FILE, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Output format [default: table on a terminal, json otherwise]
    #[arg(long, global = true, env = env::FORMAT, value_enum)]
    pub format: Option<Format>,

    /// Print less: only essential output (e.g. just the raw token for `token create`)
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Print more about what is happening, on stderr
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// No colour (also when NO_COLOR is set)
    #[arg(long, global = true)]
    pub no_color: bool,
}

impl Global {
    /// The state file path: --state, MOAT_STATE, or the XDG default.
    pub fn state_path(&self) -> Result<PathBuf> {
        if let Some(p) = self.state.as_ref().or(self.state_file.as_ref()) {
            return Ok(p.clone());
        }
        let base = match std::env::var_os(env::XDG_DATA_HOME).filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => {
                let home = std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        Error::usage(
                            "cannot find the state file: neither HOME nor XDG_DATA_HOME is set",
                        )
                        .with_hint("pass --state PATH or set MOAT_STATE")
                    })?;
                PathBuf::from(home).join(".local/share")
            }
        };
        Ok(base.join("moat").join("state.db"))
    }

    fn color(&self) -> bool {
        !self.no_color
            && std::env::var_os(env::NO_COLOR).is_none_or(|v| v.is_empty())
            && std::io::stderr().is_terminal()
    }
}

/// What a command runs with: resolved settings, stdout, and the state file
/// (opened only when first needed, so bad input never touches it).
pub struct App {
    pub global: Global,
    pub out: Output,
    store: Option<Store>,
    remote: Option<crate::remote::Remote>,
    /// Whether this command may create a missing state file. Only commands
    /// that add records do; the rest refuse a path that does not exist, so a
    /// mistyped --state-file is an error rather than an empty, new state.
    may_create: bool,
}

impl App {
    /// The server client when `--server` is given (remote mode).
    pub fn remote(&mut self) -> Result<Option<&crate::remote::Remote>> {
        let Some(url) = self.global.server.clone() else {
            return Ok(None);
        };
        if self.remote.is_none() {
            let bearer = match &self.global.auth_token_file {
                Some(f) => {
                    let file = std::fs::File::open(f).map_err(|e| {
                        Error::io(format!("cannot read --auth-token-file {}", f.display()), e)
                    })?;
                    Some(
                        crate::input::read_text(file, "the auth token file")?
                            .trim()
                            .to_owned(),
                    )
                }
                None => std::env::var(env::AUTH_TOKEN)
                    .ok()
                    .filter(|t| !t.is_empty()),
            };
            let signer = match &self.global.signing_key {
                Some(f) => Some(crate::sign::keys::read_private(f)?),
                None => None,
            };
            self.remote = Some(crate::remote::Remote::new(
                &url,
                bearer,
                signer,
                self.global.ca_file.as_deref(),
            )?);
        }
        Ok(self.remote.as_ref())
    }

    /// Let this command create the state file when it does not exist yet
    /// (`token create`, `grant add`, `reload`, ...).
    pub fn may_create_state(&mut self) {
        self.may_create = true;
    }

    /// The state file's path, which must already exist.
    pub fn existing_state_path(&self) -> Result<PathBuf> {
        let path = self.global.state_path()?;
        if path.exists() || crate::store::is_database_url(&path) {
            return Ok(path);
        }
        Err(
            Error::not_found(format!("no state file at {}", path.display())).with_hint(
                "check --state-file or MOAT_STATE; `token create`, `grant add`, \
                 `grant apply` or `reload` start a new one",
            ),
        )
    }

    /// The open state file (local mode). A missing file is created only
    /// after [`App::may_create_state`].
    pub fn store(&mut self) -> Result<&mut Store> {
        if self.global.server.is_some() {
            return Err(
                Error::usage("this works on the local state file, not through --server")
                    .with_hint("run it on the machine that holds the state file, without --server"),
            );
        }
        if self.store.is_none() {
            let path = if self.may_create {
                self.global.state_path()?
            } else {
                self.existing_state_path()?
            };
            if self.global.verbose > 0 {
                eprintln!("using state {}", crate::store::shown(&path));
            }
            self.store = Some(Store::open_at(
                &path,
                self.global.state_key_file.as_deref(),
            )?);
        }
        // Just set above when it was None.
        self.store
            .as_mut()
            .ok_or_else(|| Error::internal("state file not open"))
    }

    /// Open the local state file even when group or others can read it
    /// (`audit check` reports that as a finding instead of refusing).
    pub fn open_store_ignoring_permissions(&mut self) -> Result<()> {
        let path = self.existing_state_path()?;
        self.store = Some(Store::open_ignoring_permissions(
            &path,
            self.global.state_key_file.as_deref(),
        )?);
        Ok(())
    }

    /// Run an operation: sent to serve when `--server` is given, else run
    /// on the local store. Either way the answer is the same JSON.
    pub fn run<O: crate::ops::Operation>(&mut self, req: O) -> Result<serde_json::Value> {
        if let Some(r) = self.remote()? {
            return r.call(&req);
        }
        let ctx = crate::token::Ctx::local();
        let out = req.run(self.store()?, &ctx)?;
        serde_json::to_value(out).map_err(|e| Error::internal(format!("encoding JSON: {e}")))
    }

    /// Print a note on stderr unless --quiet.
    pub fn note(&self, msg: &str) {
        if !self.global.quiet {
            eprintln!("{msg}");
        }
    }
}

/// A binary's parsed command line.
pub trait Command: Parser {
    /// The global flags inside it.
    fn global(&self) -> &Global;
    /// Run; the returned exit is the process status on success.
    fn run(self, app: &mut App) -> Result<Exit>;
}

/// The whole life of a binary: parse, run, render errors, exit.
pub fn main<C: Command>(bin: &str) -> ExitCode {
    let cli = match C::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 2,
                _ => Exit::Usage.code(),
            };
            if code == 0 {
                let _ = e.print();
            } else {
                // clap quotes the value it refused: a credential pasted into
                // the wrong flag must not come back in full.
                let mut rendered = e.render().to_string();
                for (_, v) in e.context() {
                    if let clap::error::ContextValue::String(raw) = v {
                        let safe = crate::credential::shown(raw);
                        if &safe != raw {
                            rendered = rendered.replace(raw.as_str(), &safe);
                        }
                    }
                }
                let text = rendered
                    .strip_prefix("error: ")
                    .map_or(rendered.clone(), |r| format!("error: {r}"));
                eprint!("{bin}: {text}");
            }
            return ExitCode::from(code);
        }
    };
    let global = cli.global().clone();
    let format = Format::resolve(global.format);
    let color = global.color();
    let mut app = App {
        global,
        out: Output::stdout(format),
        store: None,
        remote: None,
        may_create: false,
    };
    let result = cli
        .run(&mut app)
        .and_then(|exit| app.out.flush().map(|()| exit));
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) if e.code == crate::error::Code::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            render_error(bin, &e, format, color);
            ExitCode::from(e.exit.code())
        }
    }
}

/// All six binaries' clap commands, for docs and tests.
pub fn commands() -> Vec<clap::Command> {
    use clap::CommandFactory;
    vec![
        token::Cli::command(),
        grant::Cli::command(),
        reload::Cli::command(),
        worker::Cli::command(),
        audit::Cli::command(),
        serve::Cli::command(),
    ]
}

pub use crate::time::duration_arg;

pub use crate::error::parsed;

/// Text appended to every `--help`: the exit codes.
pub fn exit_codes_help() -> String {
    let mut s = String::from("Exit status:\n");
    for e in Exit::ALL {
        s.push_str(&format!("  {:>3}  {}\n", e.code(), e.meaning()));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definitions_are_consistent() {
        for c in super::commands() {
            c.debug_assert();
        }
    }
}
