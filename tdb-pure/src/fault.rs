//! Fault injection for crash tests: a hook called before every change tdb-pure makes to
//! a database file (a write, through the mapping or with `pwrite`; a growth; a truncation;
//! a sync), so a test can count these points and make the process die at any one of them
//! exactly as a `SIGKILL` there would, optionally after writing only part of the buffer (a
//! torn write), or make the call fail as an I/O error would.
//!
//! The hook belongs to one handle ([`crate::Tdb::set_fault_hook`], or
//! [`crate::Tdb::open_with_fault_hook`] to cover the recovery run by `open`) and is off
//! by default. It is compiled in always, so the tests exercise the very code that ships:
//! when off it costs one `Option` test per file write or sync, nothing next to the
//! system call or page copy it guards, and no read path is touched.

use std::fmt;

/// A change to the database file that is about to happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPoint {
    /// `len` bytes are about to be written at database offset `off`.
    Write {
        /// Offset in the database.
        off: u32,
        /// Bytes to write.
        len: usize,
    },
    /// The file is about to grow to `to` bytes (`posix_fallocate`).
    Grow {
        /// New size of the database.
        to: u64,
    },
    /// The file is about to be truncated to `to` bytes (creation, `TDB_CLEAR_IF_FIRST`).
    Truncate {
        /// New size of the database.
        to: u64,
    },
    /// `fdatasync` is about to be called (a sync point of a commit or of a recovery).
    Sync,
}

/// What the hook wants done at a [`FaultPoint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Carry on.
    Proceed,
    /// Die now with `SIGKILL`, before the change: nothing of it reaches the file.
    Crash,
    /// Write only the first `n` bytes of the buffer (at most its length), then die with
    /// `SIGKILL`. At a point other than a write, the same as [`FaultAction::Crash`].
    TornWrite(usize),
    /// Skip the change and fail the call with `TDB_ERR_IO`, as a failing disk would.
    Fail,
}

/// The hook: called with every point, in order, before the change is made.
pub type FaultHook = Box<dyn FnMut(FaultPoint) -> FaultAction + Send>;

/// A hook held by the I/O layer.
pub(crate) struct Hook(pub(crate) FaultHook);

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FaultHook")
    }
}

/// End the process at once with `SIGKILL`: no destructor, no buffered output, no further
/// byte reaches the file, exactly as when another process kills this one.
pub(crate) fn crash() -> ! {
    // SAFETY: plain syscalls without memory arguments; SIGKILL cannot be caught, so the
    // process ends here.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
        // Not reached; `_exit` only if the kernel somehow let this process run on.
        libc::_exit(137)
    }
}
