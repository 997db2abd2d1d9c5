//! The `diff` command: the traces on C tdb and tdb-pure in lock step, every result
//! compared; with `--concurrent`, also real concurrent replays on each engine and mixed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use replay_engine::diff::{self, DiffReport};
use replay_engine::inspect;
use replay_engine::replay::{self, ReplayOptions};
use replay_engine::trace::Trace;

use crate::args::DiffArgs;
use crate::commands::{
    analyse_traces, claim_scratch, load, timed, BadInput, CBackend, PureBackend,
};
use crate::progress::Progress;

/// Where the databases go: the user's directory, or a temporary one that is removed
/// unless something is worth inspecting.
enum Workspace {
    Given(PathBuf),
    Temporary(tempfile::TempDir),
}

impl Workspace {
    fn path(&self) -> &Path {
        match self {
            Workspace::Given(path) => path,
            Workspace::Temporary(dir) => dir.path(),
        }
    }

    /// Keep the databases for the user; returns where they are.
    fn keep(self) -> PathBuf {
        match self {
            Workspace::Given(path) => path,
            Workspace::Temporary(dir) => dir.keep(),
        }
    }
}

/// The databases a diff creates in its directory.
const DATABASES: [&str; 5] = [
    "c.tdb",
    "pure.tdb",
    "concurrent-c.tdb",
    "concurrent-pure.tdb",
    "concurrent-mixed.tdb",
];

pub fn run(args: &DiffArgs) -> Result<()> {
    let progress = Arc::new(Progress::new(!args.quiet));
    let say = |text: String| {
        if !args.quiet {
            println!("{text}");
        }
    };
    let (traces, load_time) = timed(|| load(&args.traces, &args.load, &progress));
    let traces = traces?;
    let (plan, analysis_time) = timed(|| analyse_traces::<CBackend>(&traces));
    let plan = plan?;
    let ops: usize = traces.iter().map(|trace| trace.ops.len()).sum();
    say(format!(
        "Loaded {} traces ({ops} ops) in {:.1} ms, analysed in {:.1} ms",
        traces.len(),
        ms(load_time),
        ms(analysis_time)
    ));
    let workspace = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|error| BadInput(format!("{}: {error}", dir.display())))?;
            for name in DATABASES {
                claim_scratch(&dir.join(name), args.overwrite)?;
            }
            Workspace::Given(dir.clone())
        }
        None => Workspace::Temporary(
            tempfile::Builder::new()
                .prefix("tdb-replay-diff.")
                .tempdir()
                .context("cannot create a temporary directory")?,
        ),
    };
    let (path_c, path_pure) = (
        workspace.path().join("c.tdb"),
        workspace.path().join("pure.tdb"),
    );
    let show = |done: u64, total: u64| progress.show("Comparing", done, total, "ops");
    let report =
        diff::diff::<CBackend, PureBackend>(&traces, &plan, &path_c, &path_pure, Some(&show));
    progress.clear();
    let report = report.map_err(|error| anyhow::anyhow!("{error}"))?;
    if let Some(divergence) = &report.divergence {
        let kept = workspace.keep();
        bail!(
            "the engines diverge after {} ops:\n{divergence}\nThe databases are kept in {} \
             (c.tdb, pure.tdb); `tdb-replay shrink --diff` makes the traces minimal.",
            report.ops,
            kept.display()
        );
    }
    say(summary(&report));
    if args.concurrent {
        concurrent(&traces, workspace.path(), &progress, args.quiet)?;
    }
    if !args.quiet {
        println!("The engines agree.");
    } else {
        println!("agree");
    }
    Ok(())
}

fn summary(report: &DiffReport) -> String {
    format!(
        "Lock step: {} ops in {} units on c and pure, every result the same; final \
         databases: {} records each, {}, both sound ({:.1} ms; {} dependencies overridden)",
        report.ops,
        report.units,
        report.records,
        if report.identical_files {
            "byte-identical files"
        } else {
            "files differ in layout"
        },
        ms(report.elapsed),
        report.overridden_deps
    )
}

/// Replay concurrently on C, on tdb-pure and mixed; every run must match the traces, and
/// the three final databases must hold the same records and be sound to both engines.
fn concurrent(traces: &[Trace], dir: &Path, progress: &Arc<Progress>, quiet: bool) -> Result<()> {
    let show = |done: u64, total: u64| progress.show("Replaying", done, total, "ops");
    let options = ReplayOptions {
        progress: Some(&show),
        ..ReplayOptions::default()
    };
    let mut finals = Vec::new();
    for name in ["c", "pure", "mixed"] {
        // Each engine learns its own back-offs from a fresh copy of the plan.
        let mut plan = analyse_traces::<CBackend>(traces)?;
        let path = dir.join(format!("concurrent-{name}.tdb"));
        let run = match name {
            "c" => replay::replay::<CBackend>(&path, traces, &mut plan, &options),
            "pure" => replay::replay::<PureBackend>(&path, traces, &mut plan, &options),
            _ => replay::replay_mixed::<CBackend, PureBackend>(&path, traces, &mut plan, &options),
        };
        progress.clear();
        let report = run.with_context(|| format!("the concurrent replay on {name}"))?;
        let elapsed = report
            .runs
            .first()
            .map_or(Duration::ZERO, |run| run.elapsed);
        for checked in [
            inspect::check_file::<CBackend>(&path),
            inspect::check_file::<PureBackend>(&path),
        ] {
            checked.map_err(|error| anyhow::anyhow!("after the concurrent {name} run: {error}"))?;
        }
        let records = records_of(&path)?;
        if !quiet {
            println!(
                "Concurrent on {name}: every result matched the traces in {:.1} ms, {} \
                 back-offs, {} records, sound to both engines",
                ms(elapsed),
                report.backoffs.len(),
                records.len()
            );
        }
        finals.push((name, path, records));
    }
    let (first_name, first_path, first) = &finals[0];
    for (name, path, records) in &finals[1..] {
        if records != first {
            let key = first
                .keys()
                .chain(records.keys())
                .find(|key| first.get(*key) != records.get(*key))
                .map(|key| replay_engine::analysis::describe_key(key))
                .unwrap_or_default();
            bail!(
                "the concurrent runs on {first_name} ({}) and {name} ({}) left different \
                 records, first at key {key}",
                first_path.display(),
                path.display()
            );
        }
    }
    Ok(())
}

fn records_of(path: &Path) -> Result<std::collections::BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut db: CBackend = inspect::open_existing(path)
        .map_err(|error| anyhow::anyhow!("{}: cannot open: {error}", path.display()))?;
    inspect::records(&mut db).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
