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
mod wipe;
pub mod workload;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::backend::engines::{EngineVisitor, Engines, Pair};
use crate::backend::{tdb_flags, Backend, OpenOptions, TdbError};
use crate::process;
use crate::record::{self, RecordOptions, Recording};
use crate::replay::shared::{Activity, SharedState};
use crate::scratch;
pub use expectations::{is_dead_space_to_end_of_file, verify, Verified};
pub use wipe::{restart_wiping, WipeRestart};
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
    /// Kill this many processes at random moments with SIGKILL, each restarted as a new
    /// generation with keys of its own (tdbtorture's `-k`). Use with
    /// [`Mix::always_transactions`]: tdb promises nothing to a write killed outside a
    /// transaction.
    pub kills: usize,
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
                always_transactions: false,
            },
            seed: 1,
            hash_size: 7,
            record: None,
            kills: 0,
            mutex: false,
        }
    }
}

/// The database's flags: sequence numbers and no fsync.
pub const FLAGS: u32 = tdb_flags::SEQNUM | tdb_flags::NOSYNC;

/// Added with [`TortureOptions::mutex`]: robust mutexes, with the `TDB_CLEAR_IF_FIRST`
/// Samba always passes beside them.
pub const MUTEX_FLAGS: u32 = tdb_flags::MUTEX_LOCKING | tdb_flags::CLEAR_IF_FIRST;

/// How long a torture run may go without any process finishing a step before it counts
/// as stuck.
const STALL: Duration = Duration::from_secs(60);

/// What a torture run did.
#[derive(Debug)]
pub struct TortureReport {
    /// What each process's operations imply, in process order.
    pub expectations: Vec<Expectations>,
    /// From the first fork to the last exit.
    pub elapsed: Duration,
    /// The trace files recorded, sorted (empty when not recording).
    pub traces: Vec<PathBuf>,
    /// Processes killed (and restarted).
    pub kills: usize,
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

/// Whether the file at `path` is a robust-mutex tdb: its header, read by tdb-pure's header
/// module in whichever byte order it was written, carries the feature-flag marker and the
/// mutex feature. A file without a readable header is not one.
pub fn has_mutex_feature(path: &Path) -> bool {
    tdb_pure::header::Header::read_file(path).is_ok_and(|header| header.has_mutexes())
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
    run_engines::<Pair<Even, Odd>>(db_path, options)
}

/// [`run`] with any number of engines taking turns: generation `g` of process `k` runs
/// on engine `(k + g) % E::count()`; the first engine creates the file.
pub fn run_engines<E: Engines>(
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
    E::visit(0, Create { db_path, fresh })
        .map_err(|error| setup(format!("cannot create it: {error}")))?;
    scratch::mark(db_path).map_err(|error| TortureError::Setup(error.to_string()))?;
    // With TDB_CLEAR_IF_FIRST (mutex files), a process that finds no other has the file
    // open wipes it: a restarted one would wipe the others' records. This process holds
    // tdb's active lock through the run, so none is ever the first.
    let _active = if options.mutex {
        Some(
            crate::replay::database::ActiveGuard::take(db_path)
                .map_err(|error| setup(format!("cannot hold it open: {error}")))?,
        )
    } else {
        None
    };

    // A start barrier: every process opens the database, then all start together.
    let barrier = SharedState::new(options.processes)
        .map_err(|error| setup(format!("cannot map shared memory: {error}")))?;
    barrier.reset();
    let results = tempfile::tempdir()
        .map_err(|error| setup(format!("cannot make a temporary directory: {error}")))?;
    let mut slots = Slots::<E> {
        db_path,
        open,
        options,
        barrier: &barrier,
        results: results.path(),
        running: Vec::with_capacity(options.processes),
        finished: Vec::new(),
        kinds: std::marker::PhantomData,
    };
    let started = Instant::now();
    for k in 0..options.processes {
        if let Err(error) = slots.start(k, 0) {
            slots.kill_all();
            return Err(setup(format!("cannot fork: {error}")));
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
    let kills = slots
        .kill_and_restart()
        .map_err(|error| setup(format!("cannot fork: {error}")))?;
    slots
        .wait_all()
        .map_err(|message| TortureError::Process(format!("{}: {message}", db_path.display())))?;
    let elapsed = started.elapsed();
    let failed: Vec<String> = slots
        .finished
        .iter()
        .filter_map(|end| match end.exit {
            Some(exit) if exit.success() || end.killed => None,
            Some(exit) => Some(format!("process {} {exit}", end.process)),
            None => Some(format!("process {} vanished", end.process)),
        })
        .collect();
    if !failed.is_empty() {
        return Err(TortureError::Process(format!(
            "{} (its message is above)",
            failed.join("; ")
        )));
    }
    let mut all = Vec::with_capacity(slots.finished.len());
    for end in &slots.finished {
        let (k, generation) = (end.process, end.generation);
        let what = |error: String| {
            TortureError::Process(format!("process {k} (generation {generation}): {error}"))
        };
        let expect = if end.killed {
            expectations::read_intents(
                &slots.intents_path(k, generation),
                &workload::private_prefix(k, generation),
            )
        } else {
            std::fs::read_to_string(slots.result_path(k, generation))
                .map_err(|error| error.to_string())
                .and_then(|text| expectations::decode(&text))
        }
        .map_err(what)?;
        all.push(expect);
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
        kills,
    })
}

/// Creates the file with the first engine.
struct Create<'a> {
    db_path: &'a Path,
    fresh: OpenOptions,
}

impl EngineVisitor for Create<'_> {
    type Output = Result<(), TdbError>;

    fn visit<B: Backend>(self) -> Self::Output {
        B::open(self.db_path, &self.fresh).and_then(B::close)
    }
}

/// [`process_main`] on one engine, recording when asked.
struct Process<'a> {
    db_path: &'a Path,
    open: &'a OpenOptions,
    run: &'a ProcessRun<'a>,
    options: &'a TortureOptions,
    barrier: &'a SharedState,
}

impl EngineVisitor for Process<'_> {
    type Output = Result<Expectations, String>;

    fn visit<B: Backend>(self) -> Self::Output {
        process_main::<Recording<B>>(
            self.db_path,
            self.open,
            self.run,
            self.options,
            self.barrier,
        )
    }
}

/// How one process ended.
struct Ended {
    process: usize,
    generation: usize,
    killed: bool,
    exit: Option<process::Exit>,
}

/// The torture processes: which run, how the finished ones ended, and how to start one.
struct Slots<'a, E> {
    db_path: &'a Path,
    open: OpenOptions,
    options: &'a TortureOptions,
    barrier: &'a SharedState,
    results: &'a Path,
    /// (pid, generation) of the process running in each slot, if any.
    running: Vec<Option<(i32, usize)>>,
    finished: Vec<Ended>,
    kinds: std::marker::PhantomData<E>,
}

impl<E: Engines> Slots<'_, E> {
    fn result_path(&self, k: usize, generation: usize) -> PathBuf {
        self.results.join(format!("result.{k}.{generation}"))
    }

    fn intents_path(&self, k: usize, generation: usize) -> PathBuf {
        self.results.join(format!("intents.{k}.{generation}"))
    }

    /// Fork generation `generation` of process `k`. Generations alternate engines, so
    /// that with two engines a killed process's successor is of the other one.
    fn start(&mut self, k: usize, generation: usize) -> std::io::Result<()> {
        let result_path = self.result_path(k, generation);
        let intents_path = self.intents_path(k, generation);
        let (db_path, open, options, barrier) =
            (self.db_path, &self.open, self.options, self.barrier);
        let body = || {
            let run = ProcessRun {
                k,
                generation,
                intents: (options.kills > 0).then_some(intents_path.as_path()),
            };
            let outcome = E::visit(
                k + generation,
                Process {
                    db_path,
                    open,
                    run: &run,
                    options,
                    barrier,
                },
            );
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
        let pid = process::spawn(body)?;
        if self.running.len() <= k {
            self.running.resize(k + 1, None);
        }
        self.running[k] = Some((pid, generation));
        Ok(())
    }

    /// Reap the processes that ended by themselves.
    fn reap(&mut self) {
        for k in 0..self.running.len() {
            if let Some((pid, generation)) = self.running[k] {
                if let Ok(Some(exit)) = process::wait(pid, false) {
                    self.running[k] = None;
                    self.finished.push(Ended {
                        process: k,
                        generation,
                        killed: false,
                        exit: Some(exit),
                    });
                }
            }
        }
    }

    /// tdbtorture's `-k`: `options.kills` times, after a random pause, SIGKILL a random
    /// running process and start its next generation. Returns the kills made.
    fn kill_and_restart(&mut self) -> std::io::Result<usize> {
        let mut rng = workload::Rng::new(self.options.seed ^ 0x6b69_6c6c);
        let mut kills = 0;
        while kills < self.options.kills {
            self.reap();
            let live: Vec<usize> = (0..self.running.len())
                .filter(|&k| self.running[k].is_some())
                .collect();
            if live.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200 + rng.below(5000)));
            let k = live[rng.below(live.len() as u64) as usize];
            let Some((pid, generation)) = self.running[k] else {
                continue;
            };
            process::kill(pid);
            let exit = process::wait(pid, true).ok().flatten();
            self.running[k] = None;
            self.claim_trace_of(pid);
            // It may have finished just before the signal.
            let killed = exit != Some(process::Exit::Code(0));
            self.finished.push(Ended {
                process: k,
                generation,
                killed,
                exit,
            });
            kills += usize::from(killed);
            self.start(k, generation + 1)?;
        }
        Ok(kills)
    }

    /// A process killed between creating its trace file and marking it as the tool's
    /// left a file only this torture run can have made: mark it, so a later recording
    /// may replace it.
    fn claim_trace_of(&self, pid: i32) {
        if let Some(recording) = &self.options.record {
            let path = recording
                .dir
                .join(record::trace_file_name(self.db_path, pid as u32));
            if path.exists() && !scratch::is_ours(&path) {
                let _ = scratch::mark(&path);
            }
        }
    }

    /// Wait for every process to end; if none makes progress for [`STALL`] (the engines
    /// deadlocked among themselves), kill them all and say so.
    fn wait_all(&mut self) -> Result<(), String> {
        let mut last = self.progress();
        let mut changed = Instant::now();
        loop {
            self.reap();
            if self.running.iter().all(Option::is_none) {
                return Ok(());
            }
            let now = self.progress();
            if now != last {
                (last, changed) = (now, Instant::now());
            } else if changed.elapsed() >= STALL {
                self.kill_all();
                return Err(format!(
                    "no process made progress for {} s: the engines are stuck on each \
                     other's locks",
                    STALL.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The steps every slot has reported.
    fn progress(&self) -> Vec<u32> {
        (0..self.options.processes)
            .map(|k| {
                self.barrier
                    .slot(k)
                    .progress
                    .load(std::sync::atomic::Ordering::SeqCst)
            })
            .collect()
    }

    fn kill_all(&mut self) {
        for (pid, _) in self.running.iter_mut().filter_map(Option::take) {
            process::kill(pid);
            let _ = process::wait(pid, true);
        }
    }
}

/// Which process a body runs.
struct ProcessRun<'p> {
    k: usize,
    generation: usize,
    /// Where to note values before writing them (when processes may be killed).
    intents: Option<&'p Path>,
}

/// The body of process `k`: open, run the workload, close.
fn process_main<B: Backend>(
    db_path: &Path,
    open: &OpenOptions,
    run: &ProcessRun<'_>,
    options: &TortureOptions,
    barrier: &SharedState,
) -> Result<Expectations, String> {
    let k = run.k;
    let intents = match run.intents {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| format!("cannot note intents: {error}"))?,
        ),
        None => None,
    };
    let opened = B::open_recorded(db_path, open, options.record.as_ref());
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
    let seed = options
        .seed
        .wrapping_add(k as u64)
        .wrapping_add(1000 * run.generation as u64);
    let expect = workload::Workload::new(k, run.generation, seed, &options.mix, intents)
        .with_mutexes(options.mutex)
        .with_progress(|step| barrier.finish_op(k, step))
        .run(&mut db)
        .map_err(|violation| violation.to_string())?;
    db.close().map_err(|error| format!("close: {error}"))?;
    Ok(expect)
}
