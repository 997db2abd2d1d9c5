//! `bench`'s latency table: per op type, both backends side by side.

use replay_engine::replay::latency::LatencySummary;

use super::json::LatencyPairJson;
use super::BackendFigures;
use crate::output::{us, Out};

/// Per op type, both backends' latencies (over all their timed runs) and their ratio.
pub(super) fn side_by_side(
    out: Out,
    c: Option<&BackendFigures>,
    pure: Option<&BackendFigures>,
) -> Vec<LatencyPairJson> {
    let ops_of = |figures: Option<&BackendFigures>| {
        figures
            .and_then(|f| f.json.latency.as_ref())
            .map(|l| l.ops.clone())
            .unwrap_or_default()
    };
    let (c_ops, pure_ops) = (ops_of(c), ops_of(pure));
    let mut names: Vec<String> = Vec::new();
    for op in c_ops.iter().chain(&pure_ops) {
        if !names.contains(&op.op) {
            names.push(op.op.clone());
        }
    }
    if names.is_empty() {
        return Vec::new();
    }
    out.line("latency per op (µs; pure / c):");
    out.line(format!(
        "  {:<31}{:>9}{:>9}{:>9}{:>7}{:>9}{:>9}{:>7}{:>9}{:>9}",
        "op",
        "count",
        "c p50",
        "pure p50",
        "ratio",
        "c p99",
        "pure p99",
        "ratio",
        "c max",
        "pure max"
    ));
    let ratio = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(pure), Some(c)) if c > 0 => Some(pure as f64 / c as f64),
        _ => None,
    };
    let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    let cell = |v: Option<u64>| v.map_or("-".to_string(), us);
    names
        .into_iter()
        .map(|name| {
            let c = c_ops.iter().find(|s| s.op == name).cloned();
            let pure = pure_ops.iter().find(|s| s.op == name).cloned();
            let mean = |s: &Option<LatencySummary>| s.as_ref().map(|s| s.total_ns / s.count.max(1));
            let pair = LatencyPairJson {
                mean_ratio: ratio(mean(&pure), mean(&c)),
                p50_ratio: ratio(
                    pure.as_ref().map(|s| s.p50_ns),
                    c.as_ref().map(|s| s.p50_ns),
                ),
                p99_ratio: ratio(
                    pure.as_ref().map(|s| s.p99_ns),
                    c.as_ref().map(|s| s.p99_ns),
                ),
                op: name,
                c,
                pure,
            };
            let count = pair
                .c
                .as_ref()
                .or(pair.pure.as_ref())
                .map_or(0, |s| s.count);
            out.line(format!(
                "  {:<31}{:>9}{:>9}{:>9}{:>7}{:>9}{:>9}{:>7}{:>9}{:>9}",
                pair.op,
                count,
                cell(pair.c.as_ref().map(|s| s.p50_ns)),
                cell(pair.pure.as_ref().map(|s| s.p50_ns)),
                show(pair.p50_ratio),
                cell(pair.c.as_ref().map(|s| s.p99_ns)),
                cell(pair.pure.as_ref().map(|s| s.p99_ns)),
                show(pair.p99_ratio),
                cell(pair.c.as_ref().map(|s| s.max_ns)),
                cell(pair.pure.as_ref().map(|s| s.max_ns)),
            ));
            pair
        })
        .collect()
}
