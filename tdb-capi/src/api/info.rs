//! The handle's state: error code and string, sequence number, sizes, flags, dead-record
//! limit, and the two process-wide calls (`tdb_jenkins_hash`,
//! `tdb_runtime_check_for_robust_mutexes`).

use std::ffi::{c_char, c_int, c_uint};

use crate::ffi::{bytes, call_infallible, guard};
use crate::log;
use crate::types::{TdbContext, TdbData};

/// `tdb_error`: the handle's last error code (`enum TDB_ERROR`).
#[no_mangle]
pub unsafe extern "C" fn tdb_error(tdb: *mut TdbContext) -> c_int {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe { call_infallible(tdb, "tdb_error", 0, |t| t.error()) }
}

/// `tdb_errorstr`: C's text for the handle's last error code.
#[no_mangle]
pub unsafe extern "C" fn tdb_errorstr(tdb: *mut TdbContext) -> *const c_char {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    let code = unsafe { tdb_error(tdb) };
    log::errorstr(code).as_ptr()
}

/// `tdb_get_seqnum` (0 if it cannot be read).
#[no_mangle]
pub unsafe extern "C" fn tdb_get_seqnum(tdb: *mut TdbContext) -> c_int {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call_infallible(tdb, "tdb_get_seqnum", 0, |t| {
            t.get_seqnum().unwrap_or(0) as c_int
        })
    }
}

/// `tdb_hash_size`.
#[no_mangle]
pub unsafe extern "C" fn tdb_hash_size(tdb: *mut TdbContext) -> c_int {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe { call_infallible(tdb, "tdb_hash_size", 0, |t| t.hash_size() as c_int) }
}

/// `tdb_map_size`: the size the handle last knew.
#[no_mangle]
pub unsafe extern "C" fn tdb_map_size(tdb: *mut TdbContext) -> usize {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe { call_infallible(tdb, "tdb_map_size", 0, |t| t.map_size() as usize) }
}

/// `tdb_get_flags`.
#[no_mangle]
pub unsafe extern "C" fn tdb_get_flags(tdb: *mut TdbContext) -> c_int {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe { call_infallible(tdb, "tdb_get_flags", 0, |t| t.flags() as c_int) }
}

/// `tdb_add_flags`.
#[no_mangle]
pub unsafe extern "C" fn tdb_add_flags(tdb: *mut TdbContext, flag: c_uint) {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe { crate::ffi::call(tdb, "tdb_add_flags", (), |_, t| t.add_flags(flag)) }
}

/// `tdb_remove_flags`.
#[no_mangle]
pub unsafe extern "C" fn tdb_remove_flags(tdb: *mut TdbContext, flag: c_uint) {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe { crate::ffi::call(tdb, "tdb_remove_flags", (), |_, t| t.remove_flags(flag)) }
}

/// `tdb_enable_seqnum`.
#[no_mangle]
pub unsafe extern "C" fn tdb_enable_seqnum(tdb: *mut TdbContext) {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe { call_infallible(tdb, "tdb_enable_seqnum", (), |t| t.enable_seqnum()) }
}

/// `tdb_increment_seqnum_nonblock`.
#[no_mangle]
pub unsafe extern "C" fn tdb_increment_seqnum_nonblock(tdb: *mut TdbContext) {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call_infallible(tdb, "tdb_increment_seqnum_nonblock", (), |t| {
            t.increment_seqnum_nonblock()
        })
    }
}

/// `tdb_set_max_dead`.
#[no_mangle]
pub unsafe extern "C" fn tdb_set_max_dead(tdb: *mut TdbContext, max_dead: c_int) {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call_infallible(tdb, "tdb_set_max_dead", (), |t| {
            t.set_max_dead(max_dead as u32)
        })
    }
}

/// `tdb_jenkins_hash`.
#[no_mangle]
pub unsafe extern "C" fn tdb_jenkins_hash(key: *mut TdbData) -> c_uint {
    guard(0, || {
        // SAFETY: `key` is NULL or the caller's valid TDB_DATA with a valid buffer.
        let key = unsafe { key.as_ref().map(|k| bytes(k)) }.unwrap_or(&[]);
        tdb_pure::hash::jenkins_hash(key)
    })
}

/// `tdb_runtime_check_for_robust_mutexes`.
#[no_mangle]
pub extern "C" fn tdb_runtime_check_for_robust_mutexes() -> bool {
    guard(false, tdb_pure::mutex::robust_mutexes_supported)
}
