//! The calls tdb-pure gained for the C API (`tdb-capi`), cross-checked against Samba's C
//! tdb through its raw bindings: `summary`, `traverse_chain`, `rescue`,
//! `validate_freelist`, a custom hash function, `reopen`, flag changes, and the unlock
//! of a lock not held.

use std::ffi::{c_int, c_uint, c_void, CStr, CString};
use std::ops::ControlFlow;
use std::path::Path;

use crate::util::*;
use tdb_pure::{code, flags, CustomHash, StoreFlag, Tdb};
use tdb_sys::ffi;

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A database with live, deleted and rewritten records over a few chains.
fn populate(path: &Path) {
    let mut t = open(path, &rw_create(7, flags::NOSYNC | flags::VOLATILE));
    for i in 0..60u32 {
        let data = vec![b'd'; (i % 13) as usize];
        t.store(format!("key{i}").as_bytes(), &data, StoreFlag::Replace)
            .unwrap();
    }
    for i in (0..60u32).step_by(4) {
        t.delete(format!("key{i}").as_bytes()).unwrap();
    }
    t.store(b"key1", &[b'x'; 40], StoreFlag::Replace).unwrap();
}

/// Open `path` with C (no hash function of ours), run `f`, close.
fn with_c<R>(
    path: &Path,
    hash_fn: ffi::tdb_hash_func,
    f: impl FnOnce(*mut ffi::tdb_context) -> R,
) -> R {
    let name = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid name; the handle is closed below.
    let c = unsafe {
        ffi::tdb_open_ex(
            name.as_ptr(),
            0,
            0,
            libc::O_RDWR,
            0,
            std::ptr::null(),
            hash_fn,
        )
    };
    assert!(!c.is_null(), "C opens {}", path.display());
    let r = f(c);
    // SAFETY: opened above, closed once.
    unsafe { ffi::tdb_close(c) };
    r
}

unsafe extern "C" fn collect(k: ffi::TDB_DATA, d: ffi::TDB_DATA, out: *mut c_void) {
    // SAFETY: tdb passes valid buffers; `out` is the test's vector.
    unsafe {
        let bytes = |x: ffi::TDB_DATA| std::slice::from_raw_parts(x.dptr, x.dsize).to_vec();
        (*out.cast::<Pairs>()).push((bytes(k), bytes(d)));
    }
}

unsafe extern "C" fn collect_chain(
    _: *mut ffi::tdb_context,
    k: ffi::TDB_DATA,
    d: ffi::TDB_DATA,
    out: *mut c_void,
) -> c_int {
    // SAFETY: as `collect`.
    unsafe { collect(k, d, out) };
    0
}

#[test]
fn summary_traverse_chain_rescue_and_freelist_match_c() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.tdb");
    populate(&path);
    let mut t = open(&path, &rw_create(0, 0));
    let summary = t.summary().unwrap();
    assert!(summary.contains("Number of dead records: "), "{summary}");
    assert!(
        !summary.contains("Number of dead records: 0\n"),
        "volatile deletes leave dead records: {summary}"
    );
    let mut chains = Vec::new();
    for chain in 0..7 {
        let mut got = Pairs::new();
        let n = t
            .traverse_chain(chain, |_, k, d| {
                got.push((k.to_vec(), d.to_vec()));
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(n as usize, got.len());
        chains.push(got);
    }
    let mut rescued = Pairs::new();
    t.rescue(|k, d| rescued.push((k.to_vec(), d.to_vec())))
        .unwrap();
    let (entries, ok) = t.validate_freelist();
    ok.unwrap();
    assert_eq!(
        t.traverse_chain(7, |_, _, _| ControlFlow::Continue(()))
            .unwrap_err()
            .code(),
        code::EINVAL
    );
    drop(t);
    with_c(&path, None, |c| {
        // SAFETY: `c` is open; results are C strings and buffers C hands over.
        unsafe {
            let s = ffi::tdb_summary(c);
            assert_eq!(CStr::from_ptr(s).to_str().unwrap(), summary);
            libc::free(s.cast());
            for (chain, want) in chains.iter().enumerate() {
                let mut got = Pairs::new();
                let p = (&mut got as *mut Pairs).cast();
                ffi::tdb_traverse_chain(c, chain as c_uint, Some(collect_chain), p);
                assert_eq!(&got, want, "chain {chain}");
            }
            let mut got = Pairs::new();
            ffi::tdb_rescue(c, Some(collect), (&mut got as *mut Pairs).cast());
            assert_eq!(got, rescued);
            let mut n: c_int = -1;
            assert_eq!(ffi::tdb_validate_freelist(c, &mut n), 0);
            assert_eq!(n as u32, entries);
        }
    });
}

fn sum_hash(key: &[u8]) -> u32 {
    key.iter()
        .fold(5381u32, |h, &b| h.wrapping_mul(33) ^ u32::from(b))
}

unsafe extern "C" fn c_sum_hash(key: *mut ffi::TDB_DATA) -> c_uint {
    // SAFETY: tdb passes a valid key.
    let key = unsafe { std::slice::from_raw_parts((*key).dptr, (*key).dsize) };
    sum_hash(key)
}

#[test]
fn a_custom_hash_function_makes_files_c_reads_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.tdb");
    let mut t = Tdb::open_ex(&path, &rw_create(0, 0), Some(CustomHash::new(sum_hash))).unwrap();
    assert!(t.has_custom_hash());
    t.store(b"key", b"value", StoreFlag::Insert).unwrap();
    drop(t);
    let err = Tdb::open(&path, &rw_create(0, 0)).unwrap_err();
    assert_eq!(
        err.code(),
        code::EINVAL,
        "built-in hashes do not match: {err}"
    );
    with_c(&path, Some(c_sum_hash), |c| {
        let key = b"key";
        let k = ffi::TDB_DATA {
            dptr: key.as_ptr().cast_mut(),
            dsize: 3,
        };
        // SAFETY: `c` is open; the result is C's malloced buffer.
        unsafe {
            let d = ffi::tdb_fetch(c, k);
            assert_eq!(std::slice::from_raw_parts(d.dptr, d.dsize), b"value");
            libc::free(d.dptr.cast());
            ffi::tdb_check(c, None, std::ptr::null_mut());
        }
    });
}

#[test]
fn reopen_flags_and_unlocks_keep_cs_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.tdb");
    let o = rw_create(0, flags::CLEAR_IF_FIRST);
    let mut t = open(&path, &o);
    t.store(b"k", b"v", StoreFlag::Insert).unwrap();
    t.reopen(&path, o.open_flags, true).unwrap();
    assert_eq!(t.fetch(b"k").unwrap(), b"v");
    t.chainlock(b"k").unwrap();
    assert_eq!(
        t.reopen(&path, o.open_flags, true).unwrap_err().code(),
        code::LOCK
    );
    t.chainunlock(b"k").unwrap();
    // Releasing what is not held fails as a lock error but leaves tdb_error alone.
    assert!(t.fetch(b"absent").is_err());
    assert_eq!(t.chainunlock(b"k").unwrap_err().code(), code::LOCK);
    assert_eq!(t.error(), code::NOEXIST);
    t.add_flags(flags::NOMMAP | flags::SEQNUM).unwrap();
    t.store(b"k2", b"v", StoreFlag::Insert).unwrap();
    assert_eq!(t.get_seqnum().unwrap(), 1);
    t.increment_seqnum_nonblock();
    assert_eq!(t.get_seqnum().unwrap(), 2);
    t.remove_flags(flags::NOMMAP | flags::SEQNUM).unwrap();
    assert_eq!(t.flags() & (flags::NOMMAP | flags::SEQNUM), 0);
    assert!(t
        .add_flags(flags::ALLOW_NESTING | flags::DISALLOW_NESTING)
        .is_err());
    assert_eq!(t.error(), code::NESTING);
    t.storev(b"v", &[b"ab", b"", b"c"], StoreFlag::Insert)
        .unwrap();
    assert_eq!(t.fetch(b"v").unwrap(), b"abc");
    t.check().unwrap();
}

#[test]
fn failures_leave_cs_codes() {
    // C's in-memory header lacks the magic string, so its check fails.
    let mut mem = Tdb::open_internal(0, 0).unwrap();
    mem.store(b"a", b"1", StoreFlag::Insert).unwrap();
    assert_eq!(mem.check().unwrap_err().code(), code::CORRUPT);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.tdb");
    let mut t = open(&path, &rw_create(0, 0));
    t.store(b"a", b"1", StoreFlag::Insert).unwrap();
    assert!(t.fetch(b"absent").is_err());
    // A checker's veto fails the check without setting a code.
    assert!(t.check_with(|_, _| false).is_err());
    assert_eq!(t.error(), code::NOEXIST);
    drop(t);

    // TDB_CLEAR_IF_FIRST without O_CREAT wipes and makes the file anew, as C does.
    let mut o = rw_create(0, flags::CLEAR_IF_FIRST);
    o.open_flags = libc::O_RDWR;
    let mut t = open(&path, &o);
    assert!(t.fetch(b"a").is_err());
    t.check().unwrap();
}
