//! Which pairwise differences bound a 95% confidence interval for a shift.
//!
//! The interval that goes with the Hodges-Lehmann estimate (Hollander and Wolfe,
//! *Nonparametric Statistical Methods*, section 4.3): sort the `n * m` differences
//! `engine_j - baseline_i`; the interval runs from the `k`-th smallest to the `k`-th
//! largest, where `k` is the largest count with `P(U < k) <= alpha / 2` under the
//! Mann-Whitney U statistic's null distribution. The distribution is computed exactly
//! (with integer counts) while `n + m` is at most [`EXACT_MAX_RUNS`], which covers every
//! bench people run by hand; beyond, the normal approximation is used.

/// Up to this many runs in total the null distribution is counted exactly: the counts
/// are at most `C(100, 50) < 2^97`, well inside `i128`.
pub const EXACT_MAX_RUNS: usize = 100;

/// The two-sided level: a 95% interval leaves out 2.5% on each side, so a lower tail
/// `count / total` is small enough when `count * 40 <= total`.
const TAIL_DENOMINATOR: i128 = 40;

/// The standard normal quantile for a two-sided 95% interval.
const Z_975: f64 = 1.959_963_984_540_054;

/// How many of the sorted pairwise differences to take in from each end: the 95%
/// interval is `[d(k), d(n*m + 1 - k)]` (1-based). Zero means that no interval at that
/// level exists for so few runs (for example 3 against 3: the most extreme arrangement
/// already has probability 2/20 = 10%).
pub fn interval_rank(n: usize, m: usize) -> usize {
    if n == 0 || m == 0 {
        return 0;
    }
    if n + m <= EXACT_MAX_RUNS {
        exact_rank(n, m)
    } else {
        normal_rank(n, m)
    }
}

/// `counts[u]` is the number of the `C(n+m, n)` equally likely arrangements of the two
/// samples whose U statistic is `u`: the coefficients of the Gaussian binomial
/// `prod_{i=1..n} (1 - q^(m+i)) / (1 - q^i)`, computed as power series.
fn null_counts(n: usize, m: usize) -> Vec<i128> {
    let len = n * m + 1;
    let mut counts = vec![0i128; len];
    counts[0] = 1;
    for i in 1..=n {
        let shift = m + i;
        for d in (shift..len).rev() {
            counts[d] -= counts[d - shift];
        }
        for d in i..len {
            counts[d] += counts[d - i];
        }
    }
    counts
}

/// [`interval_rank`] from the exact null distribution.
fn exact_rank(n: usize, m: usize) -> usize {
    let counts = null_counts(n, m);
    let total: i128 = counts.iter().sum();
    let mut below = 0i128;
    let mut k = 0;
    // The tail P(U < k) grows with k; stop before it passes alpha / 2. The distribution
    // is symmetric, so k never passes the middle.
    for &count in &counts[..counts.len() / 2 + 1] {
        below += count;
        if below * TAIL_DENOMINATOR > total {
            break;
        }
        k += 1;
    }
    k
}

/// [`interval_rank`] from the normal approximation with a continuity correction.
fn normal_rank(n: usize, m: usize) -> usize {
    let (n, m) = (n as f64, m as f64);
    let mean = n * m / 2.0;
    let sd = (n * m * (n + m + 1.0) / 12.0).sqrt();
    let k = (mean - Z_975 * sd + 0.5).floor();
    if k > 0.0 {
        k as usize
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_counts_match_small_hand_counts() {
        // 2 against 2: U takes 0, 1, 2, 2, 3, 4 over the six arrangements.
        assert_eq!(null_counts(2, 2), vec![1, 1, 2, 1, 1]);
        let four = null_counts(4, 4);
        assert_eq!(four.iter().sum::<i128>(), 70);
        assert_eq!(&four[..4], &[1, 1, 2, 3]);
        assert_eq!(null_counts(1, 3), vec![1, 1, 1, 1]);
    }

    #[test]
    fn ranks_match_published_tables() {
        // Too few runs for any 95% interval.
        assert_eq!(interval_rank(3, 3), 0);
        assert_eq!(interval_rank(2, 2), 0);
        assert_eq!(interval_rank(1, 20), 0);
        assert_eq!(interval_rank(0, 5), 0);
        // 4 against 4: P(U = 0) = 1/70 <= 2.5% but P(U <= 1) = 2/70 > 2.5%.
        assert_eq!(interval_rank(4, 4), 1);
        // Tables of the Mann-Whitney two-sided 5% critical value U_crit give
        // k = U_crit + 1: 5x5 -> 2, 6x6 -> 5, 8x8 -> 13, 10x10 -> 23, 20x20 -> 127.
        assert_eq!(interval_rank(5, 5), 3);
        assert_eq!(interval_rank(6, 6), 6);
        assert_eq!(interval_rank(8, 8), 14);
        assert_eq!(interval_rank(10, 10), 24);
        assert_eq!(interval_rank(20, 20), 128);
        assert_eq!(interval_rank(5, 10), interval_rank(10, 5));
    }

    #[test]
    fn normal_approximation_agrees_with_the_exact_count_near_the_switch() {
        for (n, m) in [(50, 50), (40, 60), (30, 45)] {
            let exact = exact_rank(n, m) as i64;
            let normal = normal_rank(n, m) as i64;
            assert!((exact - normal).abs() <= 1, "{n}x{m}: {exact} vs {normal}");
        }
        assert!(interval_rank(60, 60) > interval_rank(50, 50));
    }
}
