//! Lock compatibility with C tdb across processes: locks taken by tdb-pure must block
//! C tdb in another process (`util::c_can` asks one what it could take).

use crate::util::*;
use tdb_pure::StoreFlag;

#[test]
fn pure_locks_exclude_c_in_other_processes() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("locks.tdb");
    let mut p = open(&path, &rw_create(0, 0));
    p.store(b"key", b"v", StoreFlag::Insert).unwrap();

    assert!(c_can(&path, "chain:key"));

    p.chainlock(b"key").unwrap();
    assert!(!c_can(&path, "chain:key"), "chain W lock must exclude C");
    assert!(!c_can(&path, "chain_read:key"));
    assert!(
        !c_can(&path, "lockall_read"),
        "chain lock must block C's allrecord lock"
    );
    p.chainunlock(b"key").unwrap();
    assert!(c_can(&path, "chain:key"));

    p.chainlock_read(b"key").unwrap();
    assert!(c_can(&path, "chain_read:key"), "read locks share");
    assert!(!c_can(&path, "chain:key"));
    p.chainunlock_read(b"key").unwrap();

    p.lockall_read().unwrap();
    assert!(c_can(&path, "chain_read:key"));
    assert!(!c_can(&path, "chain:key"));
    p.unlockall_read().unwrap();

    p.lockall_write().unwrap();
    assert!(!c_can(&path, "chain_read:key"));
    p.unlockall_write().unwrap();
    assert!(c_can(&path, "chain:key"));

    // A write traverse holds the transaction lock for its whole walk.
    let mut inside = None;
    p.traverse(|_, _, _| {
        inside = Some(c_can(&path, "transaction"));
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(
        inside,
        Some(false),
        "write traverse must exclude C transactions"
    );
    assert!(c_can(&path, "transaction"));

    // Mark-only locks take no fcntl lock.
    p.chainlock_mark(b"key").unwrap();
    assert!(c_can(&path, "chain:key"));
    p.chainlock_unmark(b"key").unwrap();

    // Unlocking what is not held is a lock error, as in C.
    assert_eq!(
        p.chainunlock(b"key").unwrap_err().code(),
        tdb_pure::code::LOCK
    );
}
