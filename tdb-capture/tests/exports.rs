//! The built library: it exports tdb's traced API, and nothing else that could shadow
//! a program's symbols.

use std::process::Command;

/// The traced functions of tdb's API, every one of which the library defines.
const TRACED: &[&str] = &[
    "tdb_append",
    "tdb_chainlock",
    "tdb_chainlock_mark",
    "tdb_chainlock_nonblock",
    "tdb_chainlock_read",
    "tdb_chainlock_read_nonblock",
    "tdb_chainlock_unmark",
    "tdb_chainunlock",
    "tdb_chainunlock_read",
    "tdb_close",
    "tdb_delete",
    "tdb_exists",
    "tdb_fetch",
    "tdb_firstkey",
    "tdb_lockall",
    "tdb_lockall_mark",
    "tdb_lockall_nonblock",
    "tdb_lockall_read",
    "tdb_lockall_read_nonblock",
    "tdb_lockall_unmark",
    "tdb_nextkey",
    "tdb_open",
    "tdb_open_ex",
    "tdb_parse_record",
    "tdb_repack",
    "tdb_store",
    "tdb_storev",
    "tdb_transaction_cancel",
    "tdb_transaction_commit",
    "tdb_transaction_prepare_commit",
    "tdb_transaction_start",
    "tdb_transaction_start_nonblock",
    "tdb_traverse",
    "tdb_traverse_read",
    "tdb_unlockall",
    "tdb_unlockall_read",
    "tdb_wipe_all",
];

#[test]
fn the_library_exports_exactly_the_traced_api() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let built = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "-p",
            "tdb-capture",
            "-p",
            "replay-cli",
            "--manifest-path",
            manifest,
        ])
        .status()
        .expect("cargo runs");
    assert!(built.success());
    let library = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/release/libtdb_capture.so"
    );
    let Ok(listed) = Command::new("nm")
        .args(["-D", "--defined-only", library])
        .output()
    else {
        eprintln!("skipped: nm (binutils) does not run here");
        return;
    };
    let text = String::from_utf8_lossy(&listed.stdout);
    let mut exported: Vec<&str> = text
        .lines()
        .filter(|line| line.split(' ').nth(1) == Some("T"))
        .filter_map(|line| line.split(' ').nth(2))
        .collect();
    exported.sort_unstable();
    assert_eq!(exported, TRACED);
}
