//! The recorded handles, and the guard every wrapper passes before it records.
//!
//! A fixed table of slots maps a `tdb_context` pointer to its trace. A wrapper first
//! reads the count of recorded handles: when it is zero (nothing recorded, or only
//! databases `--db` filtered out) that one branch is all the wrapper adds to the call.
//! Otherwise it scans the slots in use (a few pointer compares; lock-free, so a fork
//! in another thread cannot leave the table locked).
//!
//! The guard is a per-thread depth: a wrapper that records enters it, and a tdb call
//! made while it is entered (libtdb calling its own exported functions, as Debian's
//! libtdb does through its PLT: `tdb_open` calls `tdb_open_ex`, `tdb_wipe_all` calls
//! `tdb_lockall`) is forwarded untraced, so one call makes one line. A traverse
//! callback runs the program's own code: the guard is lowered around it
//! ([`Call::outside`]), so the calls it makes are recorded in place.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use replay_engine::record::{trace_file_name, Layout};
use replay_engine::trace::writer::TraceWriter;

use crate::config::{self, warn};
use crate::ffi::{real, TdbContext};

/// At most this many handles are recorded at once in one process (more are run, not
/// recorded, with a warning).
const SLOTS: usize = 64;

/// One recorded handle's trace.
pub struct Trace {
    /// The database as the program named it.
    pub db: PathBuf,
    /// The directory of the trace files.
    pub dir: PathBuf,
    /// The line layout.
    pub layout: Layout,
    /// The `tdb_open` line's words: hash size, tdb flags, open flags.
    pub open_words: (u32, u32, i32),
    /// The process whose file `file` is (after a fork the child opens its own).
    pub pid: u32,
    /// The trace file; `None` once writing failed (tracing stops, as in C).
    pub file: Option<File>,
    /// Transaction levels open (Samba's layout does not trace nested starts; a close
    /// with one open writes its cancel first).
    pub depth: u32,
    /// Read traverses under way (a write traverse inside one runs as a read one).
    pub read_traverses: u32,
}

struct Slot {
    handle: AtomicPtr<TdbContext>,
    trace: Mutex<Option<Trace>>,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            handle: AtomicPtr::new(std::ptr::null_mut()),
            trace: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Trace>> {
        self.trace
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];
/// Handles recorded now.
static RECORDED: AtomicUsize = AtomicUsize::new(0);
/// Slots ever used (the scan's bound).
static USED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Recording wrappers entered on this thread (and not stepped out of).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The line being written: the one buffer the recording allocates, grown to the
    /// longest line and reused.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A recording call in progress on a recorded handle (holds the guard).
pub struct Call {
    tdb: *mut TdbContext,
    slot: &'static Slot,
}

impl Call {
    /// The guard for a call on `tdb`, if the call is to be recorded: `tdb` is recorded
    /// and no recording wrapper is already running on this thread.
    #[inline]
    pub fn enter(tdb: *mut TdbContext) -> Option<Call> {
        if RECORDED.load(Ordering::Relaxed) == 0 {
            return None;
        }
        Self::enter_recorded(tdb)
    }

    fn enter_recorded(tdb: *mut TdbContext) -> Option<Call> {
        if DEPTH.get() > 0 {
            return None;
        }
        let slot = find(tdb)?;
        DEPTH.set(1);
        Some(Call { tdb, slot })
    }

    /// The handle.
    pub fn tdb(&self) -> *mut TdbContext {
        self.tdb
    }

    /// Run `f` with the guard lowered: the program's own code (a traverse callback).
    pub fn outside<R>(&self, f: impl FnOnce() -> R) -> R {
        let depth = DEPTH.replace(0);
        let result = f();
        DEPTH.set(depth);
        result
    }

    /// Read or change the handle's trace state.
    pub fn with<R>(&self, f: impl FnOnce(&mut Trace) -> R) -> Option<R> {
        self.slot.lock().as_mut().map(f)
    }

    /// The header's sequence number now, read as C's tracing reads it (through the
    /// transaction's copy when one is open).
    pub fn seqnum(&self) -> i32 {
        // SAFETY: a live handle the program passed to the call in progress.
        unsafe { real::tdb_get_seqnum(self.tdb) }
    }

    /// Write one line with the current sequence number.
    pub fn line(&self, write: impl FnOnce(&mut TraceWriter<&mut Vec<u8>>, i32) -> io::Result<()>) {
        self.line_at(self.seqnum(), write)
    }

    /// Write one line with sequence number `seqnum`, in one write(2).
    pub fn line_at(
        &self,
        seqnum: i32,
        write: impl FnOnce(&mut TraceWriter<&mut Vec<u8>>, i32) -> io::Result<()>,
    ) {
        let mut guard = self.slot.lock();
        let Some(trace) = guard.as_mut() else {
            return;
        };
        if trace.pid != config::pid() {
            start_child_file(trace, seqnum);
        }
        let Some(file) = trace.file.as_mut() else {
            return;
        };
        let written = LINE.with_borrow_mut(|line| {
            line.clear();
            write(&mut TraceWriter::new(&mut *line), seqnum)?;
            file.write_all(line)
        });
        if let Err(error) = written {
            stop(trace, &error);
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        DEPTH.set(DEPTH.get().saturating_sub(1));
    }
}

/// Whether this thread is inside a recording wrapper (an open made there is libtdb's
/// own, such as `tdb_repack`'s internal temporary database).
pub fn nested() -> bool {
    DEPTH.get() > 0
}

/// Run `f` as a recording wrapper would (calls it makes are libtdb's own).
pub fn guarded<R>(f: impl FnOnce() -> R) -> R {
    DEPTH.set(DEPTH.get() + 1);
    let result = f();
    DEPTH.set(DEPTH.get().saturating_sub(1));
    result
}

fn find(tdb: *mut TdbContext) -> Option<&'static Slot> {
    let used = USED.load(Ordering::Acquire);
    TABLE[..used]
        .iter()
        .find(|slot| slot.handle.load(Ordering::Acquire) == tdb)
}

/// Record `tdb` from now on, writing its `tdb_open` line. Returns false (the handle runs
/// unrecorded) if its trace file cannot be created or the table is full.
pub fn register(tdb: *mut TdbContext, mut trace: Trace) -> bool {
    let path = trace.dir.join(trace_file_name(&trace.db, trace.pid));
    match create(&path) {
        Ok(file) => trace.file = Some(file),
        Err(error) => {
            warn(&format!(
                "not recording this open of {}: cannot create {}: {error}",
                trace.db.display(),
                path.display()
            ));
            return false;
        }
    }
    let open_words = trace.open_words;
    for (index, slot) in TABLE.iter().enumerate() {
        let claimed = slot.handle.compare_exchange(
            std::ptr::null_mut(),
            tdb,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
        if claimed.is_ok() {
            *slot.lock() = Some(trace);
            USED.fetch_max(index + 1, Ordering::AcqRel);
            RECORDED.fetch_add(1, Ordering::AcqRel);
            let (hash_size, tdb_flags, open_flags) = open_words;
            DEPTH.set(DEPTH.get() + 1);
            let call = Call { tdb, slot };
            call.line(|out, seqnum| out.open(seqnum, hash_size, tdb_flags, open_flags));
            return true;
        }
    }
    // The file stays, holding no line: nothing replays it.
    let _ = std::fs::remove_file(&path);
    warn(&format!(
        "not recording {}: {SLOTS} handles are recorded already",
        trace.db.display()
    ));
    false
}

/// Stop recording `tdb` (at its close); the trace state it had, if it was recorded.
pub fn unregister(tdb: *mut TdbContext) -> Option<Trace> {
    let slot = find(tdb)?;
    let trace = slot.lock().take();
    slot.handle.store(std::ptr::null_mut(), Ordering::Release);
    RECORDED.fetch_sub(1, Ordering::AcqRel);
    trace
}

/// The trace file at `path`: created exclusively, mode 0600, closed on exec (std opens
/// with O_CLOEXEC), as tdb's tracing creates it.
fn create(path: &std::path::Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// In a forked child, its first line on a handle inherited from the parent: the child's
/// own file, starting with the handle's `tdb_open` line.
fn start_child_file(trace: &mut Trace, seqnum: i32) {
    trace.pid = config::pid();
    // The parent's file stays the parent's: only the child's copy of it is closed.
    trace.file = None;
    let path = trace.dir.join(trace_file_name(&trace.db, trace.pid));
    let mut file = match create(&path) {
        Ok(file) => file,
        Err(error) => {
            warn(&format!("cannot create {}: {error}", path.display()));
            return;
        }
    };
    let (hash_size, tdb_flags, open_flags) = trace.open_words;
    let written = LINE.with_borrow_mut(|line| {
        line.clear();
        TraceWriter::new(&mut *line).open(seqnum, hash_size, tdb_flags, open_flags)?;
        file.write_all(line)
    });
    match written {
        Ok(()) => trace.file = Some(file),
        Err(error) => warn(&format!("cannot write {}: {error}", path.display())),
    }
}

/// A write failed: this handle's tracing stops (C's does the same).
fn stop(trace: &mut Trace, error: &io::Error) {
    trace.file = None;
    warn(&format!(
        "recording of {} stopped: {error}",
        trace.db.display()
    ));
}
