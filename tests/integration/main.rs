//! Workspace integration tests: whole replays on the C backend, of the project's own
//! traces (always) and of the recorded corpus (when `TDB_REPLAY_CORPUS` is set).
//!
//! **Adding a test:** write `pub fn NAME() {` in the module of its area (a new module is
//! a file here plus its `mod` line below); `build.rs` finds it. Helpers that are not tests
//! are private to their module or live in [`util`].
//!
//! **Why not libtest:** a replay forks one worker process per trace, and fork is only
//! safe from a single-threaded process (`replay_engine::process::spawn` refuses to fork
//! while other threads run). libtest always runs a test on a thread of its own, so this
//! binary has its own small harness (`harness = false`) that runs every test on the main
//! thread, one after the other. `cargo test -p integration-tests -- NAME` runs the tests
//! whose names contain NAME (`--exact`: whose names are NAME).

mod corpus;
mod creating_open;
mod deadlock;
mod differential;
mod engines;
mod epochs;
mod generated;
mod handwritten;
mod killed;
mod mutex;
mod recording;
mod shrink;
mod util;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::Instant;

include!(concat!(env!("OUT_DIR"), "/tests.rs"));

/// Which tests the command line asks for, as libtest reads it.
struct Selection {
    /// Names or parts of names; empty means every test.
    filters: Vec<String>,
    /// `--exact`: a filter must be the whole name.
    exact: bool,
    /// `--ignored`: only ignored tests, and this binary has none.
    ignored_only: bool,
}

impl Selection {
    fn from_args() -> Selection {
        let args: Vec<String> = std::env::args().skip(1).collect();
        Selection {
            // Other options cargo or a user may pass (`--nocapture`, ...) mean nothing here.
            filters: args
                .iter()
                .filter(|a| !a.starts_with('-'))
                .cloned()
                .collect(),
            exact: args.iter().any(|a| a == "--exact"),
            ignored_only: args.iter().any(|a| a == "--ignored"),
        }
    }

    fn wants(&self, name: &str) -> bool {
        !self.ignored_only
            && (self.filters.is_empty()
                || self.filters.iter().any(|filter| {
                    if self.exact {
                        name == filter
                    } else {
                        name.contains(filter.as_str())
                    }
                }))
    }
}

fn main() -> ExitCode {
    let selection = Selection::from_args();
    let selected: Vec<&(&str, fn())> = TESTS
        .iter()
        .filter(|(name, _)| selection.wants(name))
        .collect();
    println!("\nrunning {} tests", selected.len());
    let started = Instant::now();
    let mut failed = Vec::new();
    for (name, test) in selected.iter().copied() {
        let passed = catch_unwind(AssertUnwindSafe(test)).is_ok();
        println!("test {name} ... {}", if passed { "ok" } else { "FAILED" });
        if !passed {
            failed.push(*name);
        }
    }
    let passed = selected.len() - failed.len();
    println!(
        "\ntest result: {}. {passed} passed; {} failed; finished in {:.2}s\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    for name in &failed {
        println!("failed: {name}");
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
