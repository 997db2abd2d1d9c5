//! The JSON document of `bench --json`.

use replay_engine::replay::latency::LatencySummary;
use serde::Serialize;

use crate::output::LatencyReport;

/// The JSON document of `bench --json`.
#[derive(Serialize)]
pub(super) struct BenchJson {
    /// Always `"bench"`.
    pub command: &'static str,
    /// Number of traces.
    pub traces: usize,
    /// Ops in all the traces.
    pub ops: u64,
    /// Timed runs per measurement.
    pub runs: u32,
    /// Time to read and parse the traces.
    pub load_ms: f64,
    /// Time to analyse them.
    pub analysis_ms: f64,
    /// The two together.
    pub load_analysis_ms: f64,
    /// Peak resident memory after the analysis (null where `/proc` does not say).
    pub peak_memory_mib: Option<f64>,
    /// Cross-trace dependencies after pruning.
    pub dependencies: usize,
    /// What reading the clock costs, once per timed op.
    pub clock_read_ns: f64,
    /// One entry per backend measured.
    pub backends: Vec<BackendJson>,
    /// Replay time pure / C (with both backends).
    pub pure_over_c: Option<RatioJson>,
    /// Bare-call time pure / C (with both backends and a single trace).
    pub bare_pure_over_c: Option<RatioJson>,
    /// The mixed replay (with both backends and more than one trace).
    pub mixed: Option<CompareJson>,
    /// The differential test, `diff` (with both backends).
    pub diff: Option<CompareJson>,
    /// Per op type, both backends' latencies side by side.
    pub latency: Vec<LatencyPairJson>,
}

/// What one backend measured.
#[derive(Serialize, Clone)]
pub(super) struct BackendJson {
    /// `c` or `pure`.
    pub backend: &'static str,
    /// Fastest replay with every op timed.
    pub replay_best_ms: f64,
    /// Median replay with every op timed.
    pub replay_median_ms: f64,
    /// Fastest of as many replays without per-op timing, alternating with the timed ones.
    pub untimed_best_ms: f64,
    /// Median of those.
    pub untimed_median_ms: f64,
    /// Timed / untimed replay: the cost of the per-op clock.
    pub timed_over_untimed: RatioJson,
    /// Back-offs the replays learned or predicted.
    pub backoffs: usize,
    /// Runs repeated after a back-off.
    pub reruns: usize,
    /// Fastest run of the bare calls (a single trace only; null otherwise).
    pub bare_best_ms: Option<f64>,
    /// Median run of the bare calls.
    pub bare_median_ms: Option<f64>,
    /// Replay / bare calls: the replay's own cost.
    pub replay_over_bare: Option<RatioJson>,
    /// Per-op latencies over the timed runs.
    pub latency: Option<LatencyReport>,
}

/// A ratio of two measurements, of their best and of their median times.
#[derive(Serialize, Clone, Copy)]
pub(super) struct RatioJson {
    /// Ratio of the best times.
    pub best: f64,
    /// Ratio of the median times.
    pub median: f64,
}

/// A measurement compared with the C replay.
#[derive(Serialize)]
pub(super) struct CompareJson {
    /// Its fastest run.
    pub best_ms: f64,
    /// Its median run.
    pub median_ms: f64,
    /// It / the C replay.
    pub over_c: RatioJson,
}

/// One op type on both backends.
#[derive(Serialize)]
pub(super) struct LatencyPairJson {
    /// The op type (`tdb_fetch`, ...).
    pub op: String,
    /// C tdb's latencies (null if it never ran such an op).
    pub c: Option<LatencySummary>,
    /// tdb-pure's latencies.
    pub pure: Option<LatencySummary>,
    /// pure / c of the mean.
    pub mean_ratio: Option<f64>,
    /// pure / c of the median.
    pub p50_ratio: Option<f64>,
    /// pure / c of the 99th percentile.
    pub p99_ratio: Option<f64>,
}
