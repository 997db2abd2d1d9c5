//! A pure-Rust engine for Samba's tdb ("trivial database") file format, byte- and
//! lock-compatible with C tdb 1.4.x.
//!
//! A [`Tdb`] handle mirrors the C API: `store`/`fetch`/`delete`/`append`, traverses with
//! a callback that may use the handle, `firstkey`/`nextkey`, the chain-lock and
//! all-record lock families, transactions (with C's recovery area, crash recovery and
//! `repack`), `check` and `dump`. Errors carry tdb's `TDB_ERR_*` codes
//! ([`Error::code`]), and the handle keeps C's sticky error code ([`Tdb::error`]).
//!
//! ```
//! use tdb_pure::{flags, OpenFlags, StoreFlag, Tdb};
//!
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("x.tdb");
//! let options = OpenFlags {
//!     hash_size: 0,
//!     tdb_flags: flags::NOSYNC,
//!     open_flags: libc::O_RDWR | libc::O_CREAT,
//!     mode: 0o600,
//! };
//! let mut db = Tdb::open(&path, &options)?;
//! db.store(b"key", b"value", StoreFlag::Insert)?;
//! assert_eq!(db.parse_record(b"key", |data| data.len())?, 5); // borrows, no copy
//! assert_eq!(db.fetch(b"key")?, b"value");
//! db.check()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules follow the on-disk concepts: [`header`], [`record`], [`hash`], `freelist`,
//! `io` (with `mmap`, the crate's only mmap boundary), [`lock`] (the public lock calls in
//! `lock_api`; robust mutexes in [`mutex`], the crate's pthread boundary), `traverse`,
//! `transaction`, `check`, `dump`; [`fault`] injects crashes and I/O errors for crash
//! tests.

mod chain_traverse;
mod check;
mod control;
mod diagnostics;
mod dump;
pub mod error;
pub mod fault;
mod freelist;
pub mod hash;
pub mod header;
mod io;
pub mod lock;
mod lock_api;
mod mmap;
pub mod mutex;
mod open;
pub mod record;
mod recovery;
mod rescue;
mod transaction;
mod traverse;
mod walk;

use std::collections::HashSet;
use std::sync::Mutex;

pub use check::{CheckReport, Leftover};
pub use error::{code, Error, Result};
pub use freelist::{expand_increment, wanted_len};
pub use hash::{CustomHash, HashKind};
pub use header::ByteOrder;
pub use open::OpenFlags;
pub use recovery::needs_recovery;
/// The `TDB_*` open flags (the workspace's one definition, in `tdb-vocab`).
pub use tdb_vocab::tdb_flags as flags;
pub use tdb_vocab::{ErrorKind, OpenOptions, StoreFlag};

use header::{data_start, hash_top, SEQNUM_OFS};
use io::Io;
use lock::{lock_offset, LockType, Locks, SEQNUM_LOCK};
use record::{Record, REC_HDR, TDB_DEAD_MAGIC, TDB_MAGIC};
use walk::{List, WalkGuard};

/// Files (dev, inode) open in this process: C refuses a second open (EBUSY), because
/// closing any descriptor drops all of the process's fcntl locks on the file.
static OPEN_FILES: Mutex<Option<HashSet<(u64, u64)>>> = Mutex::new(None);

/// An active traversal position (C's `struct tdb_traverse_lock`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TravLock {
    pub(crate) off: u32,
    pub(crate) list: u32,
    pub(crate) ltype: LockType,
    /// Links followed in the current chain (cycle detection across calls).
    pub(crate) steps: u64,
}

/// An open tdb database.
#[derive(Debug)]
pub struct Tdb {
    pub(crate) io: Io,
    pub(crate) hash_size: u32,
    pub(crate) hash: HashKind,
    /// `tdb_open_ex`'s hash function, used instead of `hash` when set.
    pub(crate) custom_hash: Option<CustomHash>,
    pub(crate) flags: u32,
    pub(crate) read_only: bool,
    pub(crate) max_dead: u32,
    pub(crate) locks: Locks,
    pub(crate) traverse_read: u32,
    pub(crate) traverse_write: u32,
    /// Record offsets held by active traverses (innermost last).
    pub(crate) travlocks: Vec<TravLock>,
    /// The firstkey/nextkey position.
    pub(crate) walk: TravLock,
    pub(crate) ecode: i32,
    pub(crate) dev_ino: Option<(u64, u64)>,
}

impl Drop for Tdb {
    fn drop(&mut self) {
        // tdb_close cancels a pending transaction (once: a nested one only unwinds a level).
        if self.io.tx.is_some() {
            let _ = self.tx_cancel();
        }
        if let Some(id) = self.dev_ino.take() {
            if let Ok(mut g) = OPEN_FILES.lock() {
                if let Some(set) = g.as_mut() {
                    set.remove(&id);
                }
            }
        }
    }
}

impl Tdb {
    /// The sticky `tdb_error()` code of this handle (0 = success).
    pub fn error(&self) -> i32 {
        self.ecode
    }

    /// Number of hash buckets.
    pub fn hash_size(&self) -> u32 {
        self.hash_size
    }

    /// The hash function in use.
    pub fn hash_kind(&self) -> HashKind {
        self.hash
    }

    /// Current `TDB_*` flags (including `TDB_CONVERT`/`TDB_BIGENDIAN` as C reports them).
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Byte order of the file.
    pub fn byte_order(&self) -> ByteOrder {
        self.io.order
    }

    /// Size of the database in bytes (refreshed).
    pub fn file_size(&mut self) -> Result<u64> {
        self.io.refresh_size()
    }

    /// `tdb_set_max_dead`.
    pub fn set_max_dead(&mut self, max_dead: u32) {
        self.max_dead = max_dead;
    }

    /// `tdb_enable_seqnum`.
    pub fn enable_seqnum(&mut self) {
        self.flags |= flags::SEQNUM;
    }

    /// `tdb_close`.
    pub fn close(self) -> Result<()> {
        drop(self);
        Ok(())
    }

    /// Record the error code of a result, as C sets `tdb->ecode`.
    pub(crate) fn note<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            if !e.leaves_code() {
                self.ecode = e.code();
            }
        }
        r
    }

    /// Hash a key with this database's function.
    #[inline]
    pub fn hash_key(&self, key: &[u8]) -> u32 {
        match &self.custom_hash {
            Some(h) => h.hash(key),
            None => self.hash.hash(key),
        }
    }

    /// Whether keys are hashed with a caller-supplied function ([`Tdb::open_ex`]).
    pub fn has_custom_hash(&self) -> bool {
        self.custom_hash.is_some()
    }

    /// The header's magic hashes for this database's hash function.
    pub(crate) fn magic_hashes(&self, order: ByteOrder) -> (u32, u32) {
        header::magic_hashes_by(|k| self.hash_key(k), order)
    }

    fn bucket(&self, hash: u32) -> u32 {
        hash % self.hash_size
    }

    pub(crate) fn lock_limit(&self) -> u32 {
        lock_offset(i64::from(self.hash_size))
    }

    /// `tdb_lock_list`: chain (`list` ≥ 0) or freelist (−1) lock, honouring the
    /// allrecord lock.
    pub(crate) fn lock_list(&mut self, list: i64, ltype: LockType, wait: bool) -> Result<()> {
        self.lock_list_mark(list, ltype, wait, false)
    }

    fn lock_list_mark(&mut self, list: i64, ltype: LockType, wait: bool, mark: bool) -> Result<()> {
        if self.locks.allrecord.count > 0 {
            if ltype == LockType::Read || self.locks.allrecord.ltype == Some(ltype) {
                return Ok(());
            }
            return Err(Error::Lock(
                "write lock requested under a read allrecord lock".into(),
            ));
        }
        let limit = self.lock_limit();
        // A process may have died in a commit: check on the first data lock (§6.5).
        let check = !mark && !self.locks.have_data_locks();
        self.locks
            .nest_lock(lock_offset(list), ltype, wait, mark, limit)?;
        if check && self.needs_recovery() {
            let _ = self.locks.nest_unlock(lock_offset(list), false);
            self.lock_and_recover()?;
            return self.lock_list_mark(list, ltype, wait, mark);
        }
        Ok(())
    }

    /// `tdb_unlock` of a chain or the freelist.
    pub(crate) fn unlock_list(&mut self, list: i64, _ltype: LockType) -> Result<()> {
        self.unlock_list_mark(list, false)
    }

    fn unlock_list_mark(&mut self, list: i64, mark: bool) -> Result<()> {
        if self.locks.allrecord.count > 0 {
            return Ok(());
        }
        self.nest_unlock(lock_offset(list), mark)
    }

    /// `tdb_nest_unlock`: as C, releasing a lock this handle does not hold fails
    /// without touching the sticky error code.
    pub(crate) fn nest_unlock(&mut self, off: u32, mark: bool) -> Result<()> {
        if !self.locks.nolock && !self.locks.holds(off) {
            return Err(Error::NotLocked(format!(
                "unlock of offset {off}: count is 0"
            )));
        }
        self.locks.nest_unlock(off, mark)
    }

    /// `tdb_write_lock_record` + unlock: may the record at `off` be freed?
    pub(crate) fn write_lock_record_probe(&mut self, off: u32) -> bool {
        if self.walk.off == off || self.travlocks.iter().any(|t| t.off == off) {
            return false;
        }
        if self.locks.allrecord.count > 0 {
            return self.locks.allrecord.ltype == Some(LockType::Write);
        }
        if self
            .locks
            .raw(Some(LockType::Write), off, 1, false)
            .is_err()
        {
            return false;
        }
        let _ = self.locks.raw(None, off, 1, false);
        true
    }

    /// `tdb_lock_record`: read-lock a record handed to a traverser.
    pub(crate) fn lock_record(&mut self, off: u32) -> Result<()> {
        if off == 0 || self.locks.allrecord.count > 0 {
            return Ok(());
        }
        self.locks.raw(Some(LockType::Read), off, 1, true)
    }

    /// `tdb_unlock_record`: release unless another traverse holds the same record.
    pub(crate) fn unlock_record(&mut self, off: u32) -> Result<()> {
        if off == 0 || self.locks.allrecord.count > 0 {
            return Ok(());
        }
        let holders = self.travlocks.iter().filter(|t| t.off == off).count()
            + usize::from(self.walk.off == off);
        if holders > 1 {
            return Ok(());
        }
        self.locks.raw(None, off, 1, false)
    }

    /// `tdb_rec_read`: read and validate a chain member's header.
    #[inline(always)]
    pub(crate) fn rec_read(&mut self, off: u32) -> Result<Record> {
        match self.io.mapped_rec(off) {
            Some(rec) if self.rec_sound(off, &rec) => Ok(rec),
            _ => self.rec_read_unmapped(off),
        }
    }

    /// Whether a chain member's header is sound within the known size (the check of every
    /// chain walk's hot path; [`Tdb::rec_read_checked`] says what is wrong).
    #[inline(always)]
    fn rec_sound(&self, off: u32, rec: &Record) -> bool {
        let size = self.io.size;
        let next_ok = rec.next == 0
            || (u64::from(rec.next) >= data_start(self.hash_size)
                && u64::from(rec.next) + u64::from(REC_HDR) <= size);
        (rec.magic == TDB_MAGIC || rec.magic == TDB_DEAD_MAGIC)
            && rec.payload().is_some_and(|p| p <= rec.rec_len)
            && u64::from(off) + rec.total() <= size
            && next_ok
    }

    /// [`Tdb::rec_read`] off the mapping (or of an unsound header).
    #[cold]
    #[inline(never)]
    fn rec_read_unmapped(&mut self, off: u32) -> Result<Record> {
        let rec = self.io.read_rec_raw(off)?;
        if self.rec_sound(off, &rec) {
            return Ok(rec);
        }
        self.rec_read_checked(off, rec)
    }

    /// The rest of [`Tdb::rec_read`]: re-check with the file's real size and say what is
    /// wrong.
    #[cold]
    #[inline(never)]
    fn rec_read_checked(&mut self, off: u32, rec: Record) -> Result<Record> {
        if rec.magic != TDB_MAGIC && rec.magic != TDB_DEAD_MAGIC {
            return Err(Error::corrupt(format!(
                "record at {off} has bad magic {:#010x}",
                rec.magic
            )));
        }
        let payload = rec
            .payload()
            .ok_or_else(|| Error::corrupt(format!("record at {off}: key+data length overflows")))?;
        if payload > rec.rec_len {
            return Err(Error::corrupt(format!(
                "record at {off}: key+data {payload} exceed rec_len {}",
                rec.rec_len
            )));
        }
        self.io
            .oob(u64::from(off), rec.total())
            .map_err(|_| Error::corrupt(format!("record at {off} extends past EOF")))?;
        self.check_next(off, rec.next)?;
        Ok(rec)
    }

    /// `tdb_find`: the live record for `key` in its chain. The lookup's own loop (kept
    /// by hand so that the header stays in registers), through the walks' cycle guard.
    pub(crate) fn find(&mut self, key: &[u8], hash: u32) -> Result<(u32, Record)> {
        let list = List::Chain(self.bucket(hash));
        let mut cur = self.io.read_u32(list.head())?;
        let mut guard = WalkGuard::new(self, list, 0);
        while cur != 0 {
            guard.step(self)?;
            let rec = self.rec_read(cur)?;
            if rec.magic != TDB_DEAD_MAGIC
                && rec.full_hash == hash
                && rec.key_len as usize == key.len()
                && self
                    .io
                    .with_bytes(cur + REC_HDR, rec.key_len, |stored| stored == key)?
            {
                return Ok((cur, rec));
            }
            cur = rec.next;
        }
        Err(Error::NoExist)
    }

    fn check_writable(&self) -> Result<()> {
        if self.read_only || self.traverse_read > 0 {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    /// Run `f` with the chain of `hash` locked.
    fn with_chain<T>(
        &mut self,
        hash: u32,
        ltype: LockType,
        f: impl FnOnce(&mut Tdb) -> Result<T>,
    ) -> Result<T> {
        let list = i64::from(self.bucket(hash));
        self.lock_list(list, ltype, true)?;
        let r = f(self);
        let u = self.unlock_list(list, ltype);
        match (r, u) {
            (Ok(v), Ok(())) => Ok(v),
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        }
    }

    /// `tdb_fetch` lending the data: `f` gets `None` when the key does not exist (then
    /// the sticky error becomes `TDB_ERR_NOEXIST`, as in C).
    pub fn fetch_with<R>(&mut self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> Result<R> {
        let hash = self.hash_key(key);
        // `f` runs with the chain read-locked, borrowing the data where it can (C's
        // tdb_parse_record); it is handed back if the key is missing or an error occurs.
        let mut unused = Some(f);
        let r = self.with_chain(hash, LockType::Read, |t| {
            let (off, rec) = t.find(key, hash)?;
            let f = unused.take().expect("lender called once");
            t.io.with_bytes(off + REC_HDR + rec.key_len, rec.data_len, |d| f(Some(d)))
        });
        match (r, unused) {
            (Ok(v), _) => Ok(v),
            (Err(Error::NoExist), Some(f)) => {
                self.ecode = code::NOEXIST;
                Ok(f(None))
            }
            (Err(e), _) => self.note(Err(e)),
        }
    }

    /// `tdb_fetch`: the data, or `Err(NoExist)`.
    pub fn fetch(&mut self, key: &[u8]) -> Result<Vec<u8>> {
        match self.fetch_with(key, |d| d.map(<[u8]>::to_vec))? {
            Some(v) => Ok(v),
            None => Err(Error::NoExist),
        }
    }

    /// `tdb_parse_record`: `f` borrows the data; a missing key is `Err(NoExist)`.
    pub fn parse_record<R>(&mut self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        match self.fetch_with(key, |d| d.map(f))? {
            Some(v) => Ok(v),
            None => Err(Error::NoExist),
        }
    }

    /// `tdb_exists`: `Ok(false)` when missing; structural errors are returned (C would
    /// report 0 with the error code set).
    pub fn exists(&mut self, key: &[u8]) -> Result<bool> {
        self.fetch_with(key, |d| d.is_some())
    }

    /// Bump the sequence number if `TDB_SEQNUM` is set on this handle.
    pub(crate) fn increment_seqnum(&mut self) -> Result<()> {
        if self.flags & flags::SEQNUM == 0 {
            return Ok(());
        }
        // C's tdb_increment_seqnum is void: a failure only leaves its error code (and,
        // inside a transaction, poisons it). Transactions take no byte-48 lock.
        let in_tx = self.io.tx.is_some();
        let limit = self.lock_limit();
        if !in_tx {
            if let Err(e) = self
                .locks
                .nest_lock(SEQNUM_LOCK, LockType::Write, true, false, limit)
            {
                self.ecode = e.code();
                return Ok(());
            }
        }
        let r = self
            .io
            .read_u32(SEQNUM_OFS)
            .and_then(|v| self.io.write_u32(SEQNUM_OFS, v.wrapping_add(1)));
        if let Err(e) = r {
            self.ecode = e.code();
        }
        if !in_tx {
            let _ = self.locks.nest_unlock(SEQNUM_LOCK, false);
        }
        Ok(())
    }

    /// `tdb_get_seqnum`.
    pub fn get_seqnum(&mut self) -> Result<u32> {
        let r = self.io.read_u32(SEQNUM_OFS);
        self.note(r)
    }

    /// `tdb_store`.
    pub fn store(&mut self, key: &[u8], data: &[u8], flag: StoreFlag) -> Result<()> {
        let r = self.store_inner(key, data, flag);
        self.note(r)
    }

    fn store_inner(&mut self, key: &[u8], data: &[u8], flag: StoreFlag) -> Result<()> {
        self.check_writable()?;
        let hash = self.hash_key(key);
        self.with_chain(hash, LockType::Write, |t| {
            t.store_locked(key, hash, data, flag, true)
        })
    }

    /// `tdb_store` of a key that C holds in a real buffer (`tdb_repack` re-stores the
    /// keys a traverse handed out, never NULL), so an empty key is written as such even
    /// inside a transaction.
    pub(crate) fn store_buffered(
        &mut self,
        key: &[u8],
        data: &[u8],
        flag: StoreFlag,
    ) -> Result<()> {
        self.check_writable()?;
        let hash = self.hash_key(key);
        self.with_chain(hash, LockType::Write, |t| {
            t.store_locked(key, hash, data, flag, false)
        })
    }

    /// `null_key`: the key came from the caller, so C sees an empty one as NULL.
    fn store_locked(
        &mut self,
        key: &[u8],
        hash: u32,
        data: &[u8],
        flag: StoreFlag,
        null_key: bool,
    ) -> Result<()> {
        let klen = u32::try_from(key.len()).map_err(|_| Error::Oom("key too large".into()))?;
        let dlen = u32::try_from(data.len()).map_err(|_| Error::Oom("data too large".into()))?;
        let total = klen
            .checked_add(dlen)
            .ok_or_else(|| Error::Oom("key + data too large".into()))?;
        if flag == StoreFlag::Insert {
            if self.find(key, hash).is_ok() {
                return Err(Error::Exists);
            }
        } else {
            match self.update_in_place(key, hash, data) {
                Ok(true) => return self.increment_seqnum(),
                Ok(false) => {}
                Err(e) => self.ecode = e.code(),
            }
            if flag == StoreFlag::Modify && self.ecode == code::NOEXIST {
                return Err(Error::NoExist);
            }
        }
        self.ecode = code::SUCCESS;
        if flag != StoreFlag::Insert {
            // C ignores the result but keeps the code it sets (NOEXIST for a new key).
            if let Err(e) = self.delete_locked(key, hash) {
                self.ecode = e.code();
            }
        }
        let (off, mut rec) = self.allocate(hash, total)?;
        let top = hash_top(hash, self.hash_size);
        rec.next = self.io.read_u32(top)?;
        rec.key_len = klen;
        rec.data_len = dlen;
        rec.full_hash = hash;
        rec.magic = TDB_MAGIC;
        self.io.write_rec(off, &rec)?;
        if null_key {
            self.null_write_check(key)?;
        }
        self.io.write(off + REC_HDR, key)?;
        self.io.write(off + REC_HDR + klen, data)?;
        self.io.write_u32(top, off)?;
        self.increment_seqnum()
    }

    /// `tdb_update_hash`: Ok(true) if stored in place, Ok(false) if the record is too
    /// small (the sticky code is reset to success, as in C).
    fn update_in_place(&mut self, key: &[u8], hash: u32, data: &[u8]) -> Result<bool> {
        let (off, mut rec) = self.find(key, hash)?;
        let data_off = off + REC_HDR + rec.key_len;
        if rec.data_len as usize == data.len()
            && self
                .io
                .with_bytes(data_off, rec.data_len, |old| old == data)?
        {
            return Ok(true);
        }
        let need = u64::from(rec.key_len) + data.len() as u64 + 4;
        if u64::from(rec.rec_len) < need {
            // Not really an error: C resets the code here.
            self.ecode = code::SUCCESS;
            return Ok(false);
        }
        self.null_write_check(data)?;
        self.io.write(data_off, data)?;
        if rec.data_len as usize != data.len() {
            rec.data_len = data.len() as u32;
            self.io.write_rec(off, &rec)?;
        }
        Ok(true)
    }

    /// C passes an empty key or data as a NULL pointer, and `transaction_write` refuses
    /// a NULL buffer without setting an error code: reproduce that failure.
    fn null_write_check(&self, buf: &[u8]) -> Result<()> {
        if buf.is_empty() && self.io.tx.is_some() {
            return Err(Error::Unchanged(
                self.ecode,
                "empty write inside a transaction (C's NULL buffer)".into(),
            ));
        }
        Ok(())
    }

    /// `tdb_append`.
    pub fn append(&mut self, key: &[u8], data: &[u8]) -> Result<()> {
        let r = self.append_inner(key, data);
        self.note(r)
    }

    fn append_inner(&mut self, key: &[u8], data: &[u8]) -> Result<()> {
        self.check_writable()?;
        let hash = self.hash_key(key);
        self.with_chain(hash, LockType::Write, |t| {
            let mut buf = match t.find(key, hash) {
                Ok((off, rec)) => t.io.read_vec(off + REC_HDR + rec.key_len, rec.data_len)?,
                Err(Error::NoExist) => Vec::new(),
                Err(e) => return Err(e),
            };
            buf.extend_from_slice(data);
            t.store_locked(key, hash, &buf, StoreFlag::Replace, true)
        })
    }

    /// `tdb_delete`.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        let r = self.delete_inner(key);
        self.note(r)
    }

    fn delete_inner(&mut self, key: &[u8]) -> Result<()> {
        self.check_writable()?;
        let hash = self.hash_key(key);
        self.with_chain(hash, LockType::Write, |t| t.delete_locked(key, hash))
    }

    /// `tdb_delete_hash` with the chain locked: mark dead, bump seqnum, trim.
    fn delete_locked(&mut self, key: &[u8], hash: u32) -> Result<()> {
        let (off, mut rec) = self.find(key, hash)?;
        rec.magic = TDB_DEAD_MAGIC;
        self.io.write_rec(off, &rec)?;
        self.increment_seqnum()?;
        self.trim_dead(hash, self.max_dead)
    }

    /// `tdb_wipe_all`: empty the database (file size unchanged).
    pub fn wipe_all(&mut self) -> Result<()> {
        let r = self.wipe_all_inner();
        self.note(r)
    }

    fn wipe_all_inner(&mut self) -> Result<()> {
        self.lockall(LockType::Write, true, false)?;
        let r = (|| -> Result<()> {
            let rec_start = self.io.read_u32(header::RECOVERY_HEAD)?;
            let mut recovery = None;
            if rec_start != 0 {
                let rec = self.io.read_rec_raw(rec_start)?;
                recovery = Some((u64::from(rec_start), rec.total()));
            }
            let heads = vec![0u8; 4 * (self.hash_size as usize + 1)];
            self.io.write(header::FREELIST_TOP, &heads)?;
            let ds = data_start(self.hash_size);
            // C uses its map_size as it stands (possibly stale after a commit).
            let end = self.io.size;
            match recovery {
                Some((rs, rl)) if rs >= ds && rs.saturating_add(rl) <= end => {
                    self.free_region(ds, rs - ds)?;
                    self.free_region(rs + rl, end - (rs + rl))?;
                }
                _ => self.free_region(ds, end.saturating_sub(ds))?,
            }
            self.increment_seqnum()
        })();
        let u = self.unlockall(LockType::Write, false);
        r.and(u)
    }

    /// `tdb_free_region`: add `[off, off + len)` to the freelist (ignored if ≤ 24 bytes).
    fn free_region(&mut self, off: u64, len: u64) -> Result<()> {
        if len <= u64::from(REC_HDR) {
            return Ok(());
        }
        let rec = Record {
            rec_len: u32::try_from(len - u64::from(REC_HDR))
                .map_err(|_| Error::corrupt("region too large"))?,
            ..Record::default()
        };
        let off = u32::try_from(off).map_err(|_| Error::corrupt("region offset too large"))?;
        self.free_record(off, &rec)
    }

    /// Live key/data pairs in traverse order (a convenience for tests and tools).
    pub fn entries(&mut self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        self.traverse_read(|_, k, d| {
            out.push((k.to_vec(), d.to_vec()));
            std::ops::ControlFlow::Continue(())
        })?;
        Ok(out)
    }
}
