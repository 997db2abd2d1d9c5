//! The `diff` command: the traces on two engines (C tdb and tdb-pure unless `--engines`
//! names others) in lock step, every result compared; with `--concurrent`, also real
//! concurrent replays on each engine and mixed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use replay_engine::backend::engines::EngineVisitor;
use replay_engine::backend::runtime::{self, Engine, EngineSpec, Roster};
use replay_engine::backend::Backend;
use replay_engine::diff::{self, DiffReport};
use replay_engine::inspect;
use replay_engine::replay::{self, ReplayOptions};
use replay_engine::trace::Trace;
use serde::Serialize;

use crate::args::engine::{self, parse_engines, EngineList};
use crate::args::LoadArgs;
use crate::args::TraceReading;
use crate::engine::{CBackend, CheckFile};
use crate::exit::bad_input;
use crate::files::claim_scratch;
use crate::loading::{analyse_loaded, analyse_traces_with, load};
use crate::output::Out;
use crate::progress::Progress;
use crate::timing::{ms, show_ms, timed};

/// The arguments of `diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Also replay the traces concurrently (one worker per trace, as `replay` does) on C,
    /// on tdb-pure and mixed, and compare the three final databases.
    #[arg(long)]
    pub concurrent: bool,
    /// The two engines to compare: c, pure, lib:PATH or lib:PATH=NAME.
    #[arg(long, value_parser = parse_engines, default_value = "c,pure", value_name = "A,B")]
    pub engines: EngineList,
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

/// What `diff` compares, resolved from [`DiffArgs`].
#[derive(Clone, Debug)]
pub struct DiffSettings {
    /// Also replay concurrently on each engine and mixed.
    pub concurrent: bool,
    /// The two engines.
    pub engines: [EngineSpec; 2],
    /// Directory for the databases (a temporary one if `None`).
    pub dir: Option<PathBuf>,
    /// Print only the verdict.
    pub quiet: bool,
    /// Print a JSON document on stdout.
    pub json: bool,
    /// Replace the databases in `dir` even if tdb-replay did not create them.
    pub overwrite: bool,
    /// How to read the traces (writer, longest line).
    pub reading: TraceReading,
    /// The trace files.
    pub traces: Vec<PathBuf>,
}

impl DiffSettings {
    /// The lock-step comparison of `traces`, its databases in `dir`, with the command
    /// line's other defaults.
    pub fn new(dir: Option<PathBuf>, traces: Vec<PathBuf>) -> DiffSettings {
        DiffSettings {
            concurrent: false,
            engines: [EngineSpec::C, EngineSpec::Pure],
            dir,
            quiet: false,
            json: false,
            overwrite: false,
            reading: TraceReading::default(),
            traces,
        }
    }
}

impl TryFrom<DiffArgs> for DiffSettings {
    type Error = anyhow::Error;

    fn try_from(args: DiffArgs) -> Result<DiffSettings> {
        let engines: [EngineSpec; 2] = args.engines.0.try_into().map_err(|list: Vec<_>| {
            bad_input(format!(
                "--engines: diff compares two engines, not {}",
                list.len()
            ))
        })?;
        Ok(DiffSettings {
            concurrent: args.concurrent,
            engines,
            dir: args.dir,
            quiet: args.quiet,
            json: args.json,
            overwrite: args.overwrite,
            reading: args.load.reading(),
            traces: args.traces,
        })
    }
}

/// Where the databases go: the user's directory, or a temporary one that is removed
/// unless something is worth inspecting.
enum Workspace {
    Given(PathBuf),
    Temporary(tempfile::TempDir),
}

impl Workspace {
    fn path(&self) -> &Path {
        match self {
            Workspace::Given(path) => path,
            Workspace::Temporary(dir) => dir.path(),
        }
    }

    /// Keep the databases for the user; returns where they are.
    fn keep(self) -> PathBuf {
        match self {
            Workspace::Given(path) => path,
            Workspace::Temporary(dir) => dir.keep(),
        }
    }
}

/// The databases a diff creates in its directory.
const DATABASES: [&str; 9] = [
    "concurrent-a.tdb",
    "concurrent-b.tdb",
    "c.tdb",
    "pure.tdb",
    "a.tdb",
    "b.tdb",
    "concurrent-c.tdb",
    "concurrent-pure.tdb",
    "concurrent-mixed.tdb",
];

/// The JSON document of `diff --json` (printed on a divergence too, before exit 1).
#[derive(Serialize)]
struct DiffJson {
    /// Always `"diff"`.
    command: &'static str,
    /// Number of traces.
    traces: usize,
    /// Ops in all the traces.
    ops_in_traces: usize,
    /// Time to read and parse the traces.
    load_ms: f64,
    /// Time to analyse them.
    analysis_ms: f64,
    /// `agree` or `diverge`.
    verdict: &'static str,
    /// Ops run in lock step (up to the divergence).
    ops: u64,
    /// Units (ops or whole regions) the lock step scheduled.
    units: u64,
    /// Dependencies the lock step had to override.
    overridden_deps: u64,
    /// Records in each final database.
    records: usize,
    /// Whether the two final files are byte for byte the same.
    identical_files: bool,
    /// Time of the lock step, the final comparison and the checks.
    elapsed_ms: f64,
    /// Time of the lock step alone.
    lock_step_ms: f64,
    /// The first difference; null when the engines agree.
    divergence: Option<DivergenceJson>,
    /// With `--concurrent`: one entry per concurrent replay (`c`, `pure`, `mixed`).
    concurrent: Vec<ConcurrentJson>,
    /// The directory kept on a divergence; null otherwise.
    kept: Option<String>,
}

/// Where and how the engines first differed.
#[derive(Serialize)]
struct DivergenceJson {
    /// `result`, `final_records` or `check`.
    kind: &'static str,
    /// Where (`file:line`, or the database for the final comparison).
    location: String,
    /// The op (or what was compared).
    op: String,
    /// The first engine's name.
    first_engine: &'static str,
    /// What the first engine got.
    first: String,
    /// The second engine's name.
    second_engine: &'static str,
    /// What the second engine got.
    second: String,
    /// The whole divergence as printed for people.
    text: String,
}

/// One concurrent replay of `diff --concurrent`.
#[derive(Serialize)]
struct ConcurrentJson {
    /// `c`, `pure` or `mixed` (the two `--engines` and `mixed`).
    engine: String,
    /// Its replay time.
    replay_ms: f64,
    /// Back-offs it learned.
    backoffs: usize,
    /// Records in its final database.
    records: usize,
}

impl DiffJson {
    fn of(
        traces: &[Trace],
        (load_time, analysis_time): (Duration, Duration),
        report: &DiffReport,
    ) -> DiffJson {
        DiffJson {
            command: "diff",
            traces: traces.len(),
            ops_in_traces: traces.iter().map(|trace| trace.ops.len()).sum(),
            load_ms: ms(load_time),
            analysis_ms: ms(analysis_time),
            verdict: if report.divergence.is_some() {
                "diverge"
            } else {
                "agree"
            },
            ops: report.ops,
            units: report.units,
            overridden_deps: report.overridden_deps,
            records: report.records,
            identical_files: report.identical_files,
            elapsed_ms: ms(report.elapsed),
            lock_step_ms: ms(report.lock_step),
            divergence: report.divergence.as_ref().map(|d| DivergenceJson {
                kind: match d.kind {
                    diff::DivergenceKind::Result => "result",
                    diff::DivergenceKind::FinalRecords => "final_records",
                    diff::DivergenceKind::Check => "check",
                },
                location: d.location.clone(),
                op: d.op.clone(),
                first_engine: d.first.0,
                first: d.first.1.clone(),
                second_engine: d.second.0,
                second: d.second.1.clone(),
                text: d.to_string(),
            }),
            concurrent: Vec::new(),
            kept: None,
        }
    }
}

/// Run the comparison and print the verdict.
pub fn run(args: &DiffSettings) -> Result<()> {
    let out = Out::new(args.json, args.quiet);
    let progress = Arc::new(Progress::new(!args.quiet && !args.json));
    let say = |text: String| out.line(text);
    let (traces, load_time) = timed(|| load(&args.traces, &args.reading, &progress));
    let mut traces = traces?;
    let engines = engine::resolve(&args.engines)?;
    engine::check_traces(&engines, &traces)?;
    for warning in traces.iter().flat_map(|trace| &trace.warnings) {
        say(format!("warning: {warning}"));
    }
    let (plan, analysis_time) = timed(|| analyse_loaded(&mut traces, CBackend::LOCKING));
    let (plan, wipes) = plan?;
    if let Some(note) = wipes {
        say(format!("warning: {note}"));
    }
    let ops: usize = traces.iter().map(|trace| trace.ops.len()).sum();
    say(format!(
        "Loaded {} traces ({ops} ops) in {}, analysed in {}",
        traces.len(),
        show_ms(load_time),
        show_ms(analysis_time)
    ));
    let workspace = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|error| bad_input(format!("{}: {error}", dir.display())))?;
            for name in DATABASES {
                claim_scratch(&dir.join(name), args.overwrite)?;
            }
            Workspace::Given(dir.clone())
        }
        None => Workspace::Temporary(
            tempfile::Builder::new()
                .prefix("tdb-replay-diff.")
                .tempdir()
                .context("cannot create a temporary directory")?,
        ),
    };
    let stems = database_stems(&args.engines);
    let names = stems.map(|stem| format!("{stem}.tdb"));
    let paths = names.clone().map(|name| workspace.path().join(name));
    let show = |done: u64, total: u64| progress.show("Comparing", done, total, "ops");
    let report = engines[0].visit::<0, _>(LockStep {
        second: engines[1],
        traces: &traces,
        plan: &plan,
        paths: &paths,
        show: &show,
    });
    progress.clear();
    let report = report.map_err(|error| anyhow::anyhow!("{error}"))?;
    let mut document = DiffJson::of(&traces, (load_time, analysis_time), &report);
    if let Some(divergence) = &report.divergence {
        let kept = workspace.keep();
        document.kept = Some(kept.display().to_string());
        out.document(&document)?;
        bail!(
            "the engines diverge after {} ops:\n{divergence}\nThe databases are kept in {} \
             ({}, {}); `tdb-replay shrink --diff` makes the traces minimal.",
            report.ops,
            kept.display(),
            names[0],
            names[1]
        );
    }
    say(summary(&report, &engines));
    if args.concurrent {
        let dir = workspace.path();
        document.concurrent = concurrent(&traces, (&engines, stems), dir, &progress, out)?;
    }
    if args.json {
        out.line("The engines agree.");
    } else if !args.quiet {
        println!("The engines agree.");
    } else {
        println!("agree");
    }
    out.document(&document)
}

fn summary(report: &DiffReport, engines: &[Engine]) -> String {
    format!(
        "Lock step: {} ops in {} units on {} and {}, every result the same; final \
         databases: {} records each, {}, both sound ({}; {} dependencies overridden)",
        report.ops,
        report.units,
        engines[0].label(),
        engines[1].label(),
        report.records,
        if report.identical_files {
            "byte-identical files"
        } else {
            "files differ in layout"
        },
        show_ms(report.elapsed),
        report.overridden_deps
    )
}

/// Replay concurrently on each engine and mixed; every run must match the traces, and
/// the three final databases must hold the same records and be sound to both engines.
fn concurrent(
    traces: &[Trace],
    (engines, stems): (&[Engine], [&str; 2]),
    dir: &Path,
    progress: &Arc<Progress>,
    out: Out,
) -> Result<Vec<ConcurrentJson>> {
    let show = |done: u64, total: u64| progress.show("Replaying", done, total, "ops");
    let options = ReplayOptions {
        progress: Some(&show),
        ..ReplayOptions::default()
    };
    let mut finals = Vec::new();
    let mut figures = Vec::new();
    let runs = [
        (engines[0].label(), stems[0], vec![engines[0]]),
        (engines[1].label(), stems[1], vec![engines[1]]),
        ("mixed", "mixed", engines.to_vec()),
    ];
    for (name, file, roster) in runs {
        // Each engine learns its own back-offs from a fresh copy of the plan.
        let mut plan = analyse_traces_with(traces, roster[0].locking())?;
        let path = dir.join(format!("concurrent-{file}.tdb"));
        runtime::install(roster);
        let run = replay::replay_engines::<Roster>(&path, traces, &mut plan, &options);
        progress.clear();
        let report = run.with_context(|| format!("the concurrent replay on {name}"))?;
        let elapsed = report
            .runs
            .first()
            .map_or(Duration::ZERO, |run| run.elapsed);
        for engine in engines {
            engine
                .visit::<0, _>(CheckFile(&path))
                .map_err(|error| anyhow::anyhow!("after the concurrent {name} run: {error}"))?;
        }
        let records = records_of(&path)?;
        out.line(format!(
            "Concurrent on {name}: every result matched the traces in {}, {} \
             back-offs, {} records, sound to both engines",
            show_ms(elapsed),
            report.backoffs.len(),
            records.len()
        ));
        figures.push(ConcurrentJson {
            engine: name.to_string(),
            replay_ms: ms(elapsed),
            backoffs: report.backoffs.len(),
            records: records.len(),
        });
        finals.push((name, path, records));
    }
    let (first_name, first_path, first) = &finals[0];
    for (name, path, records) in &finals[1..] {
        if records != first {
            let key = first
                .keys()
                .chain(records.keys())
                .find(|key| first.get(*key) != records.get(*key))
                .map(|key| replay_engine::analysis::describe_key(key))
                .unwrap_or_default();
            bail!(
                "the concurrent runs on {first_name} ({}) and {name} ({}) left different \
                 records, first at key {key}",
                first_path.display(),
                path.display()
            );
        }
    }
    Ok(figures)
}

fn records_of(path: &Path) -> Result<std::collections::BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut db: CBackend = inspect::open_existing(path)
        .map_err(|error| anyhow::anyhow!("{}: cannot open: {error}", path.display()))?;
    inspect::records(&mut db).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))
}

/// The names of the engines' files: `c` and `pure` for the default engines (as
/// always), else `a` and `b`.
fn database_stems(engines: &[EngineSpec]) -> [&'static str; 2] {
    match engines {
        [EngineSpec::C, EngineSpec::Pure] => ["c", "pure"],
        _ => ["a", "b"],
    }
}

/// The lock step with the first engine's backend (slot 0); it visits the second.
struct LockStep<'a> {
    second: Engine,
    traces: &'a [Trace],
    plan: &'a replay_engine::analysis::Analysis,
    paths: &'a [PathBuf; 2],
    show: &'a dyn Fn(u64, u64),
}

impl EngineVisitor for LockStep<'_> {
    type Output = Result<DiffReport, diff::DiffError>;

    fn visit<A: Backend>(self) -> Self::Output {
        let second = self.second;
        second.visit::<1, _>(LockStepWith::<A> {
            step: self,
            first: std::marker::PhantomData,
        })
    }
}

/// [`LockStep`] once the first backend is known: runs `diff` with the second (slot 1).
struct LockStepWith<'a, A> {
    step: LockStep<'a>,
    first: std::marker::PhantomData<A>,
}

impl<A: Backend> EngineVisitor for LockStepWith<'_, A> {
    type Output = Result<DiffReport, diff::DiffError>;

    fn visit<B: Backend>(self) -> Self::Output {
        let step = self.step;
        diff::diff::<A, B>(
            step.traces,
            step.plan,
            &step.paths[0],
            &step.paths[1],
            Some(step.show),
        )
    }
}
