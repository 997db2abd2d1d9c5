//! Errors of the safe API: tdb's own error code plus what tdb logged about it.

use std::fmt;
use std::io;

use crate::ffi;

/// tdb's error codes (`enum TDB_ERROR` in tdb.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `TDB_ERR_CORRUPT`: the file is not a sound tdb.
    Corrupt,
    /// `TDB_ERR_IO`: a read, write, mmap, sync or open failed.
    Io,
    /// `TDB_ERR_LOCK`: a lock could not be taken or released, or was taken out of order.
    Lock,
    /// `TDB_ERR_OOM`: out of memory.
    Oom,
    /// `TDB_ERR_EXISTS`: an insert found the key already present.
    Exists,
    /// `TDB_ERR_NOLOCK`: an unlock without the matching lock.
    NoLock,
    /// `TDB_ERR_LOCK_TIMEOUT`: a lock timed out.
    LockTimeout,
    /// `TDB_ERR_NOEXIST`: the record does not exist.
    NoExist,
    /// `TDB_ERR_EINVAL`: invalid parameter or state.
    Einval,
    /// `TDB_ERR_RDONLY`: write to a read-only database, or inside a read traverse.
    ReadOnly,
    /// `TDB_ERR_NESTING`: nested transaction not allowed.
    Nesting,
    /// The call failed but `tdb_error()` still says `TDB_SUCCESS`: a few failure paths
    /// (e.g. `tdb_transaction_commit` without a transaction) leave the code untouched.
    Unset,
    /// A code this crate does not know, carried verbatim.
    Unknown(u32),
}

impl ErrorCode {
    /// The code for a `tdb_error()` value; `TDB_SUCCESS` becomes [`ErrorCode::Unset`].
    pub fn from_raw(code: ffi::TDB_ERROR) -> ErrorCode {
        match code {
            ffi::TDB_ERROR_TDB_SUCCESS => ErrorCode::Unset,
            ffi::TDB_ERROR_TDB_ERR_CORRUPT => ErrorCode::Corrupt,
            ffi::TDB_ERROR_TDB_ERR_IO => ErrorCode::Io,
            ffi::TDB_ERROR_TDB_ERR_LOCK => ErrorCode::Lock,
            ffi::TDB_ERROR_TDB_ERR_OOM => ErrorCode::Oom,
            ffi::TDB_ERROR_TDB_ERR_EXISTS => ErrorCode::Exists,
            ffi::TDB_ERROR_TDB_ERR_NOLOCK => ErrorCode::NoLock,
            ffi::TDB_ERROR_TDB_ERR_LOCK_TIMEOUT => ErrorCode::LockTimeout,
            ffi::TDB_ERROR_TDB_ERR_NOEXIST => ErrorCode::NoExist,
            ffi::TDB_ERROR_TDB_ERR_EINVAL => ErrorCode::Einval,
            ffi::TDB_ERROR_TDB_ERR_RDONLY => ErrorCode::ReadOnly,
            ffi::TDB_ERROR_TDB_ERR_NESTING => ErrorCode::Nesting,
            other => ErrorCode::Unknown(other),
        }
    }

    /// The `TDB_ERROR` value (`TDB_SUCCESS`, 0, for [`ErrorCode::Unset`]).
    pub fn raw(self) -> ffi::TDB_ERROR {
        match self {
            ErrorCode::Unset => ffi::TDB_ERROR_TDB_SUCCESS,
            ErrorCode::Corrupt => ffi::TDB_ERROR_TDB_ERR_CORRUPT,
            ErrorCode::Io => ffi::TDB_ERROR_TDB_ERR_IO,
            ErrorCode::Lock => ffi::TDB_ERROR_TDB_ERR_LOCK,
            ErrorCode::Oom => ffi::TDB_ERROR_TDB_ERR_OOM,
            ErrorCode::Exists => ffi::TDB_ERROR_TDB_ERR_EXISTS,
            ErrorCode::NoLock => ffi::TDB_ERROR_TDB_ERR_NOLOCK,
            ErrorCode::LockTimeout => ffi::TDB_ERROR_TDB_ERR_LOCK_TIMEOUT,
            ErrorCode::NoExist => ffi::TDB_ERROR_TDB_ERR_NOEXIST,
            ErrorCode::Einval => ffi::TDB_ERROR_TDB_ERR_EINVAL,
            ErrorCode::ReadOnly => ffi::TDB_ERROR_TDB_ERR_RDONLY,
            ErrorCode::Nesting => ffi::TDB_ERROR_TDB_ERR_NESTING,
            ErrorCode::Unknown(code) => code,
        }
    }
}

impl fmt::Display for ErrorCode {
    /// `tdb_errorstr()`'s wording where it has one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ErrorCode::Corrupt => "Corrupt database",
            ErrorCode::Io => "IO Error",
            ErrorCode::Lock => "Locking error",
            ErrorCode::Oom => "Out of memory",
            ErrorCode::Exists => "Record exists",
            ErrorCode::NoLock => "Lock exists on other keys",
            ErrorCode::LockTimeout => "Lock timeout",
            ErrorCode::NoExist => "Record does not exist",
            ErrorCode::Einval => "Invalid parameter",
            ErrorCode::ReadOnly => "write not permitted",
            ErrorCode::Nesting => "Nested transactions not permitted",
            ErrorCode::Unset => "failed without setting an error code",
            ErrorCode::Unknown(code) => return write!(f, "unknown tdb error {code}"),
        };
        f.write_str(text)
    }
}

/// A failed tdb call: the error code, and what tdb logged while failing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    message: Option<String>,
    os_error: Option<i32>,
}

/// The result of every call of the safe API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with `code` and nothing else.
    pub fn new(code: ErrorCode) -> Error {
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
    pub fn code(&self) -> ErrorCode {
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

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Self {
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
