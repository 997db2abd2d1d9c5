//! Calls that take a C callback: `tdb_parse_record`, `tdb_traverse(_read)`, `tdb_check`.
//!
//! Each passes a Rust closure through the `private_data` pointer to a generic
//! `extern "C"` trampoline. A panic must not unwind into C, so the trampoline catches it,
//! tells tdb to stop, and the panic is re-raised once the C call has returned (and tdb has
//! released its locks).

use std::any::Any;
use std::ffi::c_void;
use std::ops::ControlFlow;
use std::os::raw::c_int;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use crate::data::{borrow_datum, datum};
use crate::error::Result;
use crate::ffi;
use crate::handle::Tdb;

type Panic = Box<dyn Any + Send>;

/// Which traverse to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraverseMode {
    /// `tdb_traverse`: write locks, holds the transaction lock; the callback may write.
    Write,
    /// `tdb_traverse_read`: read locks only; writes in the callback fail with `ReadOnly`.
    Read,
}

struct ParseState<F, R> {
    parser: Option<F>,
    output: Option<R>,
    panic: Option<Panic>,
}

/// `tdb_parse_record`'s parser.
///
/// # Safety
/// `private` points to the `ParseState<F, R>` of the `parse_record` call that is running,
/// and `data` is valid for the duration of the call.
unsafe extern "C" fn parse_trampoline<F, R>(
    _key: ffi::TDB_DATA,
    data: ffi::TDB_DATA,
    private: *mut c_void,
) -> c_int
where
    F: FnOnce(&[u8]) -> R,
{
    // SAFETY: per the contract; parse_record does not touch the state until tdb returns.
    let state = unsafe { &mut *private.cast::<ParseState<F, R>>() };
    let Some(parser) = state.parser.take() else {
        return -1;
    };
    // SAFETY: tdb passes the record's data (in the mapping or a buffer), valid while the
    // parser runs; the slice does not escape the closure call below.
    let data = unsafe { borrow_datum(&data) };
    match panic::catch_unwind(AssertUnwindSafe(|| parser(data))) {
        Ok(output) => {
            state.output = Some(output);
            0
        }
        Err(payload) => {
            state.panic = Some(payload);
            -1
        }
    }
}

struct TraverseState<'f, T, F> {
    owner: *mut T,
    callback: &'f mut F,
    panic: Option<Panic>,
}

/// `tdb_traverse`'s callback.
///
/// # Safety
/// `private` points to the `TraverseState<T, F>` of the running traverse, whose `owner`
/// is valid and not otherwise used until the traverse returns; key and data are valid for
/// the duration of the call.
unsafe extern "C" fn traverse_trampoline<T, F>(
    _ctx: *mut ffi::tdb_context,
    key: ffi::TDB_DATA,
    data: ffi::TDB_DATA,
    private: *mut c_void,
) -> c_int
where
    F: FnMut(&mut T, &[u8], &[u8]) -> ControlFlow<()>,
{
    // SAFETY: per the contract; the traverse call does not touch its state until tdb
    // returns, and a nested traverse has a state of its own.
    let state = unsafe { &mut *private.cast::<TraverseState<'_, T, F>>() };
    if state.panic.is_some() {
        return 1;
    }
    // SAFETY: tdb passes key and data in its own buffer, valid during this call; the
    // slices do not escape the closure call below.
    let (key, data) = unsafe { (borrow_datum(&key), borrow_datum(&data)) };
    let owner = state.owner;
    let callback = &mut *state.callback;
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `owner` is the `&mut T` given to `traverse_with`, which only holds it
        // as this raw pointer while C runs, so this is the only live reference to it.
        let owner = unsafe { &mut *owner };
        callback(owner, key, data)
    }));
    match result {
        Ok(ControlFlow::Continue(())) => 0,
        Ok(ControlFlow::Break(())) => 1,
        Err(payload) => {
            state.panic = Some(payload);
            1
        }
    }
}

struct CheckState<F> {
    checker: F,
    panic: Option<Panic>,
}

/// `tdb_check`'s record checker.
///
/// # Safety
/// `private` points to the `CheckState<F>` of the running check; key and data are valid
/// for the duration of the call.
unsafe extern "C" fn check_trampoline<F>(
    key: ffi::TDB_DATA,
    data: ffi::TDB_DATA,
    private: *mut c_void,
) -> c_int
where
    F: FnMut(&[u8], &[u8]) -> bool,
{
    // SAFETY: per the contract; check_with does not touch the state until tdb returns.
    let state = unsafe { &mut *private.cast::<CheckState<F>>() };
    if state.panic.is_some() {
        return -1;
    }
    // SAFETY: tdb passes buffers valid during this call; the slices do not escape it.
    let (key, data) = unsafe { (borrow_datum(&key), borrow_datum(&data)) };
    let checker = &mut state.checker;
    match panic::catch_unwind(AssertUnwindSafe(|| checker(key, data))) {
        Ok(true) => 0,
        Ok(false) => -1,
        Err(payload) => {
            state.panic = Some(payload);
            -1
        }
    }
}

impl Tdb {
    /// `tdb_parse_record`: `parser` borrows the data in place (in the mapping, when there
    /// is no transaction) under the chain's read lock; a missing key is `Err(NoExist)`.
    pub fn parse_record<F, R>(&mut self, key: &[u8], parser: F) -> Result<R>
    where
        F: FnOnce(&[u8]) -> R,
    {
        let mut state = ParseState {
            parser: Some(parser),
            output: None,
            panic: None,
        };
        let state_ptr: *mut c_void = (&raw mut state).cast();
        let (rc, mark) = self.inner.call(|api, ctx| {
            // SAFETY: the context is open; the key is only read during the call; the
            // trampoline is instantiated for this state's type and `state` outlives the
            // call.
            unsafe {
                (api.tdb_parse_record)(ctx, datum(key), Some(parse_trampoline::<F, R>), state_ptr)
            }
        });
        if let Some(payload) = state.panic {
            panic::resume_unwind(payload);
        }
        match state.output {
            Some(output) if rc == 0 => Ok(output),
            _ => Err(self.inner.error_since(mark)),
        }
    }

    /// `tdb_traverse`: calls `callback` with the handle, key and data of every record;
    /// `Break` stops the walk. Returns how many records were visited (the one that
    /// stopped the walk included).
    pub fn traverse<F>(&mut self, callback: F) -> Result<u32>
    where
        F: FnMut(&mut Tdb, &[u8], &[u8]) -> ControlFlow<()>,
    {
        Tdb::traverse_with(self, TraverseMode::Write, callback)
    }

    /// `tdb_traverse_read`; see [`Tdb::traverse`].
    pub fn traverse_read<F>(&mut self, callback: F) -> Result<u32>
    where
        F: FnMut(&mut Tdb, &[u8], &[u8]) -> ControlFlow<()>,
    {
        Tdb::traverse_with(self, TraverseMode::Read, callback)
    }

    /// A traverse whose callback gets `owner`, any value that holds the handle (an
    /// adapter type, say), rather than the bare handle.
    ///
    /// A panic in `callback` stops the walk and is re-raised once tdb has returned (and
    /// released its locks); the handle stays usable.
    pub fn traverse_with<T, F>(owner: &mut T, mode: TraverseMode, mut callback: F) -> Result<u32>
    where
        T: AsMut<Tdb>,
        F: FnMut(&mut T, &[u8], &[u8]) -> ControlFlow<()>,
    {
        // Keeps the context alive for the whole walk, even if the callback replaces or
        // drops the handle inside `owner`.
        let inner = Rc::clone(&owner.as_mut().inner);
        let mut state = TraverseState {
            owner,
            callback: &mut callback,
            panic: None,
        };
        let state_ptr: *mut c_void = (&raw mut state).cast();
        let (count, mark) = inner.call(|api, ctx| {
            let walk = match mode {
                TraverseMode::Write => api.tdb_traverse,
                TraverseMode::Read => api.tdb_traverse_read,
            };
            // SAFETY: the context is open (and kept so by `inner`); the trampoline is
            // instantiated for this state's types; `state` outlives the call and is only
            // reached through `state_ptr` until it returns.
            unsafe { walk(ctx, Some(traverse_trampoline::<T, F>), state_ptr) }
        });
        if let Some(payload) = state.panic {
            panic::resume_unwind(payload);
        }
        if count < 0 {
            Err(inner.error_since(mark))
        } else {
            Ok(count as u32)
        }
    }

    /// `tdb_check` with a record checker: `checker` returning `false` (or the file being
    /// inconsistent) fails the check.
    pub fn check_with<F>(&mut self, checker: F) -> Result<()>
    where
        F: FnMut(&[u8], &[u8]) -> bool,
    {
        let mut state = CheckState {
            checker,
            panic: None,
        };
        let state_ptr: *mut c_void = (&raw mut state).cast();
        let (rc, mark) = self.inner.call(|api, ctx| {
            // SAFETY: the context is open; the trampoline is instantiated for this state's
            // type and `state` outlives the call.
            unsafe { (api.tdb_check)(ctx, Some(check_trampoline::<F>), state_ptr) }
        });
        if let Some(payload) = state.panic {
            panic::resume_unwind(payload);
        }
        if rc < 0 {
            Err(self.inner.error_since(mark))
        } else {
            Ok(())
        }
    }
}
