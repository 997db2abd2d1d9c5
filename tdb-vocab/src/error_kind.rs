//! [`ErrorKind`]: tdb's error codes as a type, with the one wording people see.

use std::fmt;

use crate::code;

/// tdb's error codes (`enum TDB_ERROR` in tdb.h), shared by every engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
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
    /// `TDB_ERR_NOLOCK`: an unlock without the matching lock, or a non-blocking
    /// transaction start that found the lock taken.
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
    /// A code this crate does not know, carried verbatim; `Other(0)` ([`ErrorKind::UNSET`])
    /// is a call that failed but left `tdb_error()` at `TDB_SUCCESS`.
    Other(i32),
}

impl ErrorKind {
    /// The kind of a call that failed without setting an error code: a few C failure
    /// paths (ending a transaction that is not open, say) return -1 and leave
    /// `tdb_error()` at `TDB_SUCCESS`.
    pub const UNSET: ErrorKind = ErrorKind::Other(code::SUCCESS);

    /// The numeric `TDB_ERR_*` value (see [`code`]).
    pub const fn code(self) -> i32 {
        match self {
            ErrorKind::Corrupt => code::CORRUPT,
            ErrorKind::Io => code::IO,
            ErrorKind::Lock => code::LOCK,
            ErrorKind::Oom => code::OOM,
            ErrorKind::Exists => code::EXISTS,
            ErrorKind::NoLock => code::NOLOCK,
            ErrorKind::LockTimeout => code::LOCK_TIMEOUT,
            ErrorKind::NoExist => code::NOEXIST,
            ErrorKind::Einval => code::EINVAL,
            ErrorKind::ReadOnly => code::RDONLY,
            ErrorKind::Nesting => code::NESTING,
            ErrorKind::Other(other) => other,
        }
    }

    /// The kind for a numeric `TDB_ERR_*` value (0, success, is not an error).
    pub const fn from_code(value: i32) -> Option<ErrorKind> {
        Some(match value {
            code::SUCCESS => return None,
            code::CORRUPT => ErrorKind::Corrupt,
            code::IO => ErrorKind::Io,
            code::LOCK => ErrorKind::Lock,
            code::OOM => ErrorKind::Oom,
            code::EXISTS => ErrorKind::Exists,
            code::NOLOCK => ErrorKind::NoLock,
            code::LOCK_TIMEOUT => ErrorKind::LockTimeout,
            code::NOEXIST => ErrorKind::NoExist,
            code::EINVAL => ErrorKind::Einval,
            code::RDONLY => ErrorKind::ReadOnly,
            code::NESTING => ErrorKind::Nesting,
            other => ErrorKind::Other(other),
        })
    }

    /// The kind of a call that failed with `tdb_error()` at `value`: as
    /// [`ErrorKind::from_code`], with `TDB_SUCCESS` becoming [`ErrorKind::UNSET`].
    pub const fn of_failure(value: i32) -> ErrorKind {
        match ErrorKind::from_code(value) {
            Some(kind) => kind,
            None => ErrorKind::UNSET,
        }
    }
}

impl fmt::Display for ErrorKind {
    /// The wording every tool of the workspace prints (`record does not exist`, ...).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ErrorKind::Corrupt => "corrupt database",
            ErrorKind::Io => "IO error",
            ErrorKind::Lock => "locking error",
            ErrorKind::Oom => "out of memory",
            ErrorKind::Exists => "record exists",
            ErrorKind::NoLock => "lock not held",
            ErrorKind::LockTimeout => "lock timeout",
            ErrorKind::NoExist => "record does not exist",
            ErrorKind::Einval => "invalid parameter",
            ErrorKind::ReadOnly => "write not permitted",
            ErrorKind::Nesting => "nested transaction not allowed",
            ErrorKind::Other(code) => return write!(f, "tdb error {code}"),
        };
        f.write_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for value in -1..=12 {
            match ErrorKind::from_code(value) {
                None => assert_eq!(value, code::SUCCESS),
                Some(kind) => assert_eq!(kind.code(), value),
            }
            assert_eq!(ErrorKind::of_failure(value).code(), value);
        }
        assert_eq!(
            ErrorKind::from_code(code::NOEXIST),
            Some(ErrorKind::NoExist)
        );
        assert_eq!(ErrorKind::of_failure(0), ErrorKind::UNSET);
        assert_eq!(ErrorKind::from_code(12), Some(ErrorKind::Other(12)));
    }

    #[test]
    fn wording() {
        assert_eq!(ErrorKind::NoExist.to_string(), "record does not exist");
        assert_eq!(ErrorKind::Corrupt.to_string(), "corrupt database");
        assert_eq!(ErrorKind::UNSET.to_string(), "tdb error 0");
    }
}
