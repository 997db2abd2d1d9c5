//! Both libraries on one file at once: two processes on Debian's libtdb.so.1 and two
//! on ours run transactions, chain-locked increments and traverses (ones that validate
//! every record, and writing ones that delete the worker's temporary records), on a
//! plain file and on a robust-mutex one. Afterwards the file must pass both engines'
//! checks (through each library, through tdbtool on each, and tdb-pure's own) and hold
//! exactly what the successful operations imply.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::util::c_program::abi_check;
use crate::util::{assert_same, debian_present, installed, on, run, Lib};

const ROUNDS: u32 = 150;

/// A worker's report: (transactions committed, chain-locked increments).
fn parse_report(line: &str) -> (u32, u32) {
    let field = |name: &str| -> u32 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
    };
    assert_eq!(
        field("bad="),
        0,
        "a traverse saw a malformed record: {line}"
    );
    (field("tx="), field("cl="))
}

/// `abi_check` with `args` (and `mutex` last for a robust-mutex file) on `lib`.
fn abi_check_on(lib: Lib, args: &[&str], mutex: bool) -> std::process::Command {
    let mut cmd = on(lib, abi_check());
    cmd.args(args);
    if mutex {
        cmd.arg("mutex");
    }
    cmd
}

fn start(lib: Lib, file: &Path, id: u32, mutex: bool) -> Child {
    let (file, id, rounds) = (file.to_string_lossy(), id.to_string(), ROUNDS.to_string());
    abi_check_on(lib, &["worker", &file, &id, &rounds], mutex)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting a worker")
}

/// Runs the four workers on a new file; returns the transactions and increments they
/// report as done.
fn run_workers(file: &Path, mutex: bool) -> (u32, u32) {
    let path = file.to_string_lossy();
    let mut create = abi_check_on(Lib::Debian, &["create", &path], mutex);
    run(&mut create, b"", Duration::from_secs(10)).assert_ok("creating the file");
    let workers: Vec<(Lib, Child)> = [Lib::Debian, Lib::Ours, Lib::Debian, Lib::Ours]
        .into_iter()
        .enumerate()
        .map(|(i, lib)| (lib, start(lib, file, i as u32 + 1, mutex)))
        .collect();
    let (mut tx, mut cl) = (0, 0);
    for (lib, child) in workers {
        let out = child.wait_with_output().expect("a worker");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "worker on {}: {stdout}{stderr}",
            lib.name()
        );
        let (t, c) = parse_report(&stdout);
        assert!(
            t > 0 && c > 0,
            "worker on {} did nothing: {stdout}",
            lib.name()
        );
        tx += t;
        cl += c;
    }
    (tx, cl)
}

fn shared_file(mutex: bool) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("shared.tdb");
    let (tx, cl) = run_workers(&file, mutex);
    let path = file.to_string_lossy();
    let verify = Lib::BOTH.map(|lib| {
        let out = run(
            &mut abi_check_on(lib, &["verify", &path], mutex),
            b"",
            Duration::from_secs(10),
        );
        out.assert_ok(&format!("verify on {}", lib.name()));
        out.stdout
    });
    let records = tx + 2;
    let implied = format!("check: 0\nrecords={records} w={tx} tmp=0 tx_count={tx} cl_count={cl}\n");
    assert_same(
        "the shared file, as Debian's library and ours read it",
        &verify[0],
        &verify[1],
    );
    assert_eq!(
        verify[0], implied,
        "the file does not hold what the operations imply"
    );

    if installed("/usr/bin/tdbtool") {
        for lib in Lib::BOTH {
            let mut cmd = on(lib, "/usr/bin/tdbtool");
            cmd.arg(&file).arg("check");
            let out = run(&mut cmd, b"", Duration::from_secs(10));
            let want = format!("Database integrity is OK and has {records} records.");
            assert!(
                out.stdout.contains(&want),
                "tdbtool check on {}: {}",
                lib.name(),
                out.stdout
            );
        }
    }
    let tdb_flags = if mutex {
        tdb_pure::flags::MUTEX_LOCKING
    } else {
        0
    };
    let options = tdb_pure::OpenFlags {
        hash_size: 0,
        tdb_flags,
        open_flags: libc::O_RDWR,
        mode: 0,
    };
    let mut db = tdb_pure::Tdb::open(&file, &options).expect("tdb-pure opens the file");
    db.check().expect("tdb-pure's check passes");
}

#[test]
fn two_processes_per_library_share_one_file() {
    if debian_present() {
        shared_file(false);
    }
}

/// The same on a robust-mutex file (`TDB_MUTEX_LOCKING`), where the machine has them.
#[test]
fn two_processes_per_library_share_one_robust_mutex_file() {
    if !debian_present() {
        return;
    }
    let robust = run(
        on(Lib::Debian, abi_check()).arg("robust"),
        b"",
        Duration::from_secs(10),
    );
    if robust.stdout.trim() != "1" {
        eprintln!("skipped: tdb_runtime_check_for_robust_mutexes() is false on this machine");
        return;
    }
    shared_file(true);
}
