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
/// database is private to one process, and CLEAR_IF_FIRST would let the first worker
/// wipe the prepared records (it is kept where the supervisor holds the active lock, see
/// [`ActiveGuard`]).
const STRIPPED: u32 = tdb_flags::CLEAR_IF_FIRST | tdb_flags::INTERNAL;

/// Open flags that make no sense for a shared scratch file: `O_TRUNC`, and `O_EXCL`
/// (tdbrestore creates its database with it; every worker opens the prepared file).
const O_STRIPPED: i32 = libc::O_TRUNC | libc::O_EXCL;

/// How chain and all-record locks are taken in a replay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Locking {
    /// As the traces' opens say: a trace opened with `TDB_MUTEX_LOCKING` replays on a
    /// robust-mutex file (and keeps its `TDB_CLEAR_IF_FIRST`, which Samba always passes
    /// with it).
    #[default]
    Recorded,
    /// fcntl locks only: `TDB_MUTEX_LOCKING` is dropped (to compare with `Recorded` on
    /// the same workload).
    Fcntl,
}

/// How a forked worker opens the database for `trace`: its own hash size and flags, minus
/// the stripped ones, plus `TDB_NOSYNC` (the replay measures tdb, not the disk). A
/// mutex trace keeps `TDB_CLEAR_IF_FIRST` under [`Locking::Recorded`]: the supervisor
/// holds the active lock for the whole run, so no worker is the first.
pub fn worker_options(trace: &Trace, locking: Locking) -> OpenOptions {
    let mut options = in_process_options(trace, locking);
    let recorded = trace.open.tdb_flags;
    if options.tdb_flags & tdb_flags::MUTEX_LOCKING != 0 {
        options.tdb_flags |= recorded & tdb_flags::CLEAR_IF_FIRST;
    }
    options
}

/// How a handle in the supervisor's own process opens the database (a single trace run
/// in process, `diff`, the preparation): as [`worker_options`] but never with
/// `TDB_CLEAR_IF_FIRST`, since no other process holds the file open for it.
pub fn in_process_options(trace: &Trace, locking: Locking) -> OpenOptions {
    let mut stripped = STRIPPED;
    if locking == Locking::Fcntl {
        stripped |= tdb_flags::MUTEX_LOCKING;
    }
    OpenOptions {
        hash_size: trace.open.hash_size,
        tdb_flags: (trace.open.tdb_flags & !stripped) | tdb_flags::NOSYNC,
        open_flags: (trace.open.open_flags as i32 & !O_STRIPPED) | libc::O_RDWR | libc::O_CREAT,
        mode: 0o600,
    }
}

/// A read lock on tdb's `ACTIVE_LOCK` byte, held by the supervisor while workers run: to
/// tdb this is a process that has the database open with `TDB_CLEAR_IF_FIRST`, so a
/// worker opening with that flag does not wipe the prepared records, and a worker opening
/// a mutex file does not initialise its mutexes again under another worker's feet.
/// Released on drop. (The supervisor must open no tdb handle on the file meanwhile: closing
/// it would drop this lock, as POSIX locks belong to the process.)
#[derive(Debug)]
pub struct ActiveGuard {
    _file: std::fs::File,
}

impl ActiveGuard {
    /// Take the lock on the database at `path` (which must exist).
    pub fn take(path: &Path) -> std::io::Result<ActiveGuard> {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new().read(true).open(path)?;
        // SAFETY: `flock` is a plain C struct of integers, for which all-zero is valid.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = libc::F_RDLCK as _;
        lock.l_whence = libc::SEEK_SET as _;
        lock.l_start = 4; // ACTIVE_LOCK
        lock.l_len = 1;
        // SAFETY: a valid descriptor owned by `file` and an initialised `flock`.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLKW, &lock) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(ActiveGuard { _file: file })
    }
}

/// Create the database at `path` afresh for a run: the creating open's hash size and flags
/// (a robust-mutex file if it opened with `TDB_MUTEX_LOCKING` and `locking` keeps it),
/// holding the pre-existing records.
pub fn prepare<B: Backend>(
    path: &Path,
    traces: &[Trace],
    records: &[Preexisting],
    locking: Locking,
) -> TdbResult<()> {
    let refused = |error: scratch::ScratchError| {
        TdbError::with_detail(crate::backend::ErrorKind::Io, error.to_string())
    };
    scratch::replace(path).map_err(refused)?;
    // The open that created the file in the recording shapes it (not the first trace
    // given: see `trace::opens`).
    let first = crate::trace::creating_open(traces)
        .map(|creator| in_process_options(&traces[creator], locking))
        .unwrap_or(OpenOptions {
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
