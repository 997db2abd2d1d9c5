//! `torture`: several processes run a random workload ([`workload`]) on one database at
//! once, on one engine or on C tdb and tdb-pure alternately (`mixed`), optionally
//! recording tdb's own trace of every process ([`crate::record`]). Each process checks
//! every read of its own keys as it goes; at the end [`verify`] opens the database with
//! an engine and checks it holds exactly what the processes' successful operations imply
//! ([`expectations`]).
//!
//! The traces it records are real multi-process trace sets (sequence numbers, races and
//! all) that need no corpus: the built-in example and the tests replay and diff them.

mod expectations;
pub mod workload;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::backend::{tdb_flags, Backend, OpenOptions};
use crate::process;
use crate::record::{self, RecordOptions, Recording};
use crate::replay::shared::{Activity, SharedState};
use crate::scratch;
pub use expectations::{verify, Verified};
pub use workload::{Expectations, Mix, Violation};

/// How to torture.
#[derive(Clone, Debug)]
pub struct TortureOptions {
    /// Concurrent processes.
    pub processes: usize,
    /// The workload of each.
    pub mix: Mix,
    /// Seed of the workload (process k uses seed + k).
    pub seed: u64,
    /// Hash size of the database (small sizes make chains collide, as tdbtorture does).
    pub hash_size: u32,
    /// Record each process's trace (the directory must have been made ready with
    /// [`record::dir::prepare`]).
    pub record: Option<RecordOptions>,
    /// Open with robust mutexes, as Samba opens its busy databases
    /// ([`MUTEX_FLAGS`] on top of [`FLAGS`]).
    pub mutex: bool,
}

impl Default for TortureOptions {
    fn default() -> Self {
        TortureOptions {
            processes: 3,
            mix: Mix {
                ops: 400,
                keys: 20,
                transactions: true,
                exotic: false,
            },
            seed: 1,
            hash_size: 7,
            record: None,
            mutex: false,
        }
    }
}

/// The database's flags: sequence numbers and no fsync.
pub const FLAGS: u32 = tdb_flags::SEQNUM | tdb_flags::NOSYNC;

/// Added with [`TortureOptions::mutex`]: robust mutexes, with the `TDB_CLEAR_IF_FIRST`
/// Samba always passes beside them.
pub const MUTEX_FLAGS: u32 = tdb_flags::MUTEX_LOCKING | tdb_flags::CLEAR_IF_FIRST;

/// What a torture run did.
#[derive(Debug)]
pub struct TortureReport {
    /// What each process's operations imply, in process order.
    pub expectations: Vec<Expectations>,
    /// From the first fork to the last exit.
    pub elapsed: Duration,
    /// The trace files recorded, sorted (empty when not recording).
    pub traces: Vec<PathBuf>,
}

/// Why a torture run failed.
#[derive(Debug)]
pub enum TortureError {
    /// The database or the processes could not be set up.
    Setup(String),
    /// A process found the database disagreeing with its own operations, or died.
    Process(String),
}

impl fmt::Display for TortureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TortureError::Setup(message) | TortureError::Process(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for TortureError {}

/// Whether the file at `path` is a robust-mutex tdb: its header carries the feature-flag
/// marker (0x0BAD1A52 at byte 40) and the mutex feature (bit 0 at byte 60), in the
/// host's byte order (as a file made here is).
pub fn has_mutex_feature(path: &Path) -> bool {
    let mut header = [0u8; 64];
    let read = std::fs::File::open(path)
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut header));
    let word = |at: usize| u32::from_ne_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    read.is_ok() && word(40) == 0x0BAD_1A52 && word(60) & 1 != 0
}

/// How every process opens the database.
pub fn open_options(hash_size: u32, mutex: bool) -> OpenOptions {
    OpenOptions {
        hash_size,
        tdb_flags: if mutex { FLAGS | MUTEX_FLAGS } else { FLAGS },
        open_flags: libc::O_RDWR | libc::O_CREAT,
        mode: 0o600,
    }
}

/// Create `db_path` afresh (never over a file the tool did not create) and run the
/// workload in `options.processes` processes: even ones on `Even`, odd ones on `Odd`.
/// The caller must be single-threaded (it forks).
pub fn run<Even: Backend, Odd: Backend>(
    db_path: &Path,
    options: &TortureOptions,
) -> Result<TortureReport, TortureError> {
    let setup = |what: String| TortureError::Setup(format!("{}: {what}", db_path.display()));
    scratch::replace(db_path).map_err(|error| TortureError::Setup(error.to_string()))?;
    let open = open_options(options.hash_size, options.mutex);
    let fresh = OpenOptions {
        open_flags: libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
        ..open
    };
    Even::open(db_path, &fresh)
        .and_then(Even::close)
        .map_err(|error| setup(format!("cannot create it: {error}")))?;
    scratch::mark(db_path).map_err(|error| TortureError::Setup(error.to_string()))?;

    // A start barrier: every process opens the database, then all start together.
    let barrier = SharedState::new(options.processes)
        .map_err(|error| setup(format!("cannot map shared memory: {error}")))?;
    barrier.reset();
    let results = tempfile::tempdir()
        .map_err(|error| setup(format!("cannot make a temporary directory: {error}")))?;
    let started = Instant::now();
    let mut pids = Vec::with_capacity(options.processes);
    for k in 0..options.processes {
        let result_path = results.path().join(format!("{k}"));
        let body = || {
            if let Some(recording) = &options.record {
                record::record_next_open(recording.clone());
            }
            let outcome = if k % 2 == 0 {
                process_main::<Recording<Even>>(db_path, &open, k, options, &barrier)
            } else {
                process_main::<Recording<Odd>>(db_path, &open, k, options, &barrier)
            };
            match outcome.and_then(|expect| {
                std::fs::write(&result_path, expectations::encode(&expect))
                    .map_err(|error| format!("cannot write its result: {error}"))
            }) {
                Ok(()) => 0,
                Err(message) => {
                    eprintln!("torture process {k}: {message}");
                    1
                }
            }
        };
        match process::spawn(body) {
            Ok(pid) => pids.push(pid),
            Err(error) => {
                for pid in pids {
                    process::kill(pid);
                    let _ = process::wait(pid, true);
                }
                return Err(setup(format!("cannot fork: {error}")));
            }
        }
    }
    // Start once every process has opened the database (or given up), so that all of
    // them start from the same state.
    let opened_by = Instant::now() + Duration::from_secs(60);
    while Instant::now() < opened_by
        && (0..options.processes).any(|k| barrier.activity(k) == Activity::Starting)
    {
        std::thread::sleep(Duration::from_micros(200));
    }
    barrier.go();
    let mut failed = Vec::new();
    for (k, pid) in pids.into_iter().enumerate() {
        match process::wait(pid, true) {
            Ok(Some(exit)) if exit.success() => {}
            Ok(Some(exit)) => failed.push(format!("process {k} {exit}")),
            Ok(None) => failed.push(format!("process {k} vanished")),
            Err(error) => failed.push(format!("process {k}: {error}")),
        }
    }
    let elapsed = started.elapsed();
    if !failed.is_empty() {
        return Err(TortureError::Process(format!(
            "{} (its message is above)",
            failed.join("; ")
        )));
    }
    let mut all = Vec::with_capacity(options.processes);
    for k in 0..options.processes {
        let path = results.path().join(format!("{k}"));
        let text = std::fs::read_to_string(&path)
            .map_err(|error| TortureError::Process(format!("process {k}'s result: {error}")))?;
        all.push(
            expectations::decode(&text)
                .map_err(|error| TortureError::Process(format!("process {k}'s result: {error}")))?,
        );
    }
    let traces = match &options.record {
        Some(recording) => {
            let name = db_path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            record::dir::traces_of(&recording.dir, &name)
                .map_err(|error| TortureError::Setup(error.to_string()))?
        }
        None => Vec::new(),
    };
    Ok(TortureReport {
        expectations: all,
        elapsed,
        traces,
    })
}

/// The body of process `k`: open, run the workload, close.
fn process_main<B: Backend>(
    db_path: &Path,
    open: &OpenOptions,
    k: usize,
    options: &TortureOptions,
    barrier: &SharedState,
) -> Result<Expectations, String> {
    let opened = B::open(db_path, open);
    barrier.set_activity(
        k,
        if opened.is_ok() {
            Activity::Ready
        } else {
            Activity::Failed
        },
    );
    let mut db = opened.map_err(|error| format!("open: {error}"))?;
    barrier.wait_for_start();
    let seed = options.seed.wrapping_add(k as u64);
    let expect = workload::Workload::new(k, seed, &options.mix)
        .with_mutexes(options.mutex)
        .run(&mut db)
        .map_err(|violation| violation.to_string())?;
    db.close().map_err(|error| format!("close: {error}"))?;
    Ok(expect)
}
