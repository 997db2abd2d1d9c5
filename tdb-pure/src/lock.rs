//! The fcntl byte-range locking protocol, at C tdb's offsets, with C's per-handle nesting
//! table (POSIX locks do not nest, so counts are kept here).
//!
//! ```text
//! byte 0        OPEN_LOCK           open, prepare..end of commit, crash recovery
//! byte 4        ACTIVE_LOCK         CLEAR_IF_FIRST users (R for the handle's life)
//! byte 8        TRANSACTION_LOCK    transactions, write traverses
//! byte 48       seqnum              non-mmapped seqnum bump
//! byte 164      freelist            (= 168 + 4 * -1)
//! byte 168+4b   chain b             one byte below the word it protects
//! [168, 168+4hs) + [168+4hs, inf)   allrecord lock
//! record offset                     traverse read locks, delete/trim write probes
//! ```
//!
//! In a robust-mutex file (`crate::mutex`) the freelist and chain bytes are mutexes
//! instead, and the allrecord lock is the allrecord mutex plus the fcntl range
//! `[168+4hs, inf)`; every other lock stays fcntl at the same offsets. As in C, the
//! dispatch happens at the lowest level ([`Locks::raw`]), so the nesting, upgrade and
//! mark rules above it are shared.

use std::os::fd::RawFd;

use crate::error::{Error, Result};
use crate::header::FREELIST_TOP;
use crate::mutex::MutexArea;

/// `OPEN_LOCK`.
pub const OPEN_LOCK: u32 = 0;
/// `ACTIVE_LOCK`.
pub const ACTIVE_LOCK: u32 = 4;
/// `TRANSACTION_LOCK`.
pub const TRANSACTION_LOCK: u32 = 8;
/// Seqnum lock byte (`TDB_SEQNUM_OFS`).
pub const SEQNUM_LOCK: u32 = 48;

/// Lock type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockType {
    /// `F_RDLCK`.
    Read,
    /// `F_WRLCK`.
    Write,
}

/// Lock byte of list `list` (-1 = freelist, b = bucket b): `lock_offset()`.
pub fn lock_offset(list: i64) -> u32 {
    (i64::from(FREELIST_TOP) + 4 * list) as u32
}

/// One fcntl call: lock (or unlock, `ltype = None`) `len` bytes at `off` (0 = to EOF).
/// Returns the errno on failure.
pub fn brlock(
    fd: RawFd,
    ltype: Option<LockType>,
    off: u32,
    len: u32,
    wait: bool,
) -> std::result::Result<(), i32> {
    brlock_interruptible(fd, ltype, off, len, wait, None)
}

/// A check asked when a blocking lock wait is interrupted by a signal: `true` gives up
/// the wait (C's `tdb_setalarm_sigptr` flag being set), `false` waits again.
pub type InterruptCheck = std::sync::Arc<dyn Fn() -> bool + Send + Sync>;

/// [`brlock`] whose blocking wait ends with `EINTR` when a signal interrupts it and
/// `interrupted` says so (C's `tdb_brlock` with `interrupt_sig_ptr`).
pub fn brlock_interruptible(
    fd: RawFd,
    ltype: Option<LockType>,
    off: u32,
    len: u32,
    wait: bool,
    interrupted: Option<&InterruptCheck>,
) -> std::result::Result<(), i32> {
    // SAFETY: `flock` is a plain C struct of integers, for which all-zero is valid.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = match ltype {
        Some(LockType::Read) => libc::F_RDLCK,
        Some(LockType::Write) => libc::F_WRLCK,
        None => libc::F_UNLCK,
    } as _;
    fl.l_whence = libc::SEEK_SET as _;
    fl.l_start = off as _;
    fl.l_len = len as _;
    let cmd = if wait { libc::F_SETLKW } else { libc::F_SETLK };
    loop {
        // SAFETY: `fd` is an open descriptor owned by the handle and `fl` is a valid,
        // initialised `flock` that outlives the call.
        let rc = unsafe { libc::fcntl(fd, cmd, &fl as *const libc::flock) };
        if rc == 0 {
            return Ok(());
        }
        let errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        if errno == libc::EINTR && wait {
            if interrupted.is_some_and(|stop| stop()) {
                return Err(errno);
            }
            continue;
        }
        return Err(errno);
    }
}

#[derive(Clone, Copy, Debug)]
struct NestEntry {
    off: u32,
    count: u32,
    ltype: LockType,
}

/// The allrecord lock state.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllRecord {
    /// Nesting count (0 = not held).
    pub count: u32,
    /// Held type (meaningful when count > 0).
    pub ltype: Option<LockType>,
    /// Taken upgradable (transactions).
    pub upgradable: bool,
}

/// Per-handle lock bookkeeping.
#[derive(Debug)]
pub struct Locks {
    fd: Option<RawFd>,
    /// Whether locking is disabled (`TDB_NOLOCK`, read-only, internal).
    pub nolock: bool,
    nest: Vec<NestEntry>,
    /// The allrecord lock.
    pub allrecord: AllRecord,
    /// The mapped mutex area of a robust-mutex file opened with locking.
    pub mutexes: Option<MutexArea>,
    /// Asked when a blocking fcntl wait is interrupted by a signal
    /// ([`Locks::set_interrupt_check`]).
    interrupt: Interrupt,
}

/// The optional [`InterruptCheck`] of a handle.
#[derive(Clone, Default)]
struct Interrupt(Option<InterruptCheck>);

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Interrupt(set)"
        } else {
            "Interrupt(none)"
        })
    }
}

impl Drop for Locks {
    /// Closing the descriptor drops the fcntl locks, but mutexes stay held until they are
    /// unlocked: release what this handle holds before the area is unmapped (C leaves
    /// them locked, for the next locker to find with `EOWNERDEAD`).
    fn drop(&mut self) {
        let Some(m) = self.mutexes.take() else {
            return;
        };
        for e in &self.nest {
            if let Some(idx) = m.index(e.off, 1) {
                let _ = m.unlock(idx);
            }
        }
        if self.allrecord.count > 0 {
            let _ = m.allrecord_unlock();
        }
    }
}

fn lock_err(what: &str, off: u32, errno: i32) -> Error {
    Error::Lock(format!(
        "{what} at offset {off}: {}",
        std::io::Error::from_raw_os_error(errno)
    ))
}

impl Locks {
    /// Bookkeeping for descriptor `fd` (None for in-memory databases).
    pub fn new(fd: Option<RawFd>, nolock: bool) -> Locks {
        Locks {
            fd,
            nolock: nolock || fd.is_none(),
            nest: Vec::new(),
            allrecord: AllRecord::default(),
            mutexes: None,
            interrupt: Interrupt::default(),
        }
    }

    /// Raw fcntl lock/unlock honouring `nolock`.
    pub fn raw(&self, ltype: Option<LockType>, off: u32, len: u32, wait: bool) -> Result<()> {
        if self.nolock {
            return Ok(());
        }
        if let Some(m) = &self.mutexes {
            if let Some(idx) = m.index(off, len) {
                let r = match ltype {
                    Some(t) => m.lock(idx, t, wait, || self.holds_chain_mutex()),
                    None => m.unlock(idx),
                };
                return r.map_err(|e| {
                    let what = if ltype.is_some() {
                        "mutex lock"
                    } else {
                        "mutex unlock"
                    };
                    lock_err(what, off, e)
                });
            }
        }
        let Some(fd) = self.fd else { return Ok(()) };
        brlock_interruptible(fd, ltype, off, len, wait, self.interrupt.0.as_ref()).map_err(|e| {
            let what = if ltype.is_some() { "lock" } else { "unlock" };
            lock_err(what, off, e)
        })
    }

    /// `tdb_have_mutex_chainlocks`: a chain (not freelist) mutex is already held. C
    /// passes each entry's count where the lock length belongs, so only entries counted
    /// once qualify; kept as is, since it decides when the allrecord state is looked at.
    fn holds_chain_mutex(&self) -> bool {
        let Some(m) = &self.mutexes else {
            return false;
        };
        self.nest
            .iter()
            .any(|e| m.index(e.off, e.count).is_some_and(|idx| idx != 0))
    }

    /// Whether a nested lock is held at `off`.
    pub fn holds(&self, off: u32) -> bool {
        self.nest.iter().any(|e| e.off == off && e.count > 0)
    }

    /// Number of nested lock entries.
    pub fn nest_count(&self) -> usize {
        self.nest.len()
    }

    /// Whether any chain or freelist lock (a "data lock") is held.
    pub fn have_data_locks(&self) -> bool {
        self.nest.iter().any(|e| e.off >= lock_offset(-1))
    }

    /// `tdb_nest_lock`: take or count up a 1-byte lock at `off`.
    pub fn nest_lock(
        &mut self,
        off: u32,
        ltype: LockType,
        wait: bool,
        mark_only: bool,
        limit: u32,
    ) -> Result<()> {
        if self.nolock {
            return Ok(());
        }
        if off >= limit {
            return Err(Error::Lock(format!("invalid lock offset {off}")));
        }
        if let Some(i) = self.nest.iter().position(|e| e.off == off) {
            if self.nest[i].ltype == LockType::Read && ltype == LockType::Write {
                // Mutexes have no read mode: the held one already excludes everyone.
                if !mark_only && self.mutexes.is_none() {
                    self.raw(Some(LockType::Write), off, 1, wait)?;
                }
                self.nest[i].ltype = LockType::Write;
            }
            self.nest[i].count += 1;
            return Ok(());
        }
        if !mark_only {
            self.raw(Some(ltype), off, 1, wait)?;
        }
        self.nest.push(NestEntry {
            off,
            count: 1,
            ltype,
        });
        Ok(())
    }

    /// `tdb_nest_unlock`.
    pub fn nest_unlock(&mut self, off: u32, mark_only: bool) -> Result<()> {
        if self.nolock {
            return Ok(());
        }
        let Some(i) = self.nest.iter().position(|e| e.off == off) else {
            return Err(Error::Lock(format!(
                "unlock of offset {off} which is not locked"
            )));
        };
        if self.nest[i].count > 1 {
            self.nest[i].count -= 1;
            return Ok(());
        }
        self.nest.swap_remove(i);
        if !mark_only {
            self.raw(None, off, 1, false)?;
        }
        Ok(())
    }

    /// Whether locks other than ACTIVE_LOCK (and TRANSACTION_LOCK inside a transaction)
    /// are held: `tdb_have_extra_locks`.
    pub fn have_extra_locks(&self, in_transaction: bool) -> bool {
        if !in_transaction && self.allrecord.count > 0 {
            return true;
        }
        self.nest
            .iter()
            .filter(|e| e.off != ACTIVE_LOCK && !(in_transaction && e.off == TRANSACTION_LOCK))
            .count()
            > 0
    }

    /// Take `len` bytes at `off` gradually (`tdb_chainlock_gradual`).
    pub fn gradual(&self, ltype: LockType, wait: bool, off: u32, len: u32) -> Result<()> {
        if len <= 4 {
            return self.raw(Some(ltype), off, len, wait);
        }
        if self.raw(Some(ltype), off, len, false).is_ok() {
            return Ok(());
        }
        self.gradual(ltype, wait, off, len / 2)?;
        if let Err(e) = self.gradual(ltype, wait, off + len / 2, len - len / 2) {
            let _ = self.raw(None, off, len / 2, false);
            return Err(e);
        }
        Ok(())
    }

    /// Take the allrecord lock's locks (`tdb_allrecord_lock` below its checks): the
    /// chain range gradually and the record range, or in a mutex file the allrecord
    /// mutex and the record range.
    pub fn take_allrecord(&self, ltype: LockType, wait: bool, hash_size: u32) -> Result<()> {
        if self.nolock {
            return Ok(());
        }
        let part1 = 4 * hash_size;
        match &self.mutexes {
            Some(m) => m
                .allrecord_lock(ltype, wait)
                .map_err(|e| lock_err("allrecord mutex", FREELIST_TOP, e))?,
            None => self.gradual(ltype, wait, FREELIST_TOP, part1)?,
        }
        if let Err(e) = self.raw(Some(ltype), FREELIST_TOP + part1, 0, wait) {
            match &self.mutexes {
                Some(m) => {
                    let _ = m.allrecord_unlock();
                }
                None => {
                    let _ = self.raw(None, FREELIST_TOP, part1, false);
                }
            }
            return Err(e);
        }
        Ok(())
    }

    /// Release what [`Locks::take_allrecord`] took.
    pub fn drop_allrecord(&self, hash_size: u32) -> Result<()> {
        if self.nolock {
            return Ok(());
        }
        match &self.mutexes {
            Some(m) => {
                m.allrecord_unlock()
                    .map_err(|e| lock_err("allrecord mutex unlock", FREELIST_TOP, e))?;
                self.raw(None, FREELIST_TOP + 4 * hash_size, 0, false)
            }
            None => self.raw(None, FREELIST_TOP, 0, false),
        }
    }

    /// `tdb_allrecord_upgrade`: turn the transaction's upgradable read allrecord lock
    /// into a write lock on `[168, ∞)` (in a mutex file: the mutex state, then
    /// `[168+4hs, ∞)`), retrying while the kernel reports EDEADLK.
    pub fn upgrade_allrecord(&mut self, hash_size: u32) -> Result<()> {
        if self.allrecord.count != 1 {
            return Err(Error::Lock(format!(
                "allrecord upgrade with count {}",
                self.allrecord.count
            )));
        }
        if !self.allrecord.upgradable {
            return Err(Error::Lock("allrecord lock already upgraded".into()));
        }
        if !self.nolock {
            if let Some(fd) = self.fd {
                let mut from = FREELIST_TOP;
                if let Some(m) = &self.mutexes {
                    m.allrecord_upgrade()
                        .map_err(|e| lock_err("allrecord mutex upgrade", FREELIST_TOP, e))?;
                    from += 4 * hash_size;
                }
                let mut tries = 0;
                loop {
                    match brlock(fd, Some(LockType::Write), from, 0, true) {
                        Ok(()) => break,
                        Err(e) if e == libc::EDEADLK && tries < 1000 => {
                            tries += 1;
                            std::thread::sleep(std::time::Duration::from_micros(1));
                        }
                        Err(e) => {
                            if let Some(m) = &self.mutexes {
                                m.allrecord_downgrade();
                            }
                            return Err(lock_err("allrecord upgrade", from, e));
                        }
                    }
                }
            }
        }
        self.allrecord.ltype = Some(LockType::Write);
        self.allrecord.upgradable = false;
        Ok(())
    }

    /// Set (or clear) the check that may end a blocking lock wait a signal interrupted.
    pub fn set_interrupt_check(&mut self, check: Option<InterruptCheck>) {
        self.interrupt = Interrupt(check);
    }

    /// After the descriptor was replaced (`tdb_reopen`): lock on `fd` and forget every
    /// lock of the old one (a child after `fork` holds none).
    pub fn reset_for_fd(&mut self, fd: RawFd) {
        self.fd = Some(fd);
        self.nest.clear();
        self.allrecord = AllRecord::default();
    }

    /// The descriptor locks are taken on (None for in-memory databases).
    pub fn fd(&self) -> Option<RawFd> {
        self.fd
    }

    /// Drop every lock this handle holds except ACTIVE_LOCK (end of a transaction).
    pub fn release_all_but_active(&mut self) {
        let entries = std::mem::take(&mut self.nest);
        for e in entries {
            if e.off == ACTIVE_LOCK {
                self.nest.push(e);
            } else {
                let _ = self.raw(None, e.off, 1, false);
            }
        }
    }
}
