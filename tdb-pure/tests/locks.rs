//! Lock compatibility with C tdb across processes: locks taken by tdb-pure must block
//! C tdb in another process (and the helper child reports what it could take).

mod util;

use std::process::Command;

use tdb_pure::StoreFlag;
use util::*;

const ENV_PATH: &str = "TDB_PURE_LOCK_HELPER_PATH";
const ENV_OP: &str = "TDB_PURE_LOCK_HELPER_OP";

/// Child side: open with C tdb and try one non-blocking lock; exit 0 if taken, 1 if
/// refused, 2 on other failure. A no-op unless run as the helper.
#[test]
fn lock_helper_child() {
    let (Some(path), Some(op)) = (std::env::var_os(ENV_PATH), std::env::var_os(ENV_OP)) else {
        return;
    };
    let Ok(mut c) = tdb_sys::Tdb::open(&path, &tdb_sys::OpenOptions::default()) else {
        std::process::exit(2)
    };
    let r = match op.to_str().unwrap() {
        "chain" => c.chainlock_nonblock(b"key"),
        "chain_read" => c.chainlock_read_nonblock(b"key"),
        "lockall_read" => c.lockall_read_nonblock(),
        "transaction" => c.transaction_start_nonblock(),
        _ => std::process::exit(2),
    };
    std::process::exit(if r.is_ok() { 0 } else { 1 });
}

fn child_can(path: &std::path::Path, op: &str) -> bool {
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lock_helper_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_PATH, path)
        .env(ENV_OP, op)
        .status()
        .unwrap();
    match status.code() {
        Some(0) => true,
        Some(1) => false,
        other => panic!("lock helper failed for {op}: {other:?}"),
    }
}

#[test]
fn pure_locks_exclude_c_in_other_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("locks.tdb");
    let mut p = open(&path, &rw_create(0, 0));
    p.store(b"key", b"v", StoreFlag::Insert).unwrap();

    assert!(child_can(&path, "chain"));

    p.chainlock(b"key").unwrap();
    assert!(!child_can(&path, "chain"), "chain W lock must exclude C");
    assert!(!child_can(&path, "chain_read"));
    assert!(
        !child_can(&path, "lockall_read"),
        "chain lock must block C's allrecord lock"
    );
    p.chainunlock(b"key").unwrap();
    assert!(child_can(&path, "chain"));

    p.chainlock_read(b"key").unwrap();
    assert!(child_can(&path, "chain_read"), "read locks share");
    assert!(!child_can(&path, "chain"));
    p.chainunlock_read(b"key").unwrap();

    p.lockall_read().unwrap();
    assert!(child_can(&path, "chain_read"));
    assert!(!child_can(&path, "chain"));
    p.unlockall_read().unwrap();

    p.lockall_write().unwrap();
    assert!(!child_can(&path, "chain_read"));
    p.unlockall_write().unwrap();
    assert!(child_can(&path, "chain"));

    // A write traverse holds the transaction lock for its whole walk.
    let mut inside = None;
    p.traverse(|_, _, _| {
        inside = Some(child_can(&path, "transaction"));
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(
        inside,
        Some(false),
        "write traverse must exclude C transactions"
    );
    assert!(child_can(&path, "transaction"));

    // Mark-only locks take no fcntl lock.
    p.chainlock_mark(b"key").unwrap();
    assert!(child_can(&path, "chain"));
    p.chainlock_unmark(b"key").unwrap();

    // Unlocking what is not held is a lock error, as in C.
    assert_eq!(
        p.chainunlock(b"key").unwrap_err().code(),
        tdb_pure::code::LOCK
    );
}
