//! The Hodges-Lehmann shift between two samples of log times, with its 95% interval.
//!
//! On log times a multiplicative change of speed is a shift, so the median of all
//! pairwise differences `ln(engine_j) - ln(baseline_i)` estimates the log of the ratio of
//! the two medians, and the Mann-Whitney interval around it turns into an interval for
//! that ratio. Both use ranks only, so one wild run moves them little, and the interval
//! holds its 95% level for any continuous distribution of run times, even for 5 runs.

use crate::mann_whitney::interval_rank;
use crate::samples::middle;

/// A ratio `engine / baseline` of typical times, with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioEstimate {
    /// The Hodges-Lehmann estimate of the ratio of medians.
    pub ratio: f64,
    /// The 95% confidence interval, or `None` when there are too few runs for one.
    pub interval: Option<(f64, f64)>,
}

/// The ratio of `engine` to `baseline` times; both slices must hold only finite values
/// greater than zero (see [`crate::samples::usable`]). `None` when either is empty.
pub fn ratio_estimate(baseline: &[f64], engine: &[f64]) -> Option<RatioEstimate> {
    let base_logs: Vec<f64> = baseline.iter().map(|v| v.ln()).collect();
    let differences = sorted_differences(&base_logs, engine);
    let estimate = middle(&differences)?;
    let k = interval_rank(baseline.len(), engine.len());
    let interval = (k > 0).then(|| {
        let low = differences[k - 1];
        let high = differences[differences.len() - k];
        (low.exp(), high.exp())
    });
    Some(RatioEstimate {
        ratio: estimate.exp(),
        interval,
    })
}

/// All `ln(e) - ln(b)`, sorted.
fn sorted_differences(base_logs: &[f64], engine: &[f64]) -> Vec<f64> {
    let mut differences = Vec::with_capacity(base_logs.len() * engine.len());
    for e in engine {
        let e_log = e.ln();
        differences.extend(base_logs.iter().map(|b| e_log - b));
    }
    differences.sort_by(f64::total_cmp);
    differences
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12 * a.abs().max(1.0)
    }

    #[test]
    fn hand_computed_four_against_four() {
        // Differences of logs with a base of 2: baseline 2^{0,1,2,3}, engine 2^{1,2,3,5}.
        let baseline = [1.0, 2.0, 4.0, 8.0];
        let engine = [2.0, 4.0, 8.0, 32.0];
        // Exponents e - b over the 16 pairs, sorted:
        // -2 -1 -1 0 0 0 1 1 1 2 2 2 3 3 4 5; the middle two are 1 and 1.
        let estimate = ratio_estimate(&baseline, &engine).unwrap();
        assert!(close(estimate.ratio, 2.0), "{estimate:?}");
        // k = 1 for 4 against 4: the extremes, 2^-2 and 2^5.
        let (low, high) = estimate.interval.unwrap();
        assert!(close(low, 0.25) && close(high, 32.0), "{estimate:?}");
    }

    #[test]
    fn hand_computed_five_against_five() {
        let baseline = [10.0, 11.0, 12.0, 13.0, 14.0];
        let engine = [20.0, 22.0, 24.0, 26.0, 28.0];
        // engine = 2 * baseline, so the 25 ratios e_j / b_i = 2 * b_j / b_i are
        // symmetric around 2 on a log scale: the median is 2. For 5 against 5, k = 3
        // takes the 3rd smallest ratio, 22/14 (after 20/14 and 20/13), and the 3rd
        // largest, 28/11 (after 28/10 and 26/10).
        let estimate = ratio_estimate(&baseline, &engine).unwrap();
        assert!(close(estimate.ratio, 2.0));
        let mut ratios: Vec<f64> = engine
            .iter()
            .flat_map(|e| baseline.iter().map(move |b| e / b))
            .collect();
        ratios.sort_by(f64::total_cmp);
        // Sorted smallest: 20/14, 20/13, 22/14, ...; largest: 28/10, 26/10, 28/11.
        assert!(close(ratios[2], 22.0 / 14.0));
        assert!(close(ratios[22], 28.0 / 11.0));
        let (low, high) = estimate.interval.unwrap();
        assert!(
            close(low, 22.0 / 14.0) && close(high, 28.0 / 11.0),
            "{estimate:?}"
        );
    }

    #[test]
    fn too_few_runs_give_an_estimate_without_interval() {
        let estimate = ratio_estimate(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap();
        assert!(close(estimate.ratio, 2.0));
        assert_eq!(estimate.interval, None);
        assert_eq!(ratio_estimate(&[], &[1.0]), None);
    }

    #[test]
    fn all_ties_give_a_point_interval() {
        let estimate = ratio_estimate(&[5.0; 6], &[5.0; 6]).unwrap();
        assert_eq!(estimate.ratio, 1.0);
        assert_eq!(estimate.interval, Some((1.0, 1.0)));
    }
}
