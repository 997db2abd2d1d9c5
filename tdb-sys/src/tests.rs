//! Tests of the safe wrapper against the real libtdb 1.4.8.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use tempfile::TempDir;

use crate::{flags, ErrorCode, LogLevel, OpenOptions, StoreFlag, Tdb, TraverseMode};

fn open_in(dir: &TempDir, name: &str, options: &OpenOptions) -> (PathBuf, Tdb) {
    let path = dir.path().join(name);
    let tdb = Tdb::open(&path, options).expect("open");
    (path, tdb)
}

fn scratch() -> (TempDir, PathBuf, Tdb) {
    let dir = TempDir::new().expect("tempdir");
    let (path, tdb) = open_in(&dir, "test.tdb", &OpenOptions::default());
    (dir, path, tdb)
}

fn code<T: std::fmt::Debug>(result: crate::Result<T>) -> ErrorCode {
    result.expect_err("expected an error").code()
}

fn contents(tdb: &mut Tdb) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut all = BTreeMap::new();
    tdb.traverse_read(|_, key, data| {
        all.insert(key.to_vec(), data.to_vec());
        ControlFlow::Continue(())
    })
    .expect("traverse_read");
    all
}

fn fill(tdb: &mut Tdb, n: usize) {
    for i in 0..n {
        let key = format!("key{i}");
        let data = format!("data{i}");
        tdb.store(key.as_bytes(), data.as_bytes(), StoreFlag::Insert)
            .expect("store");
    }
}

#[test]
fn open_reports_handle_properties() {
    let dir = TempDir::new().unwrap();
    let options = OpenOptions {
        hash_size: 17,
        ..OpenOptions::default()
    };
    let (path, tdb) = open_in(&dir, "props.tdb", &options);
    assert_eq!(tdb.hash_size(), 17);
    assert!(tdb.fd().is_some());
    assert_eq!(tdb.error(), None);
    assert!(!tdb.transaction_active());
    tdb.close().expect("close");
    assert!(path.is_file());

    let default = Tdb::open(dir.path().join("default.tdb"), &OpenOptions::default()).unwrap();
    assert_eq!(default.hash_size(), 131, "tdb's default hash size");

    let internal = Tdb::open(
        "in-memory",
        &OpenOptions {
            tdb_flags: flags::INTERNAL,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    assert!(internal.fd().is_none(), "TDB_INTERNAL has no file");
}

#[test]
fn empty_record_is_not_a_missing_record() {
    let (_dir, _path, mut tdb) = scratch();
    tdb.store(b"empty", b"", StoreFlag::Insert).unwrap();

    let fetched = tdb
        .fetch(b"empty")
        .unwrap()
        .expect("an empty record exists");
    assert!(fetched.is_empty());
    assert_eq!(
        tdb.fetch_with(b"empty", |d| d.map(<[u8]>::len)).unwrap(),
        Some(0)
    );
    assert!(tdb.exists(b"empty"));
    assert_eq!(tdb.parse_record(b"empty", <[u8]>::len).unwrap(), 0);

    assert!(tdb.fetch(b"absent").unwrap().is_none());
    assert!(tdb.fetch_with(b"absent", |d| d.is_none()).unwrap());
    assert_eq!(
        tdb.error(),
        Some(ErrorCode::NoExist),
        "C sets NOEXIST on a miss"
    );
    assert!(!tdb.exists(b"absent"));
    assert_eq!(
        code(tdb.parse_record(b"absent", |_| ())),
        ErrorCode::NoExist
    );

    // The empty key is a key like any other.
    assert!(!tdb.exists(b""));
    tdb.store(b"", b"for the empty key", StoreFlag::Default)
        .unwrap();
    assert_eq!(
        tdb.fetch(b"").unwrap().as_deref(),
        Some(&b"for the empty key"[..])
    );
    tdb.delete(b"").unwrap();
    assert!(!tdb.exists(b""));
}

#[test]
fn store_flags_give_tdb_error_kinds() {
    let (_dir, _path, mut tdb) = scratch();
    assert_eq!(
        code(tdb.store(b"k", b"v", StoreFlag::Modify)),
        ErrorCode::NoExist
    );
    assert!(!tdb.exists(b"k"), "a failed modify creates nothing");
    tdb.store(b"k", b"v1", StoreFlag::Insert).unwrap();
    assert_eq!(
        code(tdb.store(b"k", b"v2", StoreFlag::Insert)),
        ErrorCode::Exists
    );
    assert_eq!(tdb.fetch(b"k").unwrap().as_deref(), Some(&b"v1"[..]));
    tdb.store(b"k", b"v3", StoreFlag::Modify).unwrap();
    tdb.store(b"k", b"v4", StoreFlag::Replace).unwrap();
    assert_eq!(tdb.fetch(b"k").unwrap().as_deref(), Some(&b"v4"[..]));
    tdb.store(b"k", b"v5", StoreFlag::Default).unwrap();
    assert_eq!(tdb.fetch(b"k").unwrap().as_deref(), Some(&b"v5"[..]));
}

#[test]
fn delete_of_a_missing_key_is_noexist() {
    let (_dir, _path, mut tdb) = scratch();
    assert_eq!(code(tdb.delete(b"nothing")), ErrorCode::NoExist);
    tdb.store(b"k", b"v", StoreFlag::Default).unwrap();
    tdb.delete(b"k").unwrap();
    assert_eq!(code(tdb.delete(b"k")), ErrorCode::NoExist);
    assert!(tdb.fetch(b"k").unwrap().is_none());
}

#[test]
fn append_creates_then_extends() {
    let (_dir, _path, mut tdb) = scratch();
    tdb.append(b"log", b"one").unwrap();
    assert_eq!(tdb.fetch(b"log").unwrap().as_deref(), Some(&b"one"[..]));
    tdb.append(b"log", b",two").unwrap();
    tdb.append(b"log", b"").unwrap();
    assert_eq!(tdb.fetch(b"log").unwrap().as_deref(), Some(&b"one,two"[..]));
    tdb.append(b"empty", b"").unwrap();
    assert_eq!(tdb.fetch(b"empty").unwrap().as_deref(), Some(&b""[..]));
}

#[test]
fn parse_record_borrows_and_returns_the_closure_value() {
    let (_dir, _path, mut tdb) = scratch();
    tdb.store(b"k", b"hello world", StoreFlag::Default).unwrap();
    let words = tdb
        .parse_record(b"k", |data| data.split(|&b| b == b' ').count())
        .unwrap();
    assert_eq!(words, 2);
    // Inside a transaction the data comes from the transaction's buffers.
    tdb.transaction_start().unwrap();
    tdb.store(b"k", b"changed", StoreFlag::Default).unwrap();
    assert_eq!(tdb.parse_record(b"k", <[u8]>::to_vec).unwrap(), b"changed");
    tdb.transaction_cancel().unwrap();
    assert_eq!(
        tdb.parse_record(b"k", <[u8]>::to_vec).unwrap(),
        b"hello world"
    );
}

#[test]
fn seqnum_counts_changes_only_with_the_flag() {
    let dir = TempDir::new().unwrap();
    let (_, mut plain) = open_in(&dir, "plain.tdb", &OpenOptions::default());
    plain.store(b"a", b"1", StoreFlag::Default).unwrap();
    assert_eq!(plain.get_seqnum(), 0);

    let options = OpenOptions {
        tdb_flags: flags::SEQNUM,
        ..OpenOptions::default()
    };
    let (_, mut counted) = open_in(&dir, "seqnum.tdb", &options);
    let start = counted.get_seqnum();
    counted.store(b"a", b"1", StoreFlag::Default).unwrap();
    counted.store(b"b", b"2", StoreFlag::Default).unwrap();
    counted.delete(b"a").unwrap();
    assert_eq!(counted.get_seqnum(), start + 3);
}

#[test]
fn wipe_all_and_repack() {
    let (_dir, _path, mut tdb) = scratch();
    fill(&mut tdb, 50);
    for i in (0..50).step_by(2) {
        tdb.delete(format!("key{i}").as_bytes()).unwrap();
    }
    tdb.repack().unwrap();
    let after = contents(&mut tdb);
    assert_eq!(after.len(), 25);
    assert_eq!(after[&b"key1"[..]], b"data1");
    tdb.check().unwrap();

    tdb.wipe_all().unwrap();
    assert!(contents(&mut tdb).is_empty());
    assert!(tdb.firstkey().unwrap().is_none());
    tdb.check().unwrap();
}

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
    assert_eq!(Some(error.code()), stale.or(Some(ErrorCode::Unset)));
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

#[test]
fn chainlock_family_in_one_process() {
    let (_dir, _path, mut tdb) = scratch();
    tdb.chainlock(b"k").unwrap();
    // Operations on the locked chain nest with the caller's lock.
    tdb.store(b"k", b"v", StoreFlag::Default).unwrap();
    tdb.chainunlock(b"k").unwrap();

    tdb.chainlock_nonblock(b"k").unwrap();
    tdb.chainunlock(b"k").unwrap();
    tdb.chainlock_read(b"k").unwrap();
    assert_eq!(tdb.fetch(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    tdb.chainunlock_read(b"k").unwrap();
    tdb.chainlock_read_nonblock(b"k").unwrap();
    tdb.chainunlock_read(b"k").unwrap();
    tdb.chainlock_mark(b"k").unwrap();
    tdb.chainlock_unmark(b"k").unwrap();

    // Unlocking what is not locked fails without setting an error code (tdb only logs
    // "count is 0"), so the code is whatever an earlier call left; here NOEXIST, which
    // the store's lookup of the new key set although the store succeeded.
    let stale = tdb.error();
    assert_eq!(stale, Some(ErrorCode::NoExist));
    for error in [
        tdb.chainunlock(b"k").unwrap_err(),
        tdb.chainunlock_read(b"k").unwrap_err(),
        tdb.chainlock_unmark(b"k").unwrap_err(),
    ] {
        assert_eq!(Some(error.code()), stale);
        assert!(error.message().unwrap().contains("count is 0"), "{error}");
    }

    // A transaction cannot start while a chain lock is held.
    tdb.chainlock(b"k").unwrap();
    assert_eq!(code(tdb.transaction_start()), ErrorCode::Lock);
    tdb.chainunlock(b"k").unwrap();
    tdb.transaction_start().unwrap();
    tdb.transaction_cancel().unwrap();
}

#[test]
fn lockall_family_in_one_process() {
    let (_dir, _path, mut tdb) = scratch();
    tdb.lockall().unwrap();
    tdb.store(b"k", b"v", StoreFlag::Default).unwrap();
    tdb.unlockall().unwrap();

    tdb.lockall_nonblock().unwrap();
    tdb.unlockall().unwrap();

    tdb.lockall_read().unwrap();
    assert!(tdb.exists(b"k"));
    assert_eq!(
        code(tdb.store(b"k", b"w", StoreFlag::Default)),
        ErrorCode::Lock,
        "a write under the read allrecord lock"
    );
    tdb.unlockall_read().unwrap();
    tdb.lockall_read_nonblock().unwrap();
    tdb.unlockall_read().unwrap();

    tdb.lockall_mark().unwrap();
    tdb.lockall_unmark().unwrap();

    assert_eq!(code(tdb.unlockall()), ErrorCode::Lock);
    assert_eq!(code(tdb.unlockall_read()), ErrorCode::Lock);
}

/// Environment variables of the child half of [`locks_conflict_across_processes`].
const CHILD_DB_VAR: &str = "TDB_SYS_TEST_CHILD_DB";
const CHILD_KEY_VAR: &str = "TDB_SYS_TEST_CHILD_KEY";

/// Runs [`lock_probe_child`] in a new process of this test binary and returns what it
/// printed: one `name=result` line per probe.
fn probe_locks_from_another_process(path: &Path, key: &[u8]) -> BTreeMap<String, String> {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tests::lock_probe_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB_VAR, path)
        .env(CHILD_KEY_VAR, String::from_utf8(key.to_vec()).unwrap())
        .output()
        .expect("run the child test process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        // The first line follows the harness's "test ... " prefix.
        .filter_map(|line| line.split_once("PROBE ").map(|(_, probe)| probe))
        .filter_map(|line| line.split_once('='))
        .map(|(name, result)| (name.to_string(), result.to_string()))
        .collect()
}

/// The child half of [`locks_conflict_across_processes`]; does nothing unless started by
/// it.
#[test]
#[ignore = "helper: run in a child process by locks_conflict_across_processes"]
fn lock_probe_child() {
    let (Ok(path), Ok(key)) = (std::env::var(CHILD_DB_VAR), std::env::var(CHILD_KEY_VAR)) else {
        return;
    };
    let key = key.as_bytes();
    let mut tdb = Tdb::open(&path, &OpenOptions::default()).expect("child open");
    let show = |result: crate::Result<()>| match result {
        Ok(()) => "ok".to_string(),
        Err(error) => format!("{:?}", error.code()),
    };
    let probe = |name: &str, result: crate::Result<()>| println!("PROBE {name}={}", show(result));

    let result = tdb.chainlock_nonblock(key);
    let locked = result.is_ok();
    probe("chainlock_nonblock", result);
    if locked {
        tdb.chainunlock(key).unwrap();
    }
    let result = tdb.chainlock_read_nonblock(key);
    let locked = result.is_ok();
    probe("chainlock_read_nonblock", result);
    if locked {
        tdb.chainunlock_read(key).unwrap();
    }
    let result = tdb.lockall_nonblock();
    let locked = result.is_ok();
    probe("lockall_nonblock", result);
    if locked {
        tdb.unlockall().unwrap();
    }
    let result = tdb.lockall_read_nonblock();
    let locked = result.is_ok();
    probe("lockall_read_nonblock", result);
    if locked {
        tdb.unlockall_read().unwrap();
    }
}

/// fcntl locks belong to the process: two handles in one process never conflict (and
/// tdb refuses to open one file twice in a process anyway), so conflicts are tested from
/// a second process.
#[test]
fn locks_conflict_across_processes() {
    let (_dir, path, mut tdb) = scratch();
    tdb.store(b"k", b"v", StoreFlag::Default).unwrap();

    // The same file cannot be opened twice in one process.
    let twice = Tdb::open(&path, &OpenOptions::default()).expect_err("second open");
    assert_eq!(twice.raw_os_error(), Some(libc::EBUSY), "{twice}");

    tdb.chainlock(b"k").unwrap();
    let held = probe_locks_from_another_process(&path, b"k");
    assert_eq!(held["chainlock_nonblock"], "Lock");
    assert_eq!(held["chainlock_read_nonblock"], "Lock");
    assert_eq!(held["lockall_nonblock"], "Lock");
    assert_eq!(held["lockall_read_nonblock"], "Lock");
    tdb.chainunlock(b"k").unwrap();

    tdb.chainlock_read(b"k").unwrap();
    let shared = probe_locks_from_another_process(&path, b"k");
    assert_eq!(shared["chainlock_nonblock"], "Lock");
    assert_eq!(shared["chainlock_read_nonblock"], "ok", "read locks share");
    assert_eq!(shared["lockall_read_nonblock"], "ok");
    tdb.chainunlock_read(b"k").unwrap();

    let free = probe_locks_from_another_process(&path, b"k");
    assert!(free.values().all(|result| result == "ok"), "{free:?}");
}

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
        ErrorCode::Unset
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
    // After an error only the empty key is accepted until the cursor is reset.
    assert_eq!(code(tdb.nextkey(b"x")), ErrorCode::Einval);
    let first = tdb.firstkey().unwrap().unwrap();
    let mut longer = first.to_vec();
    longer.push(b'!');
    assert_eq!(code(tdb.nextkey(&longer)), ErrorCode::Einval);
    assert!(tdb.nextkey(&first).is_ok());
}

#[test]
fn log_messages_are_captured_and_explain_errors() {
    let dir = TempDir::new().unwrap();
    // Without O_CREAT: with it, tdb 1.4.8 turns a file without tdb magic into a new tdb.
    let no_create = OpenOptions {
        open_flags: libc::O_RDWR,
        ..OpenOptions::default()
    };

    // A file that is not a tdb: tdb fails with EIO and logs nothing.
    let bogus = dir.path().join("not-a-tdb");
    std::fs::write(&bogus, vec![b'x'; 4096]).unwrap();
    let error = Tdb::open(&bogus, &no_create).expect_err("not a tdb file");
    assert_eq!(error.code(), ErrorCode::Io);
    assert_eq!(error.raw_os_error(), Some(libc::EIO));
    assert_eq!(error.message(), None);

    // A tdb header with an old spinlock marker (rwlocks, offset 40): tdb explains.
    let (old, tdb) = open_in(&dir, "spinlocks.tdb", &OpenOptions::default());
    tdb.close().unwrap();
    let mut bytes = std::fs::read(&old).unwrap();
    bytes[40..44].copy_from_slice(&0x1234_5678_u32.to_ne_bytes());
    std::fs::write(&old, bytes).unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&seen);
    let error = Tdb::open_with_log_handler(&old, &no_create, move |message| {
        sink.borrow_mut().push(message.clone());
    })
    .expect_err("spinlock format");
    assert_eq!(error.code(), ErrorCode::Io);
    assert_eq!(error.raw_os_error(), Some(libc::ENOSYS));
    let explanation = error.message().expect("tdb explains a failed open");
    assert!(
        explanation.contains("spinlocks no longer supported"),
        "{explanation}"
    );
    assert!(error.to_string().contains("spinlocks"), "{error}");
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].level, LogLevel::Error);
    assert_eq!(seen[0].text, "tdb_open_ex: spinlocks no longer supported");

    // On an open handle, the recent messages are kept and errors carry theirs.
    let (_, mut tdb) = open_in(&dir, "ok.tdb", &OpenOptions::default());
    tdb.transaction_start().unwrap();
    tdb.transaction_start().unwrap();
    assert!(
        tdb.recent_log()
            .iter()
            .any(|m| m.level == LogLevel::Trace && m.text.contains("nesting")),
        "{:?}",
        tdb.recent_log()
    );
    tdb.transaction_cancel().unwrap();
    tdb.transaction_cancel().unwrap();
    let error = tdb.transaction_cancel().unwrap_err();
    assert!(
        error.message().unwrap().contains("no transaction"),
        "{error}"
    );
    assert!(error.to_string().contains("no transaction"));

    // A handler installed later, and its panic surfacing after the call.
    let count = Rc::new(RefCell::new(0));
    let counter = Rc::clone(&count);
    tdb.set_log_handler(move |_| *counter.borrow_mut() += 1);
    let _ = tdb.transaction_commit();
    assert_eq!(*count.borrow(), 1);
    tdb.set_log_handler(|_| panic!("handler"));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| tdb.transaction_commit()));
    assert!(outcome.is_err());
    tdb.clear_log_handler();
    assert!(tdb.transaction_commit().is_err());
    tdb.clear_log();
    assert!(tdb.recent_log().is_empty());
}

/// Runs `program args` if it is installed; `None` (with a note) if it is not.
fn run_tool(program: &str, args: &[&Path]) -> Option<String> {
    match Command::new(program).args(args).output() {
        Ok(output) => {
            assert!(output.status.success(), "{program} failed: {output:?}");
            Some(String::from_utf8_lossy(&output.stdout).into_owned())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("note: {program} is not installed (Debian: tdb-tools); skipping its check");
            None
        }
        Err(error) => panic!("cannot run {program}: {error}"),
    }
}

#[test]
fn files_pass_tdbtool_check_and_tdbdump_shows_records() {
    let (_dir, path, mut tdb) = scratch();
    tdb.store(b"alpha", b"one", StoreFlag::Insert).unwrap();
    tdb.store(b"beta", b"", StoreFlag::Insert).unwrap();
    tdb.append(b"gamma", b"three").unwrap();
    tdb.transaction_start().unwrap();
    tdb.store(b"delta", b"four", StoreFlag::Insert).unwrap();
    tdb.transaction_commit().unwrap();
    tdb.close().unwrap();

    if let Some(check) = run_tool("tdbtool", &[&path, Path::new("check")]) {
        assert!(check.contains("Database integrity is OK"), "{check}");
    }
    if let Some(dump) = run_tool("tdbdump", &[&path]) {
        for line in [
            "key(5) = \"alpha\"",
            "data(3) = \"one\"",
            "key(4) = \"beta\"",
            "data(0) = \"\"",
            "data(5) = \"three\"",
            "key(5) = \"delta\"",
        ] {
            assert!(dump.contains(line), "missing {line:?} in\n{dump}");
        }
    }
}

/// The point of linking statically: test binaries do not load a system libtdb.
#[test]
fn binary_does_not_link_libtdb_dynamically() {
    let exe = std::env::current_exe().unwrap();
    let Some(libraries) = run_tool("ldd", &[&exe]) else {
        return;
    };
    assert!(!libraries.contains("libtdb"), "{libraries}");
}
