//! The numeric `TDB_ERR_*` codes of `enum TDB_ERROR` (tdb.h), as `tdb_error()` returns
//! them. [`crate::ErrorKind`] is the typed form.

/// `TDB_SUCCESS`: no error (also what a few C failure paths leave in place).
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
