//! Errors, carrying tdb's own error codes (`enum TDB_ERROR`) as the workspace's shared
//! [`ErrorKind`] (numbers in [`code`]).

use std::fmt;

pub use tdb_vocab::code;
use tdb_vocab::ErrorKind;

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
    /// `TDB_ERR_LOCK` without touching the sticky code: releasing a lock the handle
    /// does not hold (C's "tdb_unlock: count is 0" returns −1 and leaves `tdb_error()`).
    NotLocked(String),
    /// A system call failed with this errno (opening the file, for example): reported
    /// as `TDB_ERR_EINVAL` for `EINVAL`/`EBUSY`, `TDB_ERR_OOM` for `ENOMEM`, else
    /// `TDB_ERR_IO`; [`Error::errno`] gives the errno C would leave.
    Os(i32, String),
    /// `TDB_ERR_CORRUPT`: a commit was interrupted after making its recovery area valid,
    /// and the handle is read-only, so it cannot roll the commit back (see
    /// [`crate::needs_recovery`]).
    NeedsRecovery,
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The kind of `TDB_ERR_*` code C would report for this failure (`Unsupported`, an
    /// open-time errno in C, reports `TDB_ERR_EINVAL`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Corrupt(_) | Error::NeedsRecovery => ErrorKind::Corrupt,
            Error::Io(_) => ErrorKind::Io,
            Error::Lock(_) | Error::NotLocked(_) => ErrorKind::Lock,
            Error::Oom(_) => ErrorKind::Oom,
            Error::Exists => ErrorKind::Exists,
            Error::NoLock => ErrorKind::NoLock,
            Error::NoExist => ErrorKind::NoExist,
            Error::Einval(_) | Error::Unsupported(_) => ErrorKind::Einval,
            Error::ReadOnly => ErrorKind::ReadOnly,
            Error::Nesting => ErrorKind::Nesting,
            Error::Unchanged(c, _) => ErrorKind::of_failure(*c),
            Error::Os(e, _) => match *e {
                libc::EINVAL | libc::EBUSY => ErrorKind::Einval,
                libc::ENOMEM => ErrorKind::Oom,
                _ => ErrorKind::Io,
            },
        }
    }

    /// The `errno` C's `tdb_open` leaves for this failure.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Os(e, _) => *e,
            Error::Einval(_) | Error::Nesting => libc::EINVAL,
            Error::Unsupported(_) => libc::ENOSYS,
            Error::Oom(_) => libc::ENOMEM,
            Error::Lock(_) | Error::NotLocked(_) | Error::NoLock => libc::ENOLCK,
            _ => libc::EIO,
        }
    }

    /// Whether C leaves the handle's sticky code as it was on this failure.
    pub fn leaves_code(&self) -> bool {
        matches!(self, Error::NotLocked(_))
    }

    /// The numeric `TDB_ERR_*` code of [`Error::kind`] (what `tdb_error()` reports).
    pub fn code(&self) -> i32 {
        self.kind().code()
    }

    pub(crate) fn corrupt(msg: impl Into<String>) -> Error {
        Error::Corrupt(msg.into())
    }

    pub(crate) fn io(msg: impl Into<String>) -> Error {
        Error::Io(msg.into())
    }
}

impl fmt::Display for Error {
    /// The kind in the workspace's wording, then what this engine knows about it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Corrupt(m)
            | Error::Io(m)
            | Error::Lock(m)
            | Error::Oom(m)
            | Error::Einval(m)
            | Error::NotLocked(m)
            | Error::Os(_, m) => {
                write!(f, "{}: {m}", self.kind())
            }
            Error::Exists | Error::NoLock | Error::NoExist | Error::ReadOnly | Error::Nesting => {
                write!(f, "{}", self.kind())
            }
            Error::Unsupported(m) => write!(f, "unsupported tdb file: {m}"),
            Error::Unchanged(_, m) => f.write_str(m),
            Error::NeedsRecovery => {
                f.write_str("corrupt database: database needs recovery but is opened read-only")
            }
        }
    }
}

impl std::error::Error for Error {}
