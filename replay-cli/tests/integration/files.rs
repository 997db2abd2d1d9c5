//! `dump`, `check` and `recover` on real files: Samba's test files, a corrupted copy, and
//! a database whose commit a crash interrupted.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use tdb_pure::fault::{FaultAction, FaultPoint};

use crate::util::{arg, assert_says, exits_with, succeeds, tdb_files, tdb_replay, text};

#[test]
fn dump_prints_exactly_what_tdbdump_prints_on_both_backends() {
    let Some(dir) = tdb_files() else { return };
    let expected = std::fs::read_to_string(dir.join("sample_tdb.txt")).expect("expected dump");
    let sample = dir.join("sample_tdb.tdb");
    for backend in ["c", "pure"] {
        let output = tdb_replay(&["dump", "--backend", backend, arg(&sample)]);
        assert!(output.status.success(), "{backend}: {}", text(&output));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            expected,
            "{backend}"
        );
    }
}

#[test]
fn check_passes_sound_files_and_explains_bad_ones() {
    let Some(dir) = tdb_files() else { return };
    let scratch = tempfile::tempdir().expect("temp dir");
    let corrupt = scratch.path().join("corrupt.tdb");
    let mut bytes = std::fs::read(dir.join("sample_tdb.tdb")).expect("sample");
    bytes[700..704].copy_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
    std::fs::write(&corrupt, bytes).expect("write copy");
    let sample = dir.join("sample_tdb.tdb");
    let rwlock = dir.join("rwlock-le.tdb");
    for backend in ["c", "pure"] {
        let check = |file| ["check", "--backend", backend, arg(file)];
        assert_says(&succeeds(&check(&sample)), &["3 records"]);
        assert_says(&exits_with(1, &check(&corrupt)), &["corrupt"]);
        assert_says(&exits_with(1, &check(&rwlock)), &["no longer supported"]);
    }
}

/// The environment variable that makes [`helper_killed_commit`] run: the database.
const KILL_COMMIT_VAR: &str = "TDB_REPLAY_TEST_KILL_COMMIT";

/// Child half of [`recover_rolls_back_a_killed_commit`], run by it in a new process of
/// this test binary (`--ignored --exact`) with [`KILL_COMMIT_VAR`] set to a database: it
/// commits a transaction that grows the file and is killed (`SIGKILL`, by tdb-pure's
/// fault hook) at the second block it writes past the old end of file.
#[test]
#[ignore = "helper"]
fn helper_killed_commit() {
    let Some(path) = std::env::var_os(KILL_COMMIT_VAR) else {
        return;
    };
    let old_end = std::fs::metadata(&path).expect("database").len();
    let mut db = tdb_pure::Tdb::open(&path, &read_write()).expect("open");
    db.transaction_start().expect("start");
    for i in 0..300 {
        let key = format!("new{i}");
        db.store(key.as_bytes(), &[7; 1200], tdb_pure::StoreFlag::Replace)
            .expect("store");
    }
    // The second block past the old end: the first, with the new free record's header at
    // the old end, is written, its tailer is not.
    let mut new_blocks = 0;
    db.set_fault_hook(Some(Box::new(move |point| match point {
        FaultPoint::Write { off, len: 4096 } if u64::from(off) >= old_end => {
            new_blocks += 1;
            if new_blocks == 2 {
                FaultAction::Crash
            } else {
                FaultAction::Proceed
            }
        }
        _ => FaultAction::Proceed,
    })));
    let _ = db.transaction_commit();
    std::process::exit(3);
}

fn read_write() -> tdb_pure::OpenFlags {
    tdb_pure::OpenFlags {
        hash_size: 0,
        tdb_flags: 0,
        open_flags: libc::O_RDWR | libc::O_CREAT,
        mode: 0o600,
    }
}

/// A database of 100 records written by three committed transactions, then killed in a
/// fourth commit by [`helper_killed_commit`].
fn killed_commit(db_path: &std::path::Path) {
    {
        let mut db = tdb_pure::Tdb::open(db_path, &read_write()).expect("create");
        for round in 0..3 {
            db.transaction_start().expect("start");
            for i in 0..100 {
                let key = format!("old{i}");
                db.store(
                    key.as_bytes(),
                    format!("v{round}").as_bytes(),
                    tdb_pure::StoreFlag::Replace,
                )
                .expect("store");
            }
            db.transaction_commit().expect("commit");
        }
    }
    let status = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "files::helper_killed_commit",
            "--ignored",
            "--nocapture",
        ])
        .env(KILL_COMMIT_VAR, db_path)
        .status()
        .expect("helper runs");
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
}

#[test]
fn recover_rolls_back_a_killed_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("killed.tdb");
    killed_commit(&db_path);
    let file = arg(&db_path);
    let by_c_path = dir.path().join("by-c.tdb");
    std::fs::copy(&db_path, &by_c_path).expect("copy");
    let by_c = arg(&by_c_path);

    // check and dump open read-only: they refuse the file and say what to do.
    assert_says(&exits_with(1, &["check", file]), &["tdb-replay recover"]);

    let out = succeeds(&["recover", file]);
    assert_says(
        &out,
        &[
            "rolled back the commit a crash had interrupted",
            "sound (c backend), 100 records",
        ],
    );
    assert!(
        !out.contains("skipped"),
        "tdb-pure's recovery reclaims the space: {out}"
    );
    assert_says(
        &text(&tdb_replay(&["recover", file])),
        &["no interrupted commit"],
    );
    let dump = text(&tdb_replay(&["dump", file]));
    assert_eq!(dump.matches("data(2) = \"v2\"").count(), 100, "{dump}");
    assert!(!dump.contains("new"), "{dump}");

    // C's recovery of the same file leaves the half-written space: C's check rejects it,
    // tdb-pure's explains it, and a recover with tdb-pure reclaims it.
    let out = exits_with(1, &["recover", "--backend", "c", by_c]);
    assert_says(
        &out,
        &[
            "rolled back the commit",
            "skipped what a killed commit left",
        ],
    );
    let out = succeeds(&["recover", by_c]);
    assert_says(
        &out,
        &["back on the freelist", "sound (c backend), 100 records"],
    );
    assert_eq!(text(&tdb_replay(&["dump", by_c])), dump);
}
