//! Checking, salvage, maintenance and the debugging printers: `tdb_check`,
//! `tdb_rescue`, `tdb_wipe_all`, `tdb_repack`, `tdb_freelist_size`,
//! `tdb_validate_freelist`, `tdb_summary`, `tdb_printfreelist`, `tdb_dump_all`. The
//! printers write to C's `stdout` (through `printf`, so their text and the program's own
//! share one buffer, in order).

use std::ffi::{c_char, c_int, c_void, CString};

use crate::ffi::{call, call_infallible, malloc_copy};
use crate::types::{ParseFn, RescueFn, TdbContext, TdbData};

handle_calls! {
    /// `tdb_wipe_all`.
    tdb_wipe_all => wipe_all;
    /// `tdb_repack`.
    tdb_repack => repack;
}

/// Print `text` on C's `stdout`.
fn print(text: &str) {
    let Ok(text) = CString::new(text.replace('\0', "\\0")) else {
        return;
    };
    // SAFETY: "%s" consumes the one NUL-terminated string passed, alive for the call.
    unsafe { libc::printf(c"%s".as_ptr(), text.as_ptr()) };
}

/// `tdb_check`: 0 if the database is sound and `check(key, data, private)` did not
/// return −1 for any record (C fails on −1 only).
#[no_mangle]
pub unsafe extern "C" fn tdb_check(
    tdb: *mut TdbContext,
    check: Option<ParseFn>,
    private_data: *mut c_void,
) -> c_int {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call(tdb, "tdb_check", -1, |_, t| {
            t.check_with(|key, data| match check {
                // SAFETY: the caller's checker, given views valid for the call.
                Some(f) => {
                    f(
                        TdbData::borrowed(key),
                        TdbData::borrowed(data),
                        private_data,
                    ) != -1
                }
                None => true,
            })
            .map(|()| 0)
        })
    }
}

/// `tdb_rescue`: `walk(key, data, private)` for every record worth saving.
#[no_mangle]
pub unsafe extern "C" fn tdb_rescue(
    tdb: *mut TdbContext,
    walk: Option<RescueFn>,
    private_data: *mut c_void,
) -> c_int {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call(tdb, "tdb_rescue", -1, |_, t| {
            t.rescue(|key, data| {
                if let Some(f) = walk {
                    // SAFETY: the caller's walker, given views valid for the call.
                    f(
                        TdbData::borrowed(key),
                        TdbData::borrowed(data),
                        private_data,
                    );
                }
            })
            .map(|()| 0)
        })
    }
}

/// `tdb_freelist_size`: the number of free records, or −1.
#[no_mangle]
pub unsafe extern "C" fn tdb_freelist_size(tdb: *mut TdbContext) -> c_int {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call(tdb, "tdb_freelist_size", -1, |_, t| {
            t.freelist_size().map(|n| n as c_int)
        })
    }
}

/// `tdb_validate_freelist`: 0 if the freelist has no loop; its length in
/// `*pnum_entries`.
#[no_mangle]
pub unsafe extern "C" fn tdb_validate_freelist(
    tdb: *mut TdbContext,
    pnum_entries: *mut c_int,
) -> c_int {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call(tdb, "tdb_validate_freelist", -1, |_, t| {
            let (n, r) = t.validate_freelist();
            // SAFETY: a non-null `pnum_entries` is the caller's int.
            if let Some(p) = pnum_entries.as_mut() {
                *p = n as c_int;
            }
            r.map(|()| 0)
        })
    }
}

/// `tdb_summary`: a `malloc`ed text, or NULL.
#[no_mangle]
pub unsafe extern "C" fn tdb_summary(tdb: *mut TdbContext) -> *mut c_char {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call_infallible(tdb, "tdb_summary", std::ptr::null_mut(), |t| {
            let Some(text) = t.summary() else {
                return std::ptr::null_mut();
            };
            let mut bytes = text.into_bytes();
            bytes.push(0);
            malloc_copy(&bytes).map_or(std::ptr::null_mut(), |d| d.dptr.cast())
        })
    }
}

/// `tdb_printfreelist`: print the freelist; 0 or −1.
#[no_mangle]
pub unsafe extern "C" fn tdb_printfreelist(tdb: *mut TdbContext) -> c_int {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call(tdb, "tdb_printfreelist", -1, |_, t| {
            let mut out = String::new();
            let r = t.printfreelist(&mut out);
            print(&out);
            r.map(|()| 0)
        })
    }
}

/// `tdb_dump_all`: print every chain and the freelist, record by record.
#[no_mangle]
pub unsafe extern "C" fn tdb_dump_all(tdb: *mut TdbContext) {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe { call_infallible(tdb, "tdb_dump_all", (), |t| print(&t.dump_all())) }
}
