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
use replay_engine::backend::Backend;
use replay_engine::replay::{self, database, ReplayOptions};
use replay_engine::trace::Trace;
use replay_engine::{analysis::Analysis, bare, diff, scratch};

use crate::args::{BenchArgs, BenchBackends};
use crate::commands::{
    analyse_traces, best_median, check_both_engines, load, timed, CBackend, PureBackend,
};
use crate::progress::Progress;

/// Peak resident memory of this process so far (`VmHWM`), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
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

pub fn run(args: &BenchArgs) -> Result<()> {
    crate::commands::claim_scratch(&args.tdbfile, args.overwrite)?;
    if args.backend == BenchBackends::Both {
        for path in diff_paths(&args.tdbfile) {
            crate::commands::claim_scratch(&path, args.overwrite)?;
        }
    }
    let progress = Arc::new(Progress::new(true));
    let (traces, load_time) = timed(|| load(&args.traces, &args.load, &progress));
    let traces = traces?;
    let (plan, analysis_time) = timed(|| analyse_traces::<CBackend>(&traces));
    let plan = plan?;
    let peak = peak_rss_kib();

    println!("traces            {}", traces.len());
    println!(
        "ops               {}",
        traces.iter().map(|t| t.ops.len()).sum::<usize>()
    );
    println!("load              {:10.1} ms", millis(load_time));
    println!("analysis          {:10.1} ms", millis(analysis_time));
    println!(
        "load + analysis   {:10.1} ms",
        millis(load_time + analysis_time)
    );
    if let Some(peak) = peak {
        println!("peak memory       {:10.1} MiB", peak as f64 / 1024.0);
    }
    println!("dependencies      {}", plan.stats.dependencies);
    drop(plan);

    let c = match args.backend {
        BenchBackends::C | BenchBackends::Both => Some(measure::<CBackend>(args, &traces)?),
        BenchBackends::Pure => None,
    };
    let pure = match args.backend {
        BenchBackends::Pure | BenchBackends::Both => Some(measure::<PureBackend>(args, &traces)?),
        BenchBackends::C => None,
    };
    if let (Some(c), Some(pure)) = (&c, &pure) {
        let (best, median) = pure.replay.ratio_to(c.replay);
        println!("replay pure / c   {best:10.3} (best), {median:.3} (median)");
        if let (Some(pure_bare), Some(c_bare)) = (pure.bare, c.bare) {
            let (best, median) = pure_bare.ratio_to(c_bare);
            println!("bare pure / c     {best:10.3} (best), {median:.3} (median)");
        }
        if traces.len() > 1 {
            let (mixed, _) = replays::<CBackend, PureBackend>(args, &traces, "mixed")?;
            check_both_engines(&args.tdbfile, true)?;
            let (best, median) = mixed.ratio_to(c.replay);
            println!("replay mixed / c  {best:10.3} (best), {median:.3} (median)");
        } else {
            println!("replay (mixed)    skipped: a single trace replays mixed on C tdb alone");
        }
        let diff = diff_runs(args, &traces)?;
        let (best, median) = diff.ratio_to(c.replay);
        println!("diff / replay c   {best:10.3} (best), {median:.3} (median)");
    }
    Ok(())
}

/// Replay with the traces at even positions on `Even` and the others on `Odd` (the same
/// engine but for the mixed replay), `--runs` times, printing the line `replay (label)`.
/// Returns the timing and the plan, with whatever back-offs the runs learned.
fn replays<Even: Backend, Odd: Backend>(
    args: &BenchArgs,
    traces: &[Trace],
    label: &str,
) -> Result<(Timing, Analysis)> {
    let runs = args.runs.max(1) as usize;
    let options = ReplayOptions {
        runs,
        ..ReplayOptions::default()
    };
    // Each backend replays with a plan of its own: the analysis follows the backend's
    // locking model (the mixed replay's, like `replay --backend mixed`, the first
    // trace's engine), and a replay learns its back-offs into the plan.
    let mut plan = analyse_traces::<Even>(traces)?;
    let report = replay::replay_mixed::<Even, Odd>(&args.tdbfile, traces, &mut plan, &options)?;
    let timing = Timing::of(report.runs.iter().map(|r| r.elapsed).collect());
    let label = format!("replay ({label})");
    println!(
        "{label:<18}{:10.1} ms best, {:.1} ms median of {runs}; {} back-offs",
        millis(timing.best),
        millis(timing.median),
        report.backoffs.len(),
    );
    Ok((timing, plan))
}

/// Run the differential test (C tdb and tdb-pure in lock step, every result compared, then
/// the final databases) `--runs` times, each on fresh databases, printing the line `diff`.
/// A divergence is an error, and its databases are kept; when the engines agree they are
/// removed. A run's time is the lock step and the final comparison and checks (like a
/// replay's time, it leaves out creating the databases); the lock step alone is shown too.
fn diff_runs(args: &BenchArgs, traces: &[Trace]) -> Result<Timing> {
    let runs = args.runs.max(1) as usize;
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
        println!(
            "{:<18}{:10.1} ms best, {:.1} ms median of {runs}; lock step {:.1} ms best; the \
             engines agree ({} ops, {})",
            "diff",
            millis(timing.best),
            millis(timing.median),
            millis(lock_step.best),
            report.ops,
            if report.identical_files {
                "byte-identical files"
            } else {
                "same records, files differ in layout"
            }
        );
    }
    Ok(timing)
}

/// Replay (and for one trace, bare calls) on backend `B`, printing its lines.
fn measure<B: Backend>(args: &BenchArgs, traces: &[Trace]) -> Result<BackendFigures> {
    let runs = args.runs.max(1) as usize;
    let (replay, plan) = replays::<B, B>(args, traces, B::NAME)?;
    let mut bare = None;
    if traces.len() == 1 {
        let timing = Timing::of(bare_runs::<B>(args, traces, &plan, runs)?);
        let label = format!("bare {} calls", B::NAME);
        println!(
            "{label:<18}{:10.1} ms best, {:.1} ms median of {runs}",
            millis(timing.best),
            millis(timing.median)
        );
        let (best, median) = replay.ratio_to(timing);
        println!("replay / bare     {best:10.3} (best), {median:.3} (median)");
        bare = Some(timing);
    }
    Ok(BackendFigures { replay, bare })
}

/// Time the bare calls of a single trace, each run on a freshly prepared database.
fn bare_runs<B: Backend>(
    args: &BenchArgs,
    traces: &[Trace],
    plan: &Analysis,
    runs: usize,
) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        database::prepare::<B>(&args.tdbfile, traces, &plan.preexisting)?;
        let mut db = B::open(&args.tdbfile, &database::worker_options(&traces[0]))?;
        times.push(bare::run(&mut db, &traces[0], &plan.groups[0]));
        db.close()?;
    }
    Ok(times)
}
