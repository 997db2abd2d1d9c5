//! The comparison's statistics against simulated benches with a known truth.

use ab_report::{compare, Comparison, EngineSamples, LatencyBucket, OpSamples, Verdict};
use proptest::prelude::*;

/// A small seeded generator (SplitMix64) for reproducible simulated run times.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// `n` log-normal run times around `median` with log-sd `spread`.
    fn runs(&mut self, n: usize, median: f64, spread: f64) -> Vec<f64> {
        (0..n)
            .map(|_| median * (spread * self.normal()).exp())
            .collect()
    }
}

fn engine(name: &str, replay_ms: Vec<f64>) -> EngineSamples {
    EngineSamples {
        name: name.to_string(),
        replay_ms,
        ops: Vec::new(),
    }
}

#[test]
fn a_known_slowdown_is_detected_with_an_interval_covering_it() {
    let mut rng = Rng(17);
    for (runs, truth) in [(5, 1.25), (10, 1.10), (20, 1.05), (10, 0.8)] {
        let base = engine("c", rng.runs(runs, 50.0, 0.02));
        let slow = engine("lib:slow", rng.runs(runs, 50.0 * truth, 0.02));
        let c = compare(&base, &slow).replay;
        let expected = if truth > 1.0 {
            Verdict::Slower
        } else {
            Verdict::Faster
        };
        assert_eq!(c.verdict, expected, "{runs} runs, truth {truth}: {c}");
        assert!(
            c.ci_low <= truth && truth <= c.ci_high,
            "{truth} outside: {c:?}"
        );
        assert!((c.median_ratio / truth - 1.0).abs() < 0.03, "{c:?}");
    }
}

#[test]
fn identical_engines_show_no_difference_in_at_least_18_of_20_benches() {
    let mut rng = Rng(2024);
    for runs in [5, 10, 20] {
        let quiet = (0..20)
            .filter(|_| {
                let a = engine("c", rng.runs(runs, 40.0, 0.05));
                let b = engine("lib:same", rng.runs(runs, 40.0, 0.05));
                compare(&a, &b).replay.verdict == Verdict::NoSignificantDifference
            })
            .count();
        assert!(
            quiet >= 18,
            "{runs} runs: only {quiet} of 20 without a difference"
        );
    }
}

#[test]
fn the_false_alarm_rate_is_near_five_percent_over_many_benches() {
    let mut rng = Rng(99);
    let trials = 2000;
    let alarms = (0..trials)
        .filter(|_| {
            let a = rng.runs(8, 40.0, 0.05);
            let b = rng.runs(8, 40.0, 0.05);
            Comparison::from_samples("a", "b", &a, &b)
                .verdict
                .is_significant()
        })
        .count();
    // The exact interval is conservative: at most 5%, and for 8 runs about 5%.
    let rate = alarms as f64 / trials as f64;
    assert!((0.02..=0.06).contains(&rate), "false alarm rate {rate}");
}

#[test]
fn lines_read_as_the_issue_asks() {
    let base = engine("c", vec![100.0, 101.0, 99.0, 100.5, 99.5, 100.2]);
    let fast = engine(
        "lib:patched",
        base.replay_ms.iter().map(|v| v * 0.9).collect(),
    );
    let line = compare(&base, &fast).replay.to_string();
    assert!(
        line.starts_with("lib:patched is 10.0% faster than c (95% CI "),
        "{line}"
    );
    let slow = engine("pure", base.replay_ms.iter().map(|v| v * 1.2).collect());
    let line = compare(&base, &slow).replay.to_string();
    assert!(
        line.starts_with("pure is 20.0% slower than c (95% CI "),
        "{line}"
    );
    let same = engine("lib:same", base.replay_ms.clone());
    let line = compare(&base, &same).replay.to_string();
    assert!(
        line.starts_with(
            "no significant difference between lib:same and c (time change +0.0%, 95% CI -"
        ),
        "{line}"
    );
    let few = engine("pure", vec![100.0, f64::NAN, 0.0]);
    let c = compare(&base, &few).replay;
    assert_eq!(c.verdict, Verdict::NotEnoughRuns);
    assert_eq!((c.baseline_runs, c.engine_runs), (6, 1));
    assert!(c.to_string().contains("not enough runs"), "{c}");
    assert!(!c.to_string().contains('\n'));
}

#[test]
fn degenerate_input_gives_not_enough_runs_without_panicking() {
    let cases: [(&[f64], &[f64]); 6] = [
        (&[], &[]),
        (&[1.0], &[1.0]),
        (&[f64::NAN; 10], &[1.0; 10]),
        (&[0.0; 10], &[0.0; 10]),
        (&[-1.0, f64::INFINITY], &[2.0, 3.0]),
        (&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]),
    ];
    for (a, b) in cases {
        let c = Comparison::from_samples("a", "b", a, b);
        assert_eq!(c.verdict, Verdict::NotEnoughRuns, "{a:?} {b:?}");
        assert!(c.ci_low.is_nan() && c.ci_high.is_nan());
    }
    let ties = Comparison::from_samples("a", "b", &[5.0; 8], &[5.0; 8]);
    assert_eq!(ties.verdict, Verdict::NoSignificantDifference);
    assert_eq!(
        (ties.median_ratio, ties.ci_low, ties.ci_high),
        (1.0, 1.0, 1.0)
    );
}

#[test]
fn compare_all_takes_the_first_engine_as_baseline() {
    let engines = [
        engine("c", vec![10.0; 5]),
        engine("pure", vec![20.0; 5]),
        engine("lib:x", vec![5.0; 5]),
    ];
    let all = ab_report::compare_all(&engines);
    let verdicts: Vec<_> = all
        .iter()
        .map(|c| (c.replay.baseline.as_str(), c.replay.verdict))
        .collect();
    assert_eq!(verdicts, [("c", Verdict::Slower), ("c", Verdict::Faster)]);
    assert!(ab_report::compare_all(&engines[..1]).is_empty());
    assert!(ab_report::compare_all(&[]).is_empty());
}

fn op(name: &str, medians: Vec<f64>) -> OpSamples {
    OpSamples {
        op: name.to_string(),
        per_run_median_ns: medians,
        buckets: vec![LatencyBucket {
            lo_ns: 100,
            hi_ns: 200,
            count: 5,
        }],
    }
}

#[test]
fn op_types_are_compared_by_name_and_serialize_flat() {
    let mut base = engine("c", vec![10.0, 11.0, 10.5, 10.2, 10.8]);
    base.ops = vec![
        op("fetch", vec![300.0, 310.0, 305.0, 302.0, 308.0]),
        op("wipe", vec![5.0]),
    ];
    let mut other = engine("pure", vec![10.0, 11.0, 10.5, 10.2, 10.8]);
    other.ops = vec![
        op("store", vec![1.0; 5]),
        op("fetch", vec![600.0, 620.0, 610.0, 604.0, 616.0]),
    ];
    let result = compare(&base, &other);
    let names: Vec<&str> = result.ops.iter().map(|o| o.op.as_str()).collect();
    assert_eq!(names, ["fetch", "wipe", "store"]);
    assert_eq!(result.ops[0].comparison.verdict, Verdict::Slower);
    assert!((result.ops[0].comparison.median_ratio - 2.0).abs() < 1e-9);
    assert_eq!(result.ops[1].comparison.verdict, Verdict::NotEnoughRuns);
    assert_eq!(result.ops[2].comparison.engine_runs, 5);
    assert!(result.ops[0]
        .to_string()
        .starts_with("fetch: pure is 100.0% slower than c"));
    let json = serde_json::to_value(&result).unwrap();
    let replay = &json["replay"];
    for key in [
        "baseline",
        "engine",
        "median_ratio",
        "ci_low",
        "ci_high",
        "verdict",
    ] {
        assert!(replay.get(key).is_some(), "{key} missing in {replay}");
    }
    assert_eq!(replay["verdict"], "no_significant_difference");
    assert_eq!(json["ops"][0]["op"], "fetch");
    assert_eq!(json["ops"][0]["verdict"], "slower");
    assert!(json["ops"][1]["ci_low"].is_null(), "NaN becomes null");
}

fn runs() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![9 => 1.0f64..1000.0, 1 => Just(f64::NAN), 1 => Just(0.0)],
        0..25,
    )
}

proptest! {
    #[test]
    fn the_estimate_lies_inside_its_interval(a in runs(), b in runs()) {
        let c = Comparison::from_samples("a", "b", &a, &b);
        if c.verdict != Verdict::NotEnoughRuns {
            prop_assert!(c.ci_low <= c.median_ratio && c.median_ratio <= c.ci_high, "{:?}", c);
            prop_assert_eq!(c.verdict.is_significant(), c.ci_low > 1.0 || c.ci_high < 1.0);
        }
    }

    #[test]
    fn swapping_the_engines_inverts_the_ratio(a in runs(), b in runs()) {
        let ab = Comparison::from_samples("a", "b", &a, &b);
        let ba = Comparison::from_samples("b", "a", &b, &a);
        let close = |x: f64, y: f64| (x.is_nan() && y.is_nan()) || (x * y - 1.0).abs() < 1e-9;
        prop_assert!(close(ab.median_ratio, ba.median_ratio), "{:?} {:?}", ab, ba);
        prop_assert!(close(ab.ci_low, ba.ci_high) && close(ab.ci_high, ba.ci_low));
        let flipped = match ab.verdict {
            Verdict::Faster => Verdict::Slower,
            Verdict::Slower => Verdict::Faster,
            other => other,
        };
        prop_assert_eq!(flipped, ba.verdict);
    }

    #[test]
    fn scaling_both_engines_changes_nothing(a in runs(), b in runs(), scale in 0.001f64..1000.0) {
        let plain = Comparison::from_samples("a", "b", &a, &b);
        let scaled_a: Vec<f64> = a.iter().map(|v| v * scale).collect();
        let scaled_b: Vec<f64> = b.iter().map(|v| v * scale).collect();
        let scaled = Comparison::from_samples("a", "b", &scaled_a, &scaled_b);
        prop_assert_eq!(plain.verdict, scaled.verdict);
        prop_assert!(plain.median_ratio.is_nan() || (plain.median_ratio / scaled.median_ratio - 1.0).abs() < 1e-9);
    }
}
