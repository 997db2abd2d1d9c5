//! Generating trace sets: a [`torture`](crate::torture) run with every process recorded,
//! as tdb's own tracing would have. The result is a real multi-process trace set
//! (sequence numbers, races and all) that needs no corpus, for the built-in example and
//! for tests.

use std::io;
use std::path::{Path, PathBuf};

use crate::backend::Backend;
use crate::record::{self, Layout, RecordOptions};
use crate::torture::{self, Mix, TortureOptions};

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Concurrent processes (one trace each).
    pub processes: usize,
    /// Top-level operations per process (a transaction or traverse counts as one).
    pub ops: usize,
    /// Seed of the random workload (process k uses seed + k).
    pub seed: u64,
    /// Hash size of the database (small sizes make chains collide, as tdbtorture does).
    pub hash_size: u32,
    /// Number of distinct keys of each kind (shared, and private to each process).
    pub keys: usize,
    /// Also use the ops tdbtorture never ran concurrently: firstkey/nextkey walks,
    /// all-record read locks and wipe_all. Their locks are held across calls in ways no
    /// dependency analysis can see, so concurrent replays of such traces may need
    /// back-offs or fail with tdb lock errors; single-process traces replay fine.
    pub exotic: bool,
    /// The trace layout.
    pub layout: Layout,
    /// Open with robust mutexes (`TDB_MUTEX_LOCKING | TDB_CLEAR_IF_FIRST`), as Samba does.
    pub mutex: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            processes: 3,
            ops: 400,
            seed: 1,
            hash_size: 7,
            keys: 20,
            exotic: false,
            layout: Layout::Ccan,
            mutex: false,
        }
    }
}

/// Run the workload with backend `B` on `dir/<name>.tdb`, recording every process;
/// returns the trace files written (`dir/<name>.tdb.trace.<pid>`, sorted). The traces
/// of an earlier recording of that database in `dir` are replaced (if tdb-replay wrote
/// them). The process must be single-threaded (it forks).
pub fn generate<B: Backend>(
    dir: &Path,
    name: &str,
    options: &GenerateOptions,
) -> io::Result<Vec<PathBuf>> {
    let db_name = format!("{name}.tdb");
    record::dir::prepare(dir, &db_name).map_err(io::Error::other)?;
    let torture = TortureOptions {
        processes: options.processes,
        mix: Mix {
            ops: options.ops,
            keys: options.keys,
            transactions: true,
            exotic: options.exotic,
            always_transactions: false,
        },
        seed: options.seed,
        hash_size: options.hash_size,
        record: Some(RecordOptions {
            dir: dir.to_path_buf(),
            // Only Samba's tdb has mutexes, and readers take such traces for Samba's.
            layout: if options.mutex {
                Layout::Samba
            } else {
                options.layout
            },
            retry_lock_errors: true,
        }),
        kills: 0,
        mutex: options.mutex,
    };
    let report = torture::run::<B, B>(&dir.join(&db_name), &torture).map_err(io::Error::other)?;
    Ok(report.traces)
}
