//! `tdb-replay torture`: a random multi-process workload on one database, on C tdb, on
//! tdb-pure or on both at once, optionally recorded; then the database is checked by
//! both engines, and against what the processes' successful operations imply.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use clap::Args;
use replay_engine::backend::engines::{EngineVisitor, Engines, Pair};
use replay_engine::backend::runtime::{self, EngineSpec, Roster};
use replay_engine::backend::Backend;
use replay_engine::record::Layout;
use replay_engine::torture::{self, Mix, TortureError, TortureOptions, TortureReport};

use crate::args::engine::{self, parse_engines, EngineList, Planned};
use crate::args::{EngineChoice, RecordArgs};
use crate::engine::{sound_to_every, CBackend, PureBackend};
use crate::exit::bad_input;
use crate::files::Recording;
use crate::files::{claim_scratch, fresh_database, prepare_recording};
use crate::timing::show_ms;

/// The arguments of `torture`.
#[derive(Args, Debug)]
pub struct TortureArgs {
    /// Engine of the processes (`mixed`: C tdb and tdb-pure alternately, on one file).
    #[arg(long, value_enum, default_value = "c")]
    pub backend: EngineChoice,
    /// Engines taking turns on one file (process k on engine k mod N; a restarted
    /// process on the next one): c, pure, lib:PATH or lib:PATH=NAME, comma-separated.
    #[arg(long, value_parser = parse_engines, conflicts_with = "backend", value_name = "A,B,...")]
    pub engines: Option<EngineList>,
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
    #[arg(long, default_value_t = KEYS, value_parser = clap::value_parser!(u32).range(1..))]
    pub keys: u32,
    /// Hash size of the database (small sizes make chains collide).
    #[arg(long, default_value_t = HASH_SIZE, value_parser = clap::value_parser!(u32).range(1..))]
    pub hash_size: u32,
    /// Open with robust mutexes (TDB_MUTEX_LOCKING | TDB_CLEAR_IF_FIRST), as Samba opens
    /// its busy databases; traces are then recorded in Samba's layout (only Samba's tdb has
    /// mutexes).
    #[arg(long)]
    pub mutex: bool,
    /// After every process has closed, start one more that opens with
    /// TDB_CLEAR_IF_FIRST (so tdb wipes the database, as at a Samba restart) and runs its
    /// own workload: recorded, a set of two clear-if-first epochs. Its trace is listed
    /// last; give it last to the replay too.
    #[arg(long)]
    pub wipe_restart: bool,
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
}

/// Distinct keys of each kind (`--keys`).
pub const KEYS: u32 = 20;
/// Hash size of the database (`--hash-size`).
pub const HASH_SIZE: u32 = 7;

/// What a torture run does, resolved from [`TortureArgs`].
#[derive(Clone, Debug)]
pub struct TortureSettings {
    /// The engines of the processes.
    pub engine: EngineChoice,
    /// `--engines`, when given (it overrides `engine`).
    pub engines: Vec<EngineSpec>,
    /// Concurrent processes.
    pub procs: usize,
    /// Top-level operations per process.
    pub ops: usize,
    /// Seed of the random workload.
    pub seed: u64,
    /// Also run transactions.
    pub transactions: bool,
    /// Also key walks, all-record locks and wipes.
    pub exotic: bool,
    /// Processes to kill and restart.
    pub kill: usize,
    /// Distinct keys of each kind.
    pub keys: usize,
    /// Hash size of the database.
    pub hash_size: u32,
    /// Open with robust mutexes.
    pub mutex: bool,
    /// Restart one process with TDB_CLEAR_IF_FIRST after the others have closed.
    pub wipe_restart: bool,
    /// Replace the database even if tdb-replay did not create it.
    pub overwrite: bool,
    /// Record the run, if asked.
    pub record: Option<Recording>,
    /// The database.
    pub tdbfile: PathBuf,
}

impl TortureSettings {
    /// `procs` processes of `ops` operations each on `engine`, seeded with `seed`, into
    /// `tdbfile`, with the command line's other defaults.
    pub fn new(
        engine: EngineChoice,
        procs: usize,
        ops: usize,
        seed: u64,
        tdbfile: PathBuf,
    ) -> Self {
        TortureSettings {
            engine,
            engines: Vec::new(),
            procs,
            ops,
            seed,
            transactions: false,
            exotic: false,
            kill: 0,
            keys: KEYS as usize,
            hash_size: HASH_SIZE,
            mutex: false,
            wipe_restart: false,
            overwrite: false,
            record: None,
            tdbfile,
        }
    }
}

impl TryFrom<TortureArgs> for TortureSettings {
    type Error = anyhow::Error;

    /// The settings: the database (a fresh one unless named) and the seed (from the
    /// clock unless given).
    fn try_from(args: TortureArgs) -> Result<TortureSettings> {
        let engines = args.engines.map(|list| list.0).unwrap_or_default();
        // A library that cannot be used is refused before any file is made.
        engine::resolve(&engines)?;
        let tdbfile = match args.path {
            Some(path) => path,
            None => fresh_database("torture.tdb")?,
        };
        let seed = args.seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |since| since.as_secs() % 1_000_000)
        });
        Ok(TortureSettings {
            engine: args.backend,
            engines,
            procs: args.procs as usize,
            ops: args.ops,
            seed,
            transactions: args.transactions,
            exotic: args.exotic,
            kill: args.kill,
            keys: args.keys as usize,
            hash_size: args.hash_size,
            mutex: args.mutex,
            wipe_restart: args.wipe_restart,
            overwrite: args.overwrite,
            record: args.record.recording(),
            tdbfile,
        })
    }
}

/// Run the workload, then check the database.
pub fn run(args: &TortureSettings) -> Result<()> {
    claim_scratch(&args.tdbfile, args.overwrite)?;
    let seed = args.seed;
    let options = options(args)?;
    let planned = engine::plan(args.engine, &args.engines)?;
    announce(args, &planned);
    let outcome = match &planned {
        Planned::Builtin(EngineChoice::C) => {
            torture::run::<CBackend, CBackend>(&args.tdbfile, &options)
        }
        Planned::Builtin(EngineChoice::Pure) => {
            torture::run::<PureBackend, PureBackend>(&args.tdbfile, &options)
        }
        Planned::Builtin(EngineChoice::Mixed) => {
            torture::run::<CBackend, PureBackend>(&args.tdbfile, &options)
        }
        Planned::Roster(engines) => {
            runtime::install(engines.clone());
            torture::run_engines::<Roster>(&args.tdbfile, &options)
        }
    };
    let mut report = match outcome {
        Ok(report) => report,
        Err(TortureError::Setup(message)) => return Err(bad_input(message)),
        Err(error @ TortureError::Process(_)) => bail!(
            "{error}\nRepeat it with --seed {seed}; the database is kept at {}.",
            args.tdbfile.display()
        ),
    };
    println!(
        "{} processes finished in {}{}; every read of a process's own keys matched its \
         own writes",
        args.procs,
        show_ms(report.elapsed),
        if report.kills > 0 {
            format!(" ({} killed and restarted)", report.kills)
        } else {
            String::new()
        }
    );
    if args.wipe_restart {
        wipe_restart(args, &planned, &options, &mut report)?;
    }
    verify_with::<CBackend>(args, &report)?;
    verify_with::<PureBackend>(args, &report)?;
    if let Planned::Roster(engines) = &planned {
        println!("{}", sound_to_every(engines, &args.tdbfile)?);
    }
    if !report.traces.is_empty() {
        println!("Recorded {} traces:", report.traces.len());
        for path in &report.traces {
            println!("  {}", path.display());
        }
        if let Some(recording) = &args.record {
            println!(
                "Replay them with: tdb-replay replay --backend mixed replay.tdb {}/{}.trace.*",
                recording.dir.display(),
                args.tdbfile
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// `--wipe-restart`: one more process opens with TDB_CLEAR_IF_FIRST and wipes the
/// database; what it must hold is then that process's expectations alone, and its trace
/// comes last.
fn wipe_restart(
    args: &TortureSettings,
    planned: &Planned,
    options: &TortureOptions,
    report: &mut TortureReport,
) -> Result<()> {
    // Process `procs` runs on the engine its place gives (even on C, odd on tdb-pure
    // when mixed).
    let restart = RestartWiping {
        db_path: &args.tdbfile,
        options,
    };
    let outcome = match planned {
        Planned::Builtin(EngineChoice::C) => Pair::<CBackend, CBackend>::visit(args.procs, restart),
        Planned::Builtin(EngineChoice::Pure) => {
            Pair::<PureBackend, PureBackend>::visit(args.procs, restart)
        }
        Planned::Builtin(EngineChoice::Mixed) => {
            Pair::<CBackend, PureBackend>::visit(args.procs, restart)
        }
        Planned::Roster(_) => Roster::visit(args.procs, restart),
    };
    let restart = match outcome {
        Ok(restart) => restart,
        Err(TortureError::Setup(message)) => return Err(bad_input(message)),
        Err(error @ TortureError::Process(_)) => bail!(
            "{error}\nRepeat it with --seed {}; the database is kept at {}.",
            args.seed,
            args.tdbfile.display()
        ),
    };
    println!(
        "Process {} opened with TDB_CLEAR_IF_FIRST after the others had closed: it wiped \
         the database and ran its own workload",
        args.procs
    );
    report.expectations = vec![restart.expectations];
    report.traces.extend(restart.trace);
    Ok(())
}

/// The engine's options for the run, with the recording directory made ready.
fn options(args: &TortureSettings) -> Result<TortureOptions> {
    let record = prepare_recording(args.record.as_ref(), &args.tdbfile)?.map(|mut record| {
        // A transient lock refusal is retried, so every recorded line can be replayed.
        record.retry_lock_errors = true;
        if args.mutex {
            // Only Samba's tdb has mutexes, and readers take such traces for Samba's.
            record.layout = Layout::Samba;
        }
        record
    });
    Ok(TortureOptions {
        processes: args.procs,
        mix: Mix {
            ops: args.ops,
            keys: args.keys,
            transactions: args.transactions,
            exotic: args.exotic,
            always_transactions: args.kill > 0,
        },
        seed: args.seed,
        hash_size: args.hash_size,
        record,
        kills: args.kill,
        mutex: args.mutex,
    })
}

/// Say what the run will do.
fn announce(args: &TortureSettings, planned: &Planned) {
    let engines = match planned {
        Planned::Builtin(EngineChoice::C) => "C tdb".to_string(),
        Planned::Builtin(EngineChoice::Pure) => "tdb-pure".to_string(),
        Planned::Builtin(EngineChoice::Mixed) => "C tdb and tdb-pure alternately".to_string(),
        Planned::Roster(engines) => format!("{} in turn", engine::names(engines)),
    };
    let with = |on: bool, text: &'static str| if on { text } else { "" };
    println!(
        "Torturing {} with {} processes on {engines}, {} operations each{}{}{}, seed {}",
        args.tdbfile.display(),
        args.procs,
        args.ops,
        with(args.transactions, ", with transactions"),
        with(args.exotic, ", with key walks, all-record locks and wipes"),
        with(args.mutex, ", robust-mutex locking"),
        args.seed,
    );
    if args.kill > 0 {
        println!(
            "Killing {} processes at random moments (SIGKILL) and restarting them; every \
             write is in a transaction",
            args.kill
        );
    }
}

/// Check the final database with engine `B` and print what was verified.
fn verify_with<B: Backend>(args: &TortureSettings, report: &TortureReport) -> Result<()> {
    match torture::verify::<B>(&args.tdbfile, args.hash_size, &report.expectations) {
        Ok(verified) => {
            println!(
                "{:<5} check passed; {} records: {} private values exact, {} shared values \
                 among those written{}",
                B::label(),
                verified.records,
                verified.private_checked,
                verified.shared_checked,
                if report.expectations.iter().any(|e| e.wiped) {
                    " (a wipe made private keys unknown)"
                } else {
                    ""
                }
            );
            match (&verified.tolerated_check, &verified.leftovers) {
                (Some(complaint), Some(leftovers)) => println!(
                    "      (accepted C's check complaint \"{complaint}\": tdb-pure's check \
                     {leftovers}; C's recovery leaves those bytes as they were, no list uses them)"
                ),
                (Some(complaint), None) => println!(
                    "      (accepted C's check complaint \"{complaint}\": the zeros a killed \
                     commit that grew the file leaves at its end, which C's check misreads)"
                ),
                (None, Some(leftovers)) => println!("      (tdb-pure's check {leftovers})"),
                (None, None) => {}
            }
            Ok(())
        }
        Err(violation) => bail!(
            "{violation}\nThe database is kept at {}.",
            args.tdbfile.display()
        ),
    }
}

/// [`torture::restart_wiping`] as an engine visitor.
struct RestartWiping<'a> {
    db_path: &'a std::path::Path,
    options: &'a TortureOptions,
}

impl EngineVisitor for RestartWiping<'_> {
    type Output = Result<torture::WipeRestart, TortureError>;

    fn visit<B: Backend>(self) -> Self::Output {
        torture::restart_wiping::<B>(self.db_path, self.options)
    }
}
