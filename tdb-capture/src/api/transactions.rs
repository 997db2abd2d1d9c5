//! Transactions. A start is traced after it succeeded (Samba's layout: only the
//! outermost; ccan's: every one); prepare, commit and cancel before the call. Every
//! commit or cancel closes one level.

use std::ffi::c_int;

use replay_engine::record::Layout;

use crate::ffi::{real, TdbContext};
use crate::handles::Call;

/// A start (blocking or not): count the level and trace it as tdb does.
///
/// # Safety
/// As tdb.h for `real`.
unsafe fn start(tdb: *mut TdbContext, real: unsafe fn(*mut TdbContext) -> c_int) -> c_int {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's handle, passed on.
        return unsafe { real(tdb) };
    };
    // SAFETY: the program's handle, passed on.
    let ret = unsafe { real(tdb) };
    if ret == 0 {
        let (outer, layout) = call
            .with(|trace| {
                trace.depth += 1;
                (trace.depth == 1, trace.layout)
            })
            .unwrap_or((true, Layout::Samba));
        if outer || layout == Layout::Ccan {
            call.line(|out, seqnum| out.bare(seqnum, "tdb_transaction_start"));
        }
    }
    ret
}

/// An op traced before the call by its name; `closes` a level (commit, cancel).
///
/// # Safety
/// As tdb.h for `real`.
unsafe fn before(
    tdb: *mut TdbContext,
    name: &str,
    closes: bool,
    real: unsafe fn(*mut TdbContext) -> c_int,
) -> c_int {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's handle, passed on.
        return unsafe { real(tdb) };
    };
    call.line(|out, seqnum| out.bare(seqnum, name));
    if closes {
        call.with(|trace| trace.depth = trace.depth.saturating_sub(1));
    }
    // SAFETY: the program's handle, passed on.
    unsafe { real(tdb) }
}

/// `tdb_transaction_start`.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_transaction_start(tdb: *mut TdbContext) -> c_int {
    // SAFETY: as this function's.
    unsafe { start(tdb, real::tdb_transaction_start) }
}

/// `tdb_transaction_start_nonblock`, traced as a start when it succeeds.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_transaction_start_nonblock(tdb: *mut TdbContext) -> c_int {
    // SAFETY: as this function's.
    unsafe { start(tdb, real::tdb_transaction_start_nonblock) }
}

/// `tdb_transaction_prepare_commit`.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_transaction_prepare_commit(tdb: *mut TdbContext) -> c_int {
    // SAFETY: as this function's.
    unsafe {
        before(
            tdb,
            "tdb_transaction_prepare_commit",
            false,
            real::tdb_transaction_prepare_commit,
        )
    }
}

/// `tdb_transaction_commit` (a repack it runs itself is not traced: see the crate notes).
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_transaction_commit(tdb: *mut TdbContext) -> c_int {
    // SAFETY: as this function's.
    unsafe {
        before(
            tdb,
            "tdb_transaction_commit",
            true,
            real::tdb_transaction_commit,
        )
    }
}

/// `tdb_transaction_cancel`.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_transaction_cancel(tdb: *mut TdbContext) -> c_int {
    // SAFETY: as this function's.
    unsafe {
        before(
            tdb,
            "tdb_transaction_cancel",
            true,
            real::tdb_transaction_cancel,
        )
    }
}
