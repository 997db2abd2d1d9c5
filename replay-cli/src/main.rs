//! `tdb-replay`: replay recorded tdb traces against C tdb or tdb-pure.
//!
//! `main` only parses the command line, runs the command and maps the outcome to an exit
//! status. The commands live in `commands/`, one module each; the pieces they share
//! (engine choice, files, loading, output, timing, exit statuses) in modules of their
//! own, which never use a command.

mod args;
mod cli;
mod commands;
mod engine;
mod exit;
mod files;
mod loading;
mod output;
mod progress;
mod timing;

use std::process::ExitCode;

use clap::Parser;

use cli::Cli;
use exit::Status;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.run() {
        Ok(()) => Status::Ok.code(),
        Err(failure) => {
            eprintln!("tdb-replay: {failure:#}");
            Status::of(&failure).code()
        }
    }
}
