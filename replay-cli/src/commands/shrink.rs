//! The `shrink` command: minimise a trace set that diverges under `diff` (or whose
//! replay fails) and write the smallest set that still fails the same way.
//!
//! The original set must fail first (otherwise exit 2). Every output file is claimed
//! before anything runs, so a file tdb-replay did not create is never overwritten (exit
//! 2, unless `--overwrite`). The written files are loaded back and run once more, so the
//! failure printed last is the one the user will see from them.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use replay_engine::analysis;
use replay_engine::backend::engines::{Engines, Pair};
use replay_engine::backend::runtime::{self, EngineSpec, Roster};
use replay_engine::backend::Backend;
use replay_engine::scratch;
use replay_engine::shrink::{self, Check, DiffCheck, ReplayCheck, ShrinkError, ShrinkProgress};
use replay_engine::trace::emit::emit_all;
use replay_engine::trace::{parse_trace, Flavour, FlavourChoice, LoadOptions, Trace};

use crate::args::engine::{self, parse_engines, EngineList, Planned};
use crate::args::{EngineChoice, LoadArgs, TraceReading};
use crate::engine::{CBackend, PureBackend};
use crate::exit::bad_input;
use crate::files::claim_scratch;
use crate::loading::{load, plural};
use crate::progress::Progress;

/// The arguments of `shrink`.
#[derive(Args, Debug)]
pub struct ShrinkArgs {
    /// Shrink a set on which C tdb and tdb-pure diverge under `diff` (the default).
    #[arg(long, conflicts_with = "backend")]
    pub diff: bool,
    /// Shrink a set whose concurrent replay on this backend fails: a result that differs
    /// from the trace, or a deadlock no back-off resolves.
    #[arg(long, value_enum)]
    pub backend: Option<EngineChoice>,
    /// Shrink a set whose concurrent replay on these engines (taking turns, as in
    /// `replay --engines`) fails: c, pure, lib:PATH or lib:PATH=NAME, comma-separated.
    #[arg(long, value_parser = parse_engines, conflicts_with_all = ["backend", "diff"], value_name = "A,B,...")]
    pub engines: Option<EngineList>,
    /// Directory for the shrunk traces (created if needed); each is written under its
    /// original file name, without `.zst` or `.gz`.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace files in --out even if tdb-replay did not create them (by default an
    /// existing file the tool did not create is refused, never overwritten).
    #[arg(long)]
    pub overwrite: bool,
    /// With --backend: milliseconds with every worker blocked before a candidate's run
    /// counts as deadlocked (short, so no candidate holds the shrinker up).
    #[arg(long, default_value_t = 100)]
    pub deadlock_after_ms: u64,
    /// With --backend: back-offs allowed per candidate.
    #[arg(long, default_value_t = 8)]
    pub max_backoffs: usize,
    /// With --backend: abandon a candidate's run after this many seconds without
    /// progress.
    #[arg(long, default_value_t = 10)]
    pub stall_after_s: u64,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Trace files, one per process (plain, .gz or .zst).
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
}

/// What `shrink` does, resolved from [`ShrinkArgs`].
#[derive(Clone, Debug)]
pub struct ShrinkSettings {
    /// The failure to keep: a divergence under `diff` (`None`), or a failing concurrent
    /// replay on this engine.
    pub replay_on: Option<EngineChoice>,
    /// `--engines`: a failing concurrent replay on these engines (overrides `replay_on`).
    pub engines: Vec<EngineSpec>,
    /// Directory for the shrunk traces.
    pub out: PathBuf,
    /// Replace files in `out` even if tdb-replay did not create them.
    pub overwrite: bool,
    /// How long every worker may be blocked before a candidate's run counts as
    /// deadlocked.
    pub deadlock_after: Duration,
    /// Back-offs allowed per candidate.
    pub max_backoffs: usize,
    /// How long a candidate's run may go without progress.
    pub stall_after: Duration,
    /// How to read the traces (writer, longest line).
    pub reading: TraceReading,
    /// The trace files.
    pub traces: Vec<PathBuf>,
}

impl TryFrom<ShrinkArgs> for ShrinkSettings {
    type Error = anyhow::Error;

    fn try_from(args: ShrinkArgs) -> Result<ShrinkSettings> {
        Ok(ShrinkSettings {
            replay_on: args.backend,
            engines: args.engines.map(|list| list.0).unwrap_or_default(),
            out: args.out,
            overwrite: args.overwrite,
            deadlock_after: Duration::from_millis(args.deadlock_after_ms),
            max_backoffs: args.max_backoffs,
            stall_after: Duration::from_secs(args.stall_after_s),
            reading: args.load.reading(),
            traces: args.traces,
        })
    }
}

/// Shrink the set and write what is left.
pub fn run(args: &ShrinkSettings) -> Result<()> {
    let progress = Arc::new(Progress::new(true));
    let mut traces = load(&args.traces, &args.reading, &progress)?;
    // A wiped set is shrunk with its wipes marked (the marker lines are written out). A
    // set that does not analyse is reported by the shrink's own analysis, under its
    // check's locking.
    let _ = analysis::analyse_finding_wipes(&mut traces, CBackend::LOCKING);
    let outputs = output_paths(&args.out, &traces);
    std::fs::create_dir_all(&args.out)
        .map_err(|error| bad_input(format!("{}: {error}", args.out.display())))?;
    for path in &outputs {
        claim_scratch(path, args.overwrite)?;
    }
    let shrinking = Shrinking {
        args,
        traces: &traces,
        outputs: &outputs,
        progress: &progress,
    };
    let replay_on = if args.engines.is_empty() {
        args.replay_on
    } else {
        match engine::plan(EngineChoice::C, &args.engines)? {
            Planned::Builtin(choice) => Some(choice),
            Planned::Roster(engines) => {
                engine::check_traces(&engines, &traces)?;
                let what = format!("replay --engines {}", engine::names(&engines));
                runtime::install(engines);
                return shrinking.run(replay_check::<Roster>(args)?, &what);
            }
        }
    };
    match replay_on {
        None => shrinking.run(
            DiffCheck::<CBackend, PureBackend>::new()
                .context("cannot create a temporary directory")?,
            "diff",
        ),
        Some(EngineChoice::C) => shrinking.run(
            replay_check::<Pair<CBackend, CBackend>>(args)?,
            "replay --backend c",
        ),
        Some(EngineChoice::Pure) => shrinking.run(
            replay_check::<Pair<PureBackend, PureBackend>>(args)?,
            "replay --backend pure",
        ),
        Some(EngineChoice::Mixed) => shrinking.run(
            replay_check::<Pair<CBackend, PureBackend>>(args)?,
            "replay --backend mixed",
        ),
    }
}

/// A replay check with the limits from the command line.
fn replay_check<E: Engines>(args: &ShrinkSettings) -> Result<ReplayCheck<E>> {
    let mut check = ReplayCheck::new().context("cannot create a temporary directory")?;
    check.deadlock_after = args.deadlock_after;
    check.max_backoffs = args.max_backoffs;
    check.stall_after = args.stall_after;
    Ok(check)
}

/// Where each trace of the set is written if it is kept: `--out` and its file name
/// without `.zst`/`.gz`; when two traces would share a name, the later ones get their
/// position in front (`2-name`).
fn output_paths(out: &Path, traces: &[Trace]) -> Vec<PathBuf> {
    let mut taken = BTreeSet::new();
    traces
        .iter()
        .enumerate()
        .map(|(index, trace)| {
            let mut name = shrink::output_name(&trace.name);
            if !taken.insert(name.clone()) {
                name = format!("{}-{name}", index + 1);
                taken.insert(name.clone());
            }
            out.join(name)
        })
        .collect()
}

struct Shrinking<'a> {
    args: &'a ShrinkSettings,
    traces: &'a [Trace],
    outputs: &'a [PathBuf],
    progress: &'a Progress,
}

impl Shrinking<'_> {
    /// Write the kept traces (a subsequence of the originals, in order), each to its
    /// output path; returns the paths with the writer each was read as.
    fn write(&self, kept: &[Trace]) -> Result<Vec<(PathBuf, Flavour)>> {
        let traces = self.traces;
        let mut written = Vec::with_capacity(kept.len());
        let mut original = 0;
        for trace in kept {
            while original < traces.len() && traces[original].name != trace.name {
                original += 1;
            }
            let Some(path) = self.outputs.get(original) else {
                bail!("{}: not a trace of the set", trace.name);
            };
            original += 1;
            scratch::replace(path).map_err(bad_input)?;
            std::fs::write(path, emit_all(trace))
                .with_context(|| format!("cannot write {}", path.display()))?;
            scratch::mark(path).map_err(|error| anyhow::anyhow!("{error}"))?;
            written.push((path.clone(), trace.flavour));
        }
        Ok(written)
    }

    /// Shrink under `check`, write the result and run it once more from the files.
    fn run<K: Check>(&self, mut check: K, mode: &str) -> Result<()> {
        let traces = self.traces;
        analysis::analyse(traces, check.locking()).map_err(bad_input)?;
        eprintln!(
            "Running the {} trace{} under {mode}...",
            traces.len(),
            plural(traces.len())
        );
        let started = Instant::now();
        let level = Cell::new(None);
        let mut on_progress = |p: &ShrinkProgress| {
            if level.get() != Some(p.level) {
                level.set(Some(p.level));
                self.progress.clear();
                eprintln!(
                    "Shrinking {} ({} to try): {} ops in {} traces left",
                    p.level, p.elements, p.ops, p.traces
                );
            }
            self.progress.show_text(&format!(
                "Shrinking {}: {} of {} ops left, {} candidates run",
                p.level, p.ops, p.ops_before, p.candidates
            ));
        };
        let shrunk = shrink::shrink(traces, &mut check, &mut on_progress);
        self.progress.clear();
        let shrunk = match shrunk {
            Ok(shrunk) => shrunk,
            Err(ShrinkError::DoesNotFail) => {
                return Err(bad_input(format!(
                    "the set does not fail under {mode}; nothing to shrink"
                )))
            }
            Err(ShrinkError::Unusable(message)) => return Err(bad_input(message)),
        };
        let elapsed = started.elapsed();
        println!(
            "Original failure ({}):\n{}",
            shrunk.original.signature, shrunk.original.message
        );

        let written = self.write(&shrunk.traces)?;

        // Run them once more as the user will: from the files.
        let reloaded = reload(&written)?;
        let mut plan = analysis::analyse(&reloaded, check.locking())
            .map_err(|error| anyhow::anyhow!("the written set cannot be analysed: {error}"))?;
        let Some(failure) = check.run(&reloaded, &mut plan) else {
            bail!("the written set no longer fails under {mode}");
        };
        if failure.signature != shrunk.original.signature {
            bail!(
                "the written set fails differently under {mode}: {}",
                failure.message
            );
        }
        println!(
            "\nShrunk failure ({}):\n{}",
            failure.signature, failure.message
        );
        println!(
            "\nkept {} of {} ops in {} traces (of {}); {} candidates in {:.1} s",
            shrunk.ops_after,
            shrunk.ops_before,
            shrunk.traces.len(),
            shrunk.traces_before,
            shrunk.candidates,
            elapsed.as_secs_f64()
        );
        let samba_flavour = self.args.reading.flavour == FlavourChoice::Auto
            && written.iter().any(|(path, flavour)| {
                *flavour == Flavour::Samba && detected(path).is_some_and(|f| f != Flavour::Samba)
            });
        println!("Written:");
        for (path, _) in &written {
            println!("  {}", path.display());
        }
        if samba_flavour {
            println!(
                "(read them with --flavour samba: nothing in them shows which tdb wrote them)"
            );
        }
        Ok(())
    }
}

/// Load the written files, each as the writer it was read as.
fn reload(written: &[(PathBuf, Flavour)]) -> Result<Vec<Trace>> {
    written
        .iter()
        .map(|(path, flavour)| {
            let text =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let options = LoadOptions {
                flavour: match flavour {
                    Flavour::Ccan => FlavourChoice::Ccan,
                    Flavour::Samba => FlavourChoice::Samba,
                },
                ..LoadOptions::default()
            };
            parse_trace(&path.display().to_string(), &text, &options)
                .map_err(|error| anyhow::anyhow!("the written trace does not load: {error}"))
        })
        .collect()
}

/// The writer auto-detection sees in a written file.
fn detected(path: &Path) -> Option<Flavour> {
    let text = std::fs::read(path).ok()?;
    let name = path.display().to_string();
    parse_trace(&name, &text, &LoadOptions::default())
        .ok()
        .map(|trace| trace.flavour)
}
