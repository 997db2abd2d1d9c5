//! The chain-lock and all-record-lock families. tdb traces the unlocks, the unmarks and
//! the blocking all-record locks before the call, the rest after it; the nonblocking
//! ones with `= ret`.

use std::ffi::c_int;

use replay_engine::backend::{ChainLockOp, LockAllOp};

use crate::ffi::{real, TdbContext, TdbData};
use crate::handles::Call;

/// A real chain-lock function.
type ChainFn = unsafe fn(*mut TdbContext, TdbData) -> c_int;
/// A real all-record-lock function.
type AllFn = unsafe fn(*mut TdbContext) -> c_int;

/// Forward a chain-lock call, traced as `op`.
///
/// # Safety
/// As tdb.h for `real`.
unsafe fn chain(tdb: *mut TdbContext, key: TdbData, op: ChainLockOp, real: ChainFn) -> c_int {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's arguments, passed on unchanged.
        return unsafe { real(tdb, key) };
    };
    // SAFETY: the program's key.
    let key_bytes = unsafe { key.key() };
    let before = matches!(
        op,
        ChainLockOp::Unlock | ChainLockOp::UnlockRead | ChainLockOp::Unmark
    );
    if before {
        call.line(|out, seqnum| out.chainlock(seqnum, op, key_bytes, None));
    }
    // SAFETY: the program's arguments, passed on unchanged.
    let ret = unsafe { real(tdb, key) };
    if !before {
        let code = matches!(
            op,
            ChainLockOp::LockNonblock | ChainLockOp::LockReadNonblock
        )
        .then_some(ret);
        call.line(|out, seqnum| out.chainlock(seqnum, op, key_bytes, code));
    }
    ret
}

/// Forward an all-record-lock call, traced as `op`.
///
/// # Safety
/// As tdb.h for `real`.
unsafe fn all(tdb: *mut TdbContext, op: LockAllOp, real: AllFn) -> c_int {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's handle, passed on.
        return unsafe { real(tdb) };
    };
    let nonblocking = matches!(op, LockAllOp::LockNonblock | LockAllOp::LockReadNonblock);
    if !nonblocking {
        call.line(|out, seqnum| out.lockall(seqnum, op, None));
    }
    // SAFETY: the program's handle, passed on.
    let ret = unsafe { real(tdb) };
    if nonblocking {
        call.line(|out, seqnum| out.lockall(seqnum, op, Some(ret)));
    }
    ret
}

/// Defines exported chain-lock functions.
macro_rules! chain_functions {
    ($($name:ident => $op:ident;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`, traced.")]
        ///
        /// # Safety
        /// As tdb.h.
        #[no_mangle]
        pub unsafe extern "C" fn $name(tdb: *mut TdbContext, key: TdbData) -> c_int {
            // SAFETY: as this function's.
            unsafe { chain(tdb, key, ChainLockOp::$op, real::$name) }
        }
    )*};
}

/// Defines exported all-record-lock functions.
macro_rules! all_functions {
    ($($name:ident => $op:ident;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`, traced.")]
        ///
        /// # Safety
        /// As tdb.h.
        #[no_mangle]
        pub unsafe extern "C" fn $name(tdb: *mut TdbContext) -> c_int {
            // SAFETY: as this function's.
            unsafe { all(tdb, LockAllOp::$op, real::$name) }
        }
    )*};
}

chain_functions! {
    tdb_chainlock => Lock;
    tdb_chainlock_nonblock => LockNonblock;
    tdb_chainlock_read => LockRead;
    tdb_chainlock_read_nonblock => LockReadNonblock;
    tdb_chainlock_mark => Mark;
    tdb_chainlock_unmark => Unmark;
    tdb_chainunlock => Unlock;
    tdb_chainunlock_read => UnlockRead;
}

all_functions! {
    tdb_lockall => Lock;
    tdb_lockall_nonblock => LockNonblock;
    tdb_lockall_read => LockRead;
    tdb_lockall_read_nonblock => LockReadNonblock;
    tdb_lockall_mark => Mark;
    tdb_lockall_unmark => Unmark;
    tdb_unlockall => Unlock;
    tdb_unlockall_read => UnlockRead;
}
