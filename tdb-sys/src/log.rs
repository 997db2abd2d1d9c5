//! tdb's log messages.
//!
//! tdb logs through a printf-style variadic callback. The C shim
//! (`tdb_sys_log_trampoline`) formats each message into a bounded buffer and passes it
//! to [`emit`] through the `tdb_sys_log_sink` stored as the handle's `log_private`. Each
//! handle keeps its last few messages (so that errors can carry tdb's explanation) and
//! optionally calls a user handler.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::c_void;
use std::fmt;
use std::os::raw::{c_char, c_int};
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;

use crate::ffi;

/// How many messages a handle remembers.
const RECENT_CAPACITY: usize = 16;

/// tdb's `enum tdb_debug_level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum LogLevel {
    /// `TDB_DEBUG_FATAL`.
    Fatal,
    /// `TDB_DEBUG_ERROR`.
    Error,
    /// `TDB_DEBUG_WARNING`.
    Warning,
    /// `TDB_DEBUG_TRACE`: chatter such as transaction nesting.
    Trace,
    /// A level tdb.h does not define, carried verbatim.
    Other(i32),
}

impl LogLevel {
    fn from_raw(level: c_int) -> LogLevel {
        match u32::try_from(level) {
            Ok(ffi::tdb_debug_level_TDB_DEBUG_FATAL) => LogLevel::Fatal,
            Ok(ffi::tdb_debug_level_TDB_DEBUG_ERROR) => LogLevel::Error,
            Ok(ffi::tdb_debug_level_TDB_DEBUG_WARNING) => LogLevel::Warning,
            Ok(ffi::tdb_debug_level_TDB_DEBUG_TRACE) => LogLevel::Trace,
            _ => LogLevel::Other(level),
        }
    }

    /// Whether a message of this level explains a failure (warning or worse).
    fn explains_errors(self) -> bool {
        matches!(self, LogLevel::Fatal | LogLevel::Error | LogLevel::Warning)
    }
}

/// One message tdb logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogMessage {
    /// Its severity.
    pub level: LogLevel,
    /// The formatted text, without the trailing newline (cut at 1023 bytes; invalid UTF-8
    /// replaced).
    pub text: String,
}

impl fmt::Display for LogMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.level, self.text)
    }
}

/// A user's log handler; called for every message, in the thread of the tdb call.
pub(crate) type LogHandler = Box<dyn FnMut(&LogMessage)>;

/// One handle's log state. Allocated once per handle and never moved: C holds a pointer to
/// `raw` (the first field of this `repr(C)` struct, so it is also a pointer to `self`).
/// Everything mutable is in cells, as the sink is reached through shared references from
/// C while Rust holds the handle.
#[repr(C)]
pub(crate) struct LogSink {
    raw: ffi::tdb_sys_log_sink,
    recent: RefCell<VecDeque<LogMessage>>,
    /// Messages received so far.
    count: Cell<u64>,
    handler: RefCell<Option<LogHandler>>,
    /// A panic of the handler, to be re-raised once the C call returns.
    panic: RefCell<Option<Box<dyn Any + Send>>>,
}

impl LogSink {
    /// A new sink on the heap; free it with [`LogSink::free`] once tdb is closed.
    pub(crate) fn allocate(handler: Option<LogHandler>) -> NonNull<LogSink> {
        let sink = Box::new(LogSink {
            raw: ffi::tdb_sys_log_sink {
                emit: Some(emit),
                state: std::ptr::null_mut(),
            },
            recent: RefCell::new(VecDeque::with_capacity(RECENT_CAPACITY)),
            count: Cell::new(0),
            handler: RefCell::new(handler),
            panic: RefCell::new(None),
        });
        let sink = NonNull::from(Box::leak(sink));
        // SAFETY: `sink` was just leaked from a Box, so it is valid and nothing else
        // refers to it yet.
        unsafe { (*sink.as_ptr()).raw.state = sink.as_ptr().cast() };
        sink
    }

    /// Frees a sink made by [`LogSink::allocate`].
    ///
    /// # Safety
    /// `sink` came from `allocate`, is freed once, and no tdb_context refers to it any
    /// more (its handle is closed), nor does any reference made from it live on.
    pub(crate) unsafe fn free(sink: NonNull<LogSink>) {
        // SAFETY: per the contract, the pointer is the leaked Box and is now unused.
        drop(unsafe { Box::from_raw(sink.as_ptr()) });
    }

    /// The `log_private` value for `tdb_logging_context`.
    pub(crate) fn as_log_private(sink: NonNull<LogSink>) -> *mut c_void {
        sink.as_ptr().cast()
    }

    /// A position in the message stream, for [`LogSink::explanation_since`].
    pub(crate) fn mark(&self) -> u64 {
        self.count.get()
    }

    /// The warning-or-worse messages received since `mark` (one per line), if any are
    /// still remembered.
    pub(crate) fn explanation_since(&self, mark: u64) -> Option<String> {
        let recent = self.recent.borrow();
        let first_kept = self.count.get() - recent.len() as u64;
        let skip = usize::try_from(mark.saturating_sub(first_kept)).unwrap_or(usize::MAX);
        let lines: Vec<&str> = recent
            .iter()
            .skip(skip)
            .filter(|message| message.level.explains_errors())
            .map(|message| message.text.as_str())
            .collect();
        (!lines.is_empty()).then(|| lines.join("\n"))
    }

    /// The last messages received (up to 16), oldest first.
    pub(crate) fn recent(&self) -> Vec<LogMessage> {
        self.recent.borrow().iter().cloned().collect()
    }

    /// Forgets the remembered messages.
    pub(crate) fn clear(&self) {
        self.recent.borrow_mut().clear();
    }

    /// Installs (or with `None` removes) the user's handler.
    pub(crate) fn set_handler(&self, handler: Option<LogHandler>) {
        *self.handler.borrow_mut() = handler;
    }

    /// Takes a panic the handler raised, if any.
    pub(crate) fn take_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.panic.borrow_mut().take()
    }

    fn record(&self, message: LogMessage) {
        {
            let mut recent = self.recent.borrow_mut();
            if recent.len() == RECENT_CAPACITY {
                recent.pop_front();
            }
            recent.push_back(message.clone());
        }
        self.count.set(self.count.get() + 1);

        // A handler that reaches tdb again (and so logs from inside itself) is skipped
        // rather than re-entered.
        let Ok(mut handler) = self.handler.try_borrow_mut() else {
            return;
        };
        let Some(handler) = handler.as_mut() else {
            return;
        };
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| handler(&message))) {
            self.panic.borrow_mut().get_or_insert(payload);
        }
    }
}

/// The sink's `emit`, called by `tdb_sys_log_trampoline` for every message.
///
/// # Safety
/// `state` is the `state` field of a live [`LogSink`] (set up by `allocate`), and
/// `message` points to `len` readable bytes.
unsafe extern "C" fn emit(
    state: *mut c_void,
    _tdb: *mut ffi::tdb_context,
    level: c_int,
    message: *const c_char,
    len: usize,
) {
    // Nothing may unwind into C: the only panics possible here are allocation failures
    // and RefCell conflicts, and the handler's own panics are caught in `record`.
    let _ = panic::catch_unwind(|| {
        // SAFETY: per the contract the sink is alive; only shared references to it exist
        // while C runs (Rust code never holds a `&mut LogSink`).
        let sink = unsafe { &*state.cast::<LogSink>() };
        let bytes = if message.is_null() {
            &[][..]
        } else {
            // SAFETY: the shim passes its NUL-terminated buffer and the length before
            // the NUL; the buffer outlives this call.
            unsafe { std::slice::from_raw_parts(message.cast::<u8>(), len) }
        };
        let text = String::from_utf8_lossy(bytes).trim_end().to_owned();
        sink.record(LogMessage {
            level: LogLevel::from_raw(level),
            text,
        });
    });
    // A panic here only loses this message; it must not reach C.
}
