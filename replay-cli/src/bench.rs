//! `tdb-replay bench`: the figures the project is measured by. Load and analysis time and
//! peak memory; replay time over several runs; and, for a single trace, the same ops
//! called bare on the backend (no waits, no checks), so the replay's own cost shows as a
//! ratio measured in the same process and run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use replay_engine::backend::Backend;
use replay_engine::replay::{self, database, ReplayOptions};
use replay_engine::trace::Trace;
use replay_engine::{analysis::Analysis, bare};

use crate::args::BenchArgs;
use crate::commands::{analyse_traces, best_median, load, CBackend};
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

pub fn run(args: &BenchArgs) -> Result<()> {
    let progress = Arc::new(Progress::new(true));
    let started = Instant::now();
    let traces = load(&args.traces, &args.load, &progress)?;
    let load_time = started.elapsed();
    let started = Instant::now();
    let mut plan = analyse_traces::<CBackend>(&traces)?;
    let analysis_time = started.elapsed();
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

    let runs = args.runs.max(1) as usize;
    let options = ReplayOptions {
        runs,
        ..ReplayOptions::default()
    };
    let report = replay::replay::<CBackend>(&args.tdbfile, &traces, &mut plan, &options)?;
    let (best, median) = best_median(report.runs.iter().map(|r| r.elapsed).collect());
    println!(
        "replay (c)        {:10.1} ms best, {:.1} ms median of {runs}; {} back-offs",
        millis(best),
        millis(median),
        report.backoffs.len()
    );

    if traces.len() == 1 {
        let bare_times = bare_runs::<CBackend>(args, &traces, &plan, runs)?;
        let (bare_best, bare_median) = best_median(bare_times);
        println!(
            "bare C calls      {:10.1} ms best, {:.1} ms median of {runs}",
            millis(bare_best),
            millis(bare_median)
        );
        println!(
            "replay / bare     {:10.3} (best), {:.3} (median)",
            best.as_secs_f64() / bare_best.as_secs_f64().max(1e-9),
            median.as_secs_f64() / bare_median.as_secs_f64().max(1e-9)
        );
    }
    Ok(())
}

/// Time the bare calls of a single trace, each run on a freshly prepared database.
fn bare_runs<B: Backend>(
    args: &BenchArgs,
    traces: &[Trace],
    plan: &Analysis,
    runs: usize,
) -> Result<Vec<std::time::Duration>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        database::prepare::<B>(&args.tdbfile, traces, &plan.preexisting)?;
        let mut db = B::open(&args.tdbfile, &database::worker_options(&traces[0]))?;
        times.push(bare::run(&mut db, &traces[0], &plan.groups[0]));
        db.close()?;
    }
    Ok(times)
}
