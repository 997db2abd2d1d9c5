//! Errors, carrying tdb's own error codes (`enum TDB_ERROR`).

use std::fmt;

/// The `TDB_ERR_*` numeric codes.
pub mod code {
    /// `TDB_SUCCESS`.
    pub const SUCCESS: i32 = 0;
    /// `TDB_ERR_CORRUPT`.
    pub const CORRUPT: i32 = 1;
    /// `TDB_ERR_IO`.
    pub const IO: i32 = 2;
    /// `TDB_ERR_LOCK`.
    pub const LOCK: i32 = 3;
    /// `TDB_ERR_OOM`.
    pub const OOM: i32 = 4;
    /// `TDB_ERR_EXISTS`.
    pub const EXISTS: i32 = 5;
    /// `TDB_ERR_NOLOCK`.
    pub const NOLOCK: i32 = 6;
    /// `TDB_ERR_LOCK_TIMEOUT`.
    pub const LOCK_TIMEOUT: i32 = 7;
    /// `TDB_ERR_NOEXIST`.
    pub const NOEXIST: i32 = 8;
    /// `TDB_ERR_EINVAL`.
    pub const EINVAL: i32 = 9;
    /// `TDB_ERR_RDONLY`.
    pub const RDONLY: i32 = 10;
    /// `TDB_ERR_NESTING`.
    pub const NESTING: i32 = 11;
}

/// A failed tdb operation.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `TDB_ERR_CORRUPT`: the file is not a sound tdb; the text says what is wrong.
    Corrupt(String),
    /// `TDB_ERR_IO`: a read or write failed or went out of the file's bounds.
    Io(String),
    /// `TDB_ERR_LOCK`: a lock could not be taken, or the request breaks lock ordering.
    Lock(String),
    /// `TDB_ERR_OOM`: an allocation or file growth failed, or a length overflowed.
    Oom(String),
    /// `TDB_ERR_EXISTS`: an insert found the key already present.
    Exists,
    /// `TDB_ERR_NOLOCK`: a non-blocking transaction start found the lock taken.
    NoLock,
    /// `TDB_ERR_NOEXIST`: the record does not exist.
    NoExist,
    /// `TDB_ERR_EINVAL`: an invalid argument or call in the wrong state.
    Einval(String),
    /// `TDB_ERR_RDONLY`: a write on a read-only handle or inside a read traverse.
    ReadOnly,
    /// `TDB_ERR_NESTING`: a nested transaction was refused.
    Nesting,
    /// The file uses a format this engine (like C tdb 1.4) refuses: spinlock/rwlock
    /// files, unknown feature flags, mutex files opened for locked writing (C: ENOSYS).
    Unsupported(String),
    /// A failure for which C returns -1 without setting `tdb_error()` (e.g. ending a
    /// transaction that is not open): carries the code `tdb_error()` still reports.
    Unchanged(i32, String),
    /// `TDB_ERR_CORRUPT`: a commit was interrupted after making its recovery area valid,
    /// and the handle is read-only, so it cannot roll the commit back (see
    /// [`crate::needs_recovery`]).
    NeedsRecovery,
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The `TDB_ERR_*` code C would report for this failure (`Unsupported`, an open-time
    /// errno in C, reports `TDB_ERR_EINVAL`).
    pub fn code(&self) -> i32 {
        match self {
            Error::Corrupt(_) | Error::NeedsRecovery => code::CORRUPT,
            Error::Io(_) => code::IO,
            Error::Lock(_) => code::LOCK,
            Error::Oom(_) => code::OOM,
            Error::Exists => code::EXISTS,
            Error::NoLock => code::NOLOCK,
            Error::NoExist => code::NOEXIST,
            Error::Einval(_) | Error::Unsupported(_) => code::EINVAL,
            Error::ReadOnly => code::RDONLY,
            Error::Nesting => code::NESTING,
            Error::Unchanged(c, _) => *c,
        }
    }

    pub(crate) fn corrupt(msg: impl Into<String>) -> Error {
        Error::Corrupt(msg.into())
    }

    pub(crate) fn io(msg: impl Into<String>) -> Error {
        Error::Io(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Corrupt(m) => write!(f, "corrupt database: {m}"),
            Error::Io(m) => write!(f, "IO error: {m}"),
            Error::Lock(m) => write!(f, "locking error: {m}"),
            Error::Oom(m) => write!(f, "out of memory: {m}"),
            Error::Exists => f.write_str("record exists"),
            Error::NoLock => f.write_str("lock exists on other keys"),
            Error::NoExist => f.write_str("record does not exist"),
            Error::Einval(m) => write!(f, "invalid parameter: {m}"),
            Error::ReadOnly => f.write_str("write not permitted"),
            Error::Nesting => f.write_str("nested transaction not allowed"),
            Error::Unsupported(m) => write!(f, "unsupported tdb file: {m}"),
            Error::Unchanged(_, m) => f.write_str(m),
            Error::NeedsRecovery => {
                f.write_str("corrupt database: database needs recovery but is opened read-only")
            }
        }
    }
}

impl std::error::Error for Error {}
