//! The [`Tdb`] handle: opening, closing, and every keyed and locking call.
//!
//! Conventions of the C API this module hides:
//! - calls return -1 and leave the reason in `tdb_error()`; some failure paths leave the
//!   previous code there (see [`ErrorKind::UNSET`]);
//! - keys and data go in as `TDB_DATA` by value (an empty slice is passed as `tdb_null`,
//!   NULL with length 0), and come out as `malloc`ed buffers the caller frees ([`Data`]);
//! - fcntl locks belong to the process: tdb refuses to open a file twice in one process
//!   (EBUSY), and lock conflicts only show between processes.

use std::cell::Cell;
use std::ffi::CString;
use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::BorrowedFd;
use std::os::raw::c_int;
use std::os::unix::ffi::OsStrExt;
use std::panic;
use std::path::Path;
use std::ptr::{self, NonNull};
use std::rc::Rc;
use std::sync::{Mutex, PoisonError};

use tdb_vocab::{ErrorKind, OpenOptions, StoreFlag};

use crate::api::Api;
use crate::data::{datum, Data};
use crate::error::{kind_of_raw, Error, Result};
use crate::ffi;
use crate::log::{LogHandler, LogMessage, LogSink};

/// tdb keeps a process-wide list of open databases that `tdb_open_ex` and `tdb_close`
/// update without locking; every open and close goes through this lock.
static OPEN_CLOSE: Mutex<()> = Mutex::new(());

/// The open C context and its log sink. Shared (`Rc`) between the [`Tdb`] and any walk in
/// progress, so that the context outlives every C call that uses it.
pub(crate) struct Inner {
    /// The functions every call goes through: the static build's or a loaded library's.
    api: &'static Api,
    ctx: NonNull<ffi::tdb_context>,
    log: NonNull<LogSink>,
    /// What is known of the key under `tdb_firstkey`/`tdb_nextkey`'s cursor: `None` when
    /// no record is under it, else a length the key is at least as long as (see
    /// [`Tdb::nextkey`]).
    cursor_key_len: Cell<Option<usize>>,
}

impl Inner {
    pub(crate) fn ctx(&self) -> *mut ffi::tdb_context {
        self.ctx.as_ptr()
    }

    pub(crate) fn log(&self) -> &LogSink {
        // SAFETY: the sink lives until `shutdown`, which only runs when `self` goes away;
        // all its mutable state is in cells, so shared references are all that exist.
        unsafe { self.log.as_ref() }
    }

    /// Runs one C call: `call` gets the context. Returns its value and the log position
    /// before it (for [`Inner::error_since`]); re-raises a panic of the log handler.
    pub(crate) fn call<R>(
        &self,
        call: impl FnOnce(&'static Api, *mut ffi::tdb_context) -> R,
    ) -> (R, u64) {
        let mark = self.log().mark();
        let value = call(self.api, self.ctx());
        self.resume_log_panic();
        (value, mark)
    }

    /// [`Inner::call`] for the usual `int` return: negative means failure.
    pub(crate) fn call_rc(
        &self,
        call: impl FnOnce(&'static Api, *mut ffi::tdb_context) -> c_int,
    ) -> Result<c_int> {
        let (rc, mark) = self.call(call);
        if rc < 0 {
            Err(self.error_since(mark))
        } else {
            Ok(rc)
        }
    }

    pub(crate) fn resume_log_panic(&self) {
        if let Some(payload) = self.log().take_panic() {
            panic::resume_unwind(payload);
        }
    }

    /// The error of a call that just failed: `tdb_error()` plus what was logged since
    /// `mark`.
    pub(crate) fn error_since(&self, mark: u64) -> Error {
        Error::new(self.error_code()).with_message(self.log().explanation_since(mark))
    }

    fn error_code(&self) -> ErrorKind {
        // SAFETY: the context is open (it is only closed in `shutdown`).
        kind_of_raw(unsafe { (self.api.tdb_error)(self.ctx()) })
    }

    /// Closes the context and frees the sink, returning close's result and any panic of
    /// the log handler during it.
    ///
    /// # Safety
    /// Runs at most once, and `self` is not used afterwards.
    unsafe fn shutdown(&self) -> (Result<()>, Option<Box<dyn std::any::Any + Send>>) {
        let mark = self.log().mark();
        let (rc, errno) = {
            let _guard = OPEN_CLOSE.lock().unwrap_or_else(PoisonError::into_inner);
            // SAFETY: the context is open and, per the contract, closed only here.
            // tdb_close frees it whatever it returns.
            let rc = unsafe { (self.api.tdb_close)(self.ctx()) };
            (rc, io::Error::last_os_error().raw_os_error())
        };
        let result = if rc == 0 {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Io)
                .with_os_error(errno)
                .with_message(self.log().explanation_since(mark)))
        };
        let panic = self.log().take_panic();
        // SAFETY: the context that pointed at the sink is gone, and no reference to the
        // sink outlives this statement (the ones above were temporaries).
        unsafe { LogSink::free(self.log) };
        (result, panic)
    }

    fn close(self) -> Result<()> {
        let this = ManuallyDrop::new(self);
        // SAFETY: ManuallyDrop keeps Drop from running shutdown a second time.
        let (result, panic) = unsafe { this.shutdown() };
        if let Some(payload) = panic {
            panic::resume_unwind(payload);
        }
        result
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // SAFETY: Drop runs once, and `close` (the only other caller) prevents it.
        // A log-handler panic is dropped: unwinding out of drop could abort.
        let _ = unsafe { self.shutdown() };
    }
}

/// An open tdb database; closed on drop (or with [`Tdb::close`] to see the result).
///
/// Every method maps to the tdb call of the same name. Methods that may change the
/// database or its locks take `&mut self`; during [`Tdb::traverse`] the callback gets the
/// handle back to run further calls, as C allows. A `Tdb` belongs to one thread (it is
/// neither `Send` nor `Sync`); fcntl locks belong to the process.
pub struct Tdb {
    pub(crate) inner: Rc<Inner>,
}

impl fmt::Debug for Tdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tdb")
            .field("hash_size", &self.hash_size())
            .field("flags", &format_args!("{:#x}", self.flags()))
            .finish_non_exhaustive()
    }
}

impl AsMut<Tdb> for Tdb {
    fn as_mut(&mut self) -> &mut Tdb {
        self
    }
}

impl Tdb {
    /// `tdb_open_ex` with this crate's log sink. Messages logged while opening are kept
    /// (see [`Tdb::recent_log`]) or, for a failed open, put into the error.
    pub fn open(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Tdb> {
        Tdb::open_inner(Api::builtin(), path.as_ref(), options, None)
    }

    /// [`Tdb::open`] on the tdb whose functions `api` holds (a loaded library's, from
    /// [`Api::load`], or [`Api::builtin`]).
    pub fn open_with_api(
        api: &'static Api,
        path: impl AsRef<Path>,
        options: &OpenOptions,
    ) -> Result<Tdb> {
        Tdb::open_inner(api, path.as_ref(), options, None)
    }

    /// The functions this handle calls.
    pub fn api(&self) -> &'static Api {
        self.inner.api
    }

    /// [`Tdb::open`], with `handler` receiving every log message from the start.
    ///
    /// Opens and closes are serialised process-wide (tdb's list of open databases is not
    /// thread-safe), and messages logged while opening or closing reach the handler with
    /// that lock held: a handler must not open or close a tdb itself.
    pub fn open_with_log_handler(
        path: impl AsRef<Path>,
        options: &OpenOptions,
        handler: impl FnMut(&LogMessage) + 'static,
    ) -> Result<Tdb> {
        Tdb::open_inner(
            Api::builtin(),
            path.as_ref(),
            options,
            Some(Box::new(handler)),
        )
    }

    fn open_inner(
        api: &'static Api,
        path: &Path,
        options: &OpenOptions,
        handler: Option<LogHandler>,
    ) -> Result<Tdb> {
        let name = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            Error::new(ErrorKind::Einval).with_message(Some("path contains a NUL byte".into()))
        })?;
        let hash_size = c_int::try_from(options.hash_size).map_err(|_| {
            Error::new(ErrorKind::Einval).with_message(Some("hash_size exceeds INT_MAX".into()))
        })?;
        let log = LogSink::allocate(handler);
        let log_ctx = ffi::tdb_logging_context {
            log_fn: Some(ffi::tdb_sys_log_trampoline),
            log_private: LogSink::as_log_private(log),
        };
        let (ctx, errno) = {
            let _guard = OPEN_CLOSE.lock().unwrap_or_else(PoisonError::into_inner);
            // SAFETY: `name` is NUL-terminated and outlives the call; tdb copies `log_ctx`
            // into the context, and the sink it points to lives until the context is
            // closed (Inner::shutdown) or, on failure, until below.
            let ctx = unsafe {
                (api.tdb_open_ex)(
                    name.as_ptr(),
                    hash_size,
                    options.tdb_flags as c_int,
                    options.open_flags,
                    options.mode as ffi::mode_t,
                    &log_ctx,
                    None,
                )
            };
            (ctx, io::Error::last_os_error().raw_os_error())
        };
        match NonNull::new(ctx) {
            Some(ctx) => {
                let inner = Inner {
                    api,
                    ctx,
                    log,
                    cursor_key_len: Cell::new(None),
                };
                inner.resume_log_panic();
                Ok(Tdb {
                    inner: Rc::new(inner),
                })
            }
            None => {
                // SAFETY: the open failed, so no context refers to the sink; the
                // reference made here ends before the sink is freed.
                let (message, panic) = unsafe {
                    let sink = log.as_ref();
                    (sink.explanation_since(0), sink.take_panic())
                };
                // SAFETY: as above; freed once, here.
                unsafe { LogSink::free(log) };
                if let Some(payload) = panic {
                    panic::resume_unwind(payload);
                }
                let code = match errno {
                    Some(libc::EINVAL) => ErrorKind::Einval,
                    Some(libc::ENOMEM) => ErrorKind::Oom,
                    _ => ErrorKind::Io,
                };
                Err(Error::new(code).with_os_error(errno).with_message(message))
            }
        }
    }

    /// `tdb_close`, reporting its result (dropping the handle ignores it).
    ///
    /// If a walk of this database is still running (the handle was moved out of a
    /// traverse callback), the close happens when the walk ends and this returns `Ok`.
    pub fn close(self) -> Result<()> {
        match Rc::try_unwrap(self.inner) {
            Ok(inner) => inner.close(),
            Err(_walk_in_progress) => Ok(()),
        }
    }

    pub(crate) fn call_unit(
        &self,
        call: impl FnOnce(&'static Api, *mut ffi::tdb_context) -> c_int,
    ) -> Result<()> {
        self.inner.call_rc(call).map(drop)
    }

    /// `tdb_store`.
    pub fn store(&mut self, key: &[u8], data: &[u8], flag: StoreFlag) -> Result<()> {
        // SAFETY: the context is open; key and data point to their slices' bytes, which
        // tdb only reads during the call.
        self.call_unit(|api, ctx| unsafe {
            (api.tdb_store)(ctx, datum(key), datum(data), flag.code())
        })
    }

    /// `tdb_fetch`: the record in a buffer tdb allocated (no copy), or `None` when the key
    /// does not exist (`Some` of an empty buffer for an existing empty record).
    pub fn fetch(&mut self, key: &[u8]) -> Result<Option<Data>> {
        // SAFETY: the context is open; the key is only read during the call.
        let (datum, mark) = self
            .inner
            .call(|api, ctx| unsafe { (api.tdb_fetch)(ctx, datum(key)) });
        // SAFETY: tdb_fetch returns a malloc'd buffer of dsize bytes (malloc(1) for an
        // empty record) that the caller frees, or NULL.
        match unsafe { Data::from_datum(datum) } {
            Some(data) => Ok(Some(data)),
            None => {
                let error = self.inner.error_since(mark);
                if error.code() == ErrorKind::NoExist {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// [`Tdb::fetch`] lending the data to `f` (`None` when the key does not exist).
    pub fn fetch_with<R>(&mut self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> Result<R> {
        Ok(f(self.fetch(key)?.as_deref()))
    }

    /// `tdb_exists`. C returns 0 on errors too; [`Tdb::error`] tells them apart.
    pub fn exists(&mut self, key: &[u8]) -> bool {
        // SAFETY: the context is open; the key is only read during the call.
        let (found, _) = self
            .inner
            .call(|api, ctx| unsafe { (api.tdb_exists)(ctx, datum(key)) });
        found == 1
    }

    /// `tdb_delete`; a missing key is `Err(NoExist)`.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        // SAFETY: the context is open; the key is only read during the call.
        self.call_unit(|api, ctx| unsafe { (api.tdb_delete)(ctx, datum(key)) })
    }

    /// `tdb_append`: creates the record if absent.
    pub fn append(&mut self, key: &[u8], data: &[u8]) -> Result<()> {
        // SAFETY: the context is open; key and data are only read during the call.
        self.call_unit(|api, ctx| unsafe { (api.tdb_append)(ctx, datum(key), datum(data)) })
    }

    /// `tdb_get_seqnum`: the stored sequence number (whether or not `TDB_SEQNUM` is set).
    pub fn get_seqnum(&self) -> i32 {
        // SAFETY: the context is open.
        self.inner
            .call(|api, ctx| unsafe { (api.tdb_get_seqnum)(ctx) })
            .0
    }

    /// `tdb_wipe_all`.
    pub fn wipe_all(&mut self) -> Result<()> {
        // SAFETY: the context is open.
        self.call_unit(|api, ctx| unsafe { (api.tdb_wipe_all)(ctx) })
    }

    /// `tdb_repack`.
    pub fn repack(&mut self) -> Result<()> {
        // SAFETY: the context is open.
        self.call_unit(|api, ctx| unsafe { (api.tdb_repack)(ctx) })
    }

    /// `tdb_check` without a record checker: `Err(Corrupt)` (with tdb's log explaining
    /// what) if the file is inconsistent.
    pub fn check(&mut self) -> Result<()> {
        // SAFETY: the context is open; a NULL checker is allowed.
        self.call_unit(|api, ctx| unsafe { (api.tdb_check)(ctx, None, ptr::null_mut()) })
    }

    /// `tdb_hash_size`.
    pub fn hash_size(&self) -> u32 {
        // SAFETY: the context is open.
        let size = self
            .inner
            .call(|api, ctx| unsafe { (api.tdb_hash_size)(ctx) })
            .0;
        size as u32
    }

    /// `tdb_get_flags`: the flags in effect (tdb adds some, e.g. `ALLOW_NESTING`).
    pub fn flags(&self) -> u32 {
        // SAFETY: the context is open.
        let flags = self
            .inner
            .call(|api, ctx| unsafe { (api.tdb_get_flags)(ctx) })
            .0;
        flags as u32
    }

    /// `tdb_fd`: the database's file descriptor; `None` for `TDB_INTERNAL`.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        // SAFETY: the context is open.
        let fd = self.inner.call(|api, ctx| unsafe { (api.tdb_fd)(ctx) }).0;
        // SAFETY: tdb keeps the descriptor open until the handle closes, which cannot
        // happen while `self` is borrowed.
        (fd >= 0).then(|| unsafe { BorrowedFd::borrow_raw(fd) })
    }

    /// `tdb_error`: the code of the last failure (`None` for `TDB_SUCCESS`). Sticky: tdb
    /// does not reset it on success.
    pub fn error(&self) -> Option<ErrorKind> {
        match self.inner.error_code() {
            ErrorKind::UNSET => None,
            code => Some(code),
        }
    }

    /// `tdb_transaction_active`.
    /// Always `false` on a loaded libtdb older than 1.3.14, which lacks the call.
    pub fn transaction_active(&self) -> bool {
        match self.inner.api.tdb_transaction_active {
            // SAFETY: the context is open.
            Some(active) => self.inner.call(|_, ctx| unsafe { active(ctx) }).0,
            None => false,
        }
    }

    /// `tdb_transaction_start` (blocking). Nests with `ALLOW_NESTING`, which 1.4.8 sets
    /// unless opened with `DISALLOW_NESTING`.
    pub fn transaction_start(&mut self) -> Result<()> {
        // SAFETY: the context is open.
        self.call_unit(|api, ctx| unsafe { (api.tdb_transaction_start)(ctx) })
    }

    /// `tdb_transaction_start_nonblock`: `Err(NoLock)` if another process holds the
    /// transaction lock.
    pub fn transaction_start_nonblock(&mut self) -> Result<()> {
        // SAFETY: the context is open.
        self.call_unit(|api, ctx| unsafe { (api.tdb_transaction_start_nonblock)(ctx) })
    }

    /// `tdb_transaction_prepare_commit`.
    pub fn transaction_prepare_commit(&mut self) -> Result<()> {
        // SAFETY: the context is open.
        self.call_unit(|api, ctx| unsafe { (api.tdb_transaction_prepare_commit)(ctx) })
    }

    /// `tdb_transaction_commit`. A nested commit only decrements the nesting.
    pub fn transaction_commit(&mut self) -> Result<()> {
        // SAFETY: the context is open.
        self.call_unit(|api, ctx| unsafe { (api.tdb_transaction_commit)(ctx) })
    }

    /// `tdb_transaction_cancel`. A nested cancel decrements the nesting and dooms the
    /// outer transaction (its commit fails with `Io`).
    pub fn transaction_cancel(&mut self) -> Result<()> {
        // SAFETY: the context is open.
        self.call_unit(|api, ctx| unsafe { (api.tdb_transaction_cancel)(ctx) })
    }

    /// `tdb_firstkey`: the first key (keeping a read lock on its record), `None` on an
    /// empty database.
    pub fn firstkey(&mut self) -> Result<Option<Data>> {
        // SAFETY: the context is open.
        let (key, mark) = self
            .inner
            .call(|api, ctx| unsafe { (api.tdb_firstkey)(ctx) });
        self.cursor_result(key, mark)
    }

    /// `tdb_nextkey`: the key after `key`, `None` after the last one; `Err(NoExist)` if
    /// `key` is gone and was not the one under the cursor.
    ///
    /// tdb 1.4.8 compares `key` with the key under its cursor over `key`'s length, reading
    /// past that key's buffer when `key` is longer. So a `key` longer than the last key
    /// firstkey/nextkey returned on this handle is refused with `Err(Einval)` (pass the key
    /// you were given). After a firstkey/nextkey that failed other than with `NoExist`,
    /// only an empty key is accepted until the next successful call.
    pub fn nextkey(&mut self, key: &[u8]) -> Result<Option<Data>> {
        if let Some(cursor_len) = self.inner.cursor_key_len.get() {
            if key.len() > cursor_len {
                return Err(Error::new(ErrorKind::Einval).with_message(Some(format!(
                    "nextkey: a {}-byte key is longer than the {}-byte key under the \
                     cursor; tdb would read past its buffer",
                    key.len(),
                    cursor_len
                ))));
            }
        }
        // SAFETY: the context is open; the key is only read during the call, and (see
        // above) tdb's comparison stays inside the cursor key's buffer.
        let (next, mark) = self
            .inner
            .call(|api, ctx| unsafe { (api.tdb_nextkey)(ctx, datum(key)) });
        self.cursor_result(next, mark)
    }

    /// Shared tail of firstkey/nextkey: NULL with `TDB_SUCCESS` is the end of the walk.
    fn cursor_result(&mut self, key: ffi::TDB_DATA, mark: u64) -> Result<Option<Data>> {
        // SAFETY: firstkey/nextkey return a malloc'd key the caller frees, or NULL.
        let key = unsafe { Data::from_datum(key) };
        let result = match key {
            Some(key) => Ok(Some(key)),
            None => match self.inner.error_code() {
                ErrorKind::UNSET => Ok(None),
                _ => Err(self.inner.error_since(mark)),
            },
        };
        // The cursor now sits on the returned key; at the end on nothing. `NoExist` comes
        // only from nextkey's fresh lookup of the key passed, which has left the cursor on
        // nothing (C then compares no key: a later nextkey with any key is a plain lookup,
        // as a traced walk over a vanished key needs). After another error the cursor may
        // be on an unknown record, whose key may be as short as 0 bytes.
        self.inner.cursor_key_len.set(match &result {
            Ok(Some(key)) => Some(key.len()),
            Ok(None) => None,
            Err(error) if error.code() == ErrorKind::NoExist => None,
            Err(_) => Some(0),
        });
        result
    }

    /// Installs a log handler, called for every message tdb logs on this handle
    /// (messages are still remembered for errors and [`Tdb::recent_log`]). A panic in the
    /// handler is re-raised when the tdb call that logged returns.
    pub fn set_log_handler(&mut self, handler: impl FnMut(&LogMessage) + 'static) {
        self.inner.log().set_handler(Some(Box::new(handler)));
    }

    /// Removes the log handler.
    pub fn clear_log_handler(&mut self) {
        self.inner.log().set_handler(None);
    }

    /// The last messages tdb logged on this handle (up to 16), oldest first.
    pub fn recent_log(&self) -> Vec<LogMessage> {
        self.inner.log().recent()
    }

    /// Forgets the remembered messages.
    pub fn clear_log(&mut self) {
        self.inner.log().clear();
    }
}
