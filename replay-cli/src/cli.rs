//! The command line: the subcommands, and running one (its arguments resolved into its
//! settings first).

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::args::InspectArgs;
use crate::commands::{
    analyse, bench, capture, check, diff, dump, example, generate, microbench, recover, replay,
    shrink, torture,
};
use crate::exit;

/// Replay recorded tdb workloads (one trace file per process) against Samba's C tdb or
/// the pure-Rust engine, concurrently, checking every result.
#[derive(Parser, Debug)]
#[command(name = "tdb-replay", version, about, long_about = None, after_help = exit::HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Replay trace files together against a database and check every result.
    Replay(replay::ReplayArgs),
    /// Run traces on C tdb and tdb-pure in lock step and report the first difference.
    Diff(diff::DiffArgs),
    /// Minimise a failing trace set (delta debugging) and write the smallest that still
    /// fails the same way.
    Shrink(shrink::ShrinkArgs),
    /// Load and analyse traces, print the replay plan, run nothing.
    Analyse(analyse::AnalyseArgs),
    /// Run a random multi-process workload on one database (one engine, or C tdb and
    /// tdb-pure at once) and check the database holds what its operations imply.
    Torture(torture::TortureArgs),
    /// Record a new multi-process trace set by running a random torture workload.
    Generate(generate::GenerateArgs),
    /// Generate the built-in example trace set and replay it.
    Example(example::ExampleArgs),
    /// Measure load, analysis and replay on both backends, against bare backend calls.
    Bench(bench::BenchArgs),
    /// Time single operations on C tdb and tdb-pure side by side, at several sizes.
    Microbench(microbench::MicrobenchArgs),
    /// Run a program with its tdb calls recorded as trace files (its children's too),
    /// then print the command that replays them.
    Capture(capture::CaptureArgs),
    /// Print every record of a database, in the format of Samba's tdbdump.
    Dump(InspectArgs),
    /// Check a database's invariants; exit 0 only if it is sound.
    Check(InspectArgs),
    /// Roll back a commit that a crash interrupted (what the next read-write opener
    /// does), then check the database; `check` and `dump` open read-only and refuse such
    /// a file.
    Recover(recover::RecoverArgs),
}

impl Command {
    /// Resolve the arguments into the command's settings, then run it.
    pub fn run(self) -> Result<()> {
        match self {
            Command::Replay(args) => replay::run(&args.try_into()?),
            Command::Diff(args) => diff::run(&args.try_into()?),
            Command::Shrink(args) => shrink::run(&args.try_into()?),
            Command::Analyse(args) => analyse::run(&args.try_into()?),
            Command::Torture(args) => torture::run(&args.try_into()?),
            Command::Generate(args) => generate::run(&args.try_into()?),
            Command::Example(args) => example::run(&args.try_into()?),
            Command::Bench(args) => bench::run(&args.try_into()?),
            Command::Microbench(args) => microbench::run(&args.try_into()?),
            Command::Capture(args) => capture::run(&args.try_into()?),
            Command::Dump(args) => dump::run(&args.try_into()?),
            Command::Check(args) => check::run(&args.try_into()?),
            Command::Recover(args) => recover::run(&args.try_into()?),
        }
    }
}
