//! The C API's handle controls that have no other home: `tdb_reopen`, flag changes,
//! `tdb_increment_seqnum_nonblock`, chain locks by number (`tdb_lock_nonblock`/
//! `tdb_unlock`), the transaction lock's mark calls, `tdb_storev`, `tdb_setalarm_sigptr`
//! and the descriptor and map size.

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Error, Result};
use crate::header::SEQNUM_OFS;
use crate::lock::{InterruptCheck, LockType, ACTIVE_LOCK, TRANSACTION_LOCK};
use crate::{flags, StoreFlag, Tdb};

impl Tdb {
    /// `tdb_reopen`: open `path` again (after `fork`, so that this process has its own
    /// descriptor and locks), check it is the same file, map it afresh and, with
    /// `active_lock`, take the `TDB_CLEAR_IF_FIRST` read lock again. Refused while locks
    /// or a transaction are held. An in-memory database has nothing to do.
    pub fn reopen(&mut self, path: &Path, open_flags: i32, active_lock: bool) -> Result<()> {
        let r = self.reopen_inner(path, open_flags, active_lock);
        self.note(r)
    }

    fn reopen_inner(&mut self, path: &Path, open_flags: i32, active_lock: bool) -> Result<()> {
        if self.flags & flags::INTERNAL != 0 {
            return Ok(());
        }
        if self.locks.have_extra_locks(false) {
            return Err(Error::Lock("reopen not allowed with locks held".into()));
        }
        if self.io.tx.is_some() {
            return Err(Error::Einval(
                "reopen not allowed inside a transaction".into(),
            ));
        }
        let acc = open_flags & libc::O_ACCMODE;
        let file = OpenOptions::new()
            .read(true)
            .write(acc != libc::O_RDONLY)
            .custom_flags(
                (open_flags & !(libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC)) | libc::O_CLOEXEC,
            )
            .open(path)
            .map_err(|e| {
                Error::Os(
                    e.raw_os_error().unwrap_or(libc::EIO),
                    format!("reopen: open failed ({e})"),
                )
            })?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(format!("reopen: fstat failed ({e})")))?;
        if self.dev_ino != Some((meta.dev(), meta.ino())) {
            return Err(Error::io("reopen: file dev/inode has changed!"));
        }
        let fd = file.as_raw_fd();
        drop(self.io.replace_file(file)?);
        self.locks.reset_for_fd(fd);
        if active_lock {
            let limit = self.lock_limit();
            self.locks
                .nest_lock(ACTIVE_LOCK, LockType::Read, true, false, limit)?;
        }
        Ok(())
    }

    /// `tdb_add_flags` (C's rules: allow and disallow nesting exclude each other).
    pub fn add_flags(&mut self, add: u32) -> Result<()> {
        self.refuse_both_nestings(add)?;
        if add & flags::ALLOW_NESTING != 0 {
            self.flags &= !flags::DISALLOW_NESTING;
        }
        if add & flags::DISALLOW_NESTING != 0 {
            self.flags &= !flags::ALLOW_NESTING;
        }
        self.set_flags(self.flags | add);
        Ok(())
    }

    /// `tdb_remove_flags` (locking cannot be switched on for a mutex file opened
    /// without its mutexes).
    pub fn remove_flags(&mut self, remove: u32) -> Result<()> {
        self.refuse_both_nestings(remove)?;
        if remove & flags::NOLOCK != 0 && self.io.base() != 0 && self.locks.mutexes.is_none() {
            let e = Error::Lock("Can not remove NOLOCK flag on mutexed databases".into());
            self.ecode = e.code();
            return Err(e);
        }
        if remove & flags::ALLOW_NESTING != 0 {
            self.flags |= flags::DISALLOW_NESTING;
        }
        if remove & flags::DISALLOW_NESTING != 0 {
            self.flags |= flags::ALLOW_NESTING;
        }
        self.set_flags(self.flags & !remove);
        Ok(())
    }

    /// C refuses a flag change naming both nesting flags, with `TDB_ERR_NESTING`.
    fn refuse_both_nestings(&mut self, change: u32) -> Result<()> {
        if change & flags::ALLOW_NESTING != 0 && change & flags::DISALLOW_NESTING != 0 {
            self.ecode = crate::code::NESTING;
            return Err(Error::Unchanged(
                self.ecode,
                "allow_nesting and disallow_nesting are not allowed together!".into(),
            ));
        }
        Ok(())
    }

    /// Take the new flags, making the locking and mapping follow `TDB_NOLOCK` and
    /// `TDB_NOMMAP` as C checks them at each use.
    fn set_flags(&mut self, new: u32) {
        self.flags = new;
        let nolock = new & flags::NOLOCK != 0 || self.locks.fd().is_none();
        self.locks.nolock = nolock;
        self.io.lend_mapped = !nolock;
        self.io.set_use_mmap(new & flags::NOMMAP == 0);
    }

    /// `tdb_increment_seqnum_nonblock`: bump the sequence number without its lock (if
    /// `TDB_SEQNUM` is set); failures are ignored, as in C.
    pub fn increment_seqnum_nonblock(&mut self) {
        if self.flags & flags::SEQNUM == 0 {
            return;
        }
        let v = self.io.read_u32(SEQNUM_OFS).unwrap_or(0);
        let _ = self.io.write_u32(SEQNUM_OFS, v.wrapping_add(1));
    }

    /// `tdb_lock_nonblock(list, ltype)`: lock chain `list` (−1 = the freelist) without
    /// waiting.
    pub fn lock_chain_nonblock(&mut self, list: i32, ltype: LockType) -> Result<()> {
        let r = self.lock_list(i64::from(list), ltype, false);
        self.note(r)
    }

    /// `tdb_unlock(list, ltype)`: release a lock of [`Tdb::lock_chain_nonblock`].
    pub fn unlock_chain(&mut self, list: i32, ltype: LockType) -> Result<()> {
        let r = self.unlock_list(i64::from(list), ltype);
        self.note(r)
    }

    /// `tdb_transaction_write_lock_mark`: count the transaction lock as held, without
    /// fcntl.
    pub fn transaction_write_lock_mark(&mut self) -> Result<()> {
        let limit = self.lock_limit();
        let r = self
            .locks
            .nest_lock(TRANSACTION_LOCK, LockType::Write, true, true, limit);
        self.note(r)
    }

    /// `tdb_transaction_write_lock_unmark`.
    pub fn transaction_write_lock_unmark(&mut self) -> Result<()> {
        let r = self.nest_unlock(TRANSACTION_LOCK, true);
        self.note(r)
    }

    /// `tdb_storev`: store the concatenation of `parts` under `key`.
    pub fn storev(&mut self, key: &[u8], parts: &[&[u8]], flag: StoreFlag) -> Result<()> {
        let mut total = 0usize;
        for p in parts {
            match total.checked_add(p.len()) {
                Some(t) if u32::try_from(t).is_ok() => total = t,
                _ => {
                    let e = Error::Oom("data too large".into());
                    self.ecode = e.code();
                    return Err(e);
                }
            }
        }
        if let [one] = parts {
            return self.store(key, one, flag);
        }
        let mut data = Vec::with_capacity(total);
        for p in parts {
            data.extend_from_slice(p);
        }
        self.store(key, &data, flag)
    }

    /// `tdb_setalarm_sigptr`: a check that ends blocking lock waits a signal interrupted.
    pub fn set_interrupt_check(&mut self, check: Option<InterruptCheck>) {
        self.locks.set_interrupt_check(check);
    }

    /// `tdb_map_size`: the size this handle last knew (not re-read).
    pub fn map_size(&self) -> u64 {
        self.io.size
    }

    /// `tdb_fd`: the file's descriptor (`None` for an in-memory database).
    pub fn fd(&self) -> Option<RawFd> {
        self.io.backing_file().map(AsRawFd::as_raw_fd)
    }
}
