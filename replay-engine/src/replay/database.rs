//! The scratch database a replay runs on: created afresh before every run (so a rerun
//! never sees the previous run's records; never over a file the tool did not create,
//! see [`crate::scratch`]) with the records the analysis found must
//! pre-exist, and the flags each worker opens it with.

use std::path::Path;

use crate::analysis::Preexisting;
use crate::backend::{tdb_flags, Backend, OpenOptions, StoreFlag, TdbError, TdbResult};
use crate::scratch;
use crate::trace::Trace;

/// Flags a trace may carry that make no sense for a shared scratch file: an internal
/// database is private to one process, CLEAR_IF_FIRST would let the first worker wipe
/// the prepared records, and robust mutexes need a file created for them (the replay
/// uses tdb's fcntl locks, which serialise the same way).
const STRIPPED: u32 = tdb_flags::CLEAR_IF_FIRST | tdb_flags::INTERNAL | tdb_flags::MUTEX_LOCKING;

/// `O_TRUNC` on Linux.
const O_TRUNC: i32 = libc::O_TRUNC;

/// How a worker opens the database for `trace`: its own hash size and flags, minus the
/// stripped ones, plus `TDB_NOSYNC` (the replay measures tdb, not the disk).
pub fn worker_options(trace: &Trace) -> OpenOptions {
    OpenOptions {
        hash_size: trace.open.hash_size,
        tdb_flags: (trace.open.tdb_flags & !STRIPPED) | tdb_flags::NOSYNC,
        open_flags: (trace.open.open_flags as i32 & !O_TRUNC) | libc::O_RDWR | libc::O_CREAT,
        mode: 0o600,
    }
}

/// Create the database at `path` afresh for a run: the first trace's hash size and flags,
/// holding the pre-existing records.
pub fn prepare<B: Backend>(
    path: &Path,
    traces: &[Trace],
    records: &[Preexisting],
) -> TdbResult<()> {
    let refused = |error: scratch::ScratchError| {
        TdbError::with_detail(crate::backend::ErrorKind::Io, error.to_string())
    };
    scratch::replace(path).map_err(refused)?;
    let first = traces.first().map(worker_options).unwrap_or(OpenOptions {
        hash_size: 131,
        tdb_flags: tdb_flags::NOSYNC,
        open_flags: libc::O_RDWR | libc::O_CREAT,
        mode: 0o600,
    });
    // Exclusive: a file that appeared since the check above is not ours to truncate.
    let options = OpenOptions {
        open_flags: libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
        ..first
    };
    let mut db = B::open(path, &options)?;
    scratch::mark(path).map_err(refused)?;
    for record in records {
        db.store(&record.key, &record.data, StoreFlag::Insert)?;
    }
    db.close()
}
