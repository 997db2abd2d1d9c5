//! The pure-Rust backend: `Backend` implemented directly on `tdb_pure::Tdb`, so that a
//! traverse callback's handle is the backend itself.
//!
//! Every call maps one to one, transactions and `tdb_repack` included.

use std::ops::ControlFlow;
use std::path::Path;

use tdb_pure::Tdb;

use super::{
    Backend, ChainLockOp, LockAllOp, LockingModel, OpenOptions, StoreFlag, TdbError, TdbResult,
    TraverseFn, TraverseKind,
};

/// tdb-pure's error as the replay's: the same `TDB_ERR_*` code, plus its message.
fn convert(error: tdb_pure::Error) -> TdbError {
    TdbError::with_detail(error.kind(), error.to_string())
}

impl Backend for Tdb {
    const NAME: &'static str = "pure";

    /// tdb-pure locks as C tdb 1.4.8 does.
    const LOCKING: LockingModel = LockingModel {
        read_traverse_takes_transaction_lock: false,
    };

    fn open(path: &Path, options: &OpenOptions) -> TdbResult<Self> {
        Tdb::open(path, options).map_err(convert)
    }

    fn close(self) -> TdbResult<()> {
        Tdb::close(self).map_err(convert)
    }

    fn store(&mut self, key: &[u8], data: &[u8], flag: StoreFlag) -> TdbResult<()> {
        Tdb::store(self, key, data, flag).map_err(convert)
    }

    fn fetch_with<R>(&mut self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> TdbResult<R> {
        Tdb::fetch_with(self, key, f).map_err(convert)
    }

    fn parse_record<R>(&mut self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> TdbResult<R> {
        Tdb::parse_record(self, key, f).map_err(convert)
    }

    fn exists(&mut self, key: &[u8]) -> TdbResult<bool> {
        Tdb::exists(self, key).map_err(convert)
    }

    fn delete(&mut self, key: &[u8]) -> TdbResult<()> {
        Tdb::delete(self, key).map_err(convert)
    }

    fn append(&mut self, key: &[u8], data: &[u8]) -> TdbResult<()> {
        Tdb::append(self, key, data).map_err(convert)
    }

    fn get_seqnum(&mut self) -> TdbResult<i32> {
        Tdb::get_seqnum(self).map(|n| n as i32).map_err(convert)
    }

    fn wipe_all(&mut self) -> TdbResult<()> {
        Tdb::wipe_all(self).map_err(convert)
    }

    fn repack(&mut self) -> TdbResult<()> {
        Tdb::repack(self).map_err(convert)
    }

    fn transaction_start(&mut self) -> TdbResult<()> {
        Tdb::transaction_start(self).map_err(convert)
    }

    fn transaction_prepare_commit(&mut self) -> TdbResult<()> {
        Tdb::transaction_prepare_commit(self).map_err(convert)
    }

    fn transaction_commit(&mut self) -> TdbResult<()> {
        Tdb::transaction_commit(self).map_err(convert)
    }

    fn transaction_cancel(&mut self) -> TdbResult<()> {
        Tdb::transaction_cancel(self).map_err(convert)
    }

    fn chainlock(&mut self, key: &[u8], op: ChainLockOp) -> TdbResult<()> {
        match op {
            ChainLockOp::Lock => Tdb::chainlock(self, key),
            ChainLockOp::LockNonblock => Tdb::chainlock_nonblock(self, key),
            ChainLockOp::LockRead => Tdb::chainlock_read(self, key),
            ChainLockOp::LockReadNonblock => Tdb::chainlock_read_nonblock(self, key),
            ChainLockOp::Mark => Tdb::chainlock_mark(self, key),
            ChainLockOp::Unmark => Tdb::chainlock_unmark(self, key),
            ChainLockOp::Unlock => Tdb::chainunlock(self, key),
            ChainLockOp::UnlockRead => Tdb::chainunlock_read(self, key),
        }
        .map_err(convert)
    }

    fn lockall(&mut self, op: LockAllOp) -> TdbResult<()> {
        match op {
            LockAllOp::Lock => Tdb::lockall_write(self),
            LockAllOp::LockNonblock => Tdb::lockall_nonblock(self),
            LockAllOp::LockRead => Tdb::lockall_read(self),
            LockAllOp::LockReadNonblock => Tdb::lockall_read_nonblock(self),
            LockAllOp::Mark => Tdb::lockall_mark(self),
            LockAllOp::Unmark => Tdb::lockall_unmark(self),
            LockAllOp::Unlock => Tdb::unlockall_write(self),
            LockAllOp::UnlockRead => Tdb::unlockall_read(self),
        }
        .map_err(convert)
    }

    fn traverse(&mut self, kind: TraverseKind, f: &mut TraverseFn<'_, Self>) -> TdbResult<u32> {
        let walk = |db: &mut Tdb, key: &[u8], data: &[u8]| -> ControlFlow<()> { f(db, key, data) };
        match kind {
            TraverseKind::Write => Tdb::traverse(self, walk),
            TraverseKind::Read => Tdb::traverse_read(self, walk),
        }
        .map_err(convert)
    }

    fn firstkey(&mut self) -> TdbResult<Option<Vec<u8>>> {
        Tdb::firstkey(self).map_err(convert)
    }

    fn nextkey(&mut self, key: &[u8]) -> TdbResult<Option<Vec<u8>>> {
        Tdb::nextkey(self, key).map_err(convert)
    }

    fn check(&mut self) -> TdbResult<()> {
        Tdb::check(self).map_err(convert)
    }
}

/// The pure backend type, for callers that name backends by type.
pub use tdb_pure::Tdb as PureTdb;

/// What tdb-pure's check skipped in the file at `path` as the leftovers of a commit
/// killed while it wrote the space it had added (`None`: nothing, or the check failed).
/// C's `tdb_check` rejects such a file; tdb-pure's report says why that is no harm.
pub fn crash_leftovers(path: &Path, options: &OpenOptions) -> Option<tdb_pure::CheckReport> {
    let mut db = <Tdb as Backend>::open(path, options).ok()?;
    let report = db.check_report().ok()?;
    report.has_leftovers().then_some(report)
}

/// Open the file at `path` read-write with tdb-pure and put what a killed commit left
/// past the old end of file on the freelist (`tdb_pure::Tdb::reclaim_crash_leftovers`):
/// the bytes reclaimed.
pub fn reclaim_crash_leftovers(path: &Path, options: &OpenOptions) -> TdbResult<u64> {
    let mut db = <Tdb as Backend>::open(path, options)?;
    let reclaimed = db.reclaim_crash_leftovers().map_err(convert)?;
    Tdb::close(db).map_err(convert)?;
    Ok(reclaimed)
}
