//! The `Backend` trait: everything a trace can ask of a tdb database.
//!
//! The replay engine is generic over this trait, so the same analysis and scheduler drive
//! the real C tdb (`c` module, over `tdb-sys`) and the pure-Rust engine (`tdb-pure`).
//! Results carry tdb's own error kinds ([`ErrorKind`]) so that two backends can be
//! compared exactly, and so that a result can be checked against the return value a trace
//! recorded.
//!
//! The calls are deliberately explicit (no guards): a trace opens a transaction in one
//! line and commits it hundreds of lines later, possibly from inside a traverse callback,
//! so the state lives in the database handle, exactly as in C.

use std::fmt;
use std::ops::ControlFlow;
use std::path::Path;

#[cfg(feature = "c")]
pub mod c;
#[cfg(feature = "pure")]
pub mod pure;

/// tdb's error codes (`enum TDB_ERROR` in tdb.h), shared by every backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `TDB_ERR_CORRUPT`: the file is not a sound tdb.
    Corrupt,
    /// `TDB_ERR_IO`: a read, write, mmap or sync failed.
    Io,
    /// `TDB_ERR_LOCK`: a lock could not be taken or released.
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
    /// `TDB_ERR_RDONLY`: write to a read-only database.
    ReadOnly,
    /// `TDB_ERR_NESTING`: nested transaction not allowed.
    Nesting,
    /// A code this crate does not know (carried verbatim).
    Other(i32),
}

impl ErrorKind {
    /// The numeric `TDB_ERR_*` value.
    pub fn code(self) -> i32 {
        match self {
            ErrorKind::Corrupt => 1,
            ErrorKind::Io => 2,
            ErrorKind::Lock => 3,
            ErrorKind::Oom => 4,
            ErrorKind::Exists => 5,
            ErrorKind::NoLock => 6,
            ErrorKind::LockTimeout => 7,
            ErrorKind::NoExist => 8,
            ErrorKind::Einval => 9,
            ErrorKind::ReadOnly => 10,
            ErrorKind::Nesting => 11,
            ErrorKind::Other(code) => code,
        }
    }

    /// The kind for a numeric `TDB_ERR_*` value (0, success, is not an error).
    pub fn from_code(code: i32) -> Option<ErrorKind> {
        Some(match code {
            0 => return None,
            1 => ErrorKind::Corrupt,
            2 => ErrorKind::Io,
            3 => ErrorKind::Lock,
            4 => ErrorKind::Oom,
            5 => ErrorKind::Exists,
            6 => ErrorKind::NoLock,
            7 => ErrorKind::LockTimeout,
            8 => ErrorKind::NoExist,
            9 => ErrorKind::Einval,
            10 => ErrorKind::ReadOnly,
            11 => ErrorKind::Nesting,
            other => ErrorKind::Other(other),
        })
    }
}

impl fmt::Display for ErrorKind {
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

/// A failed backend call: tdb's error kind plus, where the backend knows more (an open
/// that failed, say), a human-readable detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TdbError {
    /// The tdb error code; what result comparisons look at.
    pub kind: ErrorKind,
    /// Extra context for people; never compared.
    pub detail: Option<String>,
}

impl TdbError {
    /// An error of `kind` with no further detail.
    pub fn new(kind: ErrorKind) -> Self {
        TdbError { kind, detail: None }
    }

    /// An error of `kind` with a detail for the user.
    pub fn with_detail(kind: ErrorKind, detail: impl Into<String>) -> Self {
        TdbError {
            kind,
            detail: Some(detail.into()),
        }
    }
}

impl From<ErrorKind> for TdbError {
    fn from(kind: ErrorKind) -> Self {
        TdbError::new(kind)
    }
}

impl fmt::Display for TdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.to_string();
        match &self.detail {
            // Engines' own messages often start with the kind already.
            Some(detail) if detail.starts_with(&kind) => f.write_str(detail),
            Some(detail) => write!(f, "{kind}: {detail}"),
            None => f.write_str(&kind),
        }
    }
}

impl std::error::Error for TdbError {}

/// The result of every backend call.
pub type TdbResult<T> = Result<T, TdbError>;

/// How to open a database: the three values of a trace's `tdb_open` line, plus the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    /// Number of hash chains (0 means tdb's default, 131).
    pub hash_size: u32,
    /// `TDB_*` flags (see [`tdb_flags`]).
    pub tdb_flags: u32,
    /// `open(2)` flags (`O_RDWR | O_CREAT`, ...).
    pub open_flags: i32,
    /// File mode for a created file.
    pub mode: u32,
}

/// The `TDB_*` open flags, with their C values.
pub mod tdb_flags {
    /// Wipe the database if this is the first open.
    pub const CLEAR_IF_FIRST: u32 = 0x1;
    /// An in-memory database.
    pub const INTERNAL: u32 = 0x2;
    /// No locking at all.
    pub const NOLOCK: u32 = 0x4;
    /// Do not mmap the file.
    pub const NOMMAP: u32 = 0x8;
    /// Convert endianness (set by tdb itself for a foreign-endian file).
    pub const CONVERT: u32 = 0x10;
    /// Create a big-endian file.
    pub const BIGENDIAN: u32 = 0x20;
    /// Never fsync.
    pub const NOSYNC: u32 = 0x40;
    /// Maintain the sequence number.
    pub const SEQNUM: u32 = 0x80;
    /// Activate the per-hash-chain freelist, volatile database.
    pub const VOLATILE: u32 = 0x100;
    /// Allow nested transactions.
    pub const ALLOW_NESTING: u32 = 0x200;
    /// Disallow nested transactions.
    pub const DISALLOW_NESTING: u32 = 0x400;
    /// Use the Jenkins hash (Samba only).
    pub const INCOMPATIBLE_HASH: u32 = 0x800;
    /// Robust mutexes instead of fcntl chain locks (Samba only).
    pub const MUTEX_LOCKING: u32 = 0x1000;
}

/// The `flag` argument of `tdb_store`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreFlag {
    /// 0: insert or replace.
    Default,
    /// `TDB_REPLACE` (1): insert or replace.
    Replace,
    /// `TDB_INSERT` (2): fail with `Exists` if present.
    Insert,
    /// `TDB_MODIFY` (3): fail with `NoExist` if absent.
    Modify,
}

impl StoreFlag {
    /// The C value.
    pub fn code(self) -> i32 {
        match self {
            StoreFlag::Default => 0,
            StoreFlag::Replace => 1,
            StoreFlag::Insert => 2,
            StoreFlag::Modify => 3,
        }
    }

    /// The flag for a C value, if it is one of the four tdb knows.
    pub fn from_code(code: u32) -> Option<StoreFlag> {
        Some(match code {
            0 => StoreFlag::Default,
            1 => StoreFlag::Replace,
            2 => StoreFlag::Insert,
            3 => StoreFlag::Modify,
            _ => return None,
        })
    }
}

/// The chain-lock family (`tdb_chainlock*` / `tdb_chainunlock*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChainLockOp {
    /// `tdb_chainlock`: blocking write lock.
    Lock,
    /// `tdb_chainlock_nonblock`.
    LockNonblock,
    /// `tdb_chainlock_read`: blocking read lock.
    LockRead,
    /// `tdb_chainlock_read_nonblock`.
    LockReadNonblock,
    /// `tdb_chainlock_mark`: mark the chain locked without taking the lock.
    Mark,
    /// `tdb_chainlock_unmark`.
    Unmark,
    /// `tdb_chainunlock`.
    Unlock,
    /// `tdb_chainunlock_read`.
    UnlockRead,
}

/// The all-record lock family (`tdb_lockall*` / `tdb_unlockall*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockAllOp {
    /// `tdb_lockall`: blocking write lock on every chain.
    Lock,
    /// `tdb_lockall_nonblock`.
    LockNonblock,
    /// `tdb_lockall_read`.
    LockRead,
    /// `tdb_lockall_read_nonblock`.
    LockReadNonblock,
    /// `tdb_lockall_mark`.
    Mark,
    /// `tdb_lockall_unmark`.
    Unmark,
    /// `tdb_unlockall`.
    Unlock,
    /// `tdb_unlockall_read`.
    UnlockRead,
}

/// Which traverse: `tdb_traverse` (write locks) or `tdb_traverse_read`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraverseKind {
    /// `tdb_traverse`: the callback may modify the database.
    Write,
    /// `tdb_traverse_read`.
    Read,
}

/// A traverse callback: gets the database (to run further operations on it), the key and
/// the data of the record visited; `Break` stops the walk.
pub type TraverseFn<'a, B> = dyn FnMut(&mut B, &[u8], &[u8]) -> ControlFlow<()> + 'a;

/// Facts about a backend's locking that the dependency analysis relies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockingModel {
    /// Whether `tdb_traverse_read` holds the transaction lock for its whole walk (ccan tdb
    /// did; Samba tdb 1.4 does not).
    pub read_traverse_takes_transaction_lock: bool,
}

/// A tdb database handle, as the replay engine drives it.
///
/// One handle belongs to one process (fcntl locks are per process), so the scheduler
/// opens one handle per worker process. Every method maps to the tdb call of the same
/// name; an `Err` carries the `tdb_error()` kind C would report.
pub trait Backend: Sized {
    /// Short name used on the command line and in reports (`c`, `pure`).
    const NAME: &'static str;

    /// Locking facts for the analysis.
    const LOCKING: LockingModel;

    /// `tdb_open`.
    fn open(path: &Path, options: &OpenOptions) -> TdbResult<Self>;

    /// `tdb_open`, recording the handle's calls to `record` where the backend records
    /// ([`crate::record::Recording`]); any other backend ignores `record`.
    fn open_recorded(
        path: &Path,
        options: &OpenOptions,
        record: Option<&crate::record::RecordOptions>,
    ) -> TdbResult<Self> {
        let _ = record;
        Self::open(path, options)
    }

    /// `tdb_close`; dropping a handle closes it too, ignoring errors.
    fn close(self) -> TdbResult<()>;

    /// `tdb_store`.
    fn store(&mut self, key: &[u8], data: &[u8], flag: StoreFlag) -> TdbResult<()>;

    /// `tdb_fetch`: `f` sees the record, or `None` when it does not exist (not an error,
    /// so that the fetch of a missing key costs no error path). The data is lent, not
    /// copied, where the backend can manage it.
    fn fetch_with<R>(&mut self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> TdbResult<R>;

    /// `tdb_fetch` into an owned buffer.
    fn fetch(&mut self, key: &[u8]) -> TdbResult<Option<Vec<u8>>> {
        self.fetch_with(key, |data| data.map(<[u8]>::to_vec))
    }

    /// `tdb_parse_record`: `f` borrows the data in place; an absent key is
    /// `Err(NoExist)`.
    fn parse_record<R>(&mut self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> TdbResult<R>;

    /// `tdb_exists`.
    fn exists(&mut self, key: &[u8]) -> TdbResult<bool>;

    /// `tdb_delete`; an absent key is `Err(NoExist)`.
    fn delete(&mut self, key: &[u8]) -> TdbResult<()>;

    /// `tdb_append`.
    fn append(&mut self, key: &[u8], data: &[u8]) -> TdbResult<()>;

    /// `tdb_get_seqnum`.
    fn get_seqnum(&mut self) -> TdbResult<i32>;

    /// `tdb_wipe_all`.
    fn wipe_all(&mut self) -> TdbResult<()>;

    /// `tdb_repack`.
    fn repack(&mut self) -> TdbResult<()>;

    /// `tdb_transaction_start`.
    fn transaction_start(&mut self) -> TdbResult<()>;

    /// `tdb_transaction_prepare_commit`.
    fn transaction_prepare_commit(&mut self) -> TdbResult<()>;

    /// `tdb_transaction_commit`.
    fn transaction_commit(&mut self) -> TdbResult<()>;

    /// `tdb_transaction_cancel`.
    fn transaction_cancel(&mut self) -> TdbResult<()>;

    /// One call of the chain-lock family on the chain of `key`.
    fn chainlock(&mut self, key: &[u8], op: ChainLockOp) -> TdbResult<()>;

    /// One call of the all-record lock family.
    fn lockall(&mut self, op: LockAllOp) -> TdbResult<()>;

    /// `tdb_traverse` / `tdb_traverse_read`; returns the number of records visited (the
    /// one the callback stopped on included), as C does.
    fn traverse(&mut self, kind: TraverseKind, f: &mut TraverseFn<'_, Self>) -> TdbResult<u32>;

    /// `tdb_firstkey`: `None` on an empty database.
    fn firstkey(&mut self) -> TdbResult<Option<Vec<u8>>>;

    /// `tdb_nextkey`: `None` after the last key.
    fn nextkey(&mut self, key: &[u8]) -> TdbResult<Option<Vec<u8>>>;

    /// `tdb_check`: verify the file's invariants; the error says what is wrong.
    fn check(&mut self) -> TdbResult<()>;
}
