//! How SQLite's errors become the library's: a busy or locked database is
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
