//! Opening, closing and reopening (`tdb_open`, `tdb_open_ex`, `tdb_close`, `tdb_reopen`,
//! `tdb_reopen_all`), and the handle's name, descriptor and logging context.

use std::ffi::{c_char, c_int, c_void, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use tdb_pure::{flags, CustomHash, OpenOptions, Tdb};

use crate::ffi::{call, call_infallible, guard};
use crate::handle::Handle;
use crate::log;
use crate::types::{level, HashFn, LogFn, LoggingContext, TdbContext, TdbData};

fn set_errno(e: i32) {
    // SAFETY: `__errno_location` returns this thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

/// `tdb_open`.
#[no_mangle]
pub unsafe extern "C" fn tdb_open(
    name: *const c_char,
    hash_size: c_int,
    tdb_flags: c_int,
    open_flags: c_int,
    mode: libc::mode_t,
) -> *mut TdbContext {
    // SAFETY: the caller's arguments, passed on unchanged.
    unsafe {
        tdb_open_ex(
            name,
            hash_size,
            tdb_flags,
            open_flags,
            mode,
            std::ptr::null(),
            None,
        )
    }
}

/// A caller's hash function as tdb-pure takes it.
fn custom_hash(f: HashFn) -> CustomHash {
    CustomHash::new(move |key| {
        let mut d = TdbData::borrowed(key);
        // SAFETY: `f` is the caller's `tdb_hash_func`; it reads the key it is given.
        unsafe { f(&mut d) }
    })
}

/// `tdb_open_ex`: NULL with `errno` set on failure, after logging why.
#[no_mangle]
pub unsafe extern "C" fn tdb_open_ex(
    name: *const c_char,
    hash_size: c_int,
    tdb_flags: c_int,
    open_flags: c_int,
    mode: libc::mode_t,
    log_ctx: *const LoggingContext,
    hash_fn: Option<HashFn>,
) -> *mut TdbContext {
    guard(std::ptr::null_mut(), || {
        // SAFETY: a non-null `log_ctx` points at the caller's logging context.
        let log = unsafe { log_ctx.as_ref() }
            .copied()
            .unwrap_or(LoggingContext {
                log_fn: None,
                log_private: std::ptr::null_mut(),
            });
        let internal = tdb_flags as u32 & flags::INTERNAL != 0;
        let name = if name.is_null() {
            if !internal {
                let h = Handle::new(c"__NULL__".into(), open_flags, log);
                log::message(&h, level::FATAL, "tdb_open_ex: called with name == NULL");
                set_errno(libc::EINVAL);
                return std::ptr::null_mut();
            }
            c"__TDB_INTERNAL__"
        } else {
            // SAFETY: a non-null name is a NUL-terminated string.
            unsafe { CStr::from_ptr(name) }
        };
        let h = Handle::new(name.into(), open_flags, log);
        let mut tdb_flags = tdb_flags as u32;
        if internal {
            tdb_flags |= flags::INCOMPATIBLE_HASH;
        }
        if std::env::var_os("TDB_NO_FSYNC").is_some() {
            tdb_flags |= flags::NOSYNC;
        }
        let options = OpenOptions {
            hash_size: hash_size as u32,
            tdb_flags,
            open_flags,
            mode,
        };
        let path = Path::new(OsStr::from_bytes(name.to_bytes()));
        match Tdb::open_ex(path, &options, hash_fn.map(custom_hash)) {
            Ok(tdb) => h.publish(tdb),
            Err(e) => {
                if let Some((lvl, text)) = log::open_failure(&path.display().to_string(), &e) {
                    log::message(&h, lvl, &text);
                }
                set_errno(e.errno());
                std::ptr::null_mut()
            }
        }
    })
}

/// `tdb_close`: 0, or −1 for a NULL handle or one still in use by a callback.
#[no_mangle]
pub unsafe extern "C" fn tdb_close(tdb: *mut TdbContext) -> c_int {
    guard(-1, || {
        // SAFETY: `tdb` is NULL or a live handle (tdb.h's contract).
        let Some(h) = (unsafe { Handle::from_ptr(tdb) }) else {
            return -1;
        };
        if h.in_use() {
            log::message(
                h,
                level::ERROR,
                "tdb_close: called from inside a callback of the same database",
            );
            return -1;
        }
        // SAFETY: the handle is live and no call on it is running.
        drop(unsafe { Handle::unpublish(tdb) });
        0
    })
}

/// Reopen one handle; on failure it is logged and closed, as C does.
///
/// # Safety
/// `tdb` is a live handle.
unsafe fn reopen(tdb: *mut TdbContext, parent_longlived: Option<bool>) -> c_int {
    // SAFETY: per the contract.
    let r = unsafe {
        call(tdb, "tdb_reopen", -1, |h, t| {
            let clear_if_first = t.flags() & flags::CLEAR_IF_FIRST != 0;
            let active_lock = clear_if_first && parent_longlived != Some(true);
            let path = Path::new(OsStr::from_bytes(h.name.to_bytes()));
            t.reopen(path, h.open_flags, active_lock).map(|()| 0)
        })
    };
    if r != 0 {
        // SAFETY: the handle is still live; C closes it after a failed reopen.
        unsafe { tdb_close(tdb) };
    }
    r
}

/// `tdb_reopen`: after `fork`, give this process its own descriptor and locks.
#[no_mangle]
pub unsafe extern "C" fn tdb_reopen(tdb: *mut TdbContext) -> c_int {
    // SAFETY: per tdb.h's contract.
    unsafe { reopen(tdb, None) }
}

/// `tdb_reopen_all`: [`tdb_reopen`] every open handle (without the active lock when the
/// parent is long-lived and keeps it).
#[no_mangle]
pub unsafe extern "C" fn tdb_reopen_all(parent_longlived: c_int) -> c_int {
    guard(-1, || {
        for tdb in Handle::all_open() {
            // SAFETY: listed handles are live.
            if unsafe { reopen(tdb, Some(parent_longlived != 0)) } != 0 {
                return -1;
            }
        }
        0
    })
}

/// `tdb_set_logging_function`.
#[no_mangle]
pub unsafe extern "C" fn tdb_set_logging_function(
    tdb: *mut TdbContext,
    log_ctx: *const LoggingContext,
) {
    // SAFETY: per tdb.h's contract: a live handle and a valid logging context.
    if let (Some(h), Some(ctx)) = unsafe { (Handle::from_ptr(tdb), log_ctx.as_ref()) } {
        h.log.set(*ctx);
    }
}

/// `tdb_logging_function` (deprecated in tdb.h): replace only the function.
#[no_mangle]
pub unsafe extern "C" fn tdb_logging_function(tdb: *mut TdbContext, log_fn: Option<LogFn>) {
    // SAFETY: per tdb.h's contract.
    if let Some(h) = unsafe { Handle::from_ptr(tdb) } {
        let mut ctx = h.log.get();
        ctx.log_fn = log_fn;
        h.log.set(ctx);
    }
}

/// The log function of a handle opened without one: does nothing.
unsafe extern "C" fn null_log_fn(_: *mut TdbContext, _: c_int, _: *const c_char) {}

/// `tdb_log_fn`: the handle's log function (a no-op one if none was given, as C).
#[no_mangle]
pub unsafe extern "C" fn tdb_log_fn(tdb: *mut TdbContext) -> Option<LogFn> {
    // SAFETY: per tdb.h's contract.
    let set = unsafe { Handle::from_ptr(tdb) }.and_then(|h| h.log.get().log_fn);
    // SAFETY: on the System V ABIs a function ignoring its trailing arguments may be
    // called through a variadic pointer type: the caller sets up the same registers.
    set.or(Some(unsafe {
        std::mem::transmute::<unsafe extern "C" fn(*mut TdbContext, c_int, *const c_char), LogFn>(
            null_log_fn,
        )
    }))
}

/// `tdb_get_logging_private`.
#[no_mangle]
pub unsafe extern "C" fn tdb_get_logging_private(tdb: *mut TdbContext) -> *mut c_void {
    // SAFETY: per tdb.h's contract.
    unsafe { Handle::from_ptr(tdb) }.map_or(std::ptr::null_mut(), Handle::log_private)
}

/// `tdb_name`.
#[no_mangle]
pub unsafe extern "C" fn tdb_name(tdb: *mut TdbContext) -> *const c_char {
    // SAFETY: per tdb.h's contract.
    unsafe { Handle::from_ptr(tdb) }.map_or(std::ptr::null(), |h| h.name().as_ptr())
}

/// `tdb_fd`: −1 for an in-memory database.
#[no_mangle]
pub unsafe extern "C" fn tdb_fd(tdb: *mut TdbContext) -> c_int {
    // SAFETY: per tdb.h's contract.
    unsafe { call_infallible(tdb, "tdb_fd", -1, |t| t.fd().unwrap_or(-1)) }
}
