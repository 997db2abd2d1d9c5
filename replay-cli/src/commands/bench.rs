//! `tdb-replay bench`: the figures the project is measured by. Load and analysis time and
//! peak memory; replay time over several runs on each backend, with the ratio pure/C
//! measured in the same run; and, for a single trace, the same ops called bare on each
//! backend (no waits, no checks), so the replay's own cost shows as a ratio too. With both
//! backends it also times the mixed replay (C and tdb-pure workers on one file) and the
//! differential test (`diff`, both engines in lock step), each against the C replay.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use replay_engine::backend::Backend;
use replay_engine::replay::latency::LatencySummary;
use replay_engine::replay::{self, database, ReplayOptions};
use replay_engine::trace::{FlavourChoice, Trace};
use replay_engine::{analysis::Analysis, bare, diff, scratch};
use serde::Serialize;

use crate::args::{BenchBackends, LoadArgs};
use crate::engine::{sound_to_both, CBackend, PureBackend};
use crate::files::{claim_scratch, fresh_database};
use crate::loading::{analyse_traces, load};
use crate::output::{latency_reports, us, LatencyReport, Out};
use crate::progress::Progress;
use crate::timing::{best_median, ms, timed};

/// The arguments of `bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Timed replay runs per measurement.
    #[arg(long, short = 'n', default_value_t = 5)]
    pub runs: u32,
    /// Scratch database (kept afterwards). With both backends, the differential runs use
    /// two more beside it, named after it (`bench.diff-c.tdb`, `bench.diff-pure.tdb`),
    /// removed when the engines agree. Default: `bench.tdb` in a new directory under the
    /// system's temporary directory, whose path is printed.
    #[arg(long)]
    pub tdbfile: Option<PathBuf>,
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

/// What `bench` measures, resolved from [`BenchArgs`].
#[derive(Clone, Debug)]
pub struct BenchSettings {
    /// Timed runs per measurement (at least one).
    pub runs: usize,
    /// The scratch database.
    pub tdbfile: PathBuf,
    /// Replace the databases even if tdb-replay did not create them.
    pub overwrite: bool,
    /// The backends to measure.
    pub backend: BenchBackends,
    /// Print a JSON document on stdout.
    pub json: bool,
    /// Which program wrote the traces.
    pub flavour: FlavourChoice,
    /// The trace files.
    pub traces: Vec<PathBuf>,
}

impl TryFrom<BenchArgs> for BenchSettings {
    type Error = anyhow::Error;

    /// The settings: the scratch database is a fresh one unless named.
    fn try_from(args: BenchArgs) -> Result<BenchSettings> {
        let tdbfile = match args.tdbfile {
            Some(path) => path,
            None => fresh_database("bench.tdb")?,
        };
        Ok(BenchSettings {
            runs: args.runs.max(1) as usize,
            tdbfile,
            overwrite: args.overwrite,
            backend: args.backend,
            json: args.json,
            flavour: args.load.flavour(),
            traces: args.traces,
        })
    }
}

/// Peak resident memory of this process so far (`VmHWM`), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Best and median times of one measurement.
#[derive(Clone, Copy)]
struct Timing {
    best: Duration,
    median: Duration,
}

impl Timing {
    fn of(times: Vec<Duration>) -> Timing {
        let (best, median) = best_median(times);
        Timing { best, median }
    }

    fn ratio_to(self, base: Timing) -> (f64, f64) {
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
        (ratio(self.best, base.best), ratio(self.median, base.median))
    }
}

/// What one backend measured.
struct BackendFigures {
    replay: Timing,
    bare: Option<Timing>,
    json: BackendJson,
}

/// The databases the differential runs use, beside the scratch database and named after
/// it: `bench.tdb` gives `bench.diff-c.tdb` and `bench.diff-pure.tdb`.
fn diff_paths(tdbfile: &Path) -> [PathBuf; 2] {
    let stem = tdbfile
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bench".into());
    let extension = tdbfile
        .extension()
        .map(|extension| format!(".{}", extension.to_string_lossy()))
        .unwrap_or_default();
    ["c", "pure"].map(|engine| tdbfile.with_file_name(format!("{stem}.diff-{engine}{extension}")))
}

/// Measure and print the figures.
pub fn run(args: &BenchSettings) -> Result<()> {
    claim_scratch(&args.tdbfile, args.overwrite)?;
    if args.backend == BenchBackends::Both {
        for path in diff_paths(&args.tdbfile) {
            claim_scratch(&path, args.overwrite)?;
        }
    }
    let out = Out::new(args.json, false);
    let progress = Arc::new(Progress::new(!args.json));
    let (traces, load_time) = timed(|| load(&args.traces, args.flavour, &progress));
    let traces = traces?;
    let (plan, analysis_time) = timed(|| analyse_traces::<CBackend>(&traces));
    let plan = plan?;
    let peak = peak_rss_kib();

    out.line(format!("traces            {}", traces.len()));
    out.line(format!(
        "ops               {}",
        traces.iter().map(|t| t.ops.len()).sum::<usize>()
    ));
    out.line(format!("load              {:10.1} ms", ms(load_time)));
    out.line(format!("analysis          {:10.1} ms", ms(analysis_time)));
    out.line(format!(
        "load + analysis   {:10.1} ms",
        ms(load_time + analysis_time)
    ));
    if let Some(peak) = peak {
        out.line(format!(
            "peak memory       {:10.1} MiB",
            peak as f64 / 1024.0
        ));
    }
    out.line(format!("dependencies      {}", plan.stats.dependencies));
    let clock = replay_engine::replay::clock::cost_ns();
    out.line(format!("clock read        {clock:10.1} ns (per timed op)"));
    let mut doc = BenchJson {
        command: "bench",
        traces: traces.len(),
        ops: traces.iter().map(|t| t.ops.len() as u64).sum(),
        runs: args.runs as u32,
        load_ms: ms(load_time),
        analysis_ms: ms(analysis_time),
        load_analysis_ms: ms(load_time + analysis_time),
        peak_memory_mib: peak.map(|kib| kib as f64 / 1024.0),
        dependencies: plan.stats.dependencies,
        clock_read_ns: clock,
        backends: Vec::new(),
        pure_over_c: None,
        bare_pure_over_c: None,
        mixed: None,
        diff: None,
        latency: Vec::new(),
    };
    drop(plan);

    let c = match args.backend {
        BenchBackends::C | BenchBackends::Both => Some(measure::<CBackend>(args, &traces, out)?),
        BenchBackends::Pure => None,
    };
    let pure = match args.backend {
        BenchBackends::Pure | BenchBackends::Both => {
            Some(measure::<PureBackend>(args, &traces, out)?)
        }
        BenchBackends::C => None,
    };
    for figures in c.iter().chain(&pure) {
        doc.backends.push(figures.json.clone());
    }
    doc.latency = side_by_side(out, c.as_ref(), pure.as_ref());
    if let (Some(c), Some(pure)) = (&c, &pure) {
        let (best, median) = pure.replay.ratio_to(c.replay);
        out.line(format!(
            "replay pure / c   {best:10.3} (best), {median:.3} (median)"
        ));
        doc.pure_over_c = Some(RatioJson { best, median });
        if let (Some(pure_bare), Some(c_bare)) = (pure.bare, c.bare) {
            let (best, median) = pure_bare.ratio_to(c_bare);
            out.line(format!(
                "bare pure / c     {best:10.3} (best), {median:.3} (median)"
            ));
            doc.bare_pure_over_c = Some(RatioJson { best, median });
        }
        if traces.len() > 1 {
            let mixed = replays::<CBackend, PureBackend>(args, &traces, "mixed", out)?;
            sound_to_both(&args.tdbfile)?;
            let (best, median) = mixed.timing.ratio_to(c.replay);
            out.line(format!(
                "replay mixed / c  {best:10.3} (best), {median:.3} (median)"
            ));
            doc.mixed = Some(CompareJson {
                best_ms: ms(mixed.timing.best),
                median_ms: ms(mixed.timing.median),
                over_c: RatioJson { best, median },
            });
        } else {
            out.line("replay (mixed)    skipped: a single trace replays mixed on C tdb alone");
        }
        let diff = diff_runs(args, &traces, out)?;
        let (best, median) = diff.ratio_to(c.replay);
        out.line(format!(
            "diff / replay c   {best:10.3} (best), {median:.3} (median)"
        ));
        doc.diff = Some(CompareJson {
            best_ms: ms(diff.best),
            median_ms: ms(diff.median),
            over_c: RatioJson { best, median },
        });
    }
    out.document(&doc)
}

/// The JSON document of `bench --json` (fields documented in the README).
#[derive(Serialize)]
struct BenchJson {
    command: &'static str,
    traces: usize,
    ops: u64,
    runs: u32,
    load_ms: f64,
    analysis_ms: f64,
    load_analysis_ms: f64,
    peak_memory_mib: Option<f64>,
    dependencies: usize,
    clock_read_ns: f64,
    backends: Vec<BackendJson>,
    pure_over_c: Option<RatioJson>,
    bare_pure_over_c: Option<RatioJson>,
    mixed: Option<CompareJson>,
    diff: Option<CompareJson>,
    latency: Vec<LatencyPairJson>,
}

#[derive(Serialize, Clone)]
struct BackendJson {
    backend: &'static str,
    replay_best_ms: f64,
    replay_median_ms: f64,
    untimed_best_ms: f64,
    untimed_median_ms: f64,
    timed_over_untimed: RatioJson,
    backoffs: usize,
    reruns: usize,
    bare_best_ms: Option<f64>,
    bare_median_ms: Option<f64>,
    replay_over_bare: Option<RatioJson>,
    latency: Option<LatencyReport>,
}

#[derive(Serialize, Clone, Copy)]
struct RatioJson {
    best: f64,
    median: f64,
}

#[derive(Serialize)]
struct CompareJson {
    best_ms: f64,
    median_ms: f64,
    over_c: RatioJson,
}

/// One op type on both backends.
#[derive(Serialize)]
struct LatencyPairJson {
    op: String,
    c: Option<LatencySummary>,
    pure: Option<LatencySummary>,
    /// pure / c of the mean, the median and the 99th percentile.
    mean_ratio: Option<f64>,
    p50_ratio: Option<f64>,
    p99_ratio: Option<f64>,
}

/// Per op type, both backends' latencies (over all their timed runs) and their ratio.
fn side_by_side(
    out: Out,
    c: Option<&BackendFigures>,
    pure: Option<&BackendFigures>,
) -> Vec<LatencyPairJson> {
    let ops_of = |figures: Option<&BackendFigures>| {
        figures
            .and_then(|f| f.json.latency.as_ref())
            .map(|l| l.ops.clone())
            .unwrap_or_default()
    };
    let (c_ops, pure_ops) = (ops_of(c), ops_of(pure));
    let mut names: Vec<String> = Vec::new();
    for op in c_ops.iter().chain(&pure_ops) {
        if !names.contains(&op.op) {
            names.push(op.op.clone());
        }
    }
    if names.is_empty() {
        return Vec::new();
    }
    out.line("latency per op (µs; pure / c):");
    out.line(format!(
        "  {:<31}{:>9}{:>9}{:>9}{:>7}{:>9}{:>9}{:>7}{:>9}{:>9}",
        "op",
        "count",
        "c p50",
        "pure p50",
        "ratio",
        "c p99",
        "pure p99",
        "ratio",
        "c max",
        "pure max"
    ));
    let ratio = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(pure), Some(c)) if c > 0 => Some(pure as f64 / c as f64),
        _ => None,
    };
    let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    let cell = |v: Option<u64>| v.map_or("-".to_string(), us);
    names
        .into_iter()
        .map(|name| {
            let c = c_ops.iter().find(|s| s.op == name).cloned();
            let pure = pure_ops.iter().find(|s| s.op == name).cloned();
            let mean = |s: &Option<LatencySummary>| s.as_ref().map(|s| s.total_ns / s.count.max(1));
            let pair = LatencyPairJson {
                mean_ratio: ratio(mean(&pure), mean(&c)),
                p50_ratio: ratio(
                    pure.as_ref().map(|s| s.p50_ns),
                    c.as_ref().map(|s| s.p50_ns),
                ),
                p99_ratio: ratio(
                    pure.as_ref().map(|s| s.p99_ns),
                    c.as_ref().map(|s| s.p99_ns),
                ),
                op: name,
                c,
                pure,
            };
            let count = pair
                .c
                .as_ref()
                .or(pair.pure.as_ref())
                .map_or(0, |s| s.count);
            out.line(format!(
                "  {:<31}{:>9}{:>9}{:>9}{:>7}{:>9}{:>9}{:>7}{:>9}{:>9}",
                pair.op,
                count,
                cell(pair.c.as_ref().map(|s| s.p50_ns)),
                cell(pair.pure.as_ref().map(|s| s.p50_ns)),
                show(pair.p50_ratio),
                cell(pair.c.as_ref().map(|s| s.p99_ns)),
                cell(pair.pure.as_ref().map(|s| s.p99_ns)),
                show(pair.p99_ratio),
                cell(pair.c.as_ref().map(|s| s.max_ns)),
                cell(pair.pure.as_ref().map(|s| s.max_ns)),
            ));
            pair
        })
        .collect()
}

/// Replay with the traces at even positions on `Even` and the others on `Odd` (the same
/// engine but for the mixed replay), `--runs` times with every op timed, alternating with
/// as many runs without timing (so that the cost of the per-op clock is measured in the
/// same conditions), printing the lines `replay (label)` and `untimed`. Returns the
/// timings and the plan, with whatever back-offs the runs learned.
fn replays<Even: Backend, Odd: Backend>(
    args: &BenchSettings,
    traces: &[Trace],
    label: &str,
    out: Out,
) -> Result<ReplayFigures> {
    let runs = args.runs;
    // Each backend replays with a plan of its own: the analysis follows the backend's
    // locking model (the mixed replay's, like `replay --backend mixed`, the first
    // trace's engine), and a replay learns its back-offs into the plan.
    let mut plan = analyse_traces::<Even>(traces)?;
    let (mut timed, mut untimed, mut latencies) = (Vec::new(), Vec::new(), Vec::new());
    let (mut backoffs, mut reruns) = (0, 0);
    for _ in 0..runs {
        for latency in [true, false] {
            let options = ReplayOptions {
                runs: 1,
                latency,
                ..ReplayOptions::default()
            };
            let report =
                replay::replay_mixed::<Even, Odd>(&args.tdbfile, traces, &mut plan, &options)?;
            backoffs += report.backoffs.len() + report.predicted_backoffs.len();
            reruns += report.reruns;
            for run in report.runs {
                if latency {
                    timed.push(run.elapsed);
                    latencies.push(run.latencies);
                } else {
                    untimed.push(run.elapsed);
                }
            }
        }
    }
    let timing = Timing::of(timed);
    let untimed = Timing::of(untimed);
    let latency = latency_reports(&latencies)
        .into_iter()
        .find(|l| l.backend == Even::NAME);
    let label = format!("replay ({label})");
    out.line(format!(
        "{label:<18}{:10.1} ms best, {:.1} ms median of {runs}; {backoffs} back-offs",
        ms(timing.best),
        ms(timing.median),
    ));
    let (best, median) = timing.ratio_to(untimed);
    out.line(format!(
        "{:<18}{:10.1} ms best, {:.1} ms median of {runs} without per-op timing; timed / \
         untimed {best:.3} (best), {median:.3} (median)",
        "  untimed",
        ms(untimed.best),
        ms(untimed.median),
    ));
    Ok(ReplayFigures {
        timing,
        untimed,
        plan,
        backoffs,
        reruns,
        latency,
    })
}

/// What [`replays`] measured.
struct ReplayFigures {
    timing: Timing,
    untimed: Timing,
    plan: Analysis,
    backoffs: usize,
    reruns: usize,
    latency: Option<LatencyReport>,
}

/// Run the differential test (C tdb and tdb-pure in lock step, every result compared, then
/// the final databases) `--runs` times, each on fresh databases, printing the line `diff`.
/// A divergence is an error, and its databases are kept; when the engines agree they are
/// removed. A run's time is the lock step and the final comparison and checks (like a
/// replay's time, it leaves out creating the databases); the lock step alone is shown too.
fn diff_runs(args: &BenchSettings, traces: &[Trace], out: Out) -> Result<Timing> {
    let runs = args.runs;
    let plan = analyse_traces::<CBackend>(traces)?;
    let [path_c, path_pure] = diff_paths(&args.tdbfile);
    let (mut times, mut lock_steps) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    let mut last = None;
    for _ in 0..runs {
        let report = diff::diff::<CBackend, PureBackend>(traces, &plan, &path_c, &path_pure, None)
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        if let Some(divergence) = &report.divergence {
            bail!(
                "diff: the engines diverge after {} ops:\n{divergence}\nThe databases are kept \
                 at {} and {}.",
                report.ops,
                path_c.display(),
                path_pure.display()
            );
        }
        times.push(report.elapsed);
        lock_steps.push(report.lock_step);
        last = Some(report);
    }
    for path in [&path_c, &path_pure] {
        scratch::remove(path)?;
    }
    let timing = Timing::of(times);
    let lock_step = Timing::of(lock_steps);
    if let Some(report) = last {
        out.line(format!(
            "{:<18}{:10.1} ms best, {:.1} ms median of {runs}; lock step {:.1} ms best; the \
             engines agree ({} ops, {})",
            "diff",
            ms(timing.best),
            ms(timing.median),
            ms(lock_step.best),
            report.ops,
            if report.identical_files {
                "byte-identical files"
            } else {
                "same records, files differ in layout"
            }
        ));
    }
    Ok(timing)
}

/// Replay (and for one trace, bare calls) on backend `B`, printing its lines.
fn measure<B: Backend>(args: &BenchSettings, traces: &[Trace], out: Out) -> Result<BackendFigures> {
    let runs = args.runs;
    let figures = replays::<B, B>(args, traces, B::NAME, out)?;
    let (replay, plan) = (figures.timing, figures.plan);
    let (best, median) = replay.ratio_to(figures.untimed);
    let mut json = BackendJson {
        backend: B::NAME,
        replay_best_ms: ms(replay.best),
        replay_median_ms: ms(replay.median),
        untimed_best_ms: ms(figures.untimed.best),
        untimed_median_ms: ms(figures.untimed.median),
        timed_over_untimed: RatioJson { best, median },
        backoffs: figures.backoffs,
        reruns: figures.reruns,
        bare_best_ms: None,
        bare_median_ms: None,
        replay_over_bare: None,
        latency: figures.latency,
    };
    let mut bare = None;
    if traces.len() == 1 {
        let timing = Timing::of(bare_runs::<B>(args, traces, &plan, runs)?);
        let label = format!("bare {} calls", B::NAME);
        out.line(format!(
            "{label:<18}{:10.1} ms best, {:.1} ms median of {runs}",
            ms(timing.best),
            ms(timing.median)
        ));
        let (best, median) = replay.ratio_to(timing);
        out.line(format!(
            "replay / bare     {best:10.3} (best), {median:.3} (median)"
        ));
        bare = Some(timing);
        json.bare_best_ms = Some(ms(timing.best));
        json.bare_median_ms = Some(ms(timing.median));
        json.replay_over_bare = Some(RatioJson { best, median });
    }
    Ok(BackendFigures { replay, bare, json })
}

/// Time the bare calls of a single trace, each run on a freshly prepared database.
fn bare_runs<B: Backend>(
    args: &BenchSettings,
    traces: &[Trace],
    plan: &Analysis,
    runs: usize,
) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let locking = database::Locking::Recorded;
        database::prepare::<B>(&args.tdbfile, traces, &plan.preexisting, locking)?;
        let options = database::in_process_options(&traces[0], locking);
        let mut db = B::open(&args.tdbfile, &options)?;
        times.push(bare::run(&mut db, &traces[0], &plan.groups[0]));
        db.close()?;
    }
    Ok(times)
}
