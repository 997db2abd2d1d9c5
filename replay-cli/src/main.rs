//! `tdb-replay`: replay recorded tdb traces against C tdb or tdb-pure.
//!
//! `main` only parses the command line, runs the command and maps the outcome to an exit
//! status; the commands live in their own modules.

mod args;
mod bench;
mod commands;
mod diff;
mod microbench;
mod output;
mod progress;
mod shrink;
mod torture;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// Exit status of a replay whose results differed, or that deadlocked.
const EXIT_FAILED: u8 = 1;
/// Exit status for unusable input (unreadable or malformed traces, bad arguments).
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay(mut args) => args
            .resolve_paths(|| commands::fresh_database("replay.tdb"))
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => commands::BadInput(error.to_string()).into(),
                _ => anyhow::Error::from(error),
            })
            .and_then(|()| commands::replay(&args)),
        Command::Diff(args) => diff::run(&args),
        Command::Shrink(args) => shrink::run(&args),
        Command::Analyse(args) => commands::analyse(&args),
        Command::Torture(mut args) => match args.path.clone() {
            Some(path) => {
                args.tdbfile = path;
                torture::run(&args)
            }
            None => commands::fresh_database("torture.tdb")
                .map_err(anyhow::Error::from)
                .and_then(|path| {
                    args.tdbfile = path;
                    torture::run(&args)
                }),
        },
        Command::Generate(args) => commands::generate(&args),
        Command::Example(args) => commands::example(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Microbench(args) => microbench::run(&args),
        Command::Dump(args) => commands::dump(&args),
        Command::Check(args) => commands::check(&args),
        Command::Recover(args) => commands::recover(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("tdb-replay: {failure:#}");
            let bad_input = failure.downcast_ref::<commands::BadInput>().is_some();
            ExitCode::from(if bad_input {
                EXIT_BAD_INPUT
            } else {
                EXIT_FAILED
            })
        }
    }
}
