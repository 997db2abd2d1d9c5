//! What `replay` prints when the runs are done: the human report, and the JSON document
//! of `replay --json`.

use std::time::Duration;

use anyhow::Result;
use replay_engine::analysis::{Analysis, AnalysisStats};
use replay_engine::replay::{self, ReplayReport};
use replay_engine::trace::Trace;
use serde::Serialize;

use super::ReplaySettings;
use crate::engine::sound_to_both_line;
use crate::loading::ops_in;
use crate::output::{latency_reports, print_latency, LatencyReport, Out};
use crate::timing::{best_median, ms, per_second, show_ms};

/// Runs listed with their tolerated differences, at most this many each.
const TOLERATED_SHOWN: usize = 5;

/// What the plan said before the runs taught it back-offs.
pub(super) struct FreshPlan {
    stats: AnalysisStats,
    digest: u64,
    preexisting: usize,
}

impl FreshPlan {
    /// The figures of `plan` as analysed.
    pub(super) fn of(plan: &Analysis) -> FreshPlan {
        FreshPlan {
            stats: plan.stats.clone(),
            digest: plan.digest(),
            preexisting: plan.preexisting.len(),
        }
    }
}

/// A replay that finished with every result matching.
pub(super) struct Finished<'a> {
    pub settings: &'a ReplaySettings,
    pub report: &'a ReplayReport,
    pub traces: &'a [Trace],
    /// Load, analysis and wall-clock time.
    pub times: (Duration, Duration, Duration),
    /// The plan after the runs (with the back-offs they learned).
    pub plan: &'a Analysis,
    pub fresh: FreshPlan,
    /// The records C and tdb-pure count in a mixed run's final database.
    pub sound: Option<(u64, u64)>,
}

impl Finished<'_> {
    /// The human report (with `--quiet`, only one line per run).
    pub fn print(&self, out: Out) {
        let report = self.report;
        if self.settings.quiet {
            if !self.settings.json {
                for run in &report.runs {
                    println!("{} usec", run.elapsed.as_micros());
                }
            }
            return;
        }
        self.print_backoffs(out);
        self.print_runs(out);
        for backend in &self.latency() {
            print_latency(out, backend);
        }
        out.line(self.summary());
        out.line(format!(
            "The database is kept at {}.",
            self.settings.tdbfile.display()
        ));
        if !report.recorded.is_empty() {
            out.line(format!(
                "Recorded the first run as {} traces:",
                report.recorded.len()
            ));
            for path in &report.recorded {
                out.line(format!("  {}", path.display()));
            }
        }
        if let Some(counts) = self.sound {
            out.line(sound_to_both_line(counts));
        }
    }

    fn print_backoffs(&self, out: Out) {
        let report = self.report;
        if !report.predicted_backoffs.is_empty() {
            out.line(format!(
                "Predicted {} lock-order inversions before the first run (waits moved before \
                 the traverse or transaction holding the transaction lock).",
                report.predicted_backoffs.len()
            ));
        }
        for backoff in &report.known_backoffs {
            out.line(format!("Back-off (known from the cache): {backoff}"));
        }
        for backoff in &report.backoffs {
            out.line(format!("Back-off: {backoff}"));
        }
    }

    fn print_runs(&self, out: Out) {
        let runs = &self.report.runs;
        for (index, run) in runs.iter().enumerate() {
            out.line(format!(
                "Run {}/{}: {} ({:.0} ops/s)",
                index + 1,
                runs.len(),
                show_ms(run.elapsed),
                per_second(run.ops, run.elapsed)
            ));
            for note in run.tolerated.iter().take(TOLERATED_SHOWN) {
                out.line(format!("  tolerated: {note}"));
            }
            if run.tolerated.len() > TOLERATED_SHOWN {
                out.line(format!(
                    "  tolerated: ... and {} more",
                    run.tolerated.len() - TOLERATED_SHOWN
                ));
            }
        }
    }

    fn best_median(&self) -> (Duration, Duration) {
        best_median(self.report.runs.iter().map(|run| run.elapsed).collect())
    }

    fn latency(&self) -> Vec<LatencyReport> {
        latency_reports(self.report.runs.iter().map(|run| &run.latencies))
    }

    fn summary(&self) -> String {
        let (report, (load, analysis, wall)) = (self.report, self.times);
        let (best, median) = self.best_median();
        format!(
            "Summary: {} traces, {} ops; load {}, analysis {}, replay best {} / median {}; \
             {} dependencies (digest {:016x}), {} back-offs ({} predicted, {} known), {} reruns \
             ({}); wall {}; all results matched.",
            self.traces.len(),
            ops_in(self.traces),
            show_ms(load),
            show_ms(analysis),
            show_ms(best),
            show_ms(median),
            self.plan.stats.dependencies,
            self.plan.digest(),
            report.backoffs.len() + report.known_backoffs.len() + report.predicted_backoffs.len(),
            report.predicted_backoffs.len(),
            report.known_backoffs.len(),
            report.reruns,
            show_ms(report.rerun_time),
            show_ms(wall),
        )
    }

    /// Print the JSON document, if `--json`.
    pub fn document(&self, out: Out) -> Result<()> {
        let (report, (load, analysis, wall)) = (self.report, self.times);
        let (best, median) = self.best_median();
        let backoffs = |list: &[replay::Backoff]| list.iter().map(BackoffJson::of).collect();
        out.document(&ReplayJson {
            command: "replay",
            backend: self.settings.engine_name(),
            traces: self
                .traces
                .iter()
                .map(|trace| TraceJson {
                    name: trace.name.clone(),
                    ops: trace.ops.len(),
                })
                .collect(),
            ops: ops_in(self.traces),
            load_ms: ms(load),
            analysis_ms: ms(analysis),
            keys: self.fresh.stats.keys,
            dependencies: self.fresh.stats.dependencies,
            raw_dependencies: self.fresh.stats.raw_dependencies,
            preexisting: self.fresh.preexisting,
            digest: format!("{:016x}", self.fresh.digest),
            runs: report.runs.iter().map(RunJson::of).collect(),
            best_ms: ms(best),
            median_ms: ms(median),
            backoffs: backoffs(&report.backoffs),
            known_backoffs: backoffs(&report.known_backoffs),
            predicted_backoffs: backoffs(&report.predicted_backoffs),
            reruns: report.reruns,
            rerun_ms: ms(report.rerun_time),
            wall_ms: ms(wall),
            latency: self.latency(),
            recorded: report
                .recorded
                .iter()
                .map(|path| path.display().to_string())
                .collect(),
            database: self.settings.tdbfile.display().to_string(),
        })
    }
}

/// The JSON document of `replay --json`.
#[derive(Serialize)]
struct ReplayJson {
    /// Always `"replay"`.
    command: &'static str,
    /// The engine choice: `c`, `pure` or `mixed`, or the `--engines` list.
    backend: String,
    /// The traces, in the order given.
    traces: Vec<TraceJson>,
    /// Ops in all the traces.
    ops: u64,
    /// Time to read and parse the traces.
    load_ms: f64,
    /// Time to analyse them.
    analysis_ms: f64,
    /// Distinct keys in the plan.
    keys: usize,
    /// Cross-trace dependencies after pruning (of the fresh plan).
    dependencies: usize,
    /// Dependencies before pruning.
    raw_dependencies: usize,
    /// Records the traces need to find before they start.
    preexisting: usize,
    /// The fresh plan's digest, 16 hex digits.
    digest: String,
    /// One entry per timed run.
    runs: Vec<RunJson>,
    /// The fastest run's replay time.
    best_ms: f64,
    /// The median run's replay time.
    median_ms: f64,
    /// Back-offs the runs learned from deadlocks.
    backoffs: Vec<BackoffJson>,
    /// Back-offs read from the cache beside the database.
    known_backoffs: Vec<BackoffJson>,
    /// Back-offs predicted before the first run (lock-order inversions).
    predicted_backoffs: Vec<BackoffJson>,
    /// Runs repeated after a back-off.
    reruns: usize,
    /// Time spent in those repeated runs.
    rerun_ms: f64,
    /// Wall-clock time of the whole command.
    wall_ms: f64,
    /// Per-op latencies per backend, over all runs (empty with `--no-latency`).
    latency: Vec<LatencyReport>,
    /// Trace files the first run was recorded as (with `--record`).
    recorded: Vec<String>,
    /// The scratch database's path.
    database: String,
}

/// One trace of a replay.
#[derive(Serialize)]
struct TraceJson {
    /// The trace's file name as given.
    name: String,
    /// Ops in it.
    ops: usize,
}

/// One timed run.
#[derive(Serialize)]
struct RunJson {
    /// Replay time in milliseconds.
    replay_ms: f64,
    /// Replay time in microseconds (the figure `--quiet` prints).
    replay_us: u128,
    /// Ops run.
    ops: u64,
    /// Ops per second.
    ops_per_s: f64,
    /// Differences from the trace the replay tolerated, one text each.
    tolerated: Vec<String>,
}

impl RunJson {
    fn of(run: &replay::RunReport) -> RunJson {
        RunJson {
            replay_ms: ms(run.elapsed),
            replay_us: run.elapsed.as_micros(),
            ops: run.ops,
            ops_per_s: per_second(run.ops, run.elapsed),
            tolerated: run.tolerated.clone(),
        }
    }
}

/// A back-off: a wait moved so that a deadlock does not recur.
#[derive(Serialize)]
struct BackoffJson {
    /// The op that was waiting (`file:line`).
    waiting_at: String,
    /// What it was waiting for.
    waiting_for: String,
    /// `wait_before` or `stop_traverse_before`.
    resolution: &'static str,
    /// Where the new wait goes (`file:line`).
    at: String,
}

impl BackoffJson {
    fn of(backoff: &replay::Backoff) -> BackoffJson {
        let (resolution, at) = match &backoff.resolution {
            replay::Resolution::WaitBefore(at) => ("wait_before", at.clone()),
            replay::Resolution::StopTraverseBefore(at) => ("stop_traverse_before", at.clone()),
        };
        BackoffJson {
            waiting_at: backoff.waiting_at.clone(),
            waiting_for: backoff.waiting_for.clone(),
            resolution,
            at,
        }
    }
}
