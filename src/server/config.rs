//! `serve` configuration: parsed flags and files, and the hard refusals of
//! DESIGN §6 that happen before any port is opened.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Code, Error, Result};
use crate::input::read_text;
use crate::policy::Principal;

/// Which credentials serve accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthModes {
    pub token: bool,
    pub jwt: bool,
    /// RFC 9421 signed requests with registered keys (DESIGN §11).
    pub signature: bool,
}

impl AuthModes {
    /// `none`: no authentication at all (loopback only, deprecated).
    pub fn is_none(self) -> bool {
        !self.token && !self.jwt && !self.signature
    }

    /// Parse `token`, `jwt`, `token,jwt` or `none`.
    pub fn parse(s: &str) -> Result<Self> {
        let mut m = AuthModes::default();
        for part in s.split(',').map(str::trim) {
            match part {
                "token" => m.token = true,
                "jwt" => m.jwt = true,
                "signature" => m.signature = true,
                "none" if s.trim() == "none" => {}
                _ => {
                    return Err(Error::usage(format!(
                        "invalid --auth-mode '{}'",
                        crate::credential::shown(s)
                    ))
                    .with_hint("use any of token, jwt, signature joined by commas (e.g. token,signature), or none"));
                }
            }
        }
        Ok(m)
    }

    /// The name used in logs and audit.
    pub fn describe(self) -> String {
        let on: Vec<&str> = [
            (self.token, "token"),
            (self.jwt, "jwt"),
            (self.signature, "signature"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if on.is_empty() {
            "none".into()
        } else {
            on.join(",")
        }
    }
}

/// The roles a JWT user can hold.
pub const ROLES: [&str; 3] = ["viewer", "operator", "admin"];

/// Everything `serve` runs with, validated.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub state: PathBuf,
    /// `--state-key-file`: the pepper's file when not beside the state.
    pub state_key: Option<PathBuf>,
    pub host: String,
    pub port: u16,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub auth: AuthModes,
    pub jwt_secret: Option<Vec<u8>>,
    /// `--users`: authoritative user → role for JWTs.
    pub users: Option<BTreeMap<String, String>>,
    pub admins: Vec<Principal>,
    pub auto_reload: bool,
    /// `--secrets-file`, read and checked once at start.
    pub secrets: Secrets,
    /// How worker credentials rotate.
    pub rotation: crate::worker::Rotation,
    /// `--heartbeat-every`: how often workers send a sign of life.
    pub heartbeat: std::time::Duration,
    /// Live worker sockets accepted at once.
    pub max_workers: usize,
}

/// Secret values by name. `Debug` shows the names only.
#[derive(Clone, Default)]
pub struct Secrets(pub BTreeMap<String, String>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

pub use crate::net::is_loopback;

fn refuse(msg: String, hint: &str) -> Error {
    Error::new(crate::error::Exit::Usage, Code::UnsafeConfiguration, msg).with_hint(hint)
}

/// A private file (no group/other access), read whole.
fn read_private(path: &Path, what: &str) -> Result<String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::io(format!("cannot read {what} {}", path.display()), e))?;
    if meta.mode() & 0o077 != 0 {
        return Err(refuse(
            format!(
                "{what} {} has mode {:o}: group or others can read it",
                path.display(),
                meta.mode() & 0o777
            ),
            &format!("run: chmod 600 {}", path.display()),
        ));
    }
    let f = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot read {what} {}", path.display()), e))?;
    read_text(f, what)
}

/// Default of `--max-workers`.
pub const DEFAULT_MAX_WORKERS: usize = 20_000;

/// The raw flag values, as clap parsed them.
#[derive(Debug, Clone)]
pub struct ServeFlags {
    pub state: PathBuf,
    pub state_key: Option<PathBuf>,
    pub host: String,
    pub port: u16,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub auth_mode: String,
    pub jwt_secret_file: Option<PathBuf>,
    pub jwt_secret_env: Option<String>,
    pub users: Option<String>,
    pub admins: Option<String>,
    pub grant_reload: String,
    pub secrets_file: Option<PathBuf>,
    /// `--rotate-every` and `--audit-rotations`.
    pub rotation: crate::worker::Rotation,
    /// `--heartbeat-every`.
    pub heartbeat: std::time::Duration,
    /// `--max-workers`: live worker sockets accepted at once.
    pub max_workers: usize,
}

impl Default for ServeFlags {
    /// What serve's flags default to (the state path and auth mode aside).
    fn default() -> Self {
        ServeFlags {
            state: PathBuf::new(),
            state_key: None,
            host: "127.0.0.1".into(),
            port: 8443,
            cert_file: None,
            key_file: None,
            auth_mode: String::new(),
            jwt_secret_file: None,
            jwt_secret_env: None,
            users: None,
            admins: None,
            grant_reload: "manual".into(),
            secrets_file: None,
            rotation: crate::worker::Rotation::default(),
            heartbeat: crate::worker::DEFAULT_HEARTBEAT,
            max_workers: DEFAULT_MAX_WORKERS,
        }
    }
}

impl ServeConfig {
    /// Validate everything, refusing unsafe combinations before any bind.
    pub fn from_flags(f: ServeFlags) -> Result<Self> {
        let auth = AuthModes::parse(&f.auth_mode)?;
        if f.max_workers == 0 {
            return Err(refuse(
                "--max-workers must be at least 1".into(),
                "the default is 20000",
            ));
        }
        if f.rotation.every < std::time::Duration::from_secs(1)
            || f.rotation.every > std::time::Duration::from_secs(86_400)
        {
            return Err(refuse(
                "--rotate-every must be between 1s and 24h".into(),
                "the default, 10m, suits most fleets",
            ));
        }
        if !crate::worker::HEARTBEAT_RANGE_S.contains(&f.heartbeat.as_secs())
            || f.heartbeat.subsec_nanos() != 0
        {
            return Err(refuse(
                "--heartbeat-every must be whole seconds between 1s and 60s".into(),
                "the default, 5s, notices a lost worker within 25s",
            ));
        }
        let loopback = is_loopback(&f.host);
        let tls = match (&f.cert_file, &f.key_file) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            (None, None) => None,
            _ => {
                return Err(refuse(
                    "--cert-file and --key-file go together".into(),
                    "give both, or neither for plain HTTP on loopback",
                ));
            }
        };
        if !loopback && tls.is_none() {
            return Err(refuse(
                format!(
                    "refusing to serve on {} without TLS: tokens and secrets would cross the network in clear",
                    f.host
                ),
                "add --cert-file and --key-file, or bind to 127.0.0.1",
            ));
        }
        if !loopback && auth.is_none() {
            return Err(refuse(
                format!(
                    "refusing to serve on {} with --auth-mode none: anyone who can reach it could run code on your workers",
                    f.host
                ),
                "use --auth-mode token (api tokens) or jwt",
            ));
        }
        if let Some((_, key)) = &tls {
            read_private(key, "TLS key file")?;
        }
        let jwt_secret = if auth.jwt {
            let secret = match (&f.jwt_secret_file, &f.jwt_secret_env) {
                (Some(p), _) => read_private(p, "JWT secret file")?
                    .trim_end_matches(['\n', '\r'])
                    .as_bytes()
                    .to_vec(),
                (None, Some(s)) => s.as_bytes().to_vec(),
                (None, None) => {
                    return Err(refuse(
                        "--auth-mode jwt needs a secret".into(),
                        "set MOAT_JWT_SECRET or --jwt-secret-file (at least 32 bytes)",
                    ));
                }
            };
            if secret.len() < 32 {
                return Err(refuse(
                    format!(
                        "the JWT secret is {} bytes; at least 32 are required",
                        secret.len()
                    ),
                    "generate one with: head -c 48 /dev/urandom | base64",
                ));
            }
            Some(secret)
        } else {
            None
        };
        let users = match f.users.as_deref().filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(s) => {
                let mut map = BTreeMap::new();
                for pair in s.split(',') {
                    let (u, r) = pair.trim().split_once(':').ok_or_else(|| {
                        Error::usage(format!("invalid --users entry '{pair}'"))
                            .with_hint("write user:role, e.g. alice:admin,bob:viewer")
                    })?;
                    if !crate::policy::is_ident(u) || !ROLES.contains(&r) {
                        return Err(Error::usage(format!("invalid --users entry '{pair}'"))
                            .with_hint("roles are viewer, operator and admin"));
                    }
                    map.insert(u.to_owned(), r.to_owned());
                }
                Some(map)
            }
        };
        let admins = match f.admins.as_deref().filter(|s| !s.trim().is_empty()) {
            None => vec![],
            Some(s) => s
                .split(',')
                .map(|p| p.trim().parse::<Principal>())
                .collect::<Result<_>>()?,
        };
        let auto_reload = match f.grant_reload.as_str() {
            "auto" => true,
            "manual" => false,
            other => {
                return Err(Error::usage(format!("invalid --grant-reload '{other}'"))
                    .with_hint("use auto or manual"));
            }
        };
        let secrets = match &f.secrets_file {
            None => Secrets::default(),
            Some(p) => {
                let text = read_private(p, "secrets file")?;
                let map: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|e| {
                    Error::usage(format!(
                        "secrets file {} must be a JSON object of name to string value: {e}",
                        p.display()
                    ))
                })?;
                Secrets(map)
            }
        };
        Ok(ServeConfig {
            state: f.state,
            state_key: f.state_key,
            host: f.host,
            port: f.port,
            tls,
            auth,
            jwt_secret,
            users,
            admins,
            auto_reload,
            secrets,
            rotation: f.rotation,
            heartbeat: f.heartbeat,
            max_workers: f.max_workers,
        })
    }
}

/// File descriptors serve needs beside its worker sockets (API clients,
/// the state file, the runtime).
pub const SPARE_FILES: u64 = 1024;

/// Make room for `max_workers` sockets: raise the soft open-files limit
/// toward the hard one, and say what to raise when even that is too low.
/// Returns the warning, if any.
pub fn ensure_open_files(max_workers: usize) -> Option<String> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let need = max_workers as u64 + SPARE_FILES;
    let lim = getrlimit(Resource::Nofile);
    let (soft, hard) = (
        lim.current.unwrap_or(u64::MAX),
        lim.maximum.unwrap_or(u64::MAX),
    );
    if soft >= need {
        return None;
    }
    let raised = need.min(hard);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(raised),
            maximum: lim.maximum,
        },
    );
    let now = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    (now < need).then(|| {
        format!(
            "serve: warning: open files are limited to {now} (ulimit -n), but --max-workers {max_workers} needs {need}; \
             raise it (LimitNOFILE= in the systemd unit, or ulimit -n {need}) or lower --max-workers"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(host: &str, auth: &str) -> ServeFlags {
        ServeFlags {
            host: host.into(),
            auth_mode: auth.into(),
            grant_reload: "manual".into(),
            ..Default::default()
        }
    }

    #[test]
    fn loopback_is_recognised() {
        for h in ["127.0.0.1", "::1", "[::1]", "localhost", "127.1.2.3"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["0.0.0.0", "10.0.0.1", "example.com", "::"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn unsafe_binds_are_refused_with_exit_2() {
        let e = ServeConfig::from_flags(flags("0.0.0.0", "token")).unwrap_err();
        assert_eq!(e.exit.code(), 2);
        assert!(e.message.contains("without TLS"));
        let mut f = flags("0.0.0.0", "none");
        f.cert_file = Some("c".into());
        f.key_file = Some("k".into());
        let e = ServeConfig::from_flags(f).unwrap_err();
        assert!(e.message.contains("--auth-mode none"), "{}", e.message);
        let mut f = flags("127.0.0.1", "jwt");
        f.jwt_secret_env = Some("short".into());
        assert!(
            ServeConfig::from_flags(f)
                .unwrap_err()
                .message
                .contains("at least 32")
        );
        assert!(ServeConfig::from_flags(flags("127.0.0.1", "none")).is_ok());
    }
}
