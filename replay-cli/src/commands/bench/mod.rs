//! `tdb-replay bench`: the figures the project is measured by. Load and analysis time and
//! peak memory; replay time over several runs on each backend, with the ratio pure/C
//! measured in the same run; and, for a single trace, the same ops called bare on each
//! backend (no waits, no checks), so the replay's own cost shows as a ratio too. With both
//! backends it also times the mixed replay (C and tdb-pure workers on one file) and the
//! differential test (`diff`, both engines in lock step), each against the C replay.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use replay_engine::backend::Backend;
use replay_engine::trace::Trace;

use replay_engine::backend::runtime::EngineSpec;

use crate::args::engine::{self, parse_engines, EngineList};
use crate::args::{BenchBackends, LoadArgs, TraceReading};
use crate::engine::{sound_to_both, CBackend, PureBackend};
use crate::files::{claim_scratch, fresh_database};
use crate::loading::{analyse_loaded, load, ops_in};
use crate::output::Out;
use crate::progress::Progress;
use crate::timing::{best_median, ms, ratio, timed};
use json::{BackendJson, BenchJson, CompareJson, RatioJson};

/// The arguments of `bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Timed replay runs per measurement.
    #[arg(long, short = 'n', default_value_t = 5)]
    pub runs: u32,
    /// Scratch database (kept afterwards). With both backends, the differential runs use
    /// two more beside it, named after it (`bench.diff-c.tdb`, `bench.diff-pure.tdb`),
    /// removed when the engines agree. Default: `bench.tdb` in a new directory under the
    /// system's temporary directory, whose path is printed.
    #[arg(long)]
    pub tdbfile: Option<PathBuf>,
    /// Replace the database files even if tdb-replay did not create them (by default an
    /// existing file the tool did not create is refused, never truncated).
    #[arg(long)]
    pub overwrite: bool,

    /// Backends to measure; with both, the ratio pure/C is printed, and the mixed replay
    /// and the differential test (`diff`) are timed against the C replay too.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: BenchBackends,
    /// A/B bench instead: replay on these engines in interleaved runs (A B A B ...),
    /// then compare each with the first (ratio of medians, 95% interval, verdict; per op
    /// type too): c, pure, lib:PATH or lib:PATH=NAME, comma-separated.
    #[arg(long, value_parser = parse_engines, conflicts_with = "backend", value_name = "A,B,...")]
    pub engines: Option<EngineList>,
    /// With --engines: write an HTML report (self-contained, inline SVG plots) here.
    #[arg(long, requires = "engines", value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Print one JSON document on stdout (the human report goes to stderr).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Trace files, one per process.
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
}

/// What `bench` measures, resolved from [`BenchArgs`].
#[derive(Clone, Debug)]
pub struct BenchSettings {
    /// Timed runs per measurement (at least one).
    pub runs: usize,
    /// The scratch database.
    pub tdbfile: PathBuf,
    /// Replace the databases even if tdb-replay did not create them.
    pub overwrite: bool,
    /// The backends to measure.
    pub backend: BenchBackends,
    /// `--engines`: an interleaved A/B bench of these instead.
    pub engines: Vec<EngineSpec>,
    /// Where the A/B bench writes its HTML report.
    pub report: Option<PathBuf>,
    /// Print a JSON document on stdout.
    pub json: bool,
    /// How to read the traces (writer, longest line).
    pub reading: TraceReading,
    /// The trace files.
    pub traces: Vec<PathBuf>,
}

impl TryFrom<BenchArgs> for BenchSettings {
    type Error = anyhow::Error;

    /// The settings: the scratch database is a fresh one unless named.
    fn try_from(args: BenchArgs) -> Result<BenchSettings> {
        let engines = args.engines.map(|list| list.0).unwrap_or_default();
        // A library that cannot be used is refused before any file is made.
        engine::resolve(&engines)?;
        let tdbfile = match args.tdbfile {
            Some(path) => path,
            None => fresh_database("bench.tdb")?,
        };
        Ok(BenchSettings {
            runs: args.runs.max(1) as usize,
            tdbfile,
            overwrite: args.overwrite,
            backend: args.backend,
            engines,
            report: args.report,
            json: args.json,
            reading: args.load.reading(),
            traces: args.traces,
        })
    }
}
mod ab;
mod json;
mod latency;
mod runs;

/// Peak resident memory of this process so far (`VmHWM`), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Best and median times of one measurement.
#[derive(Clone, Copy)]
struct Timing {
    best: Duration,
    median: Duration,
}

impl Timing {
    fn of(times: Vec<Duration>) -> Timing {
        let (best, median) = best_median(times);
        Timing { best, median }
    }

    fn ratio_to(self, base: Timing) -> (f64, f64) {
        (ratio(self.best, base.best), ratio(self.median, base.median))
    }
}

/// What one backend measured.
struct BackendFigures {
    replay: Timing,
    bare: Option<Timing>,
    json: BackendJson,
}

/// The databases the differential runs use, beside the scratch database and named after
/// it: `bench.tdb` gives `bench.diff-c.tdb` and `bench.diff-pure.tdb`.
fn diff_paths(tdbfile: &Path) -> [PathBuf; 2] {
    let stem = tdbfile
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bench".into());
    let extension = tdbfile
        .extension()
        .map(|extension| format!(".{}", extension.to_string_lossy()))
        .unwrap_or_default();
    ["c", "pure"].map(|engine| tdbfile.with_file_name(format!("{stem}.diff-{engine}{extension}")))
}

/// Measure and print the figures.
pub fn run(args: &BenchSettings) -> Result<()> {
    if !args.engines.is_empty() {
        let engines = engine::resolve(&args.engines)?;
        claim_scratch(&args.tdbfile, args.overwrite)?;
        let progress = Arc::new(Progress::new(!args.json));
        let traces = load(&args.traces, &args.reading, &progress)?;
        return ab::run(args, engines, &traces);
    }
    claim_scratch(&args.tdbfile, args.overwrite)?;
    if args.backend == BenchBackends::Both {
        for path in diff_paths(&args.tdbfile) {
            claim_scratch(&path, args.overwrite)?;
        }
    }
    let out = Out::new(args.json, false);
    let (traces, mut doc) = load_and_analyse(args, out)?;
    let c = if args.backend.c() {
        Some(runs::measure::<CBackend>(args, &traces, out)?)
    } else {
        None
    };
    let pure = if args.backend.pure() {
        Some(runs::measure::<PureBackend>(args, &traces, out)?)
    } else {
        None
    };
    for figures in c.iter().chain(&pure) {
        doc.backends.push(figures.json.clone());
    }
    doc.latency = latency::side_by_side(out, c.as_ref(), pure.as_ref());
    if let (Some(c), Some(pure)) = (&c, &pure) {
        compare_engines(args, &traces, (c, pure), out, &mut doc)?;
    }
    out.document(&doc)
}

/// Load and analyse the traces, print those figures; returns the traces and the JSON
/// document with those figures filled in.
fn load_and_analyse(args: &BenchSettings, out: Out) -> Result<(Vec<Trace>, BenchJson)> {
    let progress = Arc::new(Progress::new(!args.json));
    let (traces, load_time) = timed(|| load(&args.traces, &args.reading, &progress));
    let mut traces = traces?;
    let (plan, analysis_time) = timed(|| analyse_loaded(&mut traces, CBackend::LOCKING));
    let (plan, wipes) = plan?;
    if let Some(note) = wipes {
        out.line(format!("warning: {note}"));
    }
    let peak = peak_rss_kib();

    out.line(format!("traces            {}", traces.len()));
    out.line(format!("ops               {}", ops_in(&traces)));
    out.line(format!("load              {:10.1} ms", ms(load_time)));
    out.line(format!("analysis          {:10.1} ms", ms(analysis_time)));
    out.line(format!(
        "load + analysis   {:10.1} ms",
        ms(load_time + analysis_time)
    ));
    if let Some(peak) = peak {
        out.line(format!(
            "peak memory       {:10.1} MiB",
            peak as f64 / 1024.0
        ));
    }
    out.line(format!("dependencies      {}", plan.stats.dependencies));
    let clock = replay_engine::replay::clock::cost_ns();
    out.line(format!("clock read        {clock:10.1} ns (per timed op)"));
    let doc = BenchJson {
        command: "bench",
        traces: traces.len(),
        ops: ops_in(&traces),
        runs: u32::try_from(args.runs).unwrap_or(u32::MAX),
        load_ms: ms(load_time),
        analysis_ms: ms(analysis_time),
        load_analysis_ms: ms(load_time + analysis_time),
        peak_memory_mib: peak.map(|kib| kib as f64 / 1024.0),
        dependencies: plan.stats.dependencies,
        clock_read_ns: clock,
        backends: Vec::new(),
        pure_over_c: None,
        bare_pure_over_c: None,
        mixed: None,
        diff: None,
        latency: Vec::new(),
    };
    Ok((traces, doc))
}

/// With both backends: their ratios, then the mixed replay and the differential test,
/// each against the C replay.
fn compare_engines(
    args: &BenchSettings,
    traces: &[Trace],
    (c, pure): (&BackendFigures, &BackendFigures),
    out: Out,
    doc: &mut BenchJson,
) -> Result<()> {
    let ratio_line = |label: &str, (best, median): (f64, f64)| {
        out.line(format!(
            "{label:<18}{best:10.3} (best), {median:.3} (median)"
        ));
        RatioJson { best, median }
    };
    doc.pure_over_c = Some(ratio_line(
        "replay pure / c",
        pure.replay.ratio_to(c.replay),
    ));
    if let (Some(pure_bare), Some(c_bare)) = (pure.bare, c.bare) {
        doc.bare_pure_over_c = Some(ratio_line("bare pure / c", pure_bare.ratio_to(c_bare)));
    }
    if traces.len() > 1 {
        let mixed = runs::replays::<CBackend, PureBackend>(args, traces, "mixed", out)?;
        sound_to_both(&args.tdbfile)?;
        doc.mixed = Some(CompareJson {
            best_ms: ms(mixed.timing.best),
            median_ms: ms(mixed.timing.median),
            over_c: ratio_line("replay mixed / c", mixed.timing.ratio_to(c.replay)),
        });
    } else {
        out.line("replay (mixed)    skipped: a single trace replays mixed on C tdb alone");
    }
    let diff = runs::diff_runs(args, traces, out)?;
    doc.diff = Some(CompareJson {
        best_ms: ms(diff.best),
        median_ms: ms(diff.median),
        over_c: ratio_line("diff / replay c", diff.ratio_to(c.replay)),
    });
    Ok(())
}
