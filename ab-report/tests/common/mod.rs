//! Synthetic bench samples for the report tests and the demo example: engines whose
//! times are a fixed factor of the baseline's, with deterministic noise.

use ab_report::{compare_all, EngineComparison, EngineSamples, LatencyBucket, OpSamples};

/// Deterministic pseudo-noise in [-1, 1) for run `i` of stream `stream`.
fn noise(stream: u64, i: u64) -> f64 {
    let x = (stream * 7919 + i * 104_729) % 1000;
    x as f64 / 500.0 - 1.0
}

/// A histogram of log-spaced buckets around `centre_ns` holding about `total` ops.
fn buckets(centre_ns: f64, total: u64) -> Vec<LatencyBucket> {
    let weights = [1u64, 4, 12, 30, 26, 14, 8, 4, 1];
    let mut lo = (centre_ns / 8.0).max(1.0);
    weights
        .iter()
        .map(|w| {
            let hi = lo * 1.6;
            let bucket = LatencyBucket {
                lo_ns: lo as u64,
                hi_ns: hi as u64,
                count: total * w / 100,
            };
            lo = hi;
            bucket
        })
        .collect()
}

/// One engine with 10 runs whose times are `speed` times the baseline's.
pub fn engine(name: &str, stream: u64, speed: f64) -> EngineSamples {
    let runs = 10;
    let replay_ms = (0..runs)
        .map(|i| 48.0 * speed * (1.0 + 0.02 * noise(stream, i)))
        .collect();
    let op_types = [
        ("fetch", 900.0),
        ("store", 2400.0),
        ("delete", 1500.0),
        ("traverse", 40_000.0),
    ];
    let ops = op_types
        .into_iter()
        .map(|(op, ns)| OpSamples {
            op: op.to_string(),
            per_run_median_ns: (0..runs)
                .map(|i| ns * speed * (1.0 + 0.03 * noise(stream + 7, i)))
                .collect(),
            buckets: buckets(ns * speed, 50_000),
        })
        .collect();
    EngineSamples {
        name: name.to_string(),
        replay_ms,
        ops,
    }
}

/// Three engines (`names[0]` the baseline, then one 5% faster and one 30% slower) and
/// the comparisons of the others against the first.
pub fn bench(names: [&str; 3]) -> (Vec<EngineSamples>, Vec<EngineComparison>) {
    let engines = vec![
        engine(names[0], 1, 1.0),
        engine(names[1], 2, 0.95),
        engine(names[2], 3, 1.3),
    ];
    let comparisons = compare_all(&engines);
    (engines, comparisons)
}

/// The `<svg>...</svg>` elements of a page or DOM, in order.
pub fn svg_elements(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        let Some(len) = rest[start..].find("</svg>") else {
            break;
        };
        let end = start + len + "</svg>".len();
        found.push(&rest[start..end]);
        rest = &rest[end..];
    }
    found
}
