//! Command-line pieces several commands share: engine choices, trace loading and
//! recording options, each with its conversion to the engine's own type. Each command's
//! own arguments live in its module under `commands/`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use replay_engine::backend::runtime::EngineSpec;
use replay_engine::record::Layout;
use replay_engine::replay::database::Locking;
use replay_engine::trace::{FlavourChoice, DEFAULT_MAX_LINE_BYTES};

use crate::files::{existing_database, Recording};

pub mod engine;

/// Which tdb implementation runs the operations.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// Samba's C tdb 1.4.8 (vendored, statically linked).
    C,
    /// tdb-pure, the pure-Rust engine.
    Pure,
}

impl BackendChoice {
    /// The same engine as a spec.
    pub fn spec(self) -> EngineSpec {
        match self {
            BackendChoice::C => EngineSpec::C,
            BackendChoice::Pure => EngineSpec::Pure,
        }
    }
}

/// Which engines a concurrent run uses.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineChoice {
    /// Samba's C tdb 1.4.8 in every worker.
    C,
    /// tdb-pure in every worker.
    Pure,
    /// C tdb and tdb-pure workers on one file at once, alternately (the first trace on
    /// C, the second on tdb-pure, ...): proves the two lock protocols compatible.
    Mixed,
}

impl EngineChoice {
    /// The command-line name (`c`, `pure`, `mixed`).
    pub fn name(self) -> &'static str {
        match self {
            EngineChoice::C => "c",
            EngineChoice::Pure => "pure",
            EngineChoice::Mixed => "mixed",
        }
    }
}

/// How a replay locks (`--locking`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockingArg {
    /// As recorded: robust mutexes where the trace's tdb_open passed TDB_MUTEX_LOCKING.
    Recorded,
    /// fcntl locks only (TDB_MUTEX_LOCKING dropped from every open).
    Fcntl,
}

impl LockingArg {
    /// The engine's locking mode.
    pub fn locking(self) -> Locking {
        match self {
            LockingArg::Recorded => Locking::Recorded,
            LockingArg::Fcntl => Locking::Fcntl,
        }
    }
}

/// Which program wrote the traces (it decides how a few ambiguous lines read).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlavourArg {
    /// Detect per file (Samba-only lines or flags; ccan otherwise).
    Auto,
    /// ccan tdb (2009-2012), which wrote the classic torture and ldb traces.
    Ccan,
    /// Samba tdb.
    Samba,
}

/// Options for reading traces.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Which program wrote the traces.
    #[arg(long, value_enum, default_value = "auto")]
    pub flavour: FlavourArg,
    /// The longest trace line accepted, in bytes (after decompression): a longer line
    /// is reported at its file:line instead of being read into memory.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
}

/// How to read traces: the settings [`LoadArgs`] resolve to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceReading {
    /// Which program wrote the traces.
    pub flavour: FlavourChoice,
    /// The longest line accepted.
    pub max_line_bytes: usize,
}

impl Default for TraceReading {
    fn default() -> Self {
        TraceReading {
            flavour: FlavourChoice::Auto,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

impl LoadArgs {
    /// The trace reader's settings.
    pub fn reading(&self) -> TraceReading {
        TraceReading {
            flavour: match self.flavour {
                FlavourArg::Auto => FlavourChoice::Auto,
                FlavourArg::Ccan => FlavourChoice::Ccan,
                FlavourArg::Samba => FlavourChoice::Samba,
            },
            max_line_bytes: self.max_line_bytes,
        }
    }
}

/// Recording what a run does, as tdb's own trace files.
#[derive(Args, Debug, Clone)]
pub struct RecordArgs {
    /// Record what the run does as tdb trace files (`<db name>.trace.<pid>`, one per
    /// process) in this directory; the tool's earlier traces of the same database there
    /// are replaced, anyone else's are refused.
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// The trace layout to record in (they differ in `tdb_append` and nested
    /// transactions).
    #[arg(long, value_enum, default_value = "ccan", requires = "record")]
    pub layout: LayoutArg,
}

impl RecordArgs {
    /// The recording asked for, if any.
    pub fn recording(&self) -> Option<Recording> {
        self.record.as_ref().map(|dir| Recording {
            dir: dir.clone(),
            layout: self.layout.layout(),
        })
    }
}

/// The layout of recorded traces.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutArg {
    /// ccan tdb's (which the classic trace sets and ccan's replay_trace use).
    Ccan,
    /// Samba tdb's.
    Samba,
}

impl LayoutArg {
    /// The engine's layout.
    pub fn layout(self) -> Layout {
        match self {
            LayoutArg::Ccan => Layout::Ccan,
            LayoutArg::Samba => Layout::Samba,
        }
    }
}

/// Which backends `bench` and `microbench` measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchBackends {
    /// The C tdb.
    C,
    /// tdb-pure.
    Pure,
    /// Both, in the same run, with their ratio; then the mixed replay and `diff`.
    Both,
}

impl BenchBackends {
    /// Whether C tdb is measured.
    pub fn c(self) -> bool {
        self != BenchBackends::Pure
    }

    /// Whether tdb-pure is measured.
    pub fn pure(self) -> bool {
        self != BenchBackends::C
    }
}

/// The database and the engine of `dump`, `check` and `recover`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Engine to read the file with: c, pure, lib:PATH or lib:PATH=NAME (`pure` also
    /// catches circular chains on which C tdb can loop forever).
    #[arg(long, value_parser = engine::parse_engine, default_value = "c")]
    pub backend: EngineSpec,
    /// The database file.
    pub tdbfile: PathBuf,
}

/// The database and the engine of `dump`, `check` and `recover`, resolved from
/// [`InspectArgs`] (or `recover`'s arguments).
#[derive(Clone, Debug)]
pub struct InspectSettings {
    /// The engine that reads (or recovers) the file.
    pub backend: EngineSpec,
    /// The database, an existing tdb file.
    pub tdbfile: PathBuf,
}

impl InspectSettings {
    /// The settings for the file at `tdbfile`, which must exist and be a tdb.
    pub fn new(backend: EngineSpec, tdbfile: &std::path::Path) -> Result<InspectSettings> {
        Ok(InspectSettings {
            backend,
            tdbfile: existing_database(tdbfile)?,
        })
    }
}

impl TryFrom<InspectArgs> for InspectSettings {
    type Error = anyhow::Error;

    fn try_from(args: InspectArgs) -> Result<InspectSettings> {
        InspectSettings::new(args.backend, &args.tdbfile)
    }
}
