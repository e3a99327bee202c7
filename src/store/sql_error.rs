//! How SQLite's and PostgreSQL's errors become the library's: a busy or locked database is
//! "unavailable, retry", a corrupt one says so, anything else is a bug.

use crate::error::{Code, Error, Exit};

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let exit_code = match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                (Exit::Unavailable, Code::StateLocked)
            }
            Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::DiskFull) => {
                (Exit::Unavailable, Code::Io)
            }
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                (Exit::Unavailable, Code::StateCorrupt)
            }
            _ => (Exit::Internal, Code::Internal),
        };
        let message = format!("state database: {err}");
        Error::new(exit_code.0, exit_code.1, message).with_source(err)
    }
}

impl From<postgres::Error> for Error {
    fn from(err: postgres::Error) -> Self {
        use postgres::error::SqlState;
        let code = err.code();
        let (exit, code) = if err.is_closed() || code.is_none() {
            // No SQL state: the connection, not the statement, failed.
            (Exit::Unavailable, Code::StateUnavailable)
        } else if code == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
            || code == Some(&SqlState::T_R_DEADLOCK_DETECTED)
            || code == Some(&SqlState::LOCK_NOT_AVAILABLE)
        {
            (Exit::Unavailable, Code::StateLocked)
        } else if code.is_some_and(|c| c.code().starts_with("08") || c.code().starts_with("57")) {
            // connection exceptions, operator intervention (shutdown)
            (Exit::Unavailable, Code::StateUnavailable)
        } else if code == Some(&SqlState::CHARACTER_NOT_IN_REPERTOIRE)
            || code == Some(&SqlState::UNTRANSLATABLE_CHARACTER)
        {
            // Text with a NUL: SQLite keeps it, PostgreSQL cannot.
            (Exit::Usage, Code::InvalidInput)
        } else if code.is_some_and(|c| c.code().starts_with("28")) {
            // invalid authorization: the URL's user or password
            (Exit::Unavailable, Code::StateUnavailable)
        } else {
            (Exit::Internal, Code::Internal)
        };
        let message = match err.as_db_error() {
            Some(db) => format!("state database: {}", db.message()),
            None => format!("state database: {err}"),
        };
        Error::new(exit, code, message).with_source(err)
    }
}
