//! The one error type of the library: a stable machine code, a message for
//! people, an optional hint, and the exit code it maps to (DESIGN §2).

use std::fmt;

/// Process exit codes, shared by all six binaries and listed in every man page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exit {
    /// Success (and `grant check` allowed, `audit verify` intact).
    Success,
    /// A negative answer: check denied, findings at or above `--fail-on`, chain broken.
    Negative,
    /// Usage error or invalid input.
    Usage,
    /// The thing asked for does not exist.
    NotFound,
    /// Conflict or wrong state (already revoked, expired, bound elsewhere, exhausted).
    Conflict,
    /// Unauthenticated or forbidden.
    Auth,
    /// Unavailable: state file locked or newer than this binary, server unreachable, I/O.
    Unavailable,
    /// Internal error: a bug, and nothing else.
    Internal,
    /// Interrupted by a signal.
    Interrupted,
}

impl Exit {
    /// Every exit code, in the order the documentation lists them.
    pub const ALL: [Exit; 9] = [
        Exit::Success,
        Exit::Negative,
        Exit::Usage,
        Exit::NotFound,
        Exit::Conflict,
        Exit::Auth,
        Exit::Unavailable,
        Exit::Internal,
        Exit::Interrupted,
    ];

    /// The numeric process exit status.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Negative => 1,
            Exit::Usage => 2,
            Exit::NotFound => 3,
            Exit::Conflict => 4,
            Exit::Auth => 5,
            Exit::Unavailable => 6,
            Exit::Internal => 70,
            Exit::Interrupted => 130,
        }
    }

    /// One line saying what the code means (used in man pages and `--help`).
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "success (and `grant check` allowed, `audit verify` intact)",
            Exit::Negative => {
                "negative answer: check denied, audit findings at or above --fail-on, chain broken"
            }
            Exit::Usage => {
                "usage error or invalid input (bad flag, malformed JSON, bad duration or pattern)"
            }
            Exit::NotFound => "not found (an id, a snapshot version, or the state file itself)",
            Exit::Conflict => {
                "conflict or wrong state (already revoked, expired, bound to another machine, exhausted)"
            }
            Exit::Auth => "unauthenticated or forbidden (remote mode, worker enrolment)",
            Exit::Unavailable => {
                "unavailable (state file locked or newer than this binary, server unreachable, I/O)"
            }
            Exit::Internal => {
                "internal error: a bug (please report it with the request id or the command)"
            }
            Exit::Interrupted => "interrupted",
        }
    }
}

/// Every error code: stable, documented, matched on by scripts, and the
/// same on the wire (`{"error":{"code"}}`, worker frames) and in
/// `--format json`. A code this build does not know (from a newer serve)
/// arrives as [`Code::Other`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    AlreadyActive,
    AlreadyConnected,
    AlreadyRevoked,
    AuditAnchorInvalid,
    BadFrame,
    BrokenPipe,
    BuiltinGrant,
    CertificateInvalid,
    ChainBroken,
    ChecksumMismatch,
    ConnectionLost,
    CredentialExpired,
    CredentialReuse,
    DispatchTimeout,
    EnrolmentRefused,
    Forbidden,
    InsecurePermissions,
    Internal,
    InvalidCredential,
    InvalidInput,
    InvalidJwt,
    InvalidToken,
    Io,
    KeyInvalid,
    KeyMissing,
    MachineMismatch,
    MalformedFrame,
    NoWelcome,
    NotFound,
    NotImplemented,
    OutOfOrder,
    PinMismatch,
    ProtocolMismatch,
    Refused,
    ServerError,
    ServerUnreachable,
    StateCorrupt,
    StateEmpty,
    StateLocked,
    StateTooNew,
    StateUnavailable,
    Throttled,
    Timeout,
    TokenExhausted,
    TokenExpired,
    TokenRevoked,
    TokenUnusable,
    Unauthenticated,
    UnknownUser,
    UnsafeConfiguration,
    WorkerBusy,
    WorkerLost,
    WorkerRevoked,
    ServeFull,
    /// The serve replica holding the worker went away mid-dispatch.
    ReplicaLost,
    /// A state copy's destination already holds data.
    StateNotEmpty,
    /// A signed request's keyid names no registered key.
    UnknownKey,
    /// The signing key was revoked.
    KeyRevoked,
    /// The signing key has expired.
    KeyExpired,
    /// The signature does not verify with the named key.
    BadSignature,
    /// The signature expired, or was made too long ago.
    StaleSignature,
    /// The signature was made in the future (past the allowed clock skew).
    FutureSignature,
    /// The signature's nonce was seen before: a replay.
    ReplayedNonce,
    /// The Signature or Signature-Input header is malformed or covers too little.
    MalformedSignature,
    /// The body does not match its Content-Digest, or a body is unsigned.
    DigestMismatch,
    /// The public key is already registered.
    KeyRegistered,
    /// A code from a newer peer that this build does not know.
    #[serde(other)]
    Other,
}

impl Code {
    /// Every code, in alphabetical order.
    pub const ALL: &[Code] = &[
        Code::AlreadyActive,
        Code::AlreadyConnected,
        Code::AlreadyRevoked,
        Code::AuditAnchorInvalid,
        Code::BadFrame,
        Code::BrokenPipe,
        Code::BuiltinGrant,
        Code::CertificateInvalid,
        Code::ChainBroken,
        Code::ChecksumMismatch,
        Code::ConnectionLost,
        Code::CredentialExpired,
        Code::CredentialReuse,
        Code::DispatchTimeout,
        Code::EnrolmentRefused,
        Code::Forbidden,
        Code::InsecurePermissions,
        Code::Internal,
        Code::InvalidCredential,
        Code::InvalidInput,
        Code::InvalidJwt,
        Code::InvalidToken,
        Code::Io,
        Code::KeyInvalid,
        Code::KeyMissing,
        Code::MachineMismatch,
        Code::MalformedFrame,
        Code::NoWelcome,
        Code::NotFound,
        Code::NotImplemented,
        Code::OutOfOrder,
        Code::PinMismatch,
        Code::ProtocolMismatch,
        Code::Refused,
        Code::ServerError,
        Code::ServerUnreachable,
        Code::StateCorrupt,
        Code::StateEmpty,
        Code::StateLocked,
        Code::StateTooNew,
        Code::StateUnavailable,
        Code::Throttled,
        Code::Timeout,
        Code::TokenExhausted,
        Code::TokenExpired,
        Code::TokenRevoked,
        Code::TokenUnusable,
        Code::Unauthenticated,
        Code::UnknownUser,
        Code::UnsafeConfiguration,
        Code::WorkerBusy,
        Code::WorkerLost,
        Code::WorkerRevoked,
        Code::ServeFull,
        Code::ReplicaLost,
        Code::StateNotEmpty,
        Code::UnknownKey,
        Code::KeyRevoked,
        Code::KeyExpired,
        Code::BadSignature,
        Code::StaleSignature,
        Code::FutureSignature,
        Code::ReplayedNonce,
        Code::MalformedSignature,
        Code::DigestMismatch,
        Code::KeyRegistered,
        Code::Other,
    ];

    /// The code as written on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::AlreadyActive => "already_active",
            Code::AlreadyConnected => "already_connected",
            Code::AlreadyRevoked => "already_revoked",
            Code::AuditAnchorInvalid => "audit_anchor_invalid",
            Code::BadFrame => "bad_frame",
            Code::BrokenPipe => "broken_pipe",
            Code::BuiltinGrant => "builtin_grant",
            Code::CertificateInvalid => "certificate_invalid",
            Code::ChainBroken => "chain_broken",
            Code::ChecksumMismatch => "checksum_mismatch",
            Code::ConnectionLost => "connection_lost",
            Code::CredentialExpired => "credential_expired",
            Code::CredentialReuse => "credential_reuse",
            Code::DispatchTimeout => "dispatch_timeout",
            Code::EnrolmentRefused => "enrolment_refused",
            Code::Forbidden => "forbidden",
            Code::InsecurePermissions => "insecure_permissions",
            Code::Internal => "internal",
            Code::InvalidCredential => "invalid_credential",
            Code::InvalidInput => "invalid_input",
            Code::InvalidJwt => "invalid_jwt",
            Code::InvalidToken => "invalid_token",
            Code::Io => "io",
            Code::KeyInvalid => "key_invalid",
            Code::KeyMissing => "key_missing",
            Code::MachineMismatch => "machine_mismatch",
            Code::MalformedFrame => "malformed_frame",
            Code::NoWelcome => "no_welcome",
            Code::NotFound => "not_found",
            Code::NotImplemented => "not_implemented",
            Code::OutOfOrder => "out_of_order",
            Code::PinMismatch => "pin_mismatch",
            Code::ProtocolMismatch => "protocol_mismatch",
            Code::Refused => "refused",
            Code::ServerError => "server_error",
            Code::ServerUnreachable => "server_unreachable",
            Code::StateCorrupt => "state_corrupt",
            Code::StateEmpty => "state_empty",
            Code::StateLocked => "state_locked",
            Code::StateTooNew => "state_too_new",
            Code::StateUnavailable => "state_unavailable",
            Code::Throttled => "throttled",
            Code::Timeout => "timeout",
            Code::TokenExhausted => "token_exhausted",
            Code::TokenExpired => "token_expired",
            Code::TokenRevoked => "token_revoked",
            Code::TokenUnusable => "token_unusable",
            Code::Unauthenticated => "unauthenticated",
            Code::UnknownUser => "unknown_user",
            Code::UnsafeConfiguration => "unsafe_configuration",
            Code::WorkerBusy => "worker_busy",
            Code::WorkerLost => "worker_lost",
            Code::WorkerRevoked => "worker_revoked",
            Code::ServeFull => "serve_full",
            Code::ReplicaLost => "replica_lost",
            Code::StateNotEmpty => "state_not_empty",
            Code::UnknownKey => "unknown_key",
            Code::KeyRevoked => "key_revoked",
            Code::KeyExpired => "key_expired",
            Code::BadSignature => "bad_signature",
            Code::StaleSignature => "stale_signature",
            Code::FutureSignature => "future_signature",
            Code::ReplayedNonce => "replayed_nonce",
            Code::MalformedSignature => "malformed_signature",
            Code::DigestMismatch => "digest_mismatch",
            Code::KeyRegistered => "key_registered",
            Code::Other => "other",
        }
    }

    /// The exit class a code has when it arrives without one (worker frames).
    pub const fn exit(self) -> Exit {
        match self {
            Code::AlreadyActive
            | Code::KeyRegistered
            | Code::StateNotEmpty
            | Code::AlreadyConnected
            | Code::AlreadyRevoked
            | Code::BuiltinGrant
            | Code::ChainBroken
            | Code::CredentialReuse
            | Code::TokenExhausted
            | Code::TokenExpired
            | Code::TokenRevoked
            | Code::TokenUnusable
            | Code::WorkerBusy
            | Code::WorkerRevoked => Exit::Conflict,
            Code::AuditAnchorInvalid => Exit::Negative,
            Code::BadFrame
            | Code::ConnectionLost
            | Code::DispatchTimeout
            | Code::InsecurePermissions
            | Code::Io
            | Code::KeyInvalid
            | Code::KeyMissing
            | Code::NoWelcome
            | Code::Refused
            | Code::ServerUnreachable
            | Code::StateCorrupt
            | Code::StateEmpty
            | Code::StateLocked
            | Code::StateTooNew
            | Code::StateUnavailable
            | Code::Timeout
            | Code::ReplicaLost
            | Code::WorkerLost => Exit::Unavailable,
            Code::BrokenPipe => Exit::Success,
            Code::CertificateInvalid
            | Code::ChecksumMismatch
            | Code::CredentialExpired
            | Code::EnrolmentRefused
            | Code::Forbidden
            | Code::InvalidCredential
            | Code::InvalidJwt
            | Code::InvalidToken
            | Code::MachineMismatch
            | Code::PinMismatch
            | Code::Throttled
            | Code::Unauthenticated
            | Code::UnknownUser
            | Code::UnknownKey
            | Code::KeyRevoked
            | Code::KeyExpired
            | Code::BadSignature
            | Code::StaleSignature
            | Code::FutureSignature
            | Code::ReplayedNonce
            | Code::MalformedSignature
            | Code::DigestMismatch => Exit::Auth,
            Code::Internal | Code::NotImplemented | Code::ServerError => Exit::Internal,
            Code::InvalidInput
            | Code::MalformedFrame
            | Code::OutOfOrder
            | Code::ProtocolMismatch
            | Code::UnsafeConfiguration => Exit::Usage,
            Code::NotFound => Exit::NotFound,
            Code::ServeFull => Exit::Unavailable,
            Code::Other => Exit::Internal,
        }
    }
}

/// Compare with the code as written (`err.code == "not_found"`).
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A library error. `code` is the stable, documented identifier scripts match
/// on (`token_expired`, `not_found`, ...); `message` is for people and never
/// contains a secret.
#[derive(Debug)]
pub struct Error {
    pub exit: Exit,
    pub code: Code,
    pub message: String,
    pub hint: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error with an exit class, stable code and message.
    pub fn new(exit: Exit, code: Code, message: impl Into<String>) -> Self {
        Error {
            exit,
            code,
            message: message.into(),
            hint: None,
            source: None,
        }
    }

    /// Invalid input (exit 2, code `invalid_input`).
    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Exit::Usage, Code::InvalidInput, message)
    }

    /// Not found (exit 3, code `not_found`).
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(Exit::NotFound, Code::NotFound, message)
    }

    /// A bug (exit 70, code `internal`).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(Exit::Internal, Code::Internal, message)
    }

    /// A state whose contents moat did not write (exit 6, code `state_corrupt`).
    pub fn corrupt(message: impl Into<String>) -> Self {
        Error::new(Exit::Unavailable, Code::StateCorrupt, message)
    }

    /// I/O trouble (exit 6, code `io`), keeping the OS error as the source.
    pub fn io(context: impl Into<String>, err: std::io::Error) -> Self {
        let message = format!("{}: {err}", context.into());
        Error::new(Exit::Unavailable, Code::Io, message).with_source(err)
    }

    /// Attach a hint shown after the message.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Keep the underlying error for `source()`.
    pub fn with_source(mut self, err: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(err));
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Generic clap value parser through `FromStr` returning our `Error`.
pub fn parsed<T: std::str::FromStr<Err = Error>>(s: &str) -> std::result::Result<T, String> {
    s.parse::<T>().map_err(|e| match e.hint {
        Some(h) => format!("{} ({h})", e.message),
        None => e.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_match_the_design_table() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5, 6, 70, 130]);
    }

    #[test]
    fn exit_codes_are_distinct_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for e in Exit::ALL {
            assert!(seen.insert(e.code()), "duplicate code {}", e.code());
            assert!(!e.meaning().is_empty());
        }
    }

    #[test]
    fn every_code_round_trips_through_its_wire_form() {
        for &c in Code::ALL {
            let wire = serde_json::to_value(c).unwrap();
            assert_eq!(wire, c.as_str(), "{c:?}");
            assert_eq!(serde_json::from_value::<Code>(wire).unwrap(), c);
        }
        // A code from a newer serve is kept as "other", not an error.
        let v = serde_json::json!("a_code_from_the_future");
        assert_eq!(serde_json::from_value::<Code>(v).unwrap(), Code::Other);
    }

    #[test]
    fn constructors_pick_the_right_exit() {
        assert_eq!(Error::usage("x").exit.code(), 2);
        assert_eq!(Error::not_found("x").exit.code(), 3);
        assert_eq!(Error::internal("x").exit.code(), 70);
        let io = Error::io("reading", std::io::Error::other("boom"));
        assert_eq!(io.exit.code(), 6);
        assert!(std::error::Error::source(&io).is_some());
    }
}
