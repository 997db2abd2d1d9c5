//! The lock families in one process and their conflicts across processes.

use super::*;

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
            "tests::locks::lock_probe_child",
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
