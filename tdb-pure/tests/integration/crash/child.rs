//! The helper process.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use tdb_pure::fault::{FaultAction, FaultPoint};
use tdb_pure::Tdb;

use super::engine::{rw, Db, Engine};
use super::workload::{gen_of, shape_ops, tx_ops};
use crate::util::{helper_command, helper_job, test_name};

pub(super) const ENV_CHILD: &str = "TDB_CRASH_CHILD";

/// Child side: a no-op unless run as the helper. `TDB_CRASH_CHILD` holds the job:
/// `run <engine> <db> <log>`: commit transactions 1, 2, ... past the one in the file until
/// killed, logging; `commit <db> <shape> <k> <torn>`: one tdb-pure commit of `shape` that
/// dies at its k-th fault point; `recover <db> <k> <torn>`: a tdb-pure open whose
/// recovery dies at its k-th fault point.
#[test]
#[ignore = "helper"]
fn crash_child() {
    let Some([job]) = helper_job([ENV_CHILD]) else {
        return;
    };
    let job = job.into_string().unwrap();
    let args: Vec<&str> = job.split('\u{1f}').collect();
    match args[0] {
        "run" => child_run(
            Engine::parse(args[1]),
            Path::new(args[2]),
            Path::new(args[3]),
        ),
        "commit" => {
            let (k, torn) = (args[3].parse().unwrap(), args[4] == "1");
            let mut db = Db::open(Engine::Pure, Path::new(args[1]), false).unwrap();
            let n = gen_of(&db.state().unwrap()) + 1;
            db.start();
            db.apply(&shape_ops(args[2], n));
            let Db::Pure(mut db) = db else { unreachable!() };
            db.set_fault_hook(Some(die_at(k, torn)));
            db.transaction_commit().unwrap();
        }
        "recover" => {
            let (k, torn) = (args[2].parse().unwrap(), args[3] == "1");
            let _db = Tdb::open_with_fault_hook(args[1], &rw(false), die_at(k, torn)).unwrap();
        }
        other => panic!("unknown job {other}"),
    }
    std::process::exit(0);
}

/// A fault hook that kills the process at its `k`-th point (1-based), after half the
/// buffer if `torn`.
pub(super) fn die_at(k: usize, torn: bool) -> tdb_pure::fault::FaultHook {
    let mut seen = 0usize;
    Box::new(move |point| {
        seen += 1;
        if seen < k {
            return FaultAction::Proceed;
        }
        match point {
            FaultPoint::Write { len, .. } if torn && tearable(len) => {
                FaultAction::TornWrite((len / 2) & !7)
            }
            _ => FaultAction::Crash,
        }
    })
}

/// Whether a kill can tear a write of `len` bytes: a word (the recovery magic, a
/// pointer) is one store into the mapping or one page of a `pwrite`, whole or not at all;
/// a longer copy can stop between its 8- to 32-byte moves or between pages.
pub(super) fn tearable(len: usize) -> bool {
    len >= 16
}

/// Append one line to the log with a single `write(2)`.
pub(super) fn log_line(log: &mut std::fs::File, line: &str) {
    log.write_all(format!("{line}\n").as_bytes()).unwrap();
}

pub(super) fn child_run(engine: Engine, path: &Path, log: &Path) {
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut db = Db::open(engine, path, true).unwrap();
    let mut n = gen_of(&db.state().unwrap());
    log_line(&mut log, &format!("opened {n}"));
    loop {
        n += 1;
        log_line(&mut log, &format!("begin {n}"));
        db.start();
        db.apply(&tx_ops(n));
        log_line(&mut log, &format!("committing {n}"));
        db.commit();
        log_line(&mut log, &format!("committed {n}"));
    }
}

/// This binary run again as the helper on `job` (see `crash_child`), its stderr going
/// to `stderr`.
pub(super) fn helper(job: &[&str], stderr: &Path) -> Command {
    let mut cmd = helper_command(&test_name(module_path!(), "crash_child"));
    cmd.env(ENV_CHILD, job.join("\u{1f}"))
        .env_remove("TDB_NO_FSYNC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap());
    cmd
}
