//! Traverses, `tdb_wipe_all` and `tdb_repack`.
//!
//! A traverse runs with this library's callback in place of the program's: it writes
//! the start line at the first record (tdb writes it once the traverse's locks are
//! held), a `traverse K = D` line per record, then runs the program's callback with the
//! guard lowered, so the calls the callback makes are recorded in place. A callback of
//! NULL (tdb then only counts) is traced the same way.

use std::ffi::{c_int, c_void};

use replay_engine::backend::{LockAllOp, TraverseKind};

use crate::ffi::{real, TdbContext, TdbData, TraverseFunc};
use crate::handles::Call;

/// What the traverse callback wrapper needs.
struct Walk<'a> {
    call: &'a Call,
    kind: TraverseKind,
    function: TraverseFunc,
    private: *mut c_void,
    started: bool,
    stopped: bool,
}

impl Walk<'_> {
    fn start(&mut self) {
        if !self.started {
            self.started = true;
            let kind = self.kind;
            self.call
                .line(|out, seqnum| out.traverse_start(seqnum, kind));
        }
    }
}

unsafe extern "C" fn walk_record(
    tdb: *mut TdbContext,
    key: TdbData,
    data: TdbData,
    private: *mut c_void,
) -> c_int {
    // SAFETY: `private` is the `Walk` traverse() passed, alive for the traverse.
    let walk = unsafe { &mut *private.cast::<Walk<'_>>() };
    walk.start();
    // SAFETY: the record tdb hands the callback, valid while it runs.
    let (key_bytes, data_bytes) = unsafe { (key.key(), data.bytes().unwrap_or_default()) };
    walk.call
        .line(|out, seqnum| out.traverse_entry(seqnum, key_bytes, data_bytes));
    let Some(function) = walk.function else {
        return 0;
    };
    let private = walk.private;
    // SAFETY: the program's callback with its own data, as tdb would call it.
    let stop = walk
        .call
        .outside(|| unsafe { function(tdb, key, data, private) });
    walk.stopped = stop != 0;
    stop
}

/// A traverse of `kind` through `real`.
///
/// # Safety
/// As tdb.h.
unsafe fn traverse(
    tdb: *mut TdbContext,
    function: TraverseFunc,
    private: *mut c_void,
    kind: TraverseKind,
    real: unsafe fn(*mut TdbContext, TraverseFunc, *mut c_void) -> c_int,
) -> c_int {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's arguments, passed on unchanged.
        return unsafe { real(tdb, function, private) };
    };
    // Inside a read traverse tdb runs (and traces) a write traverse as a read one.
    let reading =
        kind == TraverseKind::Read || call.with(|trace| trace.read_traverses > 0).unwrap_or(false);
    let kind = if reading { TraverseKind::Read } else { kind };
    if reading {
        call.with(|trace| trace.read_traverses += 1);
    }
    let mut walk = Walk {
        call: &call,
        kind,
        function,
        private,
        started: false,
        stopped: false,
    };
    let context = std::ptr::from_mut(&mut walk).cast::<c_void>();
    // SAFETY: the program's handle; our callback with its context, alive for the call.
    let ret = unsafe { real(tdb, Some(walk_record), context) };
    if reading {
        call.with(|trace| trace.read_traverses = trace.read_traverses.saturating_sub(1));
    }
    // A traverse that failed writes no end line, as in tdb.
    if ret >= 0 {
        walk.start();
        let stopped_after = walk.stopped.then_some(ret as u32);
        call.line(|out, seqnum| out.traverse_end(seqnum, stopped_after));
    }
    ret
}

/// `tdb_traverse`, traced with every record and the calls of the callback in place.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_traverse(
    tdb: *mut TdbContext,
    function: TraverseFunc,
    private: *mut c_void,
) -> c_int {
    // SAFETY: as this function's.
    unsafe {
        traverse(
            tdb,
            function,
            private,
            TraverseKind::Write,
            real::tdb_traverse,
        )
    }
}

/// `tdb_traverse_read`, traced as `tdb_traverse`.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_traverse_read(
    tdb: *mut TdbContext,
    function: TraverseFunc,
    private: *mut c_void,
) -> c_int {
    // SAFETY: as this function's.
    unsafe {
        traverse(
            tdb,
            function,
            private,
            TraverseKind::Read,
            real::tdb_traverse_read,
        )
    }
}

/// `tdb_wipe_all`: tdb traces `tdb_lockall`, then `tdb_wipe_all` under that lock, then
/// `tdb_unlockall` (its own calls of the public lock functions). The all-record lock is
/// taken here first (tdb's nests inside it), so both numbers are read where tdb reads
/// them, whatever library runs underneath.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_wipe_all(tdb: *mut TdbContext) -> c_int {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's handle, passed on.
        return unsafe { real::tdb_wipe_all(tdb) };
    };
    call.line(|out, seqnum| out.lockall(seqnum, LockAllOp::Lock, None));
    // SAFETY: the program's handle (the lock is released below).
    let locked = unsafe { real::tdb_lockall(tdb) } == 0;
    if locked {
        call.line(|out, seqnum| out.bare(seqnum, "tdb_wipe_all"));
    }
    // SAFETY: the program's handle, passed on.
    let ret = unsafe { real::tdb_wipe_all(tdb) };
    if !locked && ret == 0 {
        call.line(|out, seqnum| out.bare(seqnum, "tdb_wipe_all"));
    }
    if locked || ret == 0 {
        call.line(|out, seqnum| out.lockall(seqnum, LockAllOp::Unlock, None));
    }
    if locked {
        // SAFETY: the lock taken above.
        unsafe { real::tdb_unlockall(tdb) };
    }
    ret
}

/// `tdb_repack`: its one line. (tdb also traces the transaction, traverse, wipe and
/// stores it makes; replaying the line makes the same records, and `replay` runs a
/// repack line as nothing.)
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_repack(tdb: *mut TdbContext) -> c_int {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's handle, passed on.
        return unsafe { real::tdb_repack(tdb) };
    };
    call.line(|out, seqnum| out.bare(seqnum, "tdb_repack"));
    // SAFETY: the program's handle, passed on.
    unsafe { real::tdb_repack(tdb) }
}
