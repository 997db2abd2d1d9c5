//! Where a command's report goes. Without `--json` the human report is printed on
//! stdout; with `--json` stdout carries exactly one JSON document and the human report
//! goes to stderr. Each command's document is documented field by field on its
//! `Serialize` structs (`*Json`, in the command's module); times are in milliseconds
//! (`*_ms`, floats) or nanoseconds (`*_ns`), ratios are pure / C.

use std::fmt::Display;

use anyhow::Result;
use replay_engine::replay::latency::{BackendLatencies, LatencySummary, OpLatencies};
use serde::Serialize;

/// The destination of the human report.
#[derive(Clone, Copy, Debug)]
pub struct Out {
    json: bool,
    quiet: bool,
}

impl Out {
    /// Human lines on stdout, or on stderr when `json`; none when `quiet`.
    pub fn new(json: bool, quiet: bool) -> Out {
        Out { json, quiet }
    }

    /// Print one line of the human report.
    pub fn line(self, text: impl Display) {
        if self.quiet {
            return;
        }
        if self.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    /// Print the JSON document on stdout, if wanted.
    pub fn document<T: Serialize>(self, value: &T) -> Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        }
        Ok(())
    }
}

/// One backend's per-op latencies, as printed and as serialised (the `latency` entries of
/// `replay --json` and `bench --json`; each op's fields are documented on
/// `replay_engine::replay::latency::LatencySummary`).
#[derive(Serialize, Clone, Debug)]
pub struct LatencyReport {
    /// `c` or `pure`.
    pub backend: &'static str,
    /// Ops timed (equals the ops run).
    pub count: u64,
    /// One entry per op type seen.
    pub ops: Vec<LatencySummary>,
}

/// Merge per-run latencies into one report per backend (in first-seen order).
pub fn latency_reports<'a>(
    runs: impl IntoIterator<Item = &'a Vec<BackendLatencies>>,
) -> Vec<LatencyReport> {
    let mut merged: Vec<(&'static str, OpLatencies)> = Vec::new();
    for run in runs {
        for backend in run {
            match merged.iter_mut().find(|(name, _)| *name == backend.backend) {
                Some((_, latencies)) => latencies.merge(&backend.latencies),
                None => merged.push((backend.backend, backend.latencies.clone())),
            }
        }
    }
    merged
        .into_iter()
        .map(|(backend, latencies)| LatencyReport {
            backend,
            count: latencies.count(),
            ops: latencies.summaries(),
        })
        .collect()
}

/// Nanoseconds as microseconds with two decimals.
pub fn us(ns: u64) -> String {
    format!("{:.2}", ns as f64 / 1e3)
}

/// The latency table of one backend, one line per op type.
pub fn print_latency(out: Out, report: &LatencyReport) {
    out.line(format!(
        "Latency on {} ({} ops timed; times in µs but the total):",
        report.backend, report.count
    ));
    out.line(format!(
        "  {:<31}{:>9}{:>12}{:>9}{:>9}{:>9}{:>11}",
        "op", "count", "total ms", "p50", "p99", "p99.9", "max"
    ));
    for op in &report.ops {
        out.line(format!(
            "  {:<31}{:>9}{:>12.1}{:>9}{:>9}{:>9}{:>11}",
            op.op,
            op.count,
            op.total_ns as f64 / 1e6,
            us(op.p50_ns),
            us(op.p99_ns),
            us(op.p999_ns),
            us(op.max_ns)
        ));
    }
}
