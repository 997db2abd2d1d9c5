//! The input: what an interleaved bench measured for one engine.

/// One engine's samples from an interleaved bench.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct EngineSamples {
    /// The engine's label: "c", "pure", "lib:patched".
    pub name: String,
    /// Replay time of each timed run, in milliseconds, in run order.
    pub replay_ms: Vec<f64>,
    /// Per op type.
    pub ops: Vec<OpSamples>,
}

/// One op type's latencies for one engine.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct OpSamples {
    /// Op type name ("fetch", "store", ...).
    pub op: String,
    /// That op type's median latency in each run, in nanoseconds.
    pub per_run_median_ns: Vec<f64>,
    /// The latency histogram merged over all runs.
    pub buckets: Vec<LatencyBucket>,
}

/// One histogram bucket: `count` ops took between `lo_ns` and `hi_ns` nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct LatencyBucket {
    /// Lower edge of the bucket, in nanoseconds.
    pub lo_ns: u64,
    /// Upper edge of the bucket, in nanoseconds.
    pub hi_ns: u64,
    /// How many ops fell in the bucket.
    pub count: u64,
}

impl EngineSamples {
    /// The op type named `op`, if this engine has samples for it.
    pub fn op(&self, op: &str) -> Option<&OpSamples> {
        self.ops.iter().find(|o| o.op == op)
    }
}

/// The samples a comparison can use: finite and greater than zero (a ratio of times
/// needs positive times). NaN, infinities, zeros and negative values are left out.
pub fn usable(values: &[f64]) -> Vec<f64> {
    values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect()
}

/// The smallest usable value, or `None` when there is none.
pub fn best(values: &[f64]) -> Option<f64> {
    usable(values).into_iter().reduce(f64::min)
}

/// The median of the usable values (the mean of the two middle ones for an even count),
/// or `None` when there is none.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = usable(values);
    sorted.sort_by(f64::total_cmp);
    middle(&sorted)
}

/// The median of an already sorted slice, or `None` when it is empty.
pub(crate) fn middle(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_best_skip_unusable_values() {
        let values = [3.0, f64::NAN, 1.0, 0.0, -2.0, f64::INFINITY, 2.0, 10.0];
        assert_eq!(usable(&values), vec![3.0, 1.0, 2.0, 10.0]);
        assert_eq!(median(&values), Some(2.5));
        assert_eq!(best(&values), Some(1.0));
        assert_eq!(median(&[5.0, 1.0, 4.0]), Some(4.0));
        assert_eq!(median(&[f64::NAN]), None);
        assert_eq!(best(&[]), None);
    }
}
