//! `tdb-replay analyse`: load and analyse traces, print the replay plan, run nothing.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use replay_engine::analysis::{describe_key, epochs, stats, Analysis};
use replay_engine::backend::Backend;
use replay_engine::trace::{creating_open, Trace};
use serde::Serialize;

use crate::args::LoadArgs;
use crate::args::TraceReading;
use crate::engine::CBackend;
use crate::loading::{analyse_loaded, load};
use crate::output::Out;
use crate::progress::Progress;
use crate::timing::{ms, show_ms, timed};

/// The arguments of `analyse`.
#[derive(Args, Debug)]
pub struct AnalyseArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Also print every dependency (`file:line waits for file:line`).
    #[arg(long)]
    pub dependencies: bool,
    /// Also print statistics: op mix, key access skew, the busiest hash chains, the
    /// cross-trace dependencies, transaction and traverse sizes.
    #[arg(long)]
    pub stats: bool,
    /// How many hottest keys, chains and dependency targets `--stats` lists.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print one JSON document on stdout (the human report goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Trace files, one per process.
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
}

/// What `analyse` prints, resolved from [`AnalyseArgs`].
#[derive(Clone, Debug)]
pub struct AnalyseSettings {
    /// How to read the traces (writer, longest line).
    pub reading: TraceReading,
    /// List every dependency.
    pub dependencies: bool,
    /// The statistics, with this many entries in each hottest list.
    pub stats: Option<usize>,
    /// Print a JSON document on stdout.
    pub json: bool,
    /// The trace files.
    pub traces: Vec<PathBuf>,
}

impl TryFrom<AnalyseArgs> for AnalyseSettings {
    type Error = anyhow::Error;

    /// The settings.
    fn try_from(args: AnalyseArgs) -> Result<AnalyseSettings> {
        Ok(AnalyseSettings {
            reading: args.load.reading(),
            dependencies: args.dependencies,
            stats: args.stats.then_some(args.top),
            json: args.json,
            traces: args.traces,
        })
    }
}

/// The JSON document of `analyse --json`.
#[derive(Serialize)]
struct AnalyseJson {
    /// Always `"analyse"`.
    command: &'static str,
    /// Each trace, in the order given.
    traces: Vec<AnalysedTraceJson>,
    /// The open that created the database in the recording (the lowest open sequence
    /// number), which decides how the replay creates it.
    creating_open: Option<CreatingOpenJson>,
    /// The clear-if-first epochs, in recorded order: one for a set without a wipe.
    epochs: Vec<EpochJson>,
    /// Distinct keys.
    keys: usize,
    /// Key users (ops and regions that touch a key).
    users: usize,
    /// Keys whose order needed a sequence-number fuzz.
    fuzzed_keys: usize,
    /// Cross-trace dependencies after pruning.
    dependencies: usize,
    /// Dependencies before pruning.
    raw_dependencies: usize,
    /// The plan's digest, 16 hex digits.
    digest: String,
    /// Records the traces need to find before they start.
    preexisting: Vec<PreexistingJson>,
    /// Every dependency (with `--dependencies`; null otherwise).
    dependency_list: Option<Vec<DepJson>>,
    /// The statistics (with `--stats`; null otherwise); fields documented on
    /// `replay_engine::analysis::stats::TraceStats`.
    stats: Option<stats::TraceStats>,
    /// Time to read and parse the traces.
    load_ms: f64,
    /// Time to analyse them.
    analysis_ms: f64,
}

/// One analysed trace.
#[derive(Serialize)]
struct AnalysedTraceJson {
    /// The trace's file name as given.
    name: String,
    /// Ops in it.
    ops: usize,
    /// Its dependencies on other traces.
    dependencies: usize,
    /// The program that wrote it, as detected or chosen (`Ccan`, `Samba`).
    writer: String,
    /// What the reader warned about.
    warnings: Vec<String>,
}

/// The `tdb_open` that created the database.
#[derive(Serialize)]
struct CreatingOpenJson {
    /// Where it is (`file:1`).
    at: String,
    /// The sequence number it opened at.
    seqnum: u32,
    /// The hash size it asked for.
    hash_size: u32,
    /// Its `TDB_*` flags.
    tdb_flags: u32,
    /// Its `open(2)` flags.
    open_flags: u32,
}

impl CreatingOpenJson {
    /// The creating open of `traces`, if there are any.
    fn of(traces: &[Trace]) -> Option<CreatingOpenJson> {
        let trace = &traces[creating_open(traces)?];
        Some(CreatingOpenJson {
            at: format!("{}:1", trace.name),
            seqnum: trace.open.seqnum,
            hash_size: trace.open.hash_size,
            tdb_flags: trace.open.tdb_flags,
            open_flags: trace.open.open_flags,
        })
    }
}

/// One clear-if-first epoch: the traces between two wipes.
#[derive(Serialize)]
struct EpochJson {
    /// The open that wiped the database and started it (`file:1`); null for the first.
    wiped_at: Option<String>,
    /// Its traces, in the order given.
    traces: Vec<String>,
    /// Ops in them (the wipe included).
    ops: usize,
}

impl EpochJson {
    /// The epochs of `traces`.
    fn of(traces: &[Trace]) -> Vec<EpochJson> {
        epochs::epochs(traces)
            .into_iter()
            .enumerate()
            .map(|(number, range)| EpochJson {
                wiped_at: (number > 0).then(|| format!("{}:1", traces[range.start].name)),
                ops: traces[range.clone()].iter().map(|t| t.ops.len()).sum(),
                traces: traces[range].iter().map(|t| t.name.clone()).collect(),
            })
            .collect()
    }
}

/// A record that must exist before the replay starts.
#[derive(Serialize)]
struct PreexistingJson {
    /// The first op that needs it (`file:line`).
    needed_at: String,
    /// The key, as printed for people.
    key: String,
    /// Length of its data.
    bytes: usize,
}

/// One dependency.
#[derive(Serialize)]
struct DepJson {
    /// The op that waits (`file:line`).
    waits: String,
    /// The op it waits for (`file:line`).
    for_op: String,
}

/// Run the analysis and print the plan.
pub fn run(settings: &AnalyseSettings) -> Result<()> {
    let out = Out::new(settings.json, false);
    let progress = Arc::new(Progress::new(!settings.json));
    let (traces, load_time) = timed(|| load(&settings.traces, &settings.reading, &progress));
    let mut traces = traces?;
    // The wipes found are among the traces' warnings, printed with the plan.
    let (plan, analysis_time) = timed(|| analyse_loaded(&mut traces, CBackend::LOCKING));
    let (plan, _wipes) = plan?;
    print_plan(out, &traces, &plan);
    let at = |file: u32, op: u32| traces[file as usize].location(op);
    if settings.dependencies {
        for dep in &plan.deps {
            out.line(format!(
                "{} waits for {}",
                at(dep.file, dep.op),
                at(dep.target_file, dep.target)
            ));
        }
    }
    let trace_stats = settings.stats.map(|top| stats::stats(&traces, &plan, top));
    if let Some(figures) = &trace_stats {
        print_stats(out, figures);
    }
    out.line(format!(
        "load {}, analysis {}",
        show_ms(load_time),
        show_ms(analysis_time)
    ));
    let stats = &plan.stats;
    out.document(&AnalyseJson {
        command: "analyse",
        traces: traces
            .iter()
            .enumerate()
            .map(|(index, trace)| AnalysedTraceJson {
                name: trace.name.clone(),
                ops: trace.ops.len(),
                dependencies: plan.deps_of(index).len(),
                writer: format!("{:?}", trace.flavour),
                warnings: trace.warnings.clone(),
            })
            .collect(),
        creating_open: CreatingOpenJson::of(&traces),
        epochs: EpochJson::of(&traces),
        keys: stats.keys,
        users: stats.users,
        fuzzed_keys: stats.fuzzed_keys,
        dependencies: stats.dependencies,
        raw_dependencies: stats.raw_dependencies,
        digest: format!("{:016x}", plan.digest()),
        preexisting: plan
            .preexisting
            .iter()
            .map(|record| PreexistingJson {
                needed_at: record.needed_at.clone(),
                key: describe_key(&record.key),
                bytes: record.data.len(),
            })
            .collect(),
        dependency_list: settings.dependencies.then(|| {
            plan.deps
                .iter()
                .map(|dep| DepJson {
                    waits: at(dep.file, dep.op),
                    for_op: at(dep.target_file, dep.target),
                })
                .collect()
        }),
        stats: trace_stats,
        load_ms: ms(load_time),
        analysis_ms: ms(analysis_time),
    })
}

/// The traces, the plan's figures and the pre-existing records.
fn print_plan(out: Out, traces: &[Trace], plan: &Analysis) {
    for (index, trace) in traces.iter().enumerate() {
        out.line(format!(
            "{}: {} ops, {} dependencies on other traces, writer {:?}",
            trace.name,
            trace.ops.len(),
            plan.deps_of(index).len(),
            trace.flavour
        ));
        for warning in &trace.warnings {
            out.line(format!("  warning: {warning}"));
        }
    }
    if let Some(open) = CreatingOpenJson::of(traces) {
        out.line(format!(
            "The database is created as {} opened it (seqnum {}): hash size {}, tdb flags \
             {:#x}, open flags {:#x}",
            open.at, open.seqnum, open.hash_size, open.tdb_flags, open.open_flags
        ));
    }
    let epochs = EpochJson::of(traces);
    if epochs.len() > 1 {
        out.line(format!(
            "{} clear-if-first epochs, each ordered on its own:",
            epochs.len()
        ));
        for (number, epoch) in epochs.iter().enumerate() {
            let start = match &epoch.wiped_at {
                Some(at) => format!("wiped by {at}"),
                None => "from the start".to_string(),
            };
            out.line(format!(
                "  epoch {} ({start}): {} ops in {}",
                number + 1,
                epoch.ops,
                epoch.traces.join(", ")
            ));
        }
    }
    let stats = &plan.stats;
    out.line(format!(
        "{} keys, {} users, {} keys needed a seqnum fuzz, {} dependencies ({} before pruning), \
         digest {:016x}",
        stats.keys,
        stats.users,
        stats.fuzzed_keys,
        stats.dependencies,
        stats.raw_dependencies,
        plan.digest()
    ));
    for record in &plan.preexisting {
        out.line(format!(
            "{}: needs pre-existing record {} ({} bytes)",
            record.needed_at,
            describe_key(&record.key),
            record.data.len()
        ));
    }
}
/// The human form of `analyse --stats`.
fn print_stats(out: Out, stats: &stats::TraceStats) {
    let percent = |share: f64| format!("{:.1}%", share * 100.0);
    out.line("Op mix:");
    for mix in stats.traces.iter().chain([&stats.total]) {
        let parts: Vec<String> = mix
            .mix
            .iter()
            .map(|c| format!("{} {}", c.op, c.count))
            .collect();
        out.line(format!(
            "  {}: {} ops: {}",
            mix.name,
            mix.ops,
            parts.join(", ")
        ));
    }
    out.line(format!(
        "Keys: {} distinct, {} keyed ops; hottest:",
        stats.keys, stats.keyed_ops
    ));
    for hot in &stats.hottest_keys {
        out.line(format!(
            "  {:<40} {:>9} ops {:>7}",
            hot.what,
            hot.count,
            percent(hot.share)
        ));
    }
    out.line(format!(
        "Hash chains ({} hash, {} chains): {} used; busiest:",
        stats.hash, stats.hash_size, stats.chains_used
    ));
    for hot in &stats.hottest_chains {
        out.line(format!(
            "  chain {:<34} {:>9} ops {:>7}",
            hot.what,
            hot.count,
            percent(hot.share)
        ));
    }
    out.line(format!("Cross-trace dependencies: {}", stats.dependencies));
    for pair in &stats.dependency_pairs {
        out.line(format!(
            "  {} waits for {}: {}",
            pair.from, pair.to, pair.count
        ));
    }
    if !stats.most_waited_for.is_empty() {
        out.line("  most waited for:");
        for hot in &stats.most_waited_for {
            out.line(format!("    {} ({} dependencies)", hot.what, hot.count));
        }
    }
    for (name, sizes) in [
        ("Transactions (ops inside)", &stats.transactions),
        ("Traverses (records visited)", &stats.traverses),
    ] {
        out.line(format!(
            "{name}: {} of them, mean {:.1}, median {}, max {}",
            sizes.count, sizes.mean, sizes.p50, sizes.max
        ));
    }
}
