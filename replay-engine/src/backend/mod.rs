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
pub mod engines;
#[cfg(feature = "c")]
pub mod loaded;
#[cfg(feature = "pure")]
pub mod pure;
#[cfg(all(feature = "c", feature = "pure"))]
pub mod runtime;

/// The tdb vocabulary every backend shares, defined once in `tdb-vocab` (and used by
/// tdb-sys and tdb-pure as well): error kinds, store flags, open flags, open options.
pub use tdb_vocab::{tdb_flags, ErrorKind, OpenOptions, StoreFlag};

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

    /// The engine's name in reports: [`Backend::NAME`], or for an engine chosen at run
    /// time (a loaded libtdb) the label it was given.
    fn label() -> &'static str {
        Self::NAME
    }

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
