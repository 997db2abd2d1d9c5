//! The `replay`, `analyse`, `generate` and `example` commands.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use replay_engine::analysis::{self, describe_key, Analysis};
use replay_engine::backend::Backend;
use replay_engine::generate::{self, GenerateOptions};
use replay_engine::inspect;
use replay_engine::record::{self, Layout, RecordOptions};
use replay_engine::replay::database::Locking;
use replay_engine::replay::{self, ReplayError, ReplayOptions, ReplayReport};
use replay_engine::scratch;
use replay_engine::trace::{load_traces, FlavourChoice, LoadOptions, Trace};

use crate::args::{
    AnalyseArgs, BackendChoice, EngineChoice, ExampleArgs, FlavourArg, GenerateArgs, InspectArgs,
    LayoutArg, LoadArgs, LockingArg, RecordArgs, ReplayArgs, TortureArgs,
};
use crate::progress::Progress;

/// The C backend.
pub type CBackend = replay_engine::backend::c::CTdb;
/// The pure-Rust backend.
pub type PureBackend = replay_engine::backend::pure::PureTdb;

/// An error caused by the input (traces that cannot be read, parsed or analysed), as
/// opposed to a replay that ran and failed.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Load traces, with progress on a terminal.
pub fn load(paths: &[PathBuf], args: &LoadArgs, progress: &Arc<Progress>) -> Result<Vec<Trace>> {
    let flavour = match args.flavour {
        FlavourArg::Auto => FlavourChoice::Auto,
        FlavourArg::Ccan => FlavourChoice::Ccan,
        FlavourArg::Samba => FlavourChoice::Samba,
    };
    let display = Arc::clone(progress);
    let options = LoadOptions {
        flavour,
        progress: Some(Arc::new(move |p: replay_engine::trace::LoadProgress| {
            display.show("Loading", p.bytes_read / 1024, p.total_bytes / 1024, "KiB");
        })),
    };
    let traces = load_traces(paths, &options).map_err(|error| BadInput(error.to_string()));
    progress.clear();
    Ok(traces?)
}

/// Analyse traces for backend `B`, turning a failure into bad input.
pub fn analyse_traces<B: Backend>(traces: &[Trace]) -> Result<Analysis> {
    Ok(analysis::analyse(traces, B::LOCKING).map_err(|error| BadInput(error.to_string()))?)
}

/// Make sure the scratch database `path` may be created or replaced: it does not exist,
/// or tdb-replay created it, or the user passed `--overwrite` (which hands it over).
pub fn claim_scratch(path: &Path, overwrite: bool) -> Result<()> {
    let claimed = if overwrite {
        scratch::adopt(path)
    } else {
        scratch::check_replaceable(path)
    };
    claimed.map_err(|error| BadInput(error.to_string()).into())
}

/// Run `f` and time it.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed())
}

/// Best and median of some durations.
pub fn best_median(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (
        times.first().copied().unwrap_or_default(),
        times.get(times.len() / 2).copied().unwrap_or_default(),
    )
}

fn ops_in(traces: &[Trace]) -> u64 {
    traces.iter().map(|trace| trace.ops.len() as u64).sum()
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

/// `--record DIR [--layout L]`: the recording options, with `DIR` made ready for the
/// traces of database `db` (the tool's earlier traces of it removed, anyone else's
/// refused).
pub fn recording(args: &RecordArgs, db: &Path) -> Result<Option<RecordOptions>> {
    let Some(dir) = &args.record else {
        return Ok(None);
    };
    let name = db
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    record::dir::prepare(dir, &name).map_err(|error| {
        anyhow::Error::new(BadInput(format!("--record {}: {error}", dir.display())))
    })?;
    Ok(Some(RecordOptions {
        dir: dir.clone(),
        layout: layout_of(args.layout),
        retry_lock_errors: false,
    }))
}

/// The engine's layout for the command line's.
pub fn layout_of(layout: LayoutArg) -> Layout {
    match layout {
        LayoutArg::Ccan => Layout::Ccan,
        LayoutArg::Samba => Layout::Samba,
    }
}

pub fn replay(args: &ReplayArgs) -> Result<()> {
    match args.backend {
        EngineChoice::C => replay_with::<CBackend, CBackend>(args),
        EngineChoice::Pure => replay_with::<PureBackend, PureBackend>(args),
        EngineChoice::Mixed => replay_with::<CBackend, PureBackend>(args),
    }
}

/// Replay with the traces at even positions on `B` and the others on `Odd` (the same
/// engine unless the replay is mixed).
fn replay_with<B: Backend, Odd: Backend>(args: &ReplayArgs) -> Result<()> {
    let progress = Arc::new(Progress::new(!args.quiet));
    let say = |text: String| {
        if !args.quiet {
            println!("{text}");
        }
    };
    claim_scratch(&args.tdbfile, args.overwrite)?;
    let (traces, load_time) = timed(|| load(&args.traces, &args.load, &progress));
    let traces = traces?;
    for trace in &traces {
        for warning in &trace.warnings {
            say(format!("warning: {warning}"));
        }
    }
    say(format!(
        "Loaded {} trace{} ({} ops) in {}",
        traces.len(),
        if traces.len() == 1 { "" } else { "s" },
        ops_in(&traces),
        millis(load_time)
    ));
    let (plan, analysis_time) = timed(|| analyse_traces::<B>(&traces));
    let mut plan = plan?;
    say(format!(
        "Analysed in {}: {} keys, {} dependencies ({} before pruning), {} pre-existing records",
        millis(analysis_time),
        plan.stats.keys,
        plan.stats.dependencies,
        plan.stats.raw_dependencies,
        plan.preexisting.len()
    ));

    let show = |done: u64, total: u64| progress.show("Replaying", done, total, "ops");
    let options = ReplayOptions {
        runs: args.runs as usize,
        deadlock_after: Duration::from_millis(args.deadlock_after_ms),
        max_backoffs: args.max_backoffs,
        stall_after: Duration::from_secs(args.stall_after_s),
        progress: Some(&show),
        record: recording(&args.record, &args.tdbfile)?,
        locking: match args.locking {
            LockingArg::Recorded => Locking::Recorded,
            LockingArg::Fcntl => Locking::Fcntl,
        },
    };
    if args.backend == EngineChoice::Mixed && traces.len() < 2 {
        say("warning: a mixed replay of a single trace runs it on C tdb alone".into());
    }
    let outcome = replay::replay_mixed::<B, Odd>(&args.tdbfile, &traces, &mut plan, &options);
    progress.clear();
    let report = match outcome {
        Ok(report) => report,
        Err(error @ ReplayError::Mismatch(_)) => bail!(
            "{error}\nThe database is kept at {} for inspection.",
            args.tdbfile.display()
        ),
        Err(error) => return Err(error.into()),
    };
    print_report(args, &report, &traces, load_time, analysis_time, &plan);
    if !report.recorded.is_empty() && !args.quiet {
        println!(
            "Recorded the first run as {} traces:",
            report.recorded.len()
        );
        for path in &report.recorded {
            println!("  {}", path.display());
        }
    }
    if args.backend == EngineChoice::Mixed {
        check_both_engines(&args.tdbfile, args.quiet)?;
    }
    Ok(())
}

/// After a mixed run: the file both engines wrote must be sound to both.
fn check_both_engines(path: &Path, quiet: bool) -> Result<()> {
    let c = inspect::check_file::<CBackend>(path).map_err(anyhow::Error::msg)?;
    let pure = inspect::check_file::<PureBackend>(path).map_err(anyhow::Error::msg)?;
    if !quiet {
        println!("Final database: sound to both engines ({c} records to C, {pure} to tdb-pure).");
    }
    if c != pure {
        bail!(
            "{}: C tdb counts {c} records, tdb-pure {pure}",
            path.display()
        );
    }
    Ok(())
}

fn print_report(
    args: &ReplayArgs,
    report: &ReplayReport,
    traces: &[Trace],
    load_time: Duration,
    analysis_time: Duration,
    plan: &Analysis,
) {
    if args.quiet {
        for run in &report.runs {
            println!("{} usec", run.elapsed.as_micros());
        }
        return;
    }
    for backoff in &report.backoffs {
        println!("Back-off: {backoff}");
    }
    for (index, run) in report.runs.iter().enumerate() {
        let rate = run.ops as f64 / run.elapsed.as_secs_f64().max(1e-9);
        println!(
            "Run {}/{}: {} ({:.0} ops/s)",
            index + 1,
            report.runs.len(),
            millis(run.elapsed),
            rate
        );
        for note in run.tolerated.iter().take(5) {
            println!("  tolerated: {note}");
        }
        if run.tolerated.len() > 5 {
            println!("  tolerated: ... and {} more", run.tolerated.len() - 5);
        }
    }
    let (best, median) = best_median(report.runs.iter().map(|run| run.elapsed).collect());
    println!(
        "Summary: {} traces, {} ops; load {}, analysis {}, replay best {} / median {}; \
         {} dependencies (digest {:016x}), {} back-offs; all results matched.",
        traces.len(),
        ops_in(traces),
        millis(load_time),
        millis(analysis_time),
        millis(best),
        millis(median),
        plan.stats.dependencies,
        plan.digest(),
        report.backoffs.len()
    );
    println!("The database is kept at {}.", args.tdbfile.display());
}

pub fn analyse(args: &AnalyseArgs) -> Result<()> {
    let progress = Arc::new(Progress::new(true));
    let (traces, load_time) = timed(|| load(&args.traces, &args.load, &progress));
    let traces = traces?;
    let (plan, analysis_time) = timed(|| analyse_traces::<CBackend>(&traces));
    let plan = plan?;
    for (index, trace) in traces.iter().enumerate() {
        println!(
            "{}: {} ops, {} dependencies on other traces, writer {:?}",
            trace.name,
            trace.ops.len(),
            plan.deps_of(index).len(),
            trace.flavour
        );
        for warning in &trace.warnings {
            println!("  warning: {warning}");
        }
    }
    let stats = &plan.stats;
    println!(
        "{} keys, {} users, {} keys needed a seqnum fuzz, {} dependencies ({} before pruning), \
         digest {:016x}",
        stats.keys,
        stats.users,
        stats.fuzzed_keys,
        stats.dependencies,
        stats.raw_dependencies,
        plan.digest()
    );
    for record in &plan.preexisting {
        println!(
            "{}: needs pre-existing record {} ({} bytes)",
            record.needed_at,
            describe_key(&record.key),
            record.data.len()
        );
    }
    if args.dependencies {
        let at = |file: u32, op: u32| traces[file as usize].location(op);
        for dep in &plan.deps {
            println!(
                "{} waits for {}",
                at(dep.file, dep.op),
                at(dep.target_file, dep.target)
            );
        }
    }
    println!(
        "load {}, analysis {}",
        millis(load_time),
        millis(analysis_time)
    );
    Ok(())
}

pub fn generate(args: &GenerateArgs) -> Result<()> {
    let options = GenerateOptions {
        processes: args.processes.max(1),
        ops: args.ops,
        seed: args.seed,
        hash_size: args.hash_size.max(1),
        keys: args.keys.max(1),
        exotic: args.exotic,
        layout: layout_of(args.layout),
        mutex: false,
    };
    let paths = match args.backend {
        BackendChoice::C => generate_with::<CBackend>(&args.dir, &args.name, &options)?,
        BackendChoice::Pure => generate_with::<PureBackend>(&args.dir, &args.name, &options)?,
    };
    for path in &paths {
        println!("{}", path.display());
    }
    Ok(())
}

fn generate_with<B: Backend>(
    dir: &Path,
    name: &str,
    options: &GenerateOptions,
) -> Result<Vec<PathBuf>> {
    generate::generate::<B>(dir, name, options)
        .with_context(|| format!("generating traces in {}", dir.display()))
}

/// The built-in example, end to end: a torture run of three processes (C tdb and
/// tdb-pure at once by default) recorded as tdb traces and checked by both engines; the
/// recording replayed on C, on tdb-pure and mixed; then both engines run it in lock step
/// (`diff`).
pub fn example(args: &ExampleArgs) -> Result<()> {
    let db = args.dir.join("example.tdb");
    let record_dir = args.dir.join("traces");
    let mut seed = 1;
    let traces = loop {
        println!("$ tdb-replay torture --backend {} --procs 3 --ops 400 --transactions --seed {seed} --record {} {}",
            engine_name(args.backend),
            record_dir.display(),
            db.display()
        );
        crate::torture::run(&TortureArgs {
            backend: args.backend,
            procs: 3,
            ops: 400,
            seed: Some(seed),
            transactions: true,
            exotic: false,
            keys: 20,
            hash_size: 7,
            mutex: false,
            overwrite: false,
            record: RecordArgs {
                record: Some(record_dir.clone()),
                layout: LayoutArg::Ccan,
            },
            tdbfile: db.clone(),
        })?;
        let paths = record::dir::traces_of(&record_dir, "example.tdb")
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        // Known gap: about one heavily stalled recording in a hundred ends in a
        // dependency cycle; record again (at most twice) rather than show a failure.
        let quiet = Arc::new(Progress::new(false));
        let loaded = load(
            &paths,
            &LoadArgs {
                flavour: FlavourArg::Auto,
            },
            &quiet,
        )?;
        match analysis::analyse(&loaded, CBackend::LOCKING) {
            Err(error) if error.message.contains("circle") && seed < 3 => {
                println!("note: {error}\nRecording the example again (a known analysis gap).");
                seed += 1;
            }
            _ => break paths,
        }
    };
    let shown: Vec<String> = traces.iter().map(|p| p.display().to_string()).collect();
    for engine in [EngineChoice::C, EngineChoice::Pure, EngineChoice::Mixed] {
        let tdbfile = args.dir.join(format!("replay-{}.tdb", engine_name(engine)));
        println!(
            "\n$ tdb-replay replay --backend {} {} {}",
            engine_name(engine),
            tdbfile.display(),
            shown.join(" ")
        );
        replay(&ReplayArgs {
            backend: engine,
            quiet: false,
            runs: 1,
            deadlock_after_ms: 200,
            max_backoffs: 64,
            stall_after_s: 120,
            locking: LockingArg::Recorded,
            load: LoadArgs {
                flavour: FlavourArg::Auto,
            },
            record: RecordArgs {
                record: None,
                layout: LayoutArg::Ccan,
            },
            tdbfile,
            overwrite: false,
            traces: traces.clone(),
        })?;
    }
    println!(
        "\n$ tdb-replay diff --dir {} {}",
        args.dir.join("diff").display(),
        shown.join(" ")
    );
    crate::diff::run(&crate::args::DiffArgs {
        concurrent: false,
        dir: Some(args.dir.join("diff")),
        quiet: false,
        overwrite: false,
        load: LoadArgs {
            flavour: FlavourArg::Auto,
        },
        traces,
    })
}

/// The command-line name of an engine choice.
fn engine_name(engine: EngineChoice) -> &'static str {
    match engine {
        EngineChoice::C => "c",
        EngineChoice::Pure => "pure",
        EngineChoice::Mixed => "mixed",
    }
}

pub fn dump(args: &InspectArgs) -> Result<()> {
    let text = match args.backend {
        BackendChoice::C => dump_with::<CBackend>(&args.tdbfile)?,
        BackendChoice::Pure => dump_with::<PureBackend>(&args.tdbfile)?,
    };
    print!("{text}");
    Ok(())
}

fn dump_with<B: Backend>(path: &Path) -> Result<String> {
    let mut db: B = inspect::open_existing(path)
        .map_err(|error| BadInput(format!("{}: cannot open: {error}", path.display())))?;
    inspect::dump(&mut db).with_context(|| format!("{}: dumping failed", path.display()))
}

pub fn check(args: &InspectArgs) -> Result<()> {
    match args.backend {
        BackendChoice::C => check_with::<CBackend>(&args.tdbfile),
        BackendChoice::Pure => check_with::<PureBackend>(&args.tdbfile),
    }
}

fn check_with<B: Backend>(path: &Path) -> Result<()> {
    let records = inspect::check_file::<B>(path).map_err(|text| {
        // C's tdb_dead_space re-reads one byte, so dead space followed by records looks
        // like corruption to C tdb (see the README's tdb-pure section).
        let hint = if B::NAME == "c" && text.contains("Dead space at") {
            "\n(C tdb 1.4.8 misreads dead space followed by records; \
             `check --backend pure` walks it properly)"
        } else {
            ""
        };
        anyhow::anyhow!("{text}{hint}")
    })?;
    println!(
        "{}: sound ({} backend), {records} records",
        path.display(),
        B::NAME
    );
    Ok(())
}
