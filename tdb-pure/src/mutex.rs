//! Robust-mutex locking (`TDB_MUTEX_LOCKING`): the chain, freelist and all-record locks
//! of a mutex file are process-shared robust pthread mutexes that live in the file itself,
//! in an area in front of the database. This module is the crate's pthread boundary.
//!
//! ```text
//! file offset                       (x86-64 glibc: 40-byte mutexes, 4 KiB pages)
//!   0                     168       copy of the header (feature flags, mutex_size)
//!   align(168)            M         allrecord mutex                    168..208
//!   + M                   2         allrecord state: a short holding   208..210
//!                                   F_UNLCK / F_RDLCK / F_WRLCK
//!   align(+2)             M         chain mutex 0: the freelist        216..256
//!   + M * (1 + b)         M         chain mutex 1 + b: bucket b        256..
//!   rounded up to the page size = mutex_size; the database (second header, heads,
//!   records) starts there and every tdb offset is relative to it.
//! ```
//!
//! The area's size is C's `tdb_mutex_size`: `sizeof(struct tdb_mutexes)` (header,
//! allrecord mutex, state, one chain mutex, padded to the mutex alignment) plus one
//! mutex per bucket, rounded up to the page size. The mutexes are initialised as C does
//! (error-checking, process-shared, robust), through `pthread_mutex_init` on the mapped
//! memory, so their bytes are exactly what C writes.
//!
//! The locking protocol is C's (`common/mutex.c`): a chain lock takes the chain's
//! mutex (read and write alike: mutexes do not share); unless the handle already holds
//! another chain mutex, it then looks at the allrecord state and, if an all-record lock
//! of a conflicting type is held, lets go of the chain, waits on the allrecord mutex and
//! starts again. The all-record lock takes the allrecord mutex, sets the state, then
//! takes and releases every chain mutex in turn (so that every chain holder has left)
//! and keeps the allrecord mutex until it is released. A holder that died leaves its
//! mutex to the next locker with `EOWNERDEAD`: the lock is marked consistent (and a
//! dead all-record holder's state reset to unlocked), as C does.

use std::fs::File;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI16, Ordering};
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::header::{data_start, FREELIST_TOP, HEADER_SIZE};
use crate::lock::LockType;
use crate::mmap::Map;

/// Where the parts of `struct tdb_mutexes` lie, for this platform's `pthread_mutex_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Offset of the allrecord mutex.
    pub allrecord: usize,
    /// Offset of the allrecord state (a C `short`).
    pub state: usize,
    /// Offset of chain mutex 0 (the freelist); chain mutex `i` follows at `i * mutex`.
    pub chains: usize,
    /// `sizeof(struct tdb_mutexes)` (with one chain mutex).
    pub struct_size: usize,
    /// `sizeof(pthread_mutex_t)`.
    pub mutex: usize,
}

fn align_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

/// The layout C's compiler gives `struct tdb_mutexes` on this platform.
pub fn layout() -> Layout {
    let mutex = std::mem::size_of::<libc::pthread_mutex_t>();
    let align = std::mem::align_of::<libc::pthread_mutex_t>();
    let allrecord = align_up(HEADER_SIZE as usize, align);
    let state = allrecord + mutex;
    let chains = align_up(state + std::mem::size_of::<libc::c_short>(), align);
    let struct_align = align.max(std::mem::align_of::<u32>());
    Layout {
        allrecord,
        state,
        chains,
        struct_size: align_up(chains + mutex, struct_align),
        mutex,
    }
}

/// The page size C rounds the area to (`getpagesize()`, 0x2000 if unknown).
pub fn page_size() -> usize {
    // SAFETY: sysconf only reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(0x2000)
}

/// `tdb_mutex_size`: bytes of the mutex area for `hash_size` buckets, or `None` if it
/// would not fit the header's 32-bit `mutex_size` field.
pub fn mutex_size(hash_size: u32) -> Option<u32> {
    let l = layout();
    let size = (hash_size as usize)
        .checked_mul(l.mutex)?
        .checked_add(l.struct_size)?;
    u32::try_from(align_up(size, page_size())).ok()
}

/// The values of `F_UNLCK`, `F_RDLCK` and `F_WRLCK` as C stores them in the state.
fn state_value(ltype: Option<LockType>) -> i16 {
    (match ltype {
        None => libc::F_UNLCK,
        Some(LockType::Read) => libc::F_RDLCK,
        Some(LockType::Write) => libc::F_WRLCK,
    }) as i16
}

/// The attributes C gives every mutex of the area: error-checking, process-shared,
/// robust. Destroyed on drop.
struct Attr(libc::pthread_mutexattr_t);

impl Attr {
    fn new() -> std::result::Result<Attr, i32> {
        // SAFETY: an all-zero pthread_mutexattr_t is a valid place for
        // pthread_mutexattr_init to initialise.
        let mut attr = Attr(unsafe { std::mem::zeroed() });
        // SAFETY: `attr.0` is a live, exclusively borrowed attribute object.
        let rc = unsafe { libc::pthread_mutexattr_init(&mut attr.0) };
        if rc != 0 {
            std::mem::forget(attr);
            return Err(rc);
        }
        let rc =
            // SAFETY: `attr.0` was initialised above and is exclusively borrowed.
            unsafe { libc::pthread_mutexattr_settype(&mut attr.0, libc::PTHREAD_MUTEX_ERRORCHECK) };
        if rc != 0 {
            return Err(rc);
        }
        // SAFETY: as above.
        let rc = unsafe {
            libc::pthread_mutexattr_setpshared(&mut attr.0, libc::PTHREAD_PROCESS_SHARED)
        };
        if rc != 0 {
            return Err(rc);
        }
        // SAFETY: as above.
        let rc =
            unsafe { libc::pthread_mutexattr_setrobust(&mut attr.0, libc::PTHREAD_MUTEX_ROBUST) };
        if rc != 0 {
            return Err(rc);
        }
        Ok(attr)
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: the attribute object was initialised by `Attr::new`.
        unsafe {
            libc::pthread_mutexattr_destroy(&mut self.0);
        }
    }
}

/// `pthread_mutex_lock` or `_trylock`; a dead owner's mutex is taken over and marked
/// consistent (`chain_mutex_lock`). `on_owner_dead` runs first, with the mutex held.
///
/// # Safety
/// `m` must point to an initialised, process-shared mutex in memory that stays mapped
/// for the call.
unsafe fn lock_mutex(
    m: *mut libc::pthread_mutex_t,
    wait: bool,
    on_owner_dead: impl FnOnce(),
) -> std::result::Result<(), i32> {
    // SAFETY: guaranteed by the caller.
    let rc = unsafe {
        if wait {
            libc::pthread_mutex_lock(m)
        } else {
            libc::pthread_mutex_trylock(m)
        }
    };
    match rc {
        0 => Ok(()),
        libc::EOWNERDEAD => {
            on_owner_dead();
            // SAFETY: guaranteed by the caller; this thread now owns the mutex.
            match unsafe { libc::pthread_mutex_consistent(m) } {
                0 => Ok(()),
                e => Err(e),
            }
        }
        libc::EBUSY => Err(libc::EAGAIN),
        e => Err(e),
    }
}

/// # Safety
/// As for [`lock_mutex`].
unsafe fn unlock_mutex(m: *mut libc::pthread_mutex_t) -> std::result::Result<(), i32> {
    // SAFETY: guaranteed by the caller.
    match unsafe { libc::pthread_mutex_unlock(m) } {
        0 => Ok(()),
        e => Err(e),
    }
}

/// `tdb_runtime_check_for_robust_mutexes`: real (not stub) pthread mutexes that can be
/// process-shared and robust, and a mutex whose owner died comes back with
/// `EOWNERDEAD`. C forks a child to die holding the mutex; a thread that ends holding it
/// exercises the same kernel robust-list cleanup without a fork. Checked once.
pub fn robust_mutexes_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| check_robust().is_ok())
}

fn check_robust() -> std::result::Result<(), i32> {
    let attr = Attr::new()?;
    // A heap cell the helper thread reaches by address.
    // SAFETY: all-zero bytes are a valid place for pthread_mutex_init.
    let cell: Box<libc::pthread_mutex_t> = Box::new(unsafe { std::mem::zeroed() });
    let m = Box::into_raw(cell);
    // SAFETY: `m` is a live heap allocation owned here until the end of this function.
    let rc = unsafe { libc::pthread_mutex_init(m, &attr.0) };
    if rc != 0 {
        // SAFETY: `m` came from Box::into_raw and was not initialised as a mutex.
        drop(unsafe { Box::from_raw(m) });
        return Err(rc);
    }
    let result = (|| {
        // SAFETY: `m` is an initialised mutex that lives until it is destroyed at the end
        // of this function.
        unsafe {
            if libc::pthread_mutex_lock(m) != 0 {
                return Err(libc::ENOSYS);
            }
            // Stubs would succeed here; an error-checking mutex refuses a relock.
            let again = libc::pthread_mutex_lock(m);
            libc::pthread_mutex_unlock(m);
            if again != libc::EDEADLK {
                return Err(libc::ENOSYS);
            }
        }
        let addr = m as usize;
        let taken = std::thread::spawn(move || {
            // SAFETY: the mutex outlives the thread (joined below); it ends holding it.
            unsafe { libc::pthread_mutex_lock(addr as *mut libc::pthread_mutex_t) }
        })
        .join()
        .map_err(|_| libc::ENOSYS)?;
        if taken != 0 {
            return Err(taken);
        }
        // SAFETY: as above.
        unsafe {
            let rc = libc::pthread_mutex_trylock(m);
            if rc != libc::EOWNERDEAD {
                if rc == 0 {
                    libc::pthread_mutex_unlock(m);
                }
                return Err(libc::ENOSYS);
            }
            let rc = libc::pthread_mutex_consistent(m);
            libc::pthread_mutex_unlock(m);
            if rc != 0 {
                return Err(rc);
            }
        }
        Ok(())
    })();
    // SAFETY: nobody holds the mutex any more; it was made by pthread_mutex_init and
    // its memory came from Box::into_raw.
    unsafe {
        libc::pthread_mutex_destroy(m);
        drop(Box::from_raw(m));
    }
    result
}

/// The mapped mutex area of one open handle. It is mapped once for the handle's life
/// (glibc's robust list keeps the addresses of held mutexes, so they must not move) and
/// apart from the database mapping, which is remade as the file grows.
#[derive(Debug)]
pub struct MutexArea {
    map: Map,
    /// The start of the mapping (checked once: every mutex and the state lie inside).
    base: NonNull<u8>,
    layout: Layout,
    hash_size: u32,
}

impl MutexArea {
    /// Map the first `size` bytes of `file` (which must be at least that long).
    pub fn map(file: &File, size: u32, hash_size: u32) -> Result<MutexArea> {
        let layout = layout();
        let need = layout.chains + layout.mutex * (hash_size as usize + 1);
        if (size as usize) < need {
            return Err(Error::corrupt(format!(
                "mutex area of {size} bytes too small for {hash_size} chains"
            )));
        }
        let map = Map::new(file, 0, u64::from(size), true)
            .ok_or_else(|| Error::io("cannot map the mutex area"))?;
        let base = map
            .place(0, need)
            .ok_or_else(|| Error::io("cannot map the mutex area"))?;
        Ok(MutexArea {
            map,
            base,
            layout,
            hash_size,
        })
    }

    /// The mutex at `off`, which callers keep inside the checked `need` bytes.
    #[inline]
    fn mutex_at(&self, off: usize) -> *mut libc::pthread_mutex_t {
        debug_assert!(off + self.layout.mutex <= self.map.len());
        // SAFETY: every caller passes the offset of the allrecord mutex or of chain
        // mutex 0..=hash_size, all inside the first `need` bytes that `map` checked lie
        // inside the live mapping.
        unsafe { self.base.as_ptr().add(off).cast() }
    }

    /// Chain mutex `idx` (0 = freelist, 1 + b = bucket b; `idx <= hash_size`).
    #[inline]
    fn chain(&self, idx: u32) -> *mut libc::pthread_mutex_t {
        assert!(idx <= self.hash_size, "chain mutex {idx} out of range");
        self.mutex_at(self.layout.chains + idx as usize * self.layout.mutex)
    }

    fn allrecord_mutex(&self) -> *mut libc::pthread_mutex_t {
        self.mutex_at(self.layout.allrecord)
    }

    #[inline]
    fn state(&self) -> &AtomicI16 {
        // SAFETY: the short lies inside the checked part of the live mapping, is 2-byte
        // aligned (it follows an aligned mutex of even size and the mapping is
        // page-aligned), and every process only reads or writes it whole; an AtomicI16
        // has the layout of an i16.
        unsafe { AtomicI16::from_ptr(self.base.as_ptr().add(self.layout.state).cast()) }
    }

    /// `tdb_mutex_index`: the chain mutex standing in for the fcntl lock of `len` bytes
    /// at `off`, if it is a freelist or chain lock.
    #[inline]
    pub fn index(&self, off: u32, len: u32) -> Option<u32> {
        let first = FREELIST_TOP - 4;
        if len != 1 || off < first || u64::from(off) >= data_start(self.hash_size) {
            return None;
        }
        Some((off - first) / 4)
    }

    /// `tdb_mutex_init`: (re)initialise every mutex and the state, as the first opener
    /// of the file does.
    pub fn init(&self) -> Result<()> {
        let attr = Attr::new().map_err(|e| errno_err("pthread_mutexattr", e))?;
        for idx in 0..=self.hash_size {
            // SAFETY: the chain mutex lies inside the live writable mapping; nobody uses
            // it while the first opener holds the active lock exclusively.
            let rc = unsafe { libc::pthread_mutex_init(self.chain(idx), &attr.0) };
            if rc != 0 {
                return Err(errno_err("pthread_mutex_init", rc));
            }
        }
        self.state().store(state_value(None), Ordering::Relaxed);
        // SAFETY: as above, for the allrecord mutex.
        let rc = unsafe { libc::pthread_mutex_init(self.allrecord_mutex(), &attr.0) };
        if rc != 0 {
            return Err(errno_err("pthread_mutex_init", rc));
        }
        Ok(())
    }

    /// `tdb_mutex_lock` for chain mutex `idx`. `holds_chain` says whether the handle
    /// already holds another chain mutex (then the allrecord state is not looked at:
    /// waiting for the allrecord holder then could deadlock with it).
    #[inline]
    pub fn lock(
        &self,
        idx: u32,
        ltype: LockType,
        wait: bool,
        holds_chain: impl Fn() -> bool,
    ) -> std::result::Result<(), i32> {
        let chain = self.chain(idx);
        loop {
            // SAFETY: an initialised mutex in the live mapping.
            unsafe { lock_mutex(chain, wait, || {}) }?;
            if idx == 0 || holds_chain() {
                return Ok(());
            }
            let state = self.state().load(Ordering::Relaxed);
            if state == state_value(None)
                || (state == state_value(Some(LockType::Read)) && ltype == LockType::Read)
            {
                return Ok(());
            }
            // An all-record lock is in the way: queue on its mutex, then start again.
            // SAFETY: held by this thread (taken above).
            unsafe { unlock_mutex(chain) }?;
            // SAFETY: an initialised mutex in the live mapping.
            unsafe { lock_mutex(self.allrecord_mutex(), wait, || self.reset_state()) }?;
            // SAFETY: held by this thread (taken just above).
            unsafe { unlock_mutex(self.allrecord_mutex()) }?;
        }
    }

    /// `tdb_mutex_unlock`.
    #[inline]
    pub fn unlock(&self, idx: u32) -> std::result::Result<(), i32> {
        // SAFETY: an initialised mutex in the live mapping; pthread refuses (EPERM) if
        // this thread does not hold it.
        unsafe { unlock_mutex(self.chain(idx)) }
    }

    fn reset_state(&self) {
        self.state().store(state_value(None), Ordering::Relaxed);
    }

    /// Take every bucket's mutex in turn and let it go again.
    fn sweep_chains(&self, wait: bool) -> std::result::Result<(), i32> {
        for idx in 1..=self.hash_size {
            let chain = self.chain(idx);
            // SAFETY: an initialised mutex in the live mapping.
            unsafe { lock_mutex(chain, wait, || {}) }?;
            // SAFETY: held by this thread (taken just above).
            unsafe { unlock_mutex(chain) }?;
        }
        Ok(())
    }

    /// `tdb_mutex_allrecord_lock`: returns with the allrecord mutex held.
    pub fn allrecord_lock(&self, ltype: LockType, wait: bool) -> std::result::Result<(), i32> {
        let all = self.allrecord_mutex();
        // SAFETY: an initialised mutex in the live mapping.
        unsafe { lock_mutex(all, wait, || self.reset_state()) }?;
        let fail = |e: i32| {
            // SAFETY: held by this thread (taken above).
            let _ = unsafe { unlock_mutex(all) };
            Err(e)
        };
        if self.state().load(Ordering::Relaxed) != state_value(None) {
            return fail(libc::EDEADLK);
        }
        self.state()
            .store(state_value(Some(ltype)), Ordering::Relaxed);
        if let Err(e) = self.sweep_chains(wait) {
            self.reset_state();
            return fail(e);
        }
        Ok(())
    }

    /// `tdb_mutex_allrecord_upgrade`: read to write, with the allrecord mutex held.
    pub fn allrecord_upgrade(&self) -> std::result::Result<(), i32> {
        if self.state().load(Ordering::Relaxed) != state_value(Some(LockType::Read)) {
            return Err(libc::EINVAL);
        }
        self.state()
            .store(state_value(Some(LockType::Write)), Ordering::Relaxed);
        if let Err(e) = self.sweep_chains(true) {
            self.allrecord_downgrade();
            return Err(e);
        }
        Ok(())
    }

    /// `tdb_mutex_allrecord_downgrade`: back to read after a failed upgrade.
    pub fn allrecord_downgrade(&self) {
        let write = state_value(Some(LockType::Write));
        if self.state().load(Ordering::Relaxed) == write {
            self.state()
                .store(state_value(Some(LockType::Read)), Ordering::Relaxed);
        }
    }

    /// `tdb_mutex_allrecord_unlock`.
    pub fn allrecord_unlock(&self) -> std::result::Result<(), i32> {
        let old = self.state().load(Ordering::Relaxed);
        if old != state_value(Some(LockType::Read)) && old != state_value(Some(LockType::Write)) {
            return Err(libc::EINVAL);
        }
        self.reset_state();
        // SAFETY: the allrecord mutex is held by this thread while the state is set.
        if let Err(e) = unsafe { unlock_mutex(self.allrecord_mutex()) } {
            self.state().store(old, Ordering::Relaxed);
            return Err(e);
        }
        Ok(())
    }
}

fn errno_err(what: &str, errno: i32) -> Error {
    Error::Lock(format!(
        "{what}: {}",
        std::io::Error::from_raw_os_error(errno)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_c_on_x86_64_glibc() {
        if cfg!(all(target_arch = "x86_64", target_env = "gnu")) {
            let l = layout();
            assert_eq!(
                (l.allrecord, l.state, l.chains, l.struct_size),
                (168, 208, 216, 256)
            );
            if page_size() == 4096 {
                assert_eq!(mutex_size(131), Some(8192));
                assert_eq!(mutex_size(1), Some(4096));
                assert_eq!(mutex_size(96), Some(4096));
                assert_eq!(mutex_size(97), Some(8192));
            }
        }
    }

    #[test]
    fn robust_mutexes_are_available() {
        assert!(robust_mutexes_supported());
    }
}
