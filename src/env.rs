//! Every environment variable moat reads, defined once. clap's `env = ...`
//! attributes use these constants and the man pages list this table.

pub const STATE: &str = "MOAT_STATE";
pub const KEY_FILE: &str = "MOAT_KEY_FILE";
pub const SERVER: &str = "MOAT_SERVER";
pub const AUTH_TOKEN: &str = "MOAT_AUTH_TOKEN";
pub const AUTH_TOKEN_FILE: &str = "MOAT_AUTH_TOKEN_FILE";
pub const FORMAT: &str = "MOAT_FORMAT";
pub const CA_FILE: &str = "MOAT_CA_FILE";
pub const NO_COLOR: &str = "NO_COLOR";
pub const JWT_SECRET: &str = "MOAT_JWT_SECRET";
pub const USERS: &str = "MOAT_USERS";
pub const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
pub const REQUEST_TIMEOUT: &str = "MOAT_REQUEST_TIMEOUT";
pub const SIGNING_KEY: &str = "MOAT_SIGNING_KEY";

/// `MOAT_KEY_FILE`, for the tools that open a state without clap's
/// `--state-key-file` (the benchmark seeders).
pub fn key_file() -> Option<std::path::PathBuf> {
    std::env::var_os(KEY_FILE)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

/// (name, meaning) for documentation.
pub const ALL: &[(&str, &str)] = &[
    (
        STATE,
        "path of the state file (same as --state); default $XDG_DATA_HOME/moat/state.db",
    ),
    (
        KEY_FILE,
        "key file holding the state's pepper (same as --state-key-file); required when MOAT_STATE is a postgres:// URL",
    ),
    (
        XDG_DATA_HOME,
        "base of the default state path (default ~/.local/share)",
    ),
    (
        SERVER,
        "URL of a moat serve to talk to instead of the local state file (same as --server)",
    ),
    (
        AUTH_TOKEN,
        "api token (mta_...) or JWT for remote mode; prefer MOAT_AUTH_TOKEN_FILE",
    ),
    (
        AUTH_TOKEN_FILE,
        "file holding the api token or JWT for remote mode (same as --auth-token-file)",
    ),
    (
        SIGNING_KEY,
        "Ed25519 private key file that signs every remote request (same as --signing-key); no token is sent",
    ),
    (
        REQUEST_TIMEOUT,
        "remote mode: how long one request may take (default 120s); a dispatch waits for its step's --timeout instead",
    ),
    (
        FORMAT,
        "output format: table, json or ndjson (same as --format)",
    ),
    (
        NO_COLOR,
        "when set and not empty, no colour in output (same as --no-color)",
    ),
    (
        JWT_SECRET,
        "serve: HS256 secret for JWT auth, at least 32 bytes",
    ),
    (
        USERS,
        "serve: authoritative user:role list for JWT auth, e.g. alice:admin,bob:viewer",
    ),
];
