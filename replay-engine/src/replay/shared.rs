//! The memory the supervisor and its worker processes share: one slot per trace with the
//! number of ops it has finished (a dependency "wait for op p of trace t" is simply
//! "wait until `progress[t] > p`", because every trace runs in order), what it is doing,
//! and a start barrier. Waiting uses futexes on the counters, so a wake-up costs one
//! system call and nobody polls.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use super::latency::SharedLatencies;

/// What a worker is doing, as the supervisor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Activity {
    /// Not started (opening the database).
    Starting = 0,
    /// Opened, waiting for the start signal.
    Ready = 1,
    /// Running an op (possibly blocked inside tdb on a lock).
    Running = 2,
    /// Waiting for another trace's op.
    WaitingForDependency = 3,
    /// Finished every op.
    Done = 4,
    /// Gave up (a mismatch or an error; the details come through its pipe).
    Failed = 5,
}

impl Activity {
    fn from_u32(value: u32) -> Activity {
        match value {
            1 => Activity::Ready,
            2 => Activity::Running,
            3 => Activity::WaitingForDependency,
            4 => Activity::Done,
            5 => Activity::Failed,
            _ => Activity::Starting,
        }
    }
}

/// One trace's slot.
#[repr(C)]
pub struct Slot {
    /// Ops finished (op `k` finished means progress > k).
    pub progress: AtomicU32,
    /// Processes sleeping on `progress`.
    pub sleepers: AtomicU32,
    /// [`Activity`] as a number.
    pub activity: AtomicU32,
    /// The op being run or waited at.
    pub current_op: AtomicU32,
    /// While waiting: the trace waited for.
    pub waiting_file: AtomicU32,
    /// While waiting: the op waited for.
    pub waiting_op: AtomicU32,
    /// Monotonic clock (ns) when the last op finished.
    pub finished_ns: AtomicU64,
}

/// Header of the shared region.
#[repr(C)]
struct Header {
    /// 0 = hold, 1 = go, 2 = abort.
    start: AtomicU32,
    slots: u32,
}

/// The start flag's values.
const HOLD: u32 = 0;
const GO: u32 = 1;
const ABORT: u32 = 2;

/// An anonymous shared mapping, inherited by forked workers.
pub struct SharedState {
    base: NonNull<u8>,
    len: usize,
    slots: usize,
    /// A second mapping: one [`SharedLatencies`] per slot.
    latencies: NonNull<SharedLatencies>,
    latencies_len: usize,
}

// SAFETY: the mapping holds only atomics and an immutable count; every access goes
// through atomic operations, so sharing references across threads is sound.
unsafe impl Sync for SharedState {}
// SAFETY: the mapping is not tied to the creating thread.
unsafe impl Send for SharedState {}

/// A fresh anonymous shared mapping of `len` bytes (zeroed), inherited by forked
/// children.
fn map_anonymous_shared(len: usize) -> std::io::Result<NonNull<u8>> {
    // SAFETY: an anonymous shared mapping with no address hint; the result is checked
    // against MAP_FAILED before use.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(NonNull::new(ptr.cast::<u8>()).expect("mmap never returns null on success"))
}

impl SharedState {
    /// Map a region with `slots` trace slots.
    pub fn new(slots: usize) -> std::io::Result<SharedState> {
        let len = std::mem::size_of::<Header>() + slots * std::mem::size_of::<Slot>();
        let base = map_anonymous_shared(len)?;
        let latencies_len = slots.max(1) * std::mem::size_of::<SharedLatencies>();
        let latencies = match map_anonymous_shared(latencies_len) {
            Ok(latencies) => latencies.cast::<SharedLatencies>(),
            Err(error) => {
                // SAFETY: unmapping exactly the region mapped above, which nothing borrows.
                unsafe {
                    libc::munmap(base.as_ptr().cast(), len);
                }
                return Err(error);
            }
        };
        let state = SharedState {
            base,
            len,
            slots,
            latencies,
            latencies_len,
        };
        // Anonymous mappings are zero-filled: every atomic starts at 0 (Starting, HOLD).
        state.header_slots_init(slots as u32);
        Ok(state)
    }

    fn header(&self) -> &Header {
        // SAFETY: the mapping starts with a Header, is page-aligned (enough for it) and
        // lives as long as self; zero bytes are a valid Header.
        unsafe { &*self.base.as_ptr().cast::<Header>() }
    }

    fn header_slots_init(&self, slots: u32) {
        // SAFETY: called once, right after mapping and before any other process exists,
        // so nobody else reads `slots` while it is written.
        unsafe {
            (*self.base.as_ptr().cast::<Header>()).slots = slots;
        }
    }

    /// The number of trace slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Slot of trace `index`.
    pub fn slot(&self, index: usize) -> &Slot {
        assert!(index < self.slots, "slot {index} out of {}", self.slots);
        let offset = std::mem::size_of::<Header>() + index * std::mem::size_of::<Slot>();
        // SAFETY: offset + size_of::<Slot>() <= len by the assertion and the length
        // computed in new(); Header and Slot are multiples of 8 bytes so the slot is
        // aligned; zero bytes are a valid Slot; the mapping outlives &self.
        unsafe { &*self.base.as_ptr().add(offset).cast::<Slot>() }
    }

    /// The latency histograms of trace `index` (written by its worker when it is done).
    pub fn latencies(&self, index: usize) -> &SharedLatencies {
        assert!(index < self.slots, "slot {index} out of {}", self.slots);
        // SAFETY: the second mapping holds `slots` SharedLatencies back to back, is
        // page-aligned, zero-filled (a valid, empty SharedLatencies: atomics only) and
        // outlives &self.
        unsafe { &*self.latencies.as_ptr().add(index) }
    }

    /// Reset every slot for a new run.
    pub fn reset(&self) {
        self.header().start.store(HOLD, Ordering::SeqCst);
        for index in 0..self.slots {
            let slot = self.slot(index);
            slot.progress.store(0, Ordering::SeqCst);
            slot.sleepers.store(0, Ordering::SeqCst);
            slot.activity
                .store(Activity::Starting as u32, Ordering::SeqCst);
            slot.current_op.store(0, Ordering::SeqCst);
            slot.waiting_file.store(0, Ordering::SeqCst);
            slot.waiting_op.store(0, Ordering::SeqCst);
            slot.finished_ns.store(0, Ordering::SeqCst);
            self.latencies(index).clear();
        }
    }

    /// The activity of trace `index`.
    pub fn activity(&self, index: usize) -> Activity {
        Activity::from_u32(self.slot(index).activity.load(Ordering::SeqCst))
    }

    /// Set the activity of trace `index`.
    pub fn set_activity(&self, index: usize, activity: Activity) {
        self.slot(index)
            .activity
            .store(activity as u32, Ordering::SeqCst);
    }

    /// Release every worker.
    pub fn go(&self) {
        let start = &self.header().start;
        start.store(GO, Ordering::SeqCst);
        futex_wake(start);
    }

    /// Tell every worker to stop.
    pub fn abort(&self) {
        let start = &self.header().start;
        start.store(ABORT, Ordering::SeqCst);
        futex_wake(start);
        for index in 0..self.slots {
            futex_wake(&self.slot(index).progress);
        }
    }

    /// Whether the run was aborted.
    pub fn aborted(&self) -> bool {
        self.header().start.load(Ordering::SeqCst) == ABORT
    }

    /// Block until the start signal; false if the run was aborted instead.
    pub fn wait_for_start(&self) -> bool {
        let start = &self.header().start;
        loop {
            match start.load(Ordering::SeqCst) {
                GO => return true,
                ABORT => return false,
                _ => futex_wait(start, HOLD, Some(Duration::from_millis(100))),
            }
        }
    }

    /// Mark op `op` of trace `index` finished and wake whoever waits for it.
    #[inline]
    pub fn finish_op(&self, index: usize, op: u32) {
        let slot = self.slot(index);
        slot.progress.store(op + 1, Ordering::SeqCst);
        if slot.sleepers.load(Ordering::SeqCst) != 0 {
            futex_wake(&slot.progress);
        }
    }

    /// Block until trace `target_file` has finished op `target`; false if aborted.
    pub fn wait_for(&self, target_file: usize, target: u32) -> bool {
        let slot = self.slot(target_file);
        let done = || slot.progress.load(Ordering::SeqCst) > target;
        for _ in 0..64 {
            if done() {
                return true;
            }
            std::hint::spin_loop();
        }
        loop {
            if done() {
                return true;
            }
            if self.aborted() {
                return false;
            }
            slot.sleepers.fetch_add(1, Ordering::SeqCst);
            let seen = slot.progress.load(Ordering::SeqCst);
            if seen <= target {
                futex_wait(&slot.progress, seen, Some(Duration::from_millis(50)));
            }
            slot.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for SharedState {
    fn drop(&mut self) {
        // SAFETY: base and len are exactly what mmap returned; nothing borrows the region
        // once self is being dropped.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.len);
            libc::munmap(self.latencies.as_ptr().cast(), self.latencies_len);
        }
    }
}

/// Sleep while `word` holds `expected` (or until woken, or the timeout).
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let spec = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let spec_ptr = spec
        .as_ref()
        .map_or(std::ptr::null(), |s| s as *const libc::timespec);
    // SAFETY: FUTEX_WAIT (shared, not private: the word may live in memory shared between
    // processes) reads the aligned u32 behind `word`, which outlives the call; the
    // timeout pointer is null or points at a timespec on this stack frame. Spurious
    // returns (EINTR, EAGAIN, timeout) are fine: every caller re-checks in a loop.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            spec_ptr,
        );
    }
}

/// Wake every process sleeping on `word`.
fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key; `word` is a live aligned u32.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

/// The monotonic clock in nanoseconds (comparable between processes, unlike `Instant`).
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to a valid pointer; CLOCK_MONOTONIC always
    // exists on Linux.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
    }
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}
