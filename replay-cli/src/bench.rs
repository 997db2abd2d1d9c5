//! `tdb-replay bench`: the figures the project is measured by. Load and analysis time and
//! peak memory; replay time over several runs on each backend, with the ratio pure/C
//! measured in the same run; and, for a single trace, the same ops called bare on each
//! backend (no waits, no checks), so the replay's own cost shows as a ratio too.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use replay_engine::backend::Backend;
use replay_engine::replay::{self, database, ReplayOptions};
use replay_engine::trace::Trace;
use replay_engine::{analysis::Analysis, bare};

use crate::args::{BenchArgs, BenchBackends};
use crate::commands::{analyse_traces, best_median, load, timed, CBackend, PureBackend};
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

pub fn run(args: &BenchArgs) -> Result<()> {
    crate::commands::claim_scratch(&args.tdbfile, args.overwrite)?;
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
    }
    Ok(())
}

/// Replay (and for one trace, bare calls) on backend `B`, printing its lines.
fn measure<B: Backend>(args: &BenchArgs, traces: &[Trace]) -> Result<BackendFigures> {
    let runs = args.runs.max(1) as usize;
    let options = ReplayOptions {
        runs,
        ..ReplayOptions::default()
    };
    // Each backend replays with a plan of its own: the analysis follows the backend's
    // locking model, and a replay learns its back-offs into the plan.
    let mut plan = analyse_traces::<B>(traces)?;
    let report = replay::replay::<B>(&args.tdbfile, traces, &mut plan, &options)?;
    let replay = Timing::of(report.runs.iter().map(|r| r.elapsed).collect());
    let label = format!("replay ({})", B::NAME);
    println!(
        "{label:<18}{:10.1} ms best, {:.1} ms median of {runs}; {} back-offs",
        millis(replay.best),
        millis(replay.median),
        report.backoffs.len(),
    );
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
        let locking = database::Locking::Recorded;
        database::prepare::<B>(&args.tdbfile, traces, &plan.preexisting, locking)?;
        let options = database::in_process_options(&traces[0], locking);
        let mut db = B::open(&args.tdbfile, &options)?;
        times.push(bare::run(&mut db, &traces[0], &plan.groups[0]));
        db.close()?;
    }
    Ok(times)
}
