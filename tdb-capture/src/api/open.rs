//! `tdb_open`, `tdb_open_ex` and `tdb_close`: where a handle's recording starts and ends.

use std::ffi::{c_char, c_int, c_void, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use replay_engine::backend::tdb_flags;
use replay_engine::record::Layout;

use crate::config;
use crate::ffi::{real, TdbContext};
use crate::handles::{self, Call, Trace};

/// `tdb_open`, recorded when the environment asks for this database.
///
/// # Safety
/// As tdb.h: `name` is a NUL-terminated path (or NULL for an internal database).
#[no_mangle]
pub unsafe extern "C" fn tdb_open(
    name: *const c_char,
    hash_size: c_int,
    tdb_flags: c_int,
    open_flags: c_int,
    mode: libc::mode_t,
) -> *mut TdbContext {
    let nested = handles::nested();
    // SAFETY: the program's arguments, passed on unchanged.
    let tdb = handles::guarded(|| unsafe {
        real::tdb_open(name, hash_size, tdb_flags, open_flags, mode)
    });
    if !nested {
        // SAFETY: as this function's.
        unsafe { start_recording(tdb, name, hash_size, tdb_flags, open_flags) };
    }
    tdb
}

/// `tdb_open_ex`, recorded when the environment asks for this database.
///
/// # Safety
/// As tdb.h: `name` is a NUL-terminated path (or NULL for an internal database); `log`
/// and `hash` are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn tdb_open_ex(
    name: *const c_char,
    hash_size: c_int,
    tdb_flags: c_int,
    open_flags: c_int,
    mode: libc::mode_t,
    log: *const c_void,
    hash: *const c_void,
) -> *mut TdbContext {
    let nested = handles::nested();
    // SAFETY: the program's arguments, passed on unchanged.
    let tdb = handles::guarded(|| unsafe {
        real::tdb_open_ex(name, hash_size, tdb_flags, open_flags, mode, log, hash)
    });
    if !nested {
        // SAFETY: as this function's.
        unsafe { start_recording(tdb, name, hash_size, tdb_flags, open_flags) };
    }
    tdb
}

/// Record the handle `tdb` just opened, if recording is on and wants this database.
/// ccan never traces internal (memory-only) databases, and neither does this.
///
/// # Safety
/// `tdb` is NULL or a handle just opened; `name` NULL or a NUL-terminated string.
unsafe fn start_recording(
    tdb: *mut TdbContext,
    name: *const c_char,
    hash_size: c_int,
    flags: c_int,
    open_flags: c_int,
) {
    let flags = flags as u32;
    if tdb.is_null() || name.is_null() || flags & tdb_flags::INTERNAL != 0 {
        return;
    }
    let Some(config) = config::get() else {
        return;
    };
    // SAFETY: a non-NULL name is a NUL-terminated string (tdb.h).
    let db = Path::new(OsStr::from_bytes(
        unsafe { CStr::from_ptr(name) }.to_bytes(),
    ));
    if !config.records(db) {
        return;
    }
    let trace = Trace {
        db: db.to_path_buf(),
        dir: config.dir.clone(),
        layout: config.layout,
        open_words: open_words(hash_size, flags, open_flags, config.layout),
        pid: config::pid(),
        file: None,
        depth: 0,
        read_traverses: 0,
    };
    if handles::register(tdb, trace) {
        // Tracing turns sequence numbers on, as tdb's does, so that they move.
        // SAFETY: the handle just opened.
        unsafe { real::tdb_enable_seqnum(tdb) };
    }
}

/// The words of the `tdb_open` line: the hash size after tdb's default (0 is 131); the
/// flags as given, with Samba's incompatible-hash bit where mutexes imply it, and in
/// ccan's layout the nesting tdb 1.4 allows by default declared; the open flags.
fn open_words(hash_size: c_int, flags: u32, open_flags: c_int, layout: Layout) -> (u32, u32, i32) {
    let hash_size = match hash_size {
        size if size > 0 => size as u32,
        _ => 131,
    };
    let mut traced = flags;
    match layout {
        Layout::Samba if flags & tdb_flags::MUTEX_LOCKING != 0 => {
            traced |= tdb_flags::INCOMPATIBLE_HASH;
        }
        Layout::Ccan if flags & tdb_flags::DISALLOW_NESTING == 0 => {
            traced |= tdb_flags::ALLOW_NESTING;
        }
        _ => {}
    }
    (hash_size, traced, open_flags)
}

/// `tdb_close`: a transaction still open is cancelled first, and traced so (as tdb's
/// close does), then `tdb_close`.
///
/// # Safety
/// As tdb.h: `tdb` is an open handle, not used again.
#[no_mangle]
pub unsafe extern "C" fn tdb_close(tdb: *mut TdbContext) -> c_int {
    let Some(call) = Call::enter(tdb) else {
        // Also a handle closed inside libtdb (a failed tdb_reopen closes it): its
        // pointer may come back from a later open, so its recording ends here.
        handles::unregister(tdb);
        // SAFETY: the program's handle, passed on.
        return unsafe { real::tdb_close(tdb) };
    };
    // A forked child that only closes what it inherited has nothing to replay: it
    // writes no file of its own.
    let (open, inherited_only) = call
        .with(|trace| (std::mem::take(&mut trace.depth), trace.pid != config::pid()))
        .unwrap_or_default();
    if inherited_only {
        handles::unregister(tdb);
        drop(call);
        // SAFETY: the program's handle, passed on.
        return unsafe { real::tdb_close(tdb) };
    }
    if open > 0 {
        call.line(|out, seqnum| out.bare(seqnum, "tdb_transaction_cancel"));
        // SAFETY: the program's open handle.
        unsafe { real::tdb_transaction_cancel(tdb) };
    }
    call.line(|out, seqnum| out.bare(seqnum, "tdb_close"));
    // Before the handle is freed: another thread's open may get the same pointer.
    handles::unregister(tdb);
    // SAFETY: the program's handle, passed on.
    unsafe { real::tdb_close(tdb) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_line_has_the_default_hash_size_and_the_layouts_flags() {
        let (rdwr_creat, mutex) = (0x42, tdb_flags::MUTEX_LOCKING);
        assert_eq!(open_words(0, 0, rdwr_creat, Layout::Samba), (131, 0, 0x42));
        assert_eq!(open_words(-5, 0, rdwr_creat, Layout::Samba).0, 131);
        assert_eq!(
            open_words(7, mutex, rdwr_creat, Layout::Samba),
            (7, mutex | tdb_flags::INCOMPATIBLE_HASH, 0x42)
        );
        assert_eq!(
            open_words(7, 0, rdwr_creat, Layout::Ccan),
            (7, tdb_flags::ALLOW_NESTING, 0x42)
        );
        let disallowed = tdb_flags::DISALLOW_NESTING;
        assert_eq!(open_words(7, disallowed, 0, Layout::Ccan).1, disallowed);
    }
}
