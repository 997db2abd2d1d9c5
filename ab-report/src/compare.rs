//! Comparisons of one engine against a baseline: the replay time and each op type.

use std::fmt;

use serde::Serialize;

use crate::samples::{median, usable, EngineSamples};
use crate::shift::ratio_estimate;

/// What a comparison concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The engine takes less time: the whole 95% interval of the ratio is below 1.
    Faster,
    /// The engine takes more time: the whole 95% interval of the ratio is above 1.
    Slower,
    /// The 95% interval of the ratio contains 1.
    NoSignificantDifference,
    /// Too few usable runs on one side for a 95% interval (at least 4 against 4 needed).
    NotEnoughRuns,
}

impl Verdict {
    /// Whether the interval excludes 1.
    pub fn is_significant(self) -> bool {
        matches!(self, Verdict::Faster | Verdict::Slower)
    }
}

/// One engine against the baseline on one measure (replay time, or one op type's
/// per-run median latency).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The baseline engine's name.
    pub baseline: String,
    /// The compared engine's name.
    pub engine: String,
    /// Estimated ratio of medians, engine / baseline (below 1: the engine is faster).
    /// The Hodges-Lehmann estimate on log times; NaN when a side has no usable run.
    pub median_ratio: f64,
    /// Lower end of the 95% confidence interval of the ratio; NaN without an interval.
    pub ci_low: f64,
    /// Upper end of the 95% confidence interval of the ratio; NaN without an interval.
    pub ci_high: f64,
    /// What the interval says.
    pub verdict: Verdict,
    /// Usable baseline runs (finite and above zero; others are left out).
    pub baseline_runs: usize,
    /// Usable engine runs.
    pub engine_runs: usize,
    /// The baseline's plain sample median (NaN without usable runs).
    pub baseline_median: f64,
    /// The engine's plain sample median (NaN without usable runs).
    pub engine_median: f64,
}

/// One op type's comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpComparison {
    /// Op type name ("fetch", "store", ...).
    pub op: String,
    /// The comparison of the per-run median latencies.
    #[serde(flatten)]
    pub comparison: Comparison,
}

/// One engine against the baseline: replay time and every op type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineComparison {
    /// Replay time per run.
    pub replay: Comparison,
    /// Per op type, in the baseline's op order, then the engine's extra op types.
    pub ops: Vec<OpComparison>,
}

impl Comparison {
    /// Compares two samples of times (any one unit, both the same): `engine` against
    /// `baseline`. Values that are NaN, infinite, zero or negative are left out.
    pub fn from_samples(
        baseline_name: &str,
        engine_name: &str,
        baseline: &[f64],
        engine: &[f64],
    ) -> Comparison {
        let (base, eng) = (usable(baseline), usable(engine));
        let estimate = ratio_estimate(&base, &eng);
        let ratio = estimate.map_or(f64::NAN, |e| e.ratio);
        let interval = estimate.and_then(|e| e.interval);
        let (ci_low, ci_high) = interval.unwrap_or((f64::NAN, f64::NAN));
        let verdict = match interval {
            None => Verdict::NotEnoughRuns,
            Some((_, high)) if high < 1.0 => Verdict::Faster,
            Some((low, _)) if low > 1.0 => Verdict::Slower,
            Some(_) => Verdict::NoSignificantDifference,
        };
        Comparison {
            baseline: baseline_name.to_string(),
            engine: engine_name.to_string(),
            median_ratio: ratio,
            ci_low,
            ci_high,
            verdict,
            baseline_runs: base.len(),
            engine_runs: eng.len(),
            baseline_median: median(&base).unwrap_or(f64::NAN),
            engine_median: median(&eng).unwrap_or(f64::NAN),
        }
    }
}

/// Compares `engine` against `baseline`: the replay times, and each op type's per-run
/// median latencies. An op type only one side has is compared against no runs, which
/// gives [`Verdict::NotEnoughRuns`].
pub fn compare(baseline: &EngineSamples, engine: &EngineSamples) -> EngineComparison {
    let (base_name, eng_name) = (baseline.name.as_str(), engine.name.as_str());
    let replay =
        Comparison::from_samples(base_name, eng_name, &baseline.replay_ms, &engine.replay_ms);
    let extra_ops = engine.ops.iter().filter(|o| baseline.op(&o.op).is_none());
    let op_names = baseline.ops.iter().chain(extra_ops).map(|o| o.op.as_str());
    let ops = op_names
        .map(|op| {
            fn samples<'s>(side: &'s EngineSamples, op: &str) -> &'s [f64] {
                side.op(op).map_or(&[], |o| o.per_run_median_ns.as_slice())
            }
            OpComparison {
                op: op.to_string(),
                comparison: Comparison::from_samples(
                    base_name,
                    eng_name,
                    samples(baseline, op),
                    samples(engine, op),
                ),
            }
        })
        .collect();
    EngineComparison { replay, ops }
}

/// Compares every engine after the first with the first, the baseline (an empty list for
/// fewer than two engines).
pub fn compare_all(engines: &[EngineSamples]) -> Vec<EngineComparison> {
    match engines.split_first() {
        Some((baseline, others)) => others.iter().map(|e| compare(baseline, e)).collect(),
        None => Vec::new(),
    }
}

/// Percent, one decimal.
struct Percent(f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}", self.0 * 100.0)
    }
}

impl fmt::Display for Comparison {
    /// One line: "lib:patched is 4.1% faster than c (95% CI 2.0-6.3%)". Faster by p%
    /// means it takes p% less time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (base, eng) = (&self.baseline, &self.engine);
        let (ratio, low, high) = (self.median_ratio, self.ci_low, self.ci_high);
        match self.verdict {
            Verdict::Faster => write!(
                f,
                "{eng} is {}% faster than {base} (95% CI {}-{}%)",
                Percent(1.0 - ratio),
                Percent(1.0 - high),
                Percent(1.0 - low)
            ),
            Verdict::Slower => write!(
                f,
                "{eng} is {}% slower than {base} (95% CI {}-{}%)",
                Percent(ratio - 1.0),
                Percent(low - 1.0),
                Percent(high - 1.0)
            ),
            Verdict::NoSignificantDifference => write!(
                f,
                "no significant difference between {eng} and {base} \
                 (time change {:+.1}%, 95% CI {:+.1}% to {:+.1}%)",
                (ratio - 1.0) * 100.0,
                (low - 1.0) * 100.0,
                (high - 1.0) * 100.0
            ),
            Verdict::NotEnoughRuns => write!(
                f,
                "{eng} vs {base}: not enough runs for a 95% interval \
                 (usable runs: {eng} {}, {base} {}; 5 each or more is best)",
                self.engine_runs, self.baseline_runs
            ),
        }
    }
}

impl fmt::Display for OpComparison {
    /// The comparison's line, prefixed with the op type: "fetch: pure is ...".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.op, self.comparison)
    }
}
