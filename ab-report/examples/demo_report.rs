//! Writes a report from synthetic samples, to see what `bench --report` draws:
//! `cargo run --release -p ab-report --example demo_report -- report.html`.

use std::process::ExitCode;

use ab_report::{compare, render_html, EngineSamples, LatencyBucket, OpSamples};

/// Deterministic pseudo-noise in [-1, 1] for run `i` of stream `stream`.
fn noise(stream: u64, i: u64) -> f64 {
    let x = (stream * 7919 + i * 104_729) % 1000;
    x as f64 / 500.0 - 1.0
}

/// A histogram of log-spaced buckets around `centre_ns`.
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

/// One engine whose times are `speed` times the baseline's.
fn engine(name: &str, stream: u64, speed: f64) -> EngineSamples {
    let runs = 10;
    let replay_ms = (0..runs)
        .map(|i| 48.0 * speed * (1.0 + 0.02 * noise(stream, i)))
        .collect();
    let ops = [
        ("fetch", 900.0),
        ("store", 2400.0),
        ("delete", 1500.0),
        ("traverse", 40_000.0),
    ]
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

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: demo_report OUTPUT.html");
        return ExitCode::from(2);
    };
    let engines = [
        engine("c", 1, 1.0),
        engine("lib:patched", 2, 0.95),
        engine("pure", 3, 1.3),
    ];
    let comparisons: Vec<_> = engines[1..]
        .iter()
        .map(|e| compare(&engines[0], e))
        .collect();
    for c in &comparisons {
        println!("{}", c.replay);
    }
    let html = render_html("tdb-replay bench: users.ldb (demo)", &engines, &comparisons);
    if let Err(error) = std::fs::write(&path, html) {
        eprintln!("cannot write {path}: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
