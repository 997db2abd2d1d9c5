//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Replay recorded tdb workloads (one trace file per process) against Samba's C tdb or
/// the pure-Rust engine, concurrently, checking every result.
#[derive(Parser, Debug)]
#[command(name = "tdb-replay", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Replay trace files together against a database and check every result.
    Replay(ReplayArgs),
    /// Run traces on C tdb and tdb-pure in lock step and report the first difference.
    Diff(DiffArgs),
    /// Minimise a failing trace set (delta debugging) and write the smallest that still
    /// fails the same way.
    Shrink(ShrinkArgs),
    /// Load and analyse traces, print the replay plan, run nothing.
    Analyse(AnalyseArgs),
    /// Run a random multi-process workload on one database (one engine, or C tdb and
    /// tdb-pure at once) and check the database holds what its operations imply.
    Torture(TortureArgs),
    /// Record a new multi-process trace set by running a random torture workload.
    Generate(GenerateArgs),
    /// Generate the built-in example trace set and replay it.
    Example(ExampleArgs),
    /// Measure load, analysis and replay on both backends, against bare backend calls.
    Bench(BenchArgs),
    /// Time single operations on C tdb and tdb-pure side by side, at several sizes.
    Microbench(MicrobenchArgs),
    /// Print every record of a database, in the format of Samba's tdbdump.
    Dump(InspectArgs),
    /// Check a database's invariants; exit 0 only if it is sound.
    Check(InspectArgs),
    /// Roll back a commit that a crash interrupted (what the next read-write opener
    /// does), then check the database; `check` and `dump` open read-only and refuse such
    /// a file.
    Recover(RecoverArgs),
}

#[derive(Args, Debug)]
pub struct RecoverArgs {
    /// Engine that runs the recovery (`pure` also puts the space the interrupted commit
    /// had added back on the freelist, and so does it for a commit C's recovery rolled
    /// back earlier, as long as nothing references that space yet; C's recovery leaves
    /// it unreferenced).
    #[arg(long, value_enum, default_value = "pure")]
    pub backend: BackendChoice,
    /// The database file.
    pub tdbfile: PathBuf,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Engine to read the file with (`pure` also catches circular chains on which C tdb
    /// can loop forever).
    #[arg(long, value_enum, default_value = "c")]
    pub backend: BackendChoice,
    /// The database file.
    pub tdbfile: PathBuf,
}

/// Which tdb implementation runs the operations.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// Samba's C tdb 1.4.8 (vendored, statically linked).
    C,
    /// tdb-pure, the pure-Rust engine.
    Pure,
}

/// Which engines a concurrent run uses.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineChoice {
    /// Samba's C tdb 1.4.8 in every worker.
    C,
    /// tdb-pure in every worker.
    Pure,
    /// C tdb and tdb-pure workers on one file at once, alternately (the first trace on
    /// C, the second on tdb-pure, ...): proves the two lock protocols compatible.
    Mixed,
}

/// How a replay locks (`--locking`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockingArg {
    /// As recorded: robust mutexes where the trace's tdb_open passed TDB_MUTEX_LOCKING.
    Recorded,
    /// fcntl locks only (TDB_MUTEX_LOCKING dropped from every open).
    Fcntl,
}

/// Which program wrote the traces (it decides how a few ambiguous lines read).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlavourArg {
    /// Detect per file (Samba-only lines or flags; ccan otherwise).
    Auto,
    /// ccan tdb (2009-2012), which wrote the classic torture and ldb traces.
    Ccan,
    /// Samba tdb.
    Samba,
}

/// Options for reading traces.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Which program wrote the traces.
    #[arg(long, value_enum, default_value = "auto")]
    pub flavour: FlavourArg,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Backend to replay against (`mixed`: the traces alternate between C and tdb-pure
    /// worker processes on one file).
    #[arg(long, value_enum, default_value = "c")]
    pub backend: EngineChoice,
    /// Print only the figures: one line per run with its replay time in microseconds.
    #[arg(long, short)]
    pub quiet: bool,
    /// Number of timed runs (the analysis is done once; every run starts from a fresh
    /// database).
    #[arg(long = "runs", short = 'n', default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Milliseconds with every worker stuck (waiting for another trace, or asleep on a
    /// lock inside the engine) and no progress before a run counts as deadlocked and
    /// backs off.
    #[arg(long, default_value_t = replay_engine::replay::DEFAULT_DEADLOCK_AFTER_MS)]
    pub deadlock_after_ms: u64,
    /// Give up after this many deadlock back-offs.
    #[arg(long, default_value_t = 64)]
    pub max_backoffs: usize,
    /// Abort a run after this many seconds without any progress.
    #[arg(long, default_value_t = 120)]
    pub stall_after_s: u64,
    /// Lock as the traces opened the database (`recorded`: robust mutexes where they
    /// passed TDB_MUTEX_LOCKING), or with fcntl locks only (`fcntl`), to compare the two
    /// on one workload.
    #[arg(long, value_enum, default_value = "recorded")]
    pub locking: LockingArg,
    /// Replace the database file even if tdb-replay did not create it (by default an
    /// existing file the tool did not create is refused, never truncated).
    #[arg(long)]
    pub overwrite: bool,
    /// Print one JSON document on stdout (the human report goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Do not time every op (no latency table).
    #[arg(long)]
    pub no_latency: bool,
    /// Neither read nor update the back-off cache beside the database
    /// (`.<name>.tdb-replay-backoffs`, the back-offs earlier replays of the same plan
    /// learned).
    #[arg(long)]
    pub no_backoff_cache: bool,
    /// Do not predict lock-order inversions before the first run (waits inside a
    /// traverse or transaction on a trace that takes the transaction lock first).
    #[arg(long)]
    pub no_predict: bool,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub record: RecordArgs,
    /// The scratch database (created afresh for every run, kept afterwards), then the
    /// trace files, one per process (plain, .gz or .zst). Without a TDBFILE (the first
    /// path is an existing trace file) the tool makes a new directory under the system's
    /// temporary directory and prints the database's path there.
    #[arg(required = true, value_name = "[TDBFILE] TRACES")]
    pub paths: Vec<PathBuf>,
    /// The scratch database, from `paths` ([`ReplayArgs::resolve_paths`]).
    #[arg(skip)]
    pub tdbfile: PathBuf,
    /// The trace files, from `paths`.
    #[arg(skip)]
    pub traces: Vec<PathBuf>,
}

impl ReplayArgs {
    /// Split `paths` into the scratch database and the traces: the first path is the
    /// database unless it is an existing file that reads as a trace (or the only path).
    pub fn resolve_paths(
        &mut self,
        fresh: impl FnOnce() -> std::io::Result<PathBuf>,
    ) -> std::io::Result<()> {
        let first_is_trace = self.paths.len() == 1 || looks_like_trace(&self.paths[0]);
        if first_is_trace {
            if let Some(missing) = self.paths.iter().find(|path| !path.is_file()) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{}: no such trace file", missing.display()),
                ));
            }
            self.tdbfile = fresh()?;
            self.traces = self.paths.clone();
        } else {
            self.tdbfile = self.paths[0].clone();
            self.traces = self.paths[1..].to_vec();
        }
        Ok(())
    }
}

/// Whether `path` is an existing file that starts as a trace does: zstd or gzip magic,
/// or a line starting with a digit (a tdb file starts with "TDB file").
pub fn looks_like_trace(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut start = [0u8; 4];
    let Ok(n) = std::fs::File::open(path).and_then(|mut file| file.read(&mut start)) else {
        return false;
    };
    let start = &start[..n];
    start.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || start.starts_with(&[0x1f, 0x8b])
        || start.first().is_some_and(u8::is_ascii_digit)
}

/// Recording what a run does, as tdb's own trace files.
#[derive(Args, Debug, Clone)]
pub struct RecordArgs {
    /// Record what the run does as tdb trace files (`<db name>.trace.<pid>`, one per
    /// process) in this directory; the tool's earlier traces of the same database there
    /// are replaced, anyone else's are refused.
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// The trace layout to record in (they differ in `tdb_append` and nested
    /// transactions).
    #[arg(long, value_enum, default_value = "ccan", requires = "record")]
    pub layout: LayoutArg,
}

/// The layout of recorded traces.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutArg {
    /// ccan tdb's (which the classic trace sets and ccan's replay_trace use).
    Ccan,
    /// Samba tdb's.
    Samba,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Also replay the traces concurrently (one worker per trace, as `replay` does) on C,
    /// on tdb-pure and mixed, and compare the three final databases.
    #[arg(long)]
    pub concurrent: bool,
    /// Directory for the databases (`c.tdb`, `pure.tdb`, ...; must not hold other
    /// files of those names). Default: a new temporary directory, removed when the
    /// engines agree and kept when they do not.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print only the verdict.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print one JSON document on stdout (the human report goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Replace the databases in --dir even if tdb-replay did not create it (by default an
    /// existing file the tool did not create is refused, never truncated).
    #[arg(long)]
    pub overwrite: bool,

    #[command(flatten)]
    pub load: LoadArgs,
    /// Trace files, one per process (plain, .gz or .zst).
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ShrinkArgs {
    /// Shrink a set on which C tdb and tdb-pure diverge under `diff` (the default).
    #[arg(long, conflicts_with = "backend")]
    pub diff: bool,
    /// Shrink a set whose concurrent replay on this backend fails: a result that differs
    /// from the trace, or a deadlock no back-off resolves.
    #[arg(long, value_enum)]
    pub backend: Option<EngineChoice>,
    /// Directory for the shrunk traces (created if needed); each is written under its
    /// original file name, without `.zst` or `.gz`.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace files in --out even if tdb-replay did not create them (by default an
    /// existing file the tool did not create is refused, never overwritten).
    #[arg(long)]
    pub overwrite: bool,
    /// With --backend: milliseconds with every worker blocked before a candidate's run
    /// counts as deadlocked (short, so no candidate holds the shrinker up).
    #[arg(long, default_value_t = 100)]
    pub deadlock_after_ms: u64,
    /// With --backend: back-offs allowed per candidate.
    #[arg(long, default_value_t = 8)]
    pub max_backoffs: usize,
    /// With --backend: abandon a candidate's run after this many seconds without
    /// progress.
    #[arg(long, default_value_t = 10)]
    pub stall_after_s: u64,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Trace files, one per process (plain, .gz or .zst).
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AnalyseArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Also print every dependency (`file:line waits for file:line`).
    #[arg(long)]
    pub dependencies: bool,
    /// Also print statistics: op mix, key access skew, the busiest hash chains, the
    /// cross-trace dependencies, transaction and traverse sizes.
    #[arg(long)]
    pub stats: bool,
    /// How many hottest keys, chains and dependency targets `--stats` lists.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print one JSON document on stdout (the human report goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Trace files, one per process.
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Backend the workload runs on.
    #[arg(long, value_enum, default_value = "c")]
    pub backend: BackendChoice,
    /// Directory for the traces (`<name>.<k>.trace`) and the database.
    #[arg(long, default_value = "generated")]
    pub dir: PathBuf,
    /// Base name of the files.
    #[arg(long, default_value = "torture")]
    pub name: String,
    /// Concurrent processes, one trace each.
    #[arg(long, default_value_t = 3)]
    pub processes: usize,
    /// Top-level operations per process.
    #[arg(long, default_value_t = 400)]
    pub ops: usize,
    /// Seed of the random workload.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Hash size of the database.
    #[arg(long, default_value_t = 7)]
    pub hash_size: u32,
    /// Distinct keys.
    #[arg(long, default_value_t = 40)]
    pub keys: usize,
    /// Also use firstkey/nextkey walks, all-record read locks and wipe_all (their locks
    /// are invisible to the dependency analysis, so concurrent sets may need back-offs).
    #[arg(long)]
    pub exotic: bool,
    /// The trace layout.
    #[arg(long, value_enum, default_value = "ccan")]
    pub layout: LayoutArg,
}

#[derive(Args, Debug)]
pub struct TortureArgs {
    /// Engine of the processes (`mixed`: C tdb and tdb-pure alternately, on one file).
    #[arg(long, value_enum, default_value = "c")]
    pub backend: EngineChoice,
    /// Concurrent processes.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub procs: u32,
    /// Top-level operations per process (a transaction or traverse counts as one).
    #[arg(long, default_value_t = 1000)]
    pub ops: usize,
    /// Seed of the random workload (process k uses seed + k); default: from the clock,
    /// printed so a run can be repeated.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also run transactions (committed, cancelled, some prepared first).
    #[arg(long)]
    pub transactions: bool,
    /// Also firstkey/nextkey walks, all-record read locks and wipe_all.
    #[arg(long)]
    pub exotic: bool,
    /// Kill this many processes with SIGKILL at random moments, restarting each
    /// (tdbtorture's -k); every write then runs in a transaction, the only writes tdb
    /// promises to survive a kill.
    #[arg(long, default_value_t = 0)]
    pub kill: usize,
    /// Distinct keys of each kind (shared by all, and private to each process).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub keys: u32,
    /// Hash size of the database (small sizes make chains collide).
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    pub hash_size: u32,
    /// Open with robust mutexes (TDB_MUTEX_LOCKING | TDB_CLEAR_IF_FIRST), as Samba opens
    /// its busy databases; traces are then recorded in Samba's layout (only Samba's tdb has
    /// mutexes).
    #[arg(long)]
    pub mutex: bool,
    /// Replace the database file even if tdb-replay did not create it (by default an
    /// existing file the tool did not create is refused, never truncated).
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub record: RecordArgs,
    /// The database to create and torture (kept afterwards). Without it, the tool makes
    /// a new directory under the system's temporary directory and prints the path.
    #[arg(value_name = "TDBFILE")]
    pub path: Option<PathBuf>,
    /// The database: `path`, or the fresh one chosen for it.
    #[arg(skip)]
    pub tdbfile: PathBuf,
}

#[derive(Args, Debug)]
pub struct ExampleArgs {
    /// Engine of the recorded torture run (`mixed`: C tdb and tdb-pure processes at
    /// once).
    #[arg(long, value_enum, default_value = "mixed")]
    pub backend: EngineChoice,
    /// Directory for the example's traces and database.
    #[arg(long, default_value = "example")]
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Timed replay runs per measurement.
    #[arg(long, short = 'n', default_value_t = 5)]
    pub runs: u32,
    /// Scratch database (kept afterwards). With both backends, the differential runs use
    /// two more beside it, named after it (`bench.diff-c.tdb`, `bench.diff-pure.tdb`),
    /// removed when the engines agree.
    #[arg(long, default_value = "bench.tdb")]
    pub tdbfile: PathBuf,
    /// Replace the database files even if tdb-replay did not create them (by default an
    /// existing file the tool did not create is refused, never truncated).
    #[arg(long)]
    pub overwrite: bool,

    /// Backends to measure; with both, the ratio pure/C is printed, and the mixed replay
    /// and the differential test (`diff`) are timed against the C replay too.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: BenchBackends,
    /// Print one JSON document on stdout (the human report goes to stderr).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Trace files, one per process.
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
}

/// Which backends `bench` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchBackends {
    /// The C tdb.
    C,
    /// tdb-pure.
    Pure,
    /// Both, in the same run, with their ratio; then the mixed replay and `diff`.
    Both,
}

#[derive(Args, Debug)]
pub struct MicrobenchArgs {
    /// Database sizes to measure at, in records.
    #[arg(long, value_delimiter = ',', default_values_t = [100usize, 1000, 10000])]
    pub records: Vec<usize>,
    /// Operations per timed workload (transactions of one store run a tenth as many,
    /// of 1000 stores a thousandth).
    #[arg(long, default_value_t = 20000)]
    pub ops: usize,
    /// Hash chains of the databases (0: tdb's default, 131).
    #[arg(long, default_value_t = 0)]
    pub hash_size: u32,
    /// Runs per size; the best time of each workload is kept.
    #[arg(long, short = 'n', default_value_t = 3)]
    pub runs: u32,
    /// Where to put the scratch databases (default: a temporary directory, removed after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Backends to measure (one alone is for profiling it).
    #[arg(long, value_enum, default_value = "both")]
    pub backend: BenchBackends,
    /// Print one JSON document on stdout (the human report goes to stderr).
    #[arg(long)]
    pub json: bool,
}
