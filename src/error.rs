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
    /// Internal error: a bug, or a feature that is not built yet.
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
            Exit::Internal => "internal error (a bug, or a command not implemented yet)",
            Exit::Interrupted => "interrupted",
        }
    }
}

/// A library error. `code` is the stable, documented identifier scripts match
/// on (`token_expired`, `not_found`, ...); `message` is for people and never
/// contains a secret.
#[derive(Debug)]
pub struct Error {
    pub exit: Exit,
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error with an exit class, stable code and message.
    pub fn new(exit: Exit, code: &'static str, message: impl Into<String>) -> Self {
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
        Error::new(Exit::Usage, "invalid_input", message)
    }

    /// Not found (exit 3, code `not_found`).
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(Exit::NotFound, "not_found", message)
    }

    /// A bug (exit 70, code `internal`).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(Exit::Internal, "internal", message)
    }

    /// A command or mode that exists in the design but is not built yet.
    pub fn not_implemented(what: &str) -> Self {
        Error::new(
            Exit::Internal,
            "not_implemented",
            format!("{what} is not implemented yet"),
        )
    }

    /// I/O trouble (exit 6, code `io`), keeping the OS error as the source.
    pub fn io(context: impl Into<String>, err: std::io::Error) -> Self {
        let message = format!("{}: {err}", context.into());
        Error::new(Exit::Unavailable, "io", message).with_source(err)
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

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let exit_code = match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                (Exit::Unavailable, "state_locked")
            }
            Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::DiskFull) => {
                (Exit::Unavailable, "io")
            }
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                (Exit::Unavailable, "state_corrupt")
            }
            _ => (Exit::Internal, "internal"),
        };
        let message = format!("state database: {err}");
        Error::new(exit_code.0, exit_code.1, message).with_source(err)
    }
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
    fn constructors_pick_the_right_exit() {
        assert_eq!(Error::usage("x").exit.code(), 2);
        assert_eq!(Error::not_found("x").exit.code(), 3);
        assert_eq!(Error::internal("x").exit.code(), 70);
        assert_eq!(Error::not_implemented("x").exit.code(), 70);
        let io = Error::io("reading", std::io::Error::other("boom"));
        assert_eq!(io.exit.code(), 6);
        assert!(std::error::Error::source(&io).is_some());
    }
}
