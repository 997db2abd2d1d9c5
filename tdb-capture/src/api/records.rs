//! The record calls: fetch, parse_record, exists, delete, store, storev, append,
//! firstkey and nextkey.
//!
//! The writes (store, storev, append, delete) run holding the key's chain lock, taken
//! here first with `tdb_chainlock`, the very lock tdb's own call then takes again
//! (tdb's locks nest within a process): the sequence number on their line is read
//! before that lock is released, as tdb's tracing reads it for store and append. (tdb
//! traces a delete just after it unlocked; here the delete's number is read under the
//! lock too, which no other process's write can then overtake.)

use std::ffi::{c_int, c_void};

use tdb_vocab::code;

use super::store_flag;
use crate::ffi::{real, ParserFunc, TdbContext, TdbData};
use crate::handles::Call;

/// `tdb_fetch`, traced after it: `K = D`.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_fetch(tdb: *mut TdbContext, key: TdbData) -> TdbData {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's arguments, passed on unchanged.
        return unsafe { real::tdb_fetch(tdb, key) };
    };
    // SAFETY: the program's arguments, passed on unchanged.
    let result = unsafe { real::tdb_fetch(tdb, key) };
    // SAFETY: the program's key; the record tdb just returned.
    let (key, found) = unsafe { (key.key(), result.bytes()) };
    call.line(|out, seqnum| out.fetch(seqnum, key, found));
    result
}

/// `tdb_exists`, traced after it: `K = 1` or `K = 0`.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_exists(tdb: *mut TdbContext, key: TdbData) -> c_int {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's arguments, passed on unchanged.
        return unsafe { real::tdb_exists(tdb, key) };
    };
    // SAFETY: the program's arguments, passed on unchanged.
    let ret = unsafe { real::tdb_exists(tdb, key) };
    // SAFETY: the program's key.
    let key = unsafe { key.key() };
    call.line(|out, seqnum| out.key_ret(seqnum, "tdb_exists", key, ret));
    ret
}

/// What the parser wrapper needs: the call, the key, and the program's parser.
struct Parse<'a> {
    call: &'a Call,
    key: &'a [u8],
    parser: ParserFunc,
    private: *mut c_void,
    found: bool,
}

/// Runs where tdb found the record, before the program's parser: the line `K = 0` gets
/// the sequence number C's tracing reads there.
unsafe extern "C" fn parse_wrapper(key: TdbData, data: TdbData, private: *mut c_void) -> c_int {
    // SAFETY: `private` is the `Parse` tdb_parse_record below passed, alive for the call.
    let parse = unsafe { &mut *private.cast::<Parse<'_>>() };
    parse.found = true;
    let traced_key = parse.key;
    parse
        .call
        .line(|out, seqnum| out.key_ret(seqnum, "tdb_parse_record", traced_key, 0));
    match parse.parser {
        // SAFETY: the program's parser with its own private data, as tdb would call it.
        Some(parser) => unsafe { parser(key, data, parse.private) },
        None => 0,
    }
}

/// `tdb_parse_record`: `K = 0` when found (traced before the parser runs), `K = -1`
/// when not.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_parse_record(
    tdb: *mut TdbContext,
    key: TdbData,
    parser: ParserFunc,
    private: *mut c_void,
) -> c_int {
    let Some(call) = Call::enter(tdb).filter(|_| parser.is_some()) else {
        // SAFETY: the program's arguments, passed on unchanged.
        return unsafe { real::tdb_parse_record(tdb, key, parser, private) };
    };
    let mut parse = Parse {
        call: &call,
        // SAFETY: the program's key.
        key: unsafe { key.key() },
        parser,
        private,
        found: false,
    };
    let context = std::ptr::from_mut(&mut parse).cast::<c_void>();
    // SAFETY: the program's handle and key, our parser with its context (alive here).
    let ret = unsafe { real::tdb_parse_record(tdb, key, Some(parse_wrapper), context) };
    if !parse.found {
        let key = parse.key;
        call.line(|out, seqnum| out.key_ret(seqnum, "tdb_parse_record", key, -1));
    }
    ret
}

/// Run `write` holding `key`'s chain lock when it can be had; `write` gets whether it
/// was, and its line is written by `trace` before the lock goes.
///
/// # Safety
/// `call`'s handle is live and `key` valid.
pub(super) unsafe fn under_chain_lock(
    call: &Call,
    key: TdbData,
    write: impl FnOnce(bool) -> c_int,
) -> c_int {
    let tdb = call.tdb();
    // SAFETY: the caller's promise.
    let locked = unsafe { real::tdb_chainlock(tdb, key) } == 0;
    let ret = write(locked);
    if locked {
        // SAFETY: the lock just taken.
        unsafe { real::tdb_chainunlock(tdb, key) };
    }
    ret
}

/// Whether tdb traces a failed write: tdb writes its line unless the chain lock failed,
/// which is known here when this library's own chain lock failed too; a handle that
/// cannot write (read-only, or in a read traverse) fails before locking and is traced.
///
/// # Safety
/// `tdb` is live.
pub(super) unsafe fn traced(tdb: *mut TdbContext, ret: c_int, locked: bool) -> bool {
    // SAFETY: the caller's promise.
    ret == 0 || locked || unsafe { real::tdb_error(tdb) } == code::RDONLY
}

/// `tdb_store`: `K D flag = ret`, under the chain lock.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_store(
    tdb: *mut TdbContext,
    key: TdbData,
    data: TdbData,
    flag: c_int,
) -> c_int {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's arguments, passed on unchanged.
        return unsafe { real::tdb_store(tdb, key, data, flag) };
    };
    // SAFETY: the program's handle, key and data (for the call and for the line).
    unsafe {
        under_chain_lock(&call, key, |locked| {
            let ret = real::tdb_store(tdb, key, data, flag);
            if traced(tdb, ret, locked) {
                let (key, data) = (key.key(), data.bytes());
                let flag = store_flag(flag);
                call.line(|out, seqnum| out.store_rec(seqnum, key, data, flag, ret));
            }
            ret
        })
    }
}

/// `tdb_storev`: `K D1 .. Dn flag = -1` (Samba traces -1 whatever the result).
///
/// # Safety
/// As tdb.h: `parts` points at `count` records.
#[no_mangle]
pub unsafe extern "C" fn tdb_storev(
    tdb: *mut TdbContext,
    key: TdbData,
    parts: *const TdbData,
    count: c_int,
    flag: c_int,
) -> c_int {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's arguments, passed on unchanged.
        return unsafe { real::tdb_storev(tdb, key, parts, count, flag) };
    };
    // SAFETY: the program's handle, key and parts (for the call and for the line).
    unsafe {
        under_chain_lock(&call, key, |locked| {
            let ret = real::tdb_storev(tdb, key, parts, count, flag);
            if traced(tdb, ret, locked) {
                let parts = match usize::try_from(count) {
                    Ok(count) if !parts.is_null() => std::slice::from_raw_parts(parts, count),
                    _ => &[],
                };
                let key = key.key();
                let flag = store_flag(flag);
                call.line(|out, seqnum| {
                    out.storev(seqnum, key, parts.iter().map(|part| part.key()), flag, -1)
                });
            }
            ret
        })
    }
}

/// `tdb_delete`: `K = ret`, always traced.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_delete(tdb: *mut TdbContext, key: TdbData) -> c_int {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's arguments, passed on unchanged.
        return unsafe { real::tdb_delete(tdb, key) };
    };
    // SAFETY: the program's handle and key.
    unsafe {
        under_chain_lock(&call, key, |_| {
            let ret = real::tdb_delete(tdb, key);
            let key = key.key();
            call.line(|out, seqnum| out.key_ret(seqnum, "tdb_delete", key, ret));
            ret
        })
    }
}

/// `tdb_firstkey`: `= K`.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_firstkey(tdb: *mut TdbContext) -> TdbData {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's handle, passed on.
        return unsafe { real::tdb_firstkey(tdb) };
    };
    // SAFETY: the program's handle, passed on.
    let result = unsafe { real::tdb_firstkey(tdb) };
    // SAFETY: the key tdb just returned.
    let first = unsafe { result.bytes() };
    call.line(|out, seqnum| out.key_walk(seqnum, None, first));
    result
}

/// `tdb_nextkey`: `oldK = K`.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_nextkey(tdb: *mut TdbContext, key: TdbData) -> TdbData {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's arguments, passed on unchanged.
        return unsafe { real::tdb_nextkey(tdb, key) };
    };
    // SAFETY: the program's arguments, passed on unchanged.
    let result = unsafe { real::tdb_nextkey(tdb, key) };
    // SAFETY: the program's key (still its own: tdb does not free it), and the key tdb
    // just returned.
    let (old, next) = unsafe { (key.key(), result.bytes()) };
    call.line(|out, seqnum| out.key_walk(seqnum, Some(old), next));
    result
}
