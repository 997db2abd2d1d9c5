//! `bench --engines A,B,...`: interleaved replays (A B A B ...), so that drift in the
//! machine's speed hits every engine alike; per engine its best and median, per op type
//! its latency; then each engine against the first (ratio of medians with a 95%
//! interval, from `ab-report`), and with `--report` an HTML page of the same.

use std::io::Write;
use std::path::Path;

use ab_report::{EngineComparison, EngineSamples, LatencyBucket, OpSamples};
use anyhow::{Context, Result};
use replay_engine::analysis::Analysis;
use replay_engine::backend::runtime::{self, Engine, Roster};
use replay_engine::replay::latency::OpLatencies;
use replay_engine::replay::{self, ReplayOptions};
use replay_engine::trace::Trace;
use serde::Serialize;

use super::BenchSettings;
use crate::args::engine;
use crate::exit::bad_input;
use crate::loading::{analyse_traces_with, ops_in};
use crate::output::{us, Out};
use crate::timing::ms;

/// One engine's runs, as they come in.
struct EngineRuns {
    engine: Engine,
    plan: Analysis,
    replay_ms: Vec<f64>,
    /// Each timed run's latencies.
    latencies: Vec<OpLatencies>,
}

/// Runs the interleaved bench, prints it, and writes the JSON document and the report.
pub(super) fn run(args: &BenchSettings, engines: Vec<Engine>, traces: &[Trace]) -> Result<()> {
    let out = Out::new(args.json, false);
    engine::check_traces(&engines, traces)?;
    let mut runs = engines
        .into_iter()
        .map(|engine| {
            Ok(EngineRuns {
                engine,
                plan: analyse_traces_with(traces, engine.locking())?,
                replay_ms: Vec::new(),
                latencies: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    out.line(format!(
        "traces            {} ({} ops); {} interleaved runs per engine after one warm-up \
         round",
        traces.len(),
        ops_in(traces),
        args.runs
    ));
    for round in 0..=args.runs {
        for engine_runs in &mut runs {
            let (elapsed, latencies) = replay_once(args, traces, engine_runs)?;
            // Round 0 warms the page cache, the allocator and the CPU up for everyone.
            if round > 0 {
                engine_runs.replay_ms.push(elapsed);
                engine_runs.latencies.push(latencies);
            }
        }
    }
    let samples: Vec<EngineSamples> = runs.iter().map(samples_of).collect();
    for engine in &samples {
        let (best, median) = (
            ab_report::best(&engine.replay_ms).unwrap_or(f64::NAN),
            ab_report::median(&engine.replay_ms).unwrap_or(f64::NAN),
        );
        let label = format!("replay ({})", engine.name);
        out.line(format!(
            "{label:<18}{best:10.1} ms best, {median:.1} ms median of {}",
            engine.replay_ms.len()
        ));
    }
    print_latency(out, &samples);
    let comparisons: Vec<EngineComparison> = samples[1..]
        .iter()
        .map(|engine| ab_report::compare(&samples[0], engine))
        .collect();
    print_comparisons(out, &comparisons);
    if let Some(path) = &args.report {
        let title = format!("tdb-replay bench: {}", names(&samples));
        write_report(
            path,
            args.overwrite,
            &ab_report::render_html(&title, &samples, &comparisons),
        )?;
        out.line(format!("report            {}", path.display()));
    }
    out.document(&AbBenchJson {
        command: "bench",
        traces: traces.len(),
        ops: ops_in(traces),
        runs: args.runs,
        engines: samples.iter().map(EngineJson::of).collect(),
        comparisons: comparisons.into_iter().map(ComparisonJson::from).collect(),
    })
}

/// One timed replay of every trace on one engine: its time in ms and its latencies.
fn replay_once(
    args: &BenchSettings,
    traces: &[Trace],
    engine_runs: &mut EngineRuns,
) -> Result<(f64, OpLatencies)> {
    runtime::install(vec![engine_runs.engine]);
    let options = ReplayOptions {
        runs: 1,
        latency: true,
        ..ReplayOptions::default()
    };
    let report =
        replay::replay_engines::<Roster>(&args.tdbfile, traces, &mut engine_runs.plan, &options)
            .with_context(|| format!("the replay on {}", engine_runs.engine.label()))?;
    let run = report
        .runs
        .into_iter()
        .next()
        .context("a replay reported no run")?;
    let mut latencies = OpLatencies::default();
    for backend in &run.latencies {
        latencies.merge(&backend.latencies);
    }
    Ok((ms(run.elapsed), latencies))
}

/// The samples `ab-report` compares: replay times, and per op type each run's median
/// and the histogram over every run.
fn samples_of(runs: &EngineRuns) -> EngineSamples {
    let mut merged = OpLatencies::default();
    for run in &runs.latencies {
        merged.merge(run);
    }
    let ops = merged
        .types()
        .map(|(op, histogram)| OpSamples {
            op: op.to_string(),
            per_run_median_ns: runs
                .latencies
                .iter()
                .filter_map(|run| run.types().find(|(name, _)| *name == op))
                .map(|(_, histogram)| histogram.quantile(0.5) as f64)
                .collect(),
            buckets: histogram
                .buckets()
                .map(|(lo_ns, hi_ns, count)| LatencyBucket {
                    lo_ns,
                    hi_ns,
                    count,
                })
                .collect(),
        })
        .collect();
    EngineSamples {
        name: runs.engine.label().to_string(),
        replay_ms: runs.replay_ms.clone(),
        ops,
    }
}

fn names(samples: &[EngineSamples]) -> String {
    let names: Vec<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    names.join(", ")
}

/// Per op type, each engine's median of its per-run medians (µs).
fn print_latency(out: Out, samples: &[EngineSamples]) {
    let Some(first) = samples.first() else {
        return;
    };
    out.line("latency per op (µs, median of the per-run medians):");
    let header: Vec<String> = samples
        .iter()
        .map(|s| format!("{:>14}", clip(&s.name)))
        .collect();
    out.line(format!("  {:<31}{}", "op", header.concat()));
    for op in &first.ops {
        let cells: Vec<String> = samples
            .iter()
            .map(|engine| {
                let median = engine
                    .op(&op.op)
                    .and_then(|o| ab_report::median(&o.per_run_median_ns));
                format!("{:>14}", median.map_or("-".into(), |ns| us(ns as u64)))
            })
            .collect();
        out.line(format!("  {:<31}{}", op.op, cells.concat()));
    }
}

/// A long engine name cut to its last 12 characters, for a table column.
fn clip(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= 13 {
        name.to_string()
    } else {
        let tail: String = chars[chars.len() - 12..].iter().collect();
        format!("…{tail}")
    }
}

/// The verdicts: the whole replay, then each op type.
fn print_comparisons(out: Out, comparisons: &[EngineComparison]) {
    for comparison in comparisons {
        out.line(format!("A/B: {}", comparison.replay));
        for op in &comparison.ops {
            out.line(format!("  {op}"));
        }
    }
}

/// Writes the report; an existing file is only replaced with `--overwrite`.
fn write_report(path: &Path, overwrite: bool, html: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            bad_input(format!(
                "--report {}: the file exists; pass --overwrite to replace it",
                path.display()
            ))
        } else {
            bad_input(format!("--report {}: {error}", path.display()))
        }
    })?;
    file.write_all(html.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// The JSON document of `bench --engines`.
#[derive(Serialize)]
struct AbBenchJson {
    /// Always `"bench"`.
    command: &'static str,
    /// Number of traces.
    traces: usize,
    /// Ops in all the traces.
    ops: u64,
    /// Timed runs per engine.
    runs: usize,
    /// Per engine, in the order given.
    engines: Vec<EngineJson>,
    /// Each engine after the first against the first.
    comparisons: Vec<ComparisonJson>,
}

/// One engine's figures.
#[derive(Serialize)]
struct EngineJson {
    /// Its label (`c`, `pure`, `lib:NAME`).
    name: String,
    /// Every timed run's replay time, in run order.
    replay_ms: Vec<f64>,
    /// The best of them.
    best_ms: f64,
    /// Their median.
    median_ms: f64,
    /// Per op type: each run's median latency (ns).
    ops: Vec<OpJson>,
}

/// One op type's per-run medians.
#[derive(Serialize)]
struct OpJson {
    /// The op type.
    op: String,
    /// Its median latency in each run (ns).
    per_run_median_ns: Vec<f64>,
}

impl EngineJson {
    fn of(samples: &EngineSamples) -> EngineJson {
        EngineJson {
            name: samples.name.clone(),
            replay_ms: samples.replay_ms.clone(),
            best_ms: ab_report::best(&samples.replay_ms).unwrap_or(f64::NAN),
            median_ms: ab_report::median(&samples.replay_ms).unwrap_or(f64::NAN),
            ops: samples
                .ops
                .iter()
                .map(|op| OpJson {
                    op: op.op.clone(),
                    per_run_median_ns: op.per_run_median_ns.clone(),
                })
                .collect(),
        }
    }
}

/// One engine against the first: `baseline`, `engine`, `median_ratio`, `ci_low`,
/// `ci_high`, `verdict` for the replay time, and the same per op type under `ops`.
#[derive(Serialize)]
struct ComparisonJson {
    #[serde(flatten)]
    replay: ab_report::Comparison,
    /// The line a person reads.
    text: String,
    ops: Vec<ab_report::OpComparison>,
}

impl From<EngineComparison> for ComparisonJson {
    fn from(comparison: EngineComparison) -> ComparisonJson {
        ComparisonJson {
            text: comparison.replay.to_string(),
            replay: comparison.replay,
            ops: comparison.ops,
        }
    }
}
