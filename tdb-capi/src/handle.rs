//! The object behind a `struct tdb_context *`: the tdb-pure handle plus what C keeps
//! beside it (name, open flags, logging context), the process's list of open handles
//! (`tdb_reopen_all`), and the one way exported functions reach the engine.
//!
//! Re-entrancy: a traverse callback may call back into the library with the same
//! handle (C allows stores and deletes from it). While tdb-pure runs the callback it
//! lends the engine as `&mut Tdb`; the handle keeps a pointer to that loan (`active`), so
//! the nested call reborrows it instead of making a second mutable reference. Any other
//! re-entry (from a parser, a checker, a hash or log function) would alias the engine
//! and is refused with a log message.

use std::cell::{Cell, UnsafeCell};
use std::ffi::{c_void, CStr, CString};
use std::sync::Mutex;

use tdb_pure::Tdb;

use crate::log;
use crate::types::{LoggingContext, TdbContext};

/// One open database.
pub struct Handle {
    tdb: UnsafeCell<Option<Tdb>>,
    /// The engine lent to a running traverse callback (null when none).
    active: Cell<*mut Tdb>,
    /// Whether the engine is in use by a call of this handle that cannot be re-entered.
    busy: Cell<bool>,
    /// The name given to `tdb_open` (`tdb_name`, `tdb_reopen`).
    pub name: CString,
    /// The `open(2)` flags given to `tdb_open` (`tdb_reopen`).
    pub open_flags: i32,
    /// The logging context (`tdb_set_logging_function`).
    pub log: Cell<LoggingContext>,
}

/// Addresses of the open handles, newest first (C's `tdbs` list).
static OPEN: Mutex<Vec<usize>> = Mutex::new(Vec::new());

impl Handle {
    /// A handle for `name` without an engine yet (what C logs through while opening).
    pub fn new(name: CString, open_flags: i32, log: LoggingContext) -> Box<Handle> {
        Box::new(Handle {
            tdb: UnsafeCell::new(None),
            active: Cell::new(std::ptr::null_mut()),
            busy: Cell::new(false),
            name,
            open_flags,
            log: Cell::new(log),
        })
    }

    /// Install the opened engine and list the handle as open; the pointer C gets.
    pub fn publish(self: Box<Handle>, tdb: Tdb) -> *mut TdbContext {
        // SAFETY: the handle is not shared yet: nothing else reaches its engine slot.
        unsafe { *self.tdb.get() = Some(tdb) };
        let ptr = Box::into_raw(self);
        if let Ok(mut open) = OPEN.lock() {
            open.insert(0, ptr as usize);
        }
        ptr.cast()
    }

    /// The handle behind a C pointer (None for NULL).
    ///
    /// # Safety
    /// `ptr` is NULL or was returned by [`Handle::publish`] and not closed since.
    pub unsafe fn from_ptr<'a>(ptr: *mut TdbContext) -> Option<&'a Handle> {
        // SAFETY: per the contract, a non-null pointer is a live, published handle.
        unsafe { ptr.cast::<Handle>().as_ref() }
    }

    /// The C pointer of this handle.
    pub fn as_ptr(&self) -> *mut TdbContext {
        (self as *const Handle).cast_mut().cast()
    }

    /// Take a closed handle back from C: unlisted, its engine dropped with it.
    ///
    /// # Safety
    /// `ptr` was returned by [`Handle::publish`], is not closed yet, and no call on it
    /// is running.
    pub unsafe fn unpublish(ptr: *mut TdbContext) -> Box<Handle> {
        if let Ok(mut open) = OPEN.lock() {
            open.retain(|&p| p != ptr as usize);
        }
        // SAFETY: per the contract the pointer came from `Box::into_raw` in `publish`.
        unsafe { Box::from_raw(ptr.cast::<Handle>()) }
    }

    /// The open handles, newest first.
    pub fn all_open() -> Vec<*mut TdbContext> {
        OPEN.lock()
            .map(|open| open.iter().map(|&p| p as *mut TdbContext).collect())
            .unwrap_or_default()
    }

    /// Whether a call of this handle is running (a callback is out).
    pub fn in_use(&self) -> bool {
        self.busy.get() || !self.active.get().is_null()
    }

    /// Run `f` on the engine: the traverse callback's loan if one is out, else the
    /// handle's own. `None` (logged) when the engine is in use by a call that cannot be
    /// re-entered, or not there.
    #[inline]
    pub fn with<R>(&self, what: &str, f: impl FnOnce(&mut Tdb) -> R) -> Option<R> {
        if self.busy.get() {
            self.log_refusal(what);
            return None;
        }
        let lent = self.active.get();
        let tdb = if lent.is_null() {
            // SAFETY: not busy and no loan out: no other reference to the engine lives
            // (calls run one at a time on a handle, as C requires of its callers).
            unsafe { (*self.tdb.get()).as_mut()? }
        } else {
            // SAFETY: `lent` is the `&mut Tdb` tdb-pure lent to the traverse callback
            // running now, unused by tdb-pure until the callback returns.
            unsafe { &mut *lent }
        };
        let _busy = BusyGuard::enter(self);
        Some(f(tdb))
    }

    /// Run a traverse callback `f` with the engine `tdb` lent to nested calls.
    #[inline]
    pub fn lend<R>(&self, tdb: &mut Tdb, f: impl FnOnce() -> R) -> R {
        let _loan = Loan {
            handle: self,
            saved: self.active.replace(tdb),
            was_busy: self.busy.replace(false),
        };
        f()
    }

    /// The name as C reports it.
    pub fn name(&self) -> &CStr {
        &self.name
    }

    /// `tdb_get_logging_private`.
    pub fn log_private(&self) -> *mut c_void {
        self.log.get().log_private
    }

    #[cold]
    fn log_refusal(&self, what: &str) {
        log::message(
            self,
            crate::types::level::ERROR,
            &format!(
                "{what}: called from inside a parser, checker or hash function of the same \
                 database; tdb-pure does not support this"
            ),
        );
    }
}

/// Marks the handle busy for the life of a call, also if it panics.
struct BusyGuard<'a>(&'a Handle);

impl<'a> BusyGuard<'a> {
    fn enter(h: &'a Handle) -> BusyGuard<'a> {
        h.busy.set(true);
        BusyGuard(h)
    }
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.busy.set(false);
    }
}

/// A loan of the engine to a traverse callback; ends (restoring the state before it)
/// when dropped, also if the callback panics.
struct Loan<'a> {
    handle: &'a Handle,
    saved: *mut Tdb,
    was_busy: bool,
}

impl Drop for Loan<'_> {
    fn drop(&mut self) {
        self.handle.busy.set(self.was_busy);
        self.handle.active.set(self.saved);
    }
}
