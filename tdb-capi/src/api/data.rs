//! Record access: `tdb_fetch`, `tdb_parse_record`, `tdb_exists`, `tdb_store`,
//! `tdb_storev`, `tdb_append`, `tdb_delete`.

use std::ffi::{c_int, c_void};

use tdb_pure::StoreFlag;

use crate::ffi::{bytes, call, call_status, malloc_copy};
use crate::types::{ParseFn, TdbContext, TdbData};

/// C's reading of a store flag: `TDB_INSERT`, `TDB_MODIFY`, anything else replaces.
fn store_flag(flag: c_int) -> StoreFlag {
    match flag {
        2 => StoreFlag::Insert,
        3 => StoreFlag::Modify,
        _ => StoreFlag::Replace,
    }
}

/// `tdb_fetch`: a `malloc`ed copy of the data, or `tdb_null` (`TDB_ERR_NOEXIST`).
#[no_mangle]
pub unsafe extern "C" fn tdb_fetch(tdb: *mut TdbContext, key: TdbData) -> TdbData {
    // SAFETY: `key` is the caller's valid buffer (tdb.h's contract).
    let key = unsafe { bytes(&key) };
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call(tdb, "tdb_fetch", TdbData::NULL, |_, t| {
            t.fetch_with(key, |d| d.and_then(malloc_copy).unwrap_or(TdbData::NULL))
        })
    }
}

/// `tdb_parse_record`: `parser(key, data, private)` on the stored data in place; its
/// result, or −1 if the key is missing.
#[no_mangle]
pub unsafe extern "C" fn tdb_parse_record(
    tdb: *mut TdbContext,
    key: TdbData,
    parser: Option<ParseFn>,
    private_data: *mut c_void,
) -> c_int {
    // SAFETY: `key` is the caller's valid buffer (tdb.h's contract).
    let k = unsafe { bytes(&key) };
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call(tdb, "tdb_parse_record", -1, |_, t| {
            t.parse_record(k, |data| match parser {
                // SAFETY: the caller's parser, given a view valid for the call.
                Some(p) => p(key, TdbData::borrowed(data), private_data),
                None => 0,
            })
        })
    }
}

/// `tdb_exists`: 1 or 0.
#[no_mangle]
pub unsafe extern "C" fn tdb_exists(tdb: *mut TdbContext, key: TdbData) -> c_int {
    // SAFETY: `key` is the caller's valid buffer (tdb.h's contract).
    let key = unsafe { bytes(&key) };
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe { call(tdb, "tdb_exists", 0, |_, t| t.exists(key).map(c_int::from)) }
}

/// `tdb_store`.
#[no_mangle]
pub unsafe extern "C" fn tdb_store(
    tdb: *mut TdbContext,
    key: TdbData,
    dbuf: TdbData,
    flag: c_int,
) -> c_int {
    // SAFETY: the caller's valid buffers (tdb.h's contract).
    let (key, data) = unsafe { (bytes(&key), bytes(&dbuf)) };
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe { call_status(tdb, "tdb_store", |t| t.store(key, data, store_flag(flag))) }
}

/// `tdb_storev`: store the concatenation of `num_dbufs` buffers.
#[no_mangle]
pub unsafe extern "C" fn tdb_storev(
    tdb: *mut TdbContext,
    key: TdbData,
    dbufs: *const TdbData,
    num_dbufs: c_int,
    flag: c_int,
) -> c_int {
    let n = usize::try_from(num_dbufs).unwrap_or(0);
    let parts: &[TdbData] = if dbufs.is_null() || n == 0 {
        &[]
    } else {
        // SAFETY: the caller passes `num_dbufs` TDB_DATA at `dbufs`.
        unsafe { std::slice::from_raw_parts(dbufs, n) }
    };
    // SAFETY: each part is the caller's valid buffer.
    let parts: Vec<&[u8]> = parts.iter().map(|d| unsafe { bytes(d) }).collect();
    // SAFETY: the caller's valid key buffer.
    let key = unsafe { bytes(&key) };
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call_status(tdb, "tdb_storev", |t| {
            t.storev(key, &parts, store_flag(flag))
        })
    }
}

/// `tdb_append`.
#[no_mangle]
pub unsafe extern "C" fn tdb_append(
    tdb: *mut TdbContext,
    key: TdbData,
    new_dbuf: TdbData,
) -> c_int {
    // SAFETY: the caller's valid buffers (tdb.h's contract).
    let (key, data) = unsafe { (bytes(&key), bytes(&new_dbuf)) };
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe { call_status(tdb, "tdb_append", |t| t.append(key, data)) }
}

/// `tdb_delete`.
#[no_mangle]
pub unsafe extern "C" fn tdb_delete(tdb: *mut TdbContext, key: TdbData) -> c_int {
    // SAFETY: the caller's valid key buffer (tdb.h's contract).
    let key = unsafe { bytes(&key) };
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe { call_status(tdb, "tdb_delete", |t| t.delete(key)) }
}
