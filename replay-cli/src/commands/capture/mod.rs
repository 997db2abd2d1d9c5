//! `tdb-replay capture`: run a program with the interposer library preloaded, so that
//! its tdb calls (and its children's, forked or exec'd) are recorded as trace files, then
//! say which traces it left and the command that replays them.
//!
//! The library, `libtdb_capture.so` (crate `tdb-capture`), is found beside the
//! `tdb-replay` binary, where `cargo build --release` puts both, or at
//! `$TDB_CAPTURE_LIBRARY`. It reads its settings from the environment the program
//! inherits (`TDB_CAPTURE_DIR`, `TDB_CAPTURE_LAYOUT`, `TDB_CAPTURE_DB`); `--print-env`
//! prints them for a program started elsewhere (a daemon under systemd, say).

mod library;
mod report;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{anyhow, Context, Result};
use clap::Args;

use crate::args::LayoutArg;
use crate::exit::bad_input;

/// The variable naming the capture directory (read by the library).
const DIR_VAR: &str = "TDB_CAPTURE_DIR";
/// The variable naming the layout (read by the library).
const LAYOUT_VAR: &str = "TDB_CAPTURE_LAYOUT";
/// The variable holding the database pattern (read by the library).
const DB_VAR: &str = "TDB_CAPTURE_DB";

/// The arguments of `capture`.
#[derive(Args, Debug)]
pub struct CaptureArgs {
    /// Directory for the trace files (`<db name>.trace.<pid>`), created if missing.
    #[arg(long, default_value = "tdb-capture")]
    pub dir: PathBuf,
    /// The trace layout (they differ in `tdb_append` and nested transactions).
    #[arg(long, value_enum, default_value = "samba")]
    pub layout: LayoutArg,
    /// Record only the databases whose file name matches this shell pattern
    /// (`*.tdb`, `locking.tdb`); the others cost one branch per call.
    #[arg(long, value_name = "PATTERN")]
    pub db: Option<String>,
    /// Print the environment lines that make a program started elsewhere record
    /// (`LD_PRELOAD=...`, `TDB_CAPTURE_DIR=...`), and run nothing.
    #[arg(long, conflicts_with = "command")]
    pub print_env: bool,
    /// The program to run and its arguments, after `--`.
    #[arg(last = true, value_name = "CMD", required_unless_present = "print_env")]
    pub command: Vec<OsString>,
}

/// What `capture` does, resolved from [`CaptureArgs`].
#[derive(Clone, Debug)]
pub struct CaptureSettings {
    /// The capture directory, absolute (the program may change directory).
    pub dir: PathBuf,
    /// The layout.
    pub layout: LayoutArg,
    /// The database pattern, if any.
    pub db: Option<String>,
    /// Print the environment only.
    pub print_env: bool,
    /// The program and its arguments.
    pub command: Vec<OsString>,
    /// The preload library.
    pub library: PathBuf,
}

impl TryFrom<CaptureArgs> for CaptureSettings {
    type Error = anyhow::Error;

    fn try_from(args: CaptureArgs) -> Result<Self> {
        if let Some(pattern) = &args.db {
            if pattern.is_empty() || pattern.contains('/') {
                return Err(bad_input(format!(
                    "--db {pattern:?}: give a pattern for the database's file name, such \
                     as '*.tdb' or 'locking.tdb' (no directory)"
                )));
            }
        }
        std::fs::create_dir_all(&args.dir)
            .with_context(|| format!("cannot create the capture directory {}", args.dir.display()))
            .map_err(|error| bad_input(format!("{error:#}")))?;
        let dir = std::fs::canonicalize(&args.dir)
            .map_err(|error| bad_input(format!("{}: {error}", args.dir.display())))?;
        Ok(CaptureSettings {
            dir,
            layout: args.layout,
            db: args.db,
            print_env: args.print_env,
            command: args.command,
            library: library::find()?,
        })
    }
}

/// Run the program under capture (or print the environment) and report.
pub fn run(settings: &CaptureSettings) -> Result<()> {
    if settings.print_env {
        for (name, value) in environment(settings, None) {
            println!("{name}={}", value.to_string_lossy());
        }
        return Ok(());
    }
    let before = report::traces_in(&settings.dir)?;
    let status = run_program(settings)?;
    let traces = report::new_traces(&settings.dir, &before)?;
    report::print(&settings.dir, &traces, settings.layout, &settings.command);
    if status.success() {
        Ok(())
    } else {
        Err(anyhow!(
            "{} ended with {status}; its traces (if any, above) are kept",
            settings.command[0].to_string_lossy()
        ))
    }
}

/// Run the program with the library preloaded; its exit status.
fn run_program(settings: &CaptureSettings) -> Result<std::process::ExitStatus> {
    let (program, arguments) = settings
        .command
        .split_first()
        .ok_or_else(|| bad_input("capture needs a program to run, after `--`"))?;
    let inherited = std::env::var_os("LD_PRELOAD");
    let mut command = Command::new(program);
    command.args(arguments).env_remove(DB_VAR);
    for (name, value) in environment(settings, inherited) {
        command.env(name, value);
    }
    command.status().map_err(|error| {
        bad_input(format!(
            "cannot run {}: {error} (is it on PATH, and executable?)",
            program.to_string_lossy()
        ))
    })
}

/// The variables the program needs: the library first in `LD_PRELOAD` (before any
/// `inherited` one), the directory, and the layout and pattern when they are not the
/// library's defaults.
fn environment(
    settings: &CaptureSettings,
    inherited: Option<OsString>,
) -> Vec<(&'static str, OsString)> {
    let mut preload = settings.library.clone().into_os_string();
    if let Some(inherited) = inherited.filter(|value| !value.is_empty()) {
        preload.push(":");
        preload.push(inherited);
    }
    let mut variables = vec![
        ("LD_PRELOAD", preload),
        (DIR_VAR, settings.dir.clone().into_os_string()),
    ];
    if settings.layout != LayoutArg::Samba {
        variables.push((LAYOUT_VAR, "ccan".into()));
    }
    if let Some(pattern) = &settings.db {
        variables.push((DB_VAR, pattern.into()));
    }
    variables
}
