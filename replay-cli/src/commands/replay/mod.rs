//! `tdb-replay replay`: trace files replayed together against a database, every result
//! checked.

mod report;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use replay_engine::backend::engines::{Engines, Pair};
use replay_engine::backend::runtime::{self, Engine, EngineSpec, Roster};
use replay_engine::replay::database::Locking;
use replay_engine::replay::{self, ReplayError, ReplayOptions};

use crate::args::engine::{self, parse_engines, EngineList, Planned};
use crate::args::{EngineChoice, LoadArgs, LockingArg, RecordArgs, TraceReading};
use crate::engine::{sound_to_both, sound_to_every, CBackend, PureBackend};
use crate::exit::bad_input;
use crate::files::Recording;
use crate::files::{claim_scratch, fresh_database, prepare_recording};
use crate::loading::{analyse_loaded, load, looks_like_trace, ops_in, plural};
use crate::output::Out;
use crate::progress::Progress;
use crate::timing::{show_ms, timed};

/// Deadlock back-offs a replay may take before it gives up (`--max-backoffs`).
pub const MAX_BACKOFFS: usize = 64;
/// Seconds without progress before a replay is aborted (`--stall-after-s`).
pub const STALL_AFTER_S: u64 = 120;

/// The arguments of `replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Backend to replay against (`mixed`: the traces alternate between C and tdb-pure
    /// worker processes on one file).
    #[arg(long, value_enum, default_value = "c")]
    pub backend: EngineChoice,
    /// Engines whose workers take turns on one file (trace k on engine k mod N): c, pure,
    /// lib:PATH or lib:PATH=NAME, comma-separated (`c,pure` is `--backend mixed`).
    #[arg(long, value_parser = parse_engines, conflicts_with = "backend", value_name = "A,B,...")]
    pub engines: Option<EngineList>,
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
    #[arg(long, default_value_t = MAX_BACKOFFS)]
    pub max_backoffs: usize,
    /// Abort a run after this many seconds without any progress.
    #[arg(long, default_value_t = STALL_AFTER_S)]
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
}

/// What a replay does, resolved from [`ReplayArgs`].
#[derive(Clone, Debug)]
pub struct ReplaySettings {
    /// The engines of the workers.
    pub engine: EngineChoice,
    /// `--engines`, when given (it overrides `engine`).
    pub engines: Vec<EngineSpec>,
    /// Print only one line per run (its time in microseconds).
    pub quiet: bool,
    /// Print a JSON document on stdout.
    pub json: bool,
    /// Timed runs.
    pub runs: usize,
    /// How long every worker may be stuck before a run counts as deadlocked.
    pub deadlock_after: Duration,
    /// Back-offs allowed before giving up.
    pub max_backoffs: usize,
    /// How long a run may go without progress.
    pub stall_after: Duration,
    /// How the replay locks.
    pub locking: Locking,
    /// Replace the database even if tdb-replay did not create it.
    pub overwrite: bool,
    /// Time every op.
    pub latency: bool,
    /// Use the back-off cache beside the database.
    pub backoff_cache: bool,
    /// Predict lock-order inversions before the first run.
    pub predict: bool,
    /// How to read the traces (writer, longest line).
    pub reading: TraceReading,
    /// Record the first run, if asked.
    pub record: Option<Recording>,
    /// The scratch database.
    pub tdbfile: PathBuf,
    /// The trace files, one per process.
    pub traces: Vec<PathBuf>,
}

impl ReplaySettings {
    /// One run of `traces` on `engine` into `tdbfile`, with every default of the command
    /// line.
    pub fn new(engine: EngineChoice, tdbfile: PathBuf, traces: Vec<PathBuf>) -> ReplaySettings {
        ReplaySettings {
            engine,
            engines: Vec::new(),
            quiet: false,
            json: false,
            runs: 1,
            deadlock_after: Duration::from_millis(replay::DEFAULT_DEADLOCK_AFTER_MS),
            max_backoffs: MAX_BACKOFFS,
            stall_after: Duration::from_secs(STALL_AFTER_S),
            locking: Locking::Recorded,
            overwrite: false,
            latency: true,
            backoff_cache: true,
            predict: true,
            reading: TraceReading::default(),
            record: None,
            tdbfile,
            traces,
        }
    }
}

impl ReplaySettings {
    /// The engines as the user chose them: `c`, `pure`, `mixed`, or the `--engines` list.
    pub fn engine_name(&self) -> String {
        if self.engines.is_empty() {
            self.engine.name().to_string()
        } else {
            let names: Vec<String> = self.engines.iter().map(EngineSpec::label).collect();
            names.join(",")
        }
    }
}

impl TryFrom<ReplayArgs> for ReplaySettings {
    type Error = anyhow::Error;

    /// The settings: `paths` split into the scratch database and the traces (the first
    /// path is the database unless it is an existing file that reads as a trace, or the
    /// only path; then a fresh database is made for the run).
    fn try_from(args: ReplayArgs) -> Result<ReplaySettings> {
        let engines = args.engines.map(|list| list.0).unwrap_or_default();
        // A library that cannot be used is refused before any file is made.
        engine::resolve(&engines)?;
        let first_is_trace = args.paths.len() == 1 || looks_like_trace(&args.paths[0]);
        let (tdbfile, traces) = if first_is_trace {
            if let Some(missing) = args.paths.iter().find(|path| !path.is_file()) {
                return Err(bad_input(format!(
                    "{}: no such trace file",
                    missing.display()
                )));
            }
            (fresh_database("replay.tdb")?, args.paths)
        } else {
            let mut paths = args.paths;
            let traces = paths.split_off(1);
            (paths.remove(0), traces)
        };
        Ok(ReplaySettings {
            engine: args.backend,
            engines,
            quiet: args.quiet,
            json: args.json,
            runs: args.runs as usize,
            deadlock_after: Duration::from_millis(args.deadlock_after_ms),
            max_backoffs: args.max_backoffs,
            stall_after: Duration::from_secs(args.stall_after_s),
            locking: args.locking.locking(),
            overwrite: args.overwrite,
            latency: !args.no_latency,
            backoff_cache: !args.no_backoff_cache,
            predict: !args.no_predict,
            reading: args.load.reading(),
            record: args.record.recording(),
            tdbfile,
            traces,
        })
    }
}

/// Run the replay.
pub fn run(settings: &ReplaySettings) -> Result<()> {
    match engine::plan(settings.engine, &settings.engines)? {
        Planned::Builtin(EngineChoice::C) => replay_with::<Pair<CBackend, CBackend>>(settings, &[]),
        Planned::Builtin(EngineChoice::Pure) => {
            replay_with::<Pair<PureBackend, PureBackend>>(settings, &[])
        }
        Planned::Builtin(EngineChoice::Mixed) => {
            replay_with::<Pair<CBackend, PureBackend>>(settings, &[])
        }
        Planned::Roster(engines) => {
            runtime::install(engines.clone());
            replay_with::<Roster>(settings, &engines)
        }
    }
}

/// Replay with the trace at position `k` on engine `k % E::count()`; `roster` is the
/// run-time engines (empty for the built-in ones).
fn replay_with<E: Engines>(settings: &ReplaySettings, roster: &[Engine]) -> Result<()> {
    let wall = Instant::now();
    let out = Out::new(settings.json, settings.quiet);
    let progress = Arc::new(Progress::new(!settings.quiet && !settings.json));
    let say = |text: String| out.line(text);
    claim_scratch(&settings.tdbfile, settings.overwrite)?;
    let (traces, load_time) = timed(|| load(&settings.traces, &settings.reading, &progress));
    let mut traces = traces?;
    engine::check_traces(roster, &traces)?;
    for trace in &traces {
        for warning in &trace.warnings {
            say(format!("warning: {warning}"));
        }
    }
    say(format!(
        "Loaded {} trace{} ({} ops) in {}",
        traces.len(),
        plural(traces.len()),
        ops_in(&traces),
        show_ms(load_time)
    ));
    let (plan, analysis_time) = timed(|| analyse_loaded(&mut traces, E::locking_of_all()));
    let (mut plan, wipes) = plan?;
    if let Some(note) = wipes {
        say(format!("warning: {note}"));
    }
    let fresh = report::FreshPlan::of(&plan);
    say(format!(
        "Analysed in {}: {} keys, {} dependencies ({} before pruning), {} pre-existing records",
        show_ms(analysis_time),
        plan.stats.keys,
        plan.stats.dependencies,
        plan.stats.raw_dependencies,
        plan.preexisting.len()
    ));

    let show = |done: u64, total: u64| progress.show("Replaying", done, total, "ops");
    let options = ReplayOptions {
        runs: settings.runs,
        deadlock_after: settings.deadlock_after,
        max_backoffs: settings.max_backoffs,
        stall_after: settings.stall_after,
        progress: Some(&show),
        record: prepare_recording(settings.record.as_ref(), &settings.tdbfile)?,
        latency: settings.latency,
        backoff_cache: settings
            .backoff_cache
            .then(|| replay::backoff_cache::path_for(&settings.tdbfile)),
        predict: settings.predict,
        locking: settings.locking,
    };
    if E::count() > 1 && E::label(0) != E::label(1) && traces.len() < 2 {
        say(format!(
            "warning: a mixed replay of a single trace runs it on {} alone",
            E::label(0)
        ));
    }
    let outcome = replay::replay_engines::<E>(&settings.tdbfile, &traces, &mut plan, &options);
    progress.clear();
    let report = match outcome {
        Ok(report) => report,
        Err(error @ ReplayError::Mismatch(_)) => bail!(
            "{error}\nThe database is kept at {} for inspection.",
            settings.tdbfile.display()
        ),
        Err(error) => return Err(error.into()),
    };
    let sound = if roster.is_empty() && settings.engine == EngineChoice::Mixed {
        Some(sound_to_both(&settings.tdbfile)?)
    } else {
        None
    };
    if roster.len() > 1 {
        say(sound_to_every(roster, &settings.tdbfile)?);
    }
    let finished = report::Finished {
        settings,
        report: &report,
        traces: &traces,
        times: (load_time, analysis_time, wall.elapsed()),
        plan: &plan,
        fresh,
        sound,
    };
    finished.print(out);
    finished.document(out)
}
