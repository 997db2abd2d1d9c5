//! Traverse (bucket order, newest first within a bucket) with C's record read locks, and
//! `firstkey`/`nextkey`.

use std::ops::ControlFlow;

use crate::error::{code, Error, Result};
use crate::header::bucket_top;
use crate::lock::{LockType, TRANSACTION_LOCK};
use crate::record::{Record, REC_HDR, TDB_DEAD_MAGIC};
use crate::walk::{ChainWalk, List};
use crate::{Tdb, TravLock};

impl Tdb {
    /// `tdb_next_lock`: advance `tl` to the next live record, leaving its chain locked
    /// and the record read-locked. Returns `None` at the end (no chain locked).
    fn next_lock(&mut self, tl: &mut TravLock, mut want_next: bool) -> Result<Option<Record>> {
        while tl.list < self.hash_size {
            if tl.off == 0 && tl.list != 0 {
                // Unlocked peek: skip empty chains.
                if self.io.read_u32(bucket_top(tl.list))? == 0 {
                    tl.list += 1;
                    continue;
                }
            }
            let list = i64::from(tl.list);
            self.lock_list(list, tl.ltype, true)?;
            match self.next_in_chain(tl, want_next) {
                Ok(Some(rec)) => return Ok(Some(rec)),
                Ok(None) => {}
                Err(e) => {
                    tl.off = 0;
                    let _ = self.unlock_list(list, tl.ltype);
                    return Err(e);
                }
            }
            self.unlock_list(list, tl.ltype)?;
            want_next = false;
            tl.list += 1;
            tl.steps = 0;
        }
        self.ecode = code::SUCCESS;
        Ok(None)
    }

    fn next_in_chain(&mut self, tl: &mut TravLock, want_next: bool) -> Result<Option<Record>> {
        if tl.off == 0 {
            tl.off = self.io.read_u32(bucket_top(tl.list))?;
        } else {
            let off = tl.off;
            self.unlock_record_for(tl, off)?;
        }
        if want_next && tl.off != 0 {
            let rec = self.rec_read(tl.off)?;
            tl.off = rec.next;
        } else {
            tl.steps = 0;
        }
        let head = bucket_top(tl.list);
        let mut walk = ChainWalk::resume(self, List::Chain(tl.list), head, tl.off, tl.steps);
        let found = self.next_live(&mut walk);
        tl.steps = walk.steps();
        tl.off = match &found {
            Ok(Some((off, _))) => *off,
            _ => 0,
        };
        Ok(found?.map(|(_, rec)| rec))
    }

    /// The next live record of a chain walk, read-locked.
    fn next_live(&mut self, walk: &mut ChainWalk) -> Result<Option<(u32, Record)>> {
        while let Some((off, rec)) = walk.next_chain(self)? {
            if rec.next == off {
                return Err(Error::corrupt(format!("record at {off} points to itself")));
            }
            if rec.magic != TDB_DEAD_MAGIC {
                self.lock_record(off)?;
                return Ok(Some((off, rec)));
            }
            // Dead records are skipped (1.4.8 no longer frees them here).
        }
        Ok(None)
    }

    /// Release the record lock of `tl` (the traverse list still contains `tl` itself).
    fn unlock_record_for(&mut self, _tl: &TravLock, off: u32) -> Result<()> {
        self.unlock_record(off)
    }

    fn traverse_internal<F>(&mut self, ltype: LockType, f: &mut F) -> Result<u32>
    where
        F: FnMut(&mut Tdb, &[u8], &[u8]) -> ControlFlow<()>,
    {
        let idx = self.travlocks.len();
        self.travlocks.push(TravLock {
            off: 0,
            list: 0,
            ltype,
            steps: 0,
        });
        let mut count = 0u32;
        let r = (|| -> Result<u32> {
            let mut want_next = false;
            loop {
                let mut tl = self.travlocks[idx];
                let next = self.next_lock(&mut tl, want_next);
                self.travlocks[idx] = tl;
                let Some(rec) = next? else { return Ok(count) };
                want_next = true;
                count += 1;
                let len = rec.key_len + rec.data_len;
                let buf = match self.io.read_vec(tl.off + REC_HDR, len) {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = self.unlock_list(i64::from(tl.list), ltype);
                        let _ = self.unlock_record(tl.off);
                        self.travlocks[idx].off = 0;
                        return Err(e);
                    }
                };
                self.unlock_list(i64::from(tl.list), ltype)?;
                let (k, d) = buf.split_at(rec.key_len as usize);
                if f(self, k, d).is_break() {
                    let off = self.travlocks[idx].off;
                    self.unlock_record(off)?;
                    self.travlocks[idx].off = 0;
                    return Ok(count);
                }
            }
        })();
        self.travlocks.truncate(idx);
        r
    }

    /// `tdb_traverse`: visit every live record; the callback may use the handle (store,
    /// delete, ...). Returns the number of records passed to the callback.
    pub fn traverse<F>(&mut self, mut f: F) -> Result<u32>
    where
        F: FnMut(&mut Tdb, &[u8], &[u8]) -> ControlFlow<()>,
    {
        if self.read_only || self.traverse_read > 0 {
            return self.traverse_read(f);
        }
        let wait = self.locks.allrecord.count == 0;
        let limit = self.lock_limit();
        let r = self
            .locks
            .nest_lock(TRANSACTION_LOCK, LockType::Write, wait, false, limit);
        self.note(r)?;
        self.traverse_write += 1;
        let r = self.traverse_internal(LockType::Write, &mut f);
        self.traverse_write -= 1;
        let u = self.locks.nest_unlock(TRANSACTION_LOCK, false);
        let r = r.and_then(|c| u.map(|_| c));
        self.note(r)
    }

    /// `tdb_traverse_read`: like [`Tdb::traverse`] with read locks; writes from the
    /// callback fail with `ReadOnly`.
    pub fn traverse_read<F>(&mut self, mut f: F) -> Result<u32>
    where
        F: FnMut(&mut Tdb, &[u8], &[u8]) -> ControlFlow<()>,
    {
        self.traverse_read += 1;
        let r = self.traverse_internal(LockType::Read, &mut f);
        self.traverse_read -= 1;
        self.note(r)
    }

    /// `tdb_firstkey`: the first key in traverse order, `None` if empty.
    pub fn firstkey(&mut self) -> Result<Option<Vec<u8>>> {
        let r = self.firstkey_inner();
        self.note(r)
    }

    fn firstkey_inner(&mut self) -> Result<Option<Vec<u8>>> {
        let old = self.walk.off;
        self.walk.off = 0;
        if old != 0 {
            self.unlock_record(old)?;
        }
        self.walk = TravLock {
            off: 0,
            list: 0,
            ltype: LockType::Read,
            steps: 0,
        };
        let mut tl = self.walk;
        let r = self.next_lock(&mut tl, false);
        self.walk = tl;
        let Some(rec) = r? else { return Ok(None) };
        let key = self.io.read_vec(tl.off + REC_HDR, rec.key_len);
        self.unlock_list(i64::from(tl.list), tl.ltype)?;
        key.map(Some)
    }

    /// `tdb_nextkey`: the key after `old`, `None` at the end; `Err(NoExist)` if `old`
    /// is not in the database and not the current position.
    pub fn nextkey(&mut self, old: &[u8]) -> Result<Option<Vec<u8>>> {
        let r = self.nextkey_inner(old);
        self.note(r)
    }

    fn nextkey_inner(&mut self, old: &[u8]) -> Result<Option<Vec<u8>>> {
        let ltype = self.walk.ltype;
        if self.walk.off != 0 {
            let list = i64::from(self.walk.list);
            self.lock_list(list, ltype, true)?;
            let off = self.walk.off;
            let same = match self.rec_read(off) {
                Ok(rec) => {
                    let n = (rec.key_len as usize).min(old.len());
                    self.io
                        .read_vec(off + REC_HDR, rec.key_len)
                        .map(|k| k.len() >= old.len() && k[..n] == old[..n])
                        .unwrap_or(false)
                }
                Err(_) => false,
            };
            if !same {
                self.walk.off = 0;
                self.unlock_record(off)?;
                self.unlock_list(list, ltype)?;
            }
        }
        if self.walk.off == 0 {
            let hash = self.hash_key(old);
            let list = i64::from(hash % self.hash_size);
            self.lock_list(list, ltype, true)?;
            match self.find(old, hash) {
                Ok((off, rec)) => {
                    self.walk.off = off;
                    self.walk.list = rec.full_hash % self.hash_size;
                    self.lock_record(off)?;
                }
                Err(e) => {
                    self.unlock_list(list, ltype)?;
                    return Err(e);
                }
            }
        }
        let old_list = i64::from(self.walk.list);
        let mut tl = self.walk;
        let r = self.next_lock(&mut tl, true);
        self.walk = tl;
        let mut out = Ok(None);
        match r {
            Ok(Some(rec)) => {
                out = self.io.read_vec(tl.off + REC_HDR, rec.key_len).map(Some);
                self.unlock_list(i64::from(tl.list), ltype)?;
            }
            Ok(None) => {
                self.walk.off = 0;
            }
            Err(e) => {
                self.walk.off = 0;
                out = Err(e);
            }
        }
        let _ = self.unlock_list(old_list, ltype);
        out
    }
}
