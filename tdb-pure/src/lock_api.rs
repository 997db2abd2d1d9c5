//! The public lock calls: the chain-lock family (`tdb_chainlock*`) and the all-record
//! family (`tdb_lockall*`), with C's nesting, upgrade and mark rules.

use crate::error::{Error, Result};
use crate::lock::{self, lock_offset, LockType};
use crate::Tdb;

impl Tdb {
    // ---- chain lock family ----

    fn chain_of(&self, key: &[u8]) -> i64 {
        i64::from(self.bucket(self.hash_key(key)))
    }

    /// `tdb_chainlock`.
    pub fn chainlock(&mut self, key: &[u8]) -> Result<()> {
        let l = self.chain_of(key);
        let r = self.lock_list(l, LockType::Write, true);
        self.note(r)
    }

    /// `tdb_chainlock_nonblock`.
    pub fn chainlock_nonblock(&mut self, key: &[u8]) -> Result<()> {
        let l = self.chain_of(key);
        let r = self.lock_list(l, LockType::Write, false);
        self.note(r)
    }

    /// `tdb_chainlock_read`.
    pub fn chainlock_read(&mut self, key: &[u8]) -> Result<()> {
        let l = self.chain_of(key);
        let r = self.lock_list(l, LockType::Read, true);
        self.note(r)
    }

    /// `tdb_chainlock_read_nonblock`.
    pub fn chainlock_read_nonblock(&mut self, key: &[u8]) -> Result<()> {
        let l = self.chain_of(key);
        let r = self.lock_list(l, LockType::Read, false);
        self.note(r)
    }

    /// `tdb_chainlock_mark`: count the chain as write-locked without fcntl.
    pub fn chainlock_mark(&mut self, key: &[u8]) -> Result<()> {
        let l = self.chain_of(key);
        let limit = self.lock_limit();
        let r = self
            .locks
            .nest_lock(lock_offset(l), LockType::Write, true, true, limit);
        self.note(r)
    }

    /// `tdb_chainlock_unmark`.
    pub fn chainlock_unmark(&mut self, key: &[u8]) -> Result<()> {
        let l = self.chain_of(key);
        let r = self.nest_unlock(lock_offset(l), true);
        self.note(r)
    }

    /// `tdb_chainunlock`.
    pub fn chainunlock(&mut self, key: &[u8]) -> Result<()> {
        let l = self.chain_of(key);
        let r = self.unlock_list(l, LockType::Write);
        self.note(r)
    }

    /// `tdb_chainunlock_read`.
    pub fn chainunlock_read(&mut self, key: &[u8]) -> Result<()> {
        let l = self.chain_of(key);
        let r = self.unlock_list(l, LockType::Read);
        self.note(r)
    }

    // ---- allrecord lock family ----

    /// `tdb_allrecord_lock`.
    pub(crate) fn lockall(&mut self, ltype: LockType, wait: bool, mark: bool) -> Result<()> {
        if self.read_only || self.traverse_read > 0 {
            return Err(Error::Lock(
                "no allrecord locks on read-only handles".into(),
            ));
        }
        let ar = self.locks.allrecord;
        if ar.count > 0 && ar.ltype == Some(ltype) {
            self.locks.allrecord.count += 1;
            return Ok(());
        }
        if ar.count > 0 {
            return Err(Error::Lock("allrecord lock of another type held".into()));
        }
        if self.locks.have_extra_locks(false) {
            return Err(Error::Lock(
                "allrecord lock requested while holding other locks".into(),
            ));
        }
        if !mark {
            self.locks.take_allrecord(ltype, wait, self.hash_size)?;
        }
        self.locks.allrecord = lock::AllRecord {
            count: 1,
            ltype: Some(ltype),
            upgradable: false,
        };
        if self.needs_recovery() {
            self.unlockall(ltype, mark)?;
            if mark {
                return Err(Error::Lock("database needs recovery".into()));
            }
            self.lock_and_recover()?;
            return self.lockall(ltype, wait, mark);
        }
        Ok(())
    }

    /// `tdb_allrecord_unlock`.
    pub(crate) fn unlockall(&mut self, ltype: LockType, mark: bool) -> Result<()> {
        if self.read_only || self.traverse_read > 0 {
            return Err(Error::Lock(
                "no allrecord locks on read-only handles".into(),
            ));
        }
        let ar = self.locks.allrecord;
        if ar.count == 0 {
            return Err(Error::Lock("allrecord lock not held".into()));
        }
        if ar.ltype != Some(ltype) && !(ar.upgradable && ltype == LockType::Read) {
            return Err(Error::Lock("allrecord unlock of the wrong type".into()));
        }
        if ar.count > 1 {
            self.locks.allrecord.count -= 1;
            return Ok(());
        }
        if !mark {
            self.locks.drop_allrecord(self.hash_size)?;
        }
        self.locks.allrecord = lock::AllRecord::default();
        Ok(())
    }

    /// `tdb_lockall`.
    pub fn lockall_write(&mut self) -> Result<()> {
        let r = self.lockall(LockType::Write, true, false);
        self.note(r)
    }

    /// `tdb_lockall_nonblock`.
    pub fn lockall_nonblock(&mut self) -> Result<()> {
        let r = self.lockall(LockType::Write, false, false);
        self.note(r)
    }

    /// `tdb_lockall_read`.
    pub fn lockall_read(&mut self) -> Result<()> {
        let r = self.lockall(LockType::Read, true, false);
        self.note(r)
    }

    /// `tdb_lockall_read_nonblock`.
    pub fn lockall_read_nonblock(&mut self) -> Result<()> {
        let r = self.lockall(LockType::Read, false, false);
        self.note(r)
    }

    /// `tdb_lockall_mark`.
    pub fn lockall_mark(&mut self) -> Result<()> {
        let r = self.lockall(LockType::Write, true, true);
        self.note(r)
    }

    /// `tdb_lockall_unmark`.
    pub fn lockall_unmark(&mut self) -> Result<()> {
        let r = self.unlockall(LockType::Write, true);
        self.note(r)
    }

    /// `tdb_unlockall`.
    pub fn unlockall_write(&mut self) -> Result<()> {
        let r = self.unlockall(LockType::Write, false);
        self.note(r)
    }

    /// `tdb_unlockall_read`.
    pub fn unlockall_read(&mut self) -> Result<()> {
        let r = self.unlockall(LockType::Read, false);
        self.note(r)
    }
}
