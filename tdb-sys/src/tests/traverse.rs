//! Traverses, callbacks (panics included), `tdb_check` and the firstkey/nextkey walk.

use super::*;

#[test]
fn traverse_visits_everything_and_counts() {
    let (_dir, _path, mut tdb) = scratch();
    assert_eq!(
        tdb.traverse(|_, _, _| ControlFlow::Continue(())).unwrap(),
        0
    );
    fill(&mut tdb, 20);
    let mut seen = Vec::new();
    let count = tdb
        .traverse(|_, key, data| {
            seen.push((key.to_vec(), data.to_vec()));
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(count, 20);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 20);
    assert!(seen.contains(&(b"key7".to_vec(), b"data7".to_vec())));
    assert_eq!(
        tdb.traverse_read(|_, _, _| ControlFlow::Continue(()))
            .unwrap(),
        20
    );
}

#[test]
fn traverse_callback_writes_and_stops_early() {
    let (_dir, _path, mut tdb) = scratch();
    fill(&mut tdb, 10);
    let mut visited = 0;
    let count = tdb
        .traverse(|tdb, key, data| {
            // Records stored during the walk may or may not be visited: leave them be.
            if !key.starts_with(b"key") {
                return ControlFlow::Continue(());
            }
            visited += 1;
            // Delete the record being visited, and store and modify others.
            tdb.delete(key).unwrap();
            let mut moved = b"moved-".to_vec();
            moved.extend_from_slice(key);
            tdb.store(&moved, data, StoreFlag::Insert).unwrap();
            tdb.append(b"visits", b".").unwrap();
            if visited == 4 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(visited, 4);
    assert!(count >= 4, "the record that stopped the walk counts");

    let all = contents(&mut tdb);
    let moved = all.keys().filter(|k| k.starts_with(b"moved-")).count();
    let originals = all.keys().filter(|k| k.starts_with(b"key")).count();
    assert_eq!(moved, 4);
    assert_eq!(originals, 6);
    assert_eq!(all[&b"visits"[..]], b"....");
    tdb.check().unwrap();
}

#[test]
fn read_traverse_refuses_writes_and_allows_nesting() {
    let (_dir, _path, mut tdb) = scratch();
    fill(&mut tdb, 5);
    let mut errors = Vec::new();
    let mut inner_total = 0;
    tdb.traverse_read(|tdb, key, _| {
        errors.push(tdb.store(key, b"x", StoreFlag::Default).unwrap_err().code());
        errors.push(tdb.delete(key).unwrap_err().code());
        errors.push(tdb.transaction_start().unwrap_err().code());
        // A write traverse inside a read traverse silently becomes a read traverse.
        inner_total += tdb
            .traverse(|tdb, key, _| {
                assert_eq!(
                    tdb.store(key, b"x", StoreFlag::Default).unwrap_err().code(),
                    ErrorCode::ReadOnly
                );
                ControlFlow::Continue(())
            })
            .unwrap();
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(errors.len(), 15);
    for chunk in errors.chunks(3) {
        assert_eq!(
            chunk,
            [ErrorCode::ReadOnly, ErrorCode::ReadOnly, ErrorCode::Einval]
        );
    }
    assert_eq!(inner_total, 25);
    assert_eq!(contents(&mut tdb)[&b"key0"[..]], b"data0");
}

#[test]
fn traverse_with_hands_out_the_owner() {
    struct Owner {
        tdb: Tdb,
        visits: u32,
    }
    impl AsMut<Tdb> for Owner {
        fn as_mut(&mut self) -> &mut Tdb {
            &mut self.tdb
        }
    }
    let (_dir, _path, mut tdb) = scratch();
    fill(&mut tdb, 3);
    let mut owner = Owner { tdb, visits: 0 };
    let count = Tdb::traverse_with(&mut owner, TraverseMode::Write, |owner, key, _| {
        owner.visits += 1;
        owner.tdb.store(key, b"seen", StoreFlag::Modify).unwrap();
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!((count, owner.visits), (3, 3));
    assert!(contents(&mut owner.tdb).values().all(|v| v == b"seen"));
}

#[test]
fn traverse_survives_the_handle_being_replaced_in_the_callback() {
    let dir = TempDir::new().unwrap();
    let (_, mut tdb) = open_in(&dir, "a.tdb", &OpenOptions::default());
    fill(&mut tdb, 3);
    let (_, replacement) = open_in(&dir, "b.tdb", &OpenOptions::default());
    let mut replacement = Some(replacement);
    let mut visits = 0;
    tdb.traverse(|tdb, _, _| {
        visits += 1;
        if let Some(other) = replacement.take() {
            // Drops the handle being walked: the walk keeps its context alive.
            drop(std::mem::replace(tdb, other));
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(visits, 3);
    assert_eq!(tdb.hash_size(), 131);
    assert!(contents(&mut tdb).is_empty(), "the handle is now b.tdb");
}

#[test]
fn panic_in_traverse_callback_propagates_and_handle_stays_usable() {
    let (_dir, _path, mut tdb) = scratch();
    fill(&mut tdb, 10);
    let mut visits = 0;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        tdb.traverse(|_, _, _| {
            visits += 1;
            if visits == 3 {
                panic!("callback failure");
            }
            ControlFlow::Continue(())
        })
    }));
    let payload = outcome.expect_err("the panic reaches the caller");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"callback failure"));
    assert_eq!(visits, 3, "the walk stopped at the panic");

    // tdb released the traverse's locks: a transaction (which needs no locks held) and
    // another traverse work.
    tdb.transaction_start().unwrap();
    tdb.store(b"after", b"panic", StoreFlag::Insert).unwrap();
    tdb.transaction_commit().unwrap();
    assert_eq!(
        tdb.traverse(|_, _, _| ControlFlow::Continue(())).unwrap(),
        11
    );

    // A panic in a nested traverse unwinds through both walks.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        tdb.traverse_read(|tdb, _, _| {
            tdb.traverse_read(|_, _, _| panic!("inner")).unwrap();
            ControlFlow::Continue(())
        })
    }));
    assert!(outcome.is_err());
    tdb.transaction_start().unwrap();
    tdb.transaction_cancel().unwrap();
}

#[test]
fn panic_in_parser_and_checker_propagates() {
    let (_dir, _path, mut tdb) = scratch();
    tdb.store(b"k", b"v", StoreFlag::Default).unwrap();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        tdb.parse_record(b"k", |_| panic!("parser"))
    }));
    assert!(outcome.is_err());
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        tdb.check_with(|_, _| panic!("checker"))
    }));
    assert!(outcome.is_err());
    // The chain read lock was released.
    tdb.transaction_start().unwrap();
    tdb.transaction_cancel().unwrap();
    assert_eq!(tdb.parse_record(b"k", <[u8]>::to_vec).unwrap(), b"v");
}

#[test]
fn check_and_check_with() {
    let (_dir, _path, mut tdb) = scratch();
    fill(&mut tdb, 10);
    tdb.check().unwrap();
    let mut checked = 0;
    tdb.check_with(|key, data| {
        checked += 1;
        key.starts_with(b"key") && data.starts_with(b"data")
    })
    .unwrap();
    assert_eq!(checked, 10);
    tdb.store(b"bad", b"record", StoreFlag::Insert).unwrap();
    // A checker's veto fails the check without setting an error code of its own; the
    // code tdb_check's record reads leave is TDB_SUCCESS (observed with 1.4.8).
    assert_eq!(
        code(tdb.check_with(|key, _| key != b"bad")),
        ErrorCode::UNSET
    );
}

#[test]
fn firstkey_nextkey_walk() {
    let (_dir, _path, mut tdb) = scratch();
    assert!(tdb.firstkey().unwrap().is_none());
    fill(&mut tdb, 12);
    let mut keys = Vec::new();
    let mut key = tdb.firstkey().unwrap();
    while let Some(current) = key {
        keys.push(current.to_vec());
        key = tdb.nextkey(&current).unwrap();
    }
    keys.sort();
    assert_eq!(keys.len(), 12);
    let mut iterated: Vec<Vec<u8>> = tdb.keys().collect::<crate::Result<_>>().unwrap();
    iterated.sort();
    assert_eq!(iterated, keys);

    // A key that is gone, and not the one under the cursor.
    let first = tdb.firstkey().unwrap().unwrap();
    assert!(first.len() >= 4);
    assert_eq!(code(tdb.nextkey(b"gon")), ErrorCode::NoExist);
    // That lookup left the cursor on nothing: any key is a plain lookup again, as in C
    // (a traced walk goes on over a key another process deleted).
    assert_eq!(code(tdb.nextkey(b"x-longer-than-gon")), ErrorCode::NoExist);
    assert!(tdb.nextkey(&first).is_ok());
    let first = tdb.firstkey().unwrap().unwrap();
    let mut longer = first.to_vec();
    longer.push(b'!');
    assert_eq!(code(tdb.nextkey(&longer)), ErrorCode::Einval);
    assert!(tdb.nextkey(&first).is_ok());
}
