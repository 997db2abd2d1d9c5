//! `bench`'s measurements: replays timed and untimed, the differential test, and bare
//! backend calls.

use std::time::Duration;

use anyhow::{bail, Result};
use replay_engine::backend::Backend;
use replay_engine::replay::{self, database, ReplayOptions};
use replay_engine::trace::Trace;
use replay_engine::{analysis::Analysis, bare, diff, scratch};

use super::json::{BackendJson, RatioJson};
use super::{diff_paths, BackendFigures, BenchSettings, Timing};
use crate::engine::{CBackend, PureBackend};
use crate::loading::analyse_traces;
use crate::output::{latency_reports, LatencyReport, Out};
use crate::timing::ms;

/// Replay with the traces at even positions on `Even` and the others on `Odd` (the same
/// engine but for the mixed replay), `--runs` times with every op timed, alternating with
/// as many runs without timing (so that the cost of the per-op clock is measured in the
/// same conditions), printing the lines `replay (label)` and `untimed`. Returns the
/// timings and the plan, with whatever back-offs the runs learned.
pub(super) fn replays<Even: Backend, Odd: Backend>(
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
        .find(|l| l.backend == Even::label());
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
pub(super) struct ReplayFigures {
    pub(super) timing: Timing,
    pub(super) untimed: Timing,
    pub(super) plan: Analysis,
    pub(super) backoffs: usize,
    pub(super) reruns: usize,
    pub(super) latency: Option<LatencyReport>,
}

/// Run the differential test (C tdb and tdb-pure in lock step, every result compared, then
/// the final databases) `--runs` times, each on fresh databases, printing the line `diff`.
/// A divergence is an error, and its databases are kept; when the engines agree they are
/// removed. A run's time is the lock step and the final comparison and checks (like a
/// replay's time, it leaves out creating the databases); the lock step alone is shown too.
pub(super) fn diff_runs(args: &BenchSettings, traces: &[Trace], out: Out) -> Result<Timing> {
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
pub(super) fn measure<B: Backend>(
    args: &BenchSettings,
    traces: &[Trace],
    out: Out,
) -> Result<BackendFigures> {
    let runs = args.runs;
    let figures = replays::<B, B>(args, traces, B::label(), out)?;
    let (replay, plan) = (figures.timing, figures.plan);
    let (best, median) = replay.ratio_to(figures.untimed);
    let mut json = BackendJson {
        backend: B::label(),
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
        let label = format!("bare {} calls", B::label());
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
