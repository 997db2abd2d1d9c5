//! The exported functions called as a C program calls them (they are Rust functions
//! too): results, error codes and strings, callbacks, logging, hashing, reopen.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::api::data::*;
use crate::api::debug::*;
use crate::api::info::*;
use crate::api::lock::*;
use crate::api::open::*;
use crate::api::transaction::*;
use crate::api::traverse::*;
use crate::types::{HashFn, LogFn, LoggingContext, TdbContext, TdbData};

const INSERT: c_int = 2;
const REPLACE: c_int = 1;

fn d(bytes: &[u8]) -> TdbData {
    TdbData::borrowed(bytes)
}

/// Take a malloced result: its bytes (None for tdb_null), freed.
fn take(r: TdbData) -> Option<Vec<u8>> {
    if r.dptr.is_null() {
        return None;
    }
    // SAFETY: results are malloced buffers of `dsize` bytes owned by the caller.
    let v = unsafe { std::slice::from_raw_parts(r.dptr, r.dsize) }.to_vec();
    // SAFETY: as above; freed once.
    unsafe { libc::free(r.dptr.cast()) };
    Some(v)
}

fn open(path: &std::path::Path, tdb_flags: c_int) -> *mut TdbContext {
    let name = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid name; the handle is closed by the caller.
    let t = unsafe {
        tdb_open(
            name.as_ptr(),
            0,
            tdb_flags,
            libc::O_RDWR | libc::O_CREAT,
            0o600,
        )
    };
    assert!(!t.is_null(), "open {}", path.display());
    t
}

fn temp_db(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    (dir, path)
}

#[test]
fn internal_database_round_trip() {
    // SAFETY: each call gets a live handle and valid buffers.
    unsafe {
        let t = tdb_open(std::ptr::null(), 0, 2, libc::O_RDWR, 0);
        assert!(!t.is_null());
        assert_eq!(
            CStr::from_ptr(tdb_name(t)).to_str().unwrap(),
            "__TDB_INTERNAL__"
        );
        assert_ne!(
            tdb_get_flags(t) & 2048,
            0,
            "internal databases use the jenkins hash"
        );
        assert_eq!(tdb_fd(t), -1);
        assert_eq!(tdb_store(t, d(b"k"), d(b"v"), INSERT), 0);
        assert_eq!(tdb_store(t, d(b"k"), d(b"w"), INSERT), -1);
        assert_eq!(tdb_error(t), 5);
        assert_eq!(
            CStr::from_ptr(tdb_errorstr(t)).to_str().unwrap(),
            "Record exists"
        );
        assert_eq!(take(tdb_fetch(t, d(b"k"))).unwrap(), b"v");
        assert_eq!(take(tdb_fetch(t, d(b"absent"))), None);
        assert_eq!(tdb_error(t), 8);
        assert_eq!(tdb_store(t, d(b"e"), d(b""), INSERT), 0);
        assert_eq!(
            take(tdb_fetch(t, d(b"e"))).unwrap(),
            b"",
            "empty data is not tdb_null"
        );
        assert_eq!(tdb_close(t), 0);
    }
}

unsafe extern "C" fn delete_each(
    tdb: *mut TdbContext,
    key: TdbData,
    _: TdbData,
    seen: *mut c_void,
) -> c_int {
    // SAFETY: `seen` is the test's counter; `tdb` and `key` come from the traverse.
    unsafe {
        *seen.cast::<c_int>() += 1;
        assert_eq!(tdb_delete(tdb, key), 0, "delete from inside the traverse");
    }
    0
}

unsafe extern "C" fn stop_at_three(
    _: *mut TdbContext,
    _: TdbData,
    _: TdbData,
    seen: *mut c_void,
) -> c_int {
    // SAFETY: `seen` is the test's counter.
    unsafe {
        *seen.cast::<c_int>() += 1;
        c_int::from(*seen.cast::<c_int>() == 3)
    }
}

#[test]
fn traverse_writes_and_stops_like_c() {
    let (_dir, path) = temp_db("t.tdb");
    // SAFETY: each call gets a live handle, valid buffers and callbacks.
    unsafe {
        let t = open(&path, 0);
        for i in 0..20u8 {
            assert_eq!(tdb_store(t, d(&[b'k', i]), d(&[i; 9]), REPLACE), 0);
        }
        let mut seen: c_int = 0;
        let p = (&mut seen as *mut c_int).cast();
        assert_eq!(tdb_traverse(t, Some(stop_at_three), p), 3);
        seen = 0;
        assert_eq!(
            tdb_traverse(t, Some(delete_each), (&mut seen as *mut c_int).cast()),
            20
        );
        assert_eq!(seen, 20);
        assert_eq!(tdb_traverse(t, None, std::ptr::null_mut()), 0);
        assert!(take(tdb_firstkey(t)).is_none());
        assert_eq!(tdb_check(t, None, std::ptr::null_mut()), 0);
        assert_eq!(tdb_close(t), 0);
    }
}

static HASH_CALLS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn my_hash(key: *mut TdbData) -> c_uint {
    HASH_CALLS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: tdb passes a valid key.
    let key = unsafe { crate::ffi::bytes(&*key) };
    key.iter()
        .fold(7u32, |h, &b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
}

static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Reads the one string argument tdb passes with its "%s" format.
unsafe extern "C" fn record_log(
    _: *mut TdbContext,
    _: c_int,
    fmt: *const c_char,
    msg: *const c_char,
) {
    // SAFETY: tdb calls its log function with "%s" and one NUL-terminated string.
    let (fmt, msg) = unsafe { (CStr::from_ptr(fmt), CStr::from_ptr(msg)) };
    assert_eq!(fmt.to_bytes(), b"%s");
    LOGGED
        .lock()
        .unwrap()
        .push(msg.to_string_lossy().into_owned());
}

fn log_ctx() -> LoggingContext {
    LoggingContext {
        // SAFETY: a function taking the format's one argument may be called through the
        // variadic pointer type on the System V ABI.
        log_fn: Some(unsafe {
            std::mem::transmute::<
                unsafe extern "C" fn(*mut TdbContext, c_int, *const c_char, *const c_char),
                LogFn,
            >(record_log)
        }),
        log_private: 42 as *mut c_void,
    }
}

fn open_ex(path: &std::path::Path, hash: Option<HashFn>) -> *mut TdbContext {
    let name = CString::new(path.to_str().unwrap()).unwrap();
    let ctx = log_ctx();
    // SAFETY: valid name, logging context and hash function.
    unsafe {
        tdb_open_ex(
            name.as_ptr(),
            0,
            0,
            libc::O_RDWR | libc::O_CREAT,
            0o600,
            &ctx,
            hash,
        )
    }
}

#[test]
fn custom_hash_and_log_function_are_honoured() {
    let (_dir, path) = temp_db("h.tdb");
    // SAFETY: each call gets a live handle and valid buffers.
    unsafe {
        let t = open_ex(&path, Some(my_hash));
        assert!(!t.is_null());
        let before = HASH_CALLS.load(Ordering::Relaxed);
        assert_eq!(tdb_store(t, d(b"key"), d(b"data"), INSERT), 0);
        assert!(HASH_CALLS.load(Ordering::Relaxed) > before);
        assert_eq!(tdb_get_logging_private(t) as usize, 42);
        assert_eq!(tdb_transaction_commit(t), -1);
        assert!(LOGGED
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.contains("tdb_transaction_commit")));
        assert_eq!(tdb_close(t), 0);
        // The file was made with the custom hash: the built-in ones are refused.
        assert!(open_ex(&path, None).is_null());
        assert_eq!(*libc::__errno_location(), libc::EINVAL);
        let t = open_ex(&path, Some(my_hash));
        assert_eq!(take(tdb_fetch(t, d(b"key"))).unwrap(), b"data");
        assert_eq!(tdb_close(t), 0);
        let missing = CString::new(path.with_extension("missing").to_str().unwrap()).unwrap();
        let ctx = log_ctx();
        let t = tdb_open_ex(missing.as_ptr(), 0, 0, libc::O_RDWR, 0, &ctx, None);
        assert!(t.is_null());
        assert_eq!(*libc::__errno_location(), libc::ENOENT);
        let log = LOGGED.lock().unwrap();
        assert!(
            log.iter().any(|m| m.contains("could not open file")),
            "{log:?}"
        );
    }
}

unsafe extern "C" fn parse_len(_: TdbData, data: TdbData, _: *mut c_void) -> c_int {
    data.dsize as c_int
}

#[test]
fn record_calls_and_locks() {
    let (_dir, path) = temp_db("r.tdb");
    // SAFETY: each call gets a live handle and valid buffers.
    unsafe {
        let t = open(&path, 0);
        let parts = [d(b"ab"), d(b""), d(b"cde")];
        assert_eq!(tdb_storev(t, d(b"k"), parts.as_ptr(), 3, REPLACE), 0);
        assert_eq!(tdb_append(t, d(b"k"), d(b"f")), 0);
        assert_eq!(take(tdb_fetch(t, d(b"k"))).unwrap(), b"abcdef");
        assert_eq!(
            tdb_parse_record(t, d(b"k"), Some(parse_len), std::ptr::null_mut()),
            6
        );
        assert_eq!(
            tdb_parse_record(t, d(b"x"), Some(parse_len), std::ptr::null_mut()),
            -1
        );
        assert_eq!((tdb_exists(t, d(b"k")), tdb_exists(t, d(b"x"))), (1, 0));
        assert_eq!(take(tdb_firstkey(t)).unwrap(), b"k");
        assert!(take(tdb_nextkey(t, d(b"k"))).is_none());
        assert_eq!(tdb_lock_nonblock(t, 0, libc::F_WRLCK), 0);
        assert_eq!(tdb_unlock(t, 0, libc::F_WRLCK), 0);
        assert_eq!(tdb_lock_nonblock(t, -1, libc::F_RDLCK), 0);
        assert_eq!(tdb_unlock(t, -1, libc::F_RDLCK), 0);
        assert_eq!(tdb_chainlock_mark(t, d(b"k")), 0);
        assert_eq!(tdb_chainlock_unmark(t, d(b"k")), 0);
        assert_eq!(tdb_transaction_write_lock_mark(t), 0);
        assert_eq!(tdb_transaction_write_lock_unmark(t), 0);
        assert_eq!(tdb_lockall_read(t), 0);
        assert_eq!(tdb_unlockall_read(t), 0);
        assert_eq!(tdb_transaction_start(t), 0);
        assert!(tdb_transaction_active(t));
        assert_eq!(tdb_delete(t, d(b"k")), 0);
        assert_eq!(tdb_transaction_cancel(t), 0);
        assert_eq!(tdb_exists(t, d(b"k")), 1);
        let s = tdb_summary(t);
        assert!(CStr::from_ptr(s)
            .to_str()
            .unwrap()
            .starts_with("Size of file/data: "));
        libc::free(s.cast());
        let mut n: c_int = -1;
        assert_eq!(tdb_validate_freelist(t, &mut n), 0);
        assert_eq!(n, tdb_freelist_size(t));
        assert_eq!(tdb_close(t), 0);
    }
}

unsafe extern "C" fn count_rescued(_: TdbData, _: TdbData, n: *mut c_void) {
    // SAFETY: `n` is the test's counter.
    unsafe { *n.cast::<c_int>() += 1 };
}

unsafe extern "C" fn fetch_inside(_: TdbData, _: TdbData, tdb: *mut c_void) -> c_int {
    // SAFETY: `tdb` is the handle being parsed, passed as private data.
    let r = unsafe { tdb_fetch(tdb.cast(), d(b"a")) };
    c_int::from(r.dptr.is_null())
}

#[test]
fn rescue_finds_every_record_and_reentry_from_a_parser_is_refused() {
    let (_dir, path) = temp_db("s.tdb");
    // SAFETY: each call gets a live handle, valid buffers and callbacks.
    unsafe {
        let t = open(&path, 0);
        for i in 0..10u8 {
            assert_eq!(tdb_store(t, d(&[b'a', i]), d(b"x"), REPLACE), 0);
        }
        assert_eq!(tdb_store(t, d(b"a"), d(b"x"), REPLACE), 0);
        let mut n: c_int = 0;
        assert_eq!(
            tdb_rescue(t, Some(count_rescued), (&mut n as *mut c_int).cast()),
            0
        );
        assert_eq!(n, 11);
        assert_eq!(
            tdb_parse_record(t, d(b"a"), Some(fetch_inside), t.cast()),
            1
        );
        assert_eq!(tdb_close(t), 0);
    }
}

#[test]
fn reopen_after_fork_gives_the_child_its_own_locks() {
    let (_dir, path) = temp_db("f.tdb");
    // SAFETY: each call gets a live handle and valid buffers; the child only uses the
    // handle and leaves with `_exit`.
    unsafe {
        let t = open(&path, 1); // TDB_CLEAR_IF_FIRST
        assert_eq!(tdb_store(t, d(b"parent"), d(b"1"), REPLACE), 0);
        let pid = libc::fork();
        assert!(pid >= 0);
        if pid == 0 {
            let ok = tdb_reopen(t) == 0
                && tdb_chainlock(t, d(b"child")) == 0
                && tdb_store(t, d(b"child"), d(b"2"), REPLACE) == 0
                && tdb_chainunlock(t, d(b"child")) == 0;
            libc::_exit(if ok { 0 } else { 1 });
        }
        let mut status = 0;
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        assert_eq!(take(tdb_fetch(t, d(b"child"))).unwrap(), b"2");
        assert_eq!(tdb_reopen(t), 0);
        assert_eq!(take(tdb_fetch(t, d(b"parent"))).unwrap(), b"1");
        assert_eq!(tdb_close(t), 0);
    }
}
