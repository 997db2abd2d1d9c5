//! Errors of the safe API: tdb's own error code (the shared [`ErrorKind`]) plus what tdb
//! logged about it.

use std::fmt;
use std::io;

use tdb_vocab::ErrorKind;

use crate::ffi;

/// The kind of a `tdb_error()` value; `TDB_SUCCESS` (a failure that set no code) becomes
/// [`ErrorKind::UNSET`].
pub(crate) fn kind_of_raw(code: ffi::TDB_ERROR) -> ErrorKind {
    ErrorKind::of_failure(code as i32)
}

/// A failed tdb call: the error code, and what tdb logged while failing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: ErrorKind,
    message: Option<String>,
    os_error: Option<i32>,
}

/// The result of every call of the safe API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with `code` and nothing else.
    pub fn new(code: ErrorKind) -> Error {
        Error {
            code,
            message: None,
            os_error: None,
        }
    }

    pub(crate) fn with_message(mut self, message: Option<String>) -> Error {
        self.message = message;
        self
    }

    pub(crate) fn with_os_error(mut self, errno: Option<i32>) -> Error {
        self.os_error = errno;
        self
    }

    /// tdb's error code (`tdb_error()` right after the failing call).
    ///
    /// A failed open has no handle to ask: its code comes from `errno` (`EINVAL` →
    /// `Einval`, `ENOMEM` → `Oom`, anything else → `Io`); see [`Error::os_error`].
    pub fn code(&self) -> ErrorKind {
        self.code
    }

    /// What tdb logged (warning level or worse) during the failing call, one message per
    /// line, if anything.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The OS error of a failed open or close (`errno`), if there was one.
    pub fn os_error(&self) -> Option<io::Error> {
        self.os_error.map(io::Error::from_raw_os_error)
    }

    /// The raw `errno` value behind [`Error::os_error`].
    pub fn raw_os_error(&self) -> Option<i32> {
        self.os_error
    }
}

impl From<ErrorKind> for Error {
    fn from(code: ErrorKind) -> Self {
        Error::new(code)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tdb: {}", self.code)?;
        if let Some(errno) = self.os_error {
            write!(f, " ({})", io::Error::from_raw_os_error(errno))?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {}", message.replace('\n', "; "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
