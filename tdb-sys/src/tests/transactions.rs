//! Transactions: commit, cancel, nesting and the guard.

use super::*;

#[test]
fn transactions_commit_cancel_and_guard() {
    let (_dir, _path, mut tdb) = scratch();
    tdb.transaction_start().unwrap();
    assert!(tdb.transaction_active());
    tdb.store(b"a", b"1", StoreFlag::Default).unwrap();
    tdb.transaction_prepare_commit().unwrap();
    tdb.transaction_commit().unwrap();
    assert!(!tdb.transaction_active());
    assert!(tdb.exists(b"a"));

    tdb.transaction_start().unwrap();
    tdb.store(b"b", b"2", StoreFlag::Default).unwrap();
    tdb.transaction_cancel().unwrap();
    assert!(!tdb.exists(b"b"));

    {
        let mut txn = tdb.transaction().unwrap();
        txn.store(b"c", b"3", StoreFlag::Default).unwrap();
        // Dropped: cancelled.
    }
    assert!(!tdb.exists(b"c"));
    let mut txn = tdb.transaction().unwrap();
    txn.store(b"d", b"4", StoreFlag::Default).unwrap();
    txn.prepare_commit().unwrap();
    txn.commit().unwrap();
    assert!(tdb.exists(b"d"));
    let txn = tdb.transaction().unwrap();
    txn.cancel().unwrap();

    // Ending a transaction that is not there fails without setting an error code: the
    // code reported is whatever the last failure left.
    tdb.clear_log();
    let stale = tdb.error();
    let error = tdb.transaction_commit().expect_err("no transaction");
    assert_eq!(Some(error.code()), stale.or(Some(ErrorCode::UNSET)));
    assert!(
        error.message().unwrap_or("").contains("no transaction"),
        "{error}"
    );
    assert!(tdb.transaction_cancel().is_err());
    assert!(tdb.transaction_prepare_commit().is_err());
}

#[test]
fn nested_transactions_are_allowed_by_default_in_1_4_8() {
    let (_dir, _path, mut tdb) = scratch();
    assert_ne!(
        tdb.flags() & flags::ALLOW_NESTING,
        0,
        "tdb_open sets ALLOW_NESTING unless DISALLOW_NESTING is given"
    );

    // Inner commit only decrements; the outer commit writes.
    tdb.transaction_start().unwrap();
    tdb.store(b"outer", b"1", StoreFlag::Default).unwrap();
    tdb.transaction_start().unwrap();
    tdb.store(b"inner", b"2", StoreFlag::Default).unwrap();
    tdb.transaction_commit().unwrap();
    assert!(
        tdb.transaction_active(),
        "still inside the outer transaction"
    );
    tdb.transaction_commit().unwrap();
    assert!(!tdb.transaction_active());
    assert!(tdb.exists(b"outer") && tdb.exists(b"inner"));

    // Inner cancel dooms the outer transaction: its commit fails with IO and nothing of
    // either level is written.
    tdb.transaction_start().unwrap();
    tdb.store(b"x", b"1", StoreFlag::Default).unwrap();
    tdb.transaction_start().unwrap();
    tdb.store(b"y", b"2", StoreFlag::Default).unwrap();
    tdb.transaction_cancel().unwrap();
    assert!(tdb.transaction_active());
    assert_eq!(code(tdb.transaction_commit()), ErrorCode::Io);
    assert!(!tdb.transaction_active());
    assert!(!tdb.exists(b"x") && !tdb.exists(b"y"));

    // The same with guards.
    let mut outer = tdb.transaction().unwrap();
    let mut inner = outer.transaction().unwrap();
    inner.store(b"z", b"3", StoreFlag::Default).unwrap();
    inner.commit().unwrap();
    outer.commit().unwrap();
    assert!(tdb.exists(b"z"));
}

#[test]
fn disallow_nesting_reports_nesting() {
    let dir = TempDir::new().unwrap();
    let options = OpenOptions {
        tdb_flags: flags::DISALLOW_NESTING,
        ..OpenOptions::default()
    };
    let (_, mut tdb) = open_in(&dir, "flat.tdb", &options);
    assert_eq!(tdb.flags() & flags::ALLOW_NESTING, 0);
    tdb.transaction_start().unwrap();
    assert_eq!(code(tdb.transaction_start()), ErrorCode::Nesting);
    tdb.transaction_cancel().unwrap();

    let both = OpenOptions {
        tdb_flags: flags::ALLOW_NESTING | flags::DISALLOW_NESTING,
        ..OpenOptions::default()
    };
    let error = Tdb::open(dir.path().join("both.tdb"), &both).expect_err("contradictory flags");
    assert_eq!(error.code(), ErrorCode::Einval);
    assert!(error.message().unwrap_or("").contains("nesting"), "{error}");
}
