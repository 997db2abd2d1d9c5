//! Shared helpers for the integration tests: where the corpus and the fixtures are,
//! replaying on the C backend, and Samba's own tools as an independent oracle. The
//! integration binary reaches them through its `util` module.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use replay_engine::analysis::{self, Analysis};
use replay_engine::backend::c::CTdb;
use replay_engine::backend::pure::PureTdb;
use replay_engine::backend::Backend;
use replay_engine::diff::{self, DiffReport};
use replay_engine::inspect;
use replay_engine::replay::{self, ReplayOptions, ReplayReport};
use replay_engine::trace::{load_traces, LoadOptions, Trace};

/// The corpus directory from `TDB_REPLAY_CORPUS`, or `None` after saying the test is
/// skipped.
pub fn corpus(test: &str) -> Option<PathBuf> {
    match std::env::var_os("TDB_REPLAY_CORPUS") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            eprintln!("{test}: skipped (set TDB_REPLAY_CORPUS to the traces directory to run it)");
            None
        }
    }
}

/// Files in `dir` (sorted), or a panic naming the directory.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// The handwritten two-process fixture.
pub fn handwritten() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/handwritten");
    vec![dir.join("a.trace"), dir.join("b.trace")]
}

/// Load traces or panic with the loader's message.
pub fn load(paths: &[PathBuf]) -> Vec<Trace> {
    load_traces(paths, &LoadOptions::default()).unwrap_or_else(|error| panic!("{error}"))
}

/// Load a set and find its clear-if-first wipes as the commands do (marking them when
/// the set only analyses split), or panic with the loader's or the analysis's message.
pub fn load_finding_wipes(paths: &[PathBuf]) -> Vec<Trace> {
    let mut traces = load(paths);
    analysis::analyse_finding_wipes(&mut traces, CTdb::LOCKING)
        .unwrap_or_else(|error| panic!("{error}"));
    traces
}

/// Analyse for the C backend or panic with the analysis message.
pub fn analyse(traces: &[Trace]) -> Analysis {
    analysis::analyse(traces, CTdb::LOCKING).unwrap_or_else(|error| panic!("{error}"))
}

/// Analyse for the C backend; `None` (said on stderr) in the known analysis gap, a
/// dependency circle in some self-recorded sets (see generated.rs); any other failure
/// panics.
pub fn analyse_unless_known_gap(traces: &[Trace]) -> Option<Analysis> {
    match analysis::analyse(traces, CTdb::LOCKING) {
        Ok(plan) => Some(plan),
        Err(error) if error.is_cycle() => {
            eprintln!("known analysis gap: {error}");
            None
        }
        Err(error) => panic!("{error}"),
    }
}

/// Every record of the database at `db`, read by engine `B`.
pub fn records<B: Backend>(db: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut handle: B = inspect::open_existing(db).expect("opens");
    inspect::records(&mut handle).expect("traverse")
}

/// Run `diff` (C and tdb-pure in lock step) on two databases in `dir` named after
/// `prefix`; panics on an error or a divergence, else returns the report.
pub fn diff_agrees(traces: &[Trace], plan: &Analysis, dir: &Path, prefix: &str) -> DiffReport {
    let report = diff::diff::<CTdb, PureTdb>(
        traces,
        plan,
        &dir.join(format!("{prefix}-c.tdb")),
        &dir.join(format!("{prefix}-pure.tdb")),
        None,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    if let Some(divergence) = &report.divergence {
        panic!("{divergence}");
    }
    report
}

/// Replay on the C backend `runs` times or panic with the replay's message.
pub fn replay_c(db: &Path, traces: &[Trace], plan: &mut Analysis, runs: usize) -> ReplayReport {
    let options = ReplayOptions {
        runs,
        ..ReplayOptions::default()
    };
    replay::replay::<CTdb>(db, traces, plan, &options).unwrap_or_else(|error| panic!("{error}"))
}

/// Whether the file at `db` is a robust-mutex tdb (its header, read by tdb-pure's header
/// module, has the feature-flag marker and the mutex feature).
pub fn has_mutex_feature(db: &Path) -> bool {
    tdb_pure::header::Header::read_file(db).is_ok_and(|header| header.has_mutexes())
}

/// C tdb's own `tdb_check` on a file (a mutex file is opened with its mutexes, as C
/// requires of a locked open).
pub fn c_check(db: &Path) {
    let tdb_flags = if has_mutex_feature(db) {
        replay_engine::backend::tdb_flags::MUTEX_LOCKING
    } else {
        0
    };
    let mut handle = tdb_sys::Tdb::open(
        db,
        &tdb_sys::OpenOptions {
            tdb_flags,
            open_flags: libc::O_RDWR,
            ..tdb_sys::OpenOptions::default()
        },
    )
    .unwrap_or_else(|error| panic!("C tdb cannot open {}: {error}", db.display()));
    handle
        .check()
        .unwrap_or_else(|error| panic!("tdb_check fails on {}: {error}", db.display()));
}

/// Samba's `tdbtool FILE check`: `Some(passed)`, or `None` (with a note) when tdb-tools
/// is not installed.
pub fn tdbtool_check(db: &Path) -> Option<bool> {
    let output = match Command::new("tdbtool").arg(db).arg("check").output() {
        Ok(output) => output,
        Err(_) => {
            eprintln!("tdbtool not installed (apt-get install tdb-tools): oracle check skipped");
            return None;
        }
    };
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    Some(output.status.success() && text.contains("Database integrity is OK"))
}

/// Samba's `tdbdump FILE`, or `None` when tdb-tools is not installed.
pub fn tdbdump(db: &Path) -> Option<String> {
    let output = Command::new("tdbdump").arg(db).output().ok()?;
    assert!(
        output.status.success(),
        "tdbdump failed on {}",
        db.display()
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Both C checks on a replay's final database.
pub fn check_final_database(db: &Path) {
    c_check(db);
    if let Some(passed) = tdbtool_check(db) {
        assert!(passed, "tdbtool check fails on {}", db.display());
    }
}
