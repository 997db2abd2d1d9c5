//! Locks: the chain-lock family (by key, and by chain number with `tdb_lock_nonblock`/
//! `tdb_unlock`), the all-record family, the transaction lock's mark calls, and
//! `tdb_setalarm_sigptr`.

use std::ffi::c_int;
use std::sync::Arc;

use tdb_pure::lock::LockType;
use tdb_pure::{Error, Result};

use crate::ffi::{call_infallible, call_status};
use crate::types::TdbContext;

key_calls! {
    /// `tdb_chainlock`.
    tdb_chainlock => chainlock;
    /// `tdb_chainlock_nonblock`.
    tdb_chainlock_nonblock => chainlock_nonblock;
    /// `tdb_chainunlock`.
    tdb_chainunlock => chainunlock;
    /// `tdb_chainlock_read`.
    tdb_chainlock_read => chainlock_read;
    /// `tdb_chainlock_read_nonblock`.
    tdb_chainlock_read_nonblock => chainlock_read_nonblock;
    /// `tdb_chainunlock_read`.
    tdb_chainunlock_read => chainunlock_read;
    /// `tdb_chainlock_mark`.
    tdb_chainlock_mark => chainlock_mark;
    /// `tdb_chainlock_unmark`.
    tdb_chainlock_unmark => chainlock_unmark;
}

handle_calls! {
    /// `tdb_lockall`.
    tdb_lockall => lockall_write;
    /// `tdb_lockall_nonblock`.
    tdb_lockall_nonblock => lockall_nonblock;
    /// `tdb_unlockall`.
    tdb_unlockall => unlockall_write;
    /// `tdb_lockall_read`.
    tdb_lockall_read => lockall_read;
    /// `tdb_lockall_read_nonblock`.
    tdb_lockall_read_nonblock => lockall_read_nonblock;
    /// `tdb_unlockall_read`.
    tdb_unlockall_read => unlockall_read;
    /// `tdb_lockall_mark`.
    tdb_lockall_mark => lockall_mark;
    /// `tdb_lockall_unmark`.
    tdb_lockall_unmark => lockall_unmark;
    /// `tdb_transaction_write_lock_mark`.
    tdb_transaction_write_lock_mark => transaction_write_lock_mark;
    /// `tdb_transaction_write_lock_unmark`.
    tdb_transaction_write_lock_unmark => transaction_write_lock_unmark;
}

/// `F_RDLCK`/`F_WRLCK` as tdb-pure's lock type.
fn lock_type(ltype: c_int) -> Result<LockType> {
    match ltype {
        libc::F_RDLCK => Ok(LockType::Read),
        libc::F_WRLCK => Ok(LockType::Write),
        other => Err(Error::Einval(format!(
            "lock type {other} is neither F_RDLCK nor F_WRLCK"
        ))),
    }
}

/// `tdb_lock_nonblock(tdb, list, ltype)`: lock chain `list` (−1: the freelist) without
/// waiting.
#[no_mangle]
pub unsafe extern "C" fn tdb_lock_nonblock(
    tdb: *mut TdbContext,
    list: c_int,
    ltype: c_int,
) -> c_int {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call_status(tdb, "tdb_lock_nonblock", |t| {
            t.lock_chain_nonblock(list, lock_type(ltype)?)
        })
    }
}

/// `tdb_unlock(tdb, list, ltype)`.
#[no_mangle]
pub unsafe extern "C" fn tdb_unlock(tdb: *mut TdbContext, list: c_int, ltype: c_int) -> c_int {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call_status(tdb, "tdb_unlock", |t| {
            t.unlock_chain(list, lock_type(ltype)?)
        })
    }
}

/// `tdb_setalarm_sigptr`: while `*sigptr` is non-zero, a signal interrupting a blocking
/// lock wait makes the lock fail instead of waiting again (NULL: always wait again).
#[no_mangle]
pub unsafe extern "C" fn tdb_setalarm_sigptr(tdb: *mut TdbContext, sigptr: *mut libc::c_int) {
    let addr = sigptr as usize;
    let check: Option<tdb_pure::lock::InterruptCheck> = (addr != 0).then(|| {
        Arc::new(move || {
            // SAFETY: the caller keeps `sigptr` (a `volatile sig_atomic_t`) valid while
            // it is installed; a volatile read is how C reads it.
            unsafe { std::ptr::read_volatile(addr as *const libc::c_int) != 0 }
        }) as tdb_pure::lock::InterruptCheck
    });
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call_infallible(tdb, "tdb_setalarm_sigptr", (), |t| {
            t.set_interrupt_check(check)
        })
    }
}
