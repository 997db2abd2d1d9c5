//! Transactions (`common/transaction.c`): a page-block write cache over the file, a
//! recovery area holding the old contents of every modified block, C's prepare/commit
//! sequence with its sync points, cancel, and `tdb_repack`.
//!
//! While a transaction is open, `Io` routes reads and writes through [`TxCache`]; other
//! processes keep reading the old file (they hold chain read locks compatible with the
//! transaction's read allrecord lock) until the commit upgrades it to a write lock.

use crate::error::{Error, Result};
use crate::header::RECOVERY_HEAD;
use crate::io::{TxCache, TX_BLOCK};
use crate::lock::{self, LockType, OPEN_LOCK, TRANSACTION_LOCK};
use crate::record::{Record, REC_HDR, TDB_RECOVERY_INVALID_MAGIC, TDB_RECOVERY_MAGIC};
use crate::walk::{ChainWalk, List};
use crate::{expand_increment, flags, StoreFlag, Tdb};

impl Tdb {
    /// `tdb_transaction_active`.
    pub fn transaction_active(&self) -> bool {
        self.io.tx.is_some()
    }

    /// `tdb_transaction_start` (blocking on the transaction lock).
    pub fn transaction_start(&mut self) -> Result<()> {
        let r = self.tx_start(true);
        self.note(r)
    }

    /// `tdb_transaction_start_nonblock`: `NoLock` if another transaction is running.
    pub fn transaction_start_nonblock(&mut self) -> Result<()> {
        let r = self.tx_start(false);
        self.note(r)
    }

    fn tx_start(&mut self, wait: bool) -> Result<()> {
        if self.read_only || self.flags & flags::INTERNAL != 0 || self.traverse_read > 0 {
            return Err(Error::Einval(
                "cannot start a transaction on a read-only or internal db".into(),
            ));
        }
        if let Some(tx) = self.io.tx.as_mut() {
            if self.flags & flags::ALLOW_NESTING == 0 {
                return Err(Error::Nesting);
            }
            tx.nesting += 1;
            return Ok(());
        }
        if self.locks.have_extra_locks(false) {
            return Err(Error::Lock(
                "cannot start a transaction with locks held".into(),
            ));
        }
        if !self.travlocks.is_empty() {
            return Err(Error::Lock(
                "cannot start a transaction within a traverse".into(),
            ));
        }
        let limit = self.lock_limit();
        if let Err(e) = self
            .locks
            .nest_lock(TRANSACTION_LOCK, LockType::Write, wait, false, limit)
        {
            return Err(if wait { e } else { Error::NoLock });
        }
        // The read allrecord lock, "upgradable" (bookkept as a write lock, as C does).
        if let Err(e) = self.take_allrecord_read() {
            let _ = self.locks.nest_unlock(TRANSACTION_LOCK, false);
            return Err(e);
        }
        let size = match self.io.refresh_size() {
            Ok(s) => s,
            Err(e) => {
                self.release_transaction_locks();
                return Err(e);
            }
        };
        self.io.tx = Some(TxCache {
            old_map_size: size,
            ..TxCache::default()
        });
        Ok(())
    }

    fn take_allrecord_read(&mut self) -> Result<()> {
        self.locks
            .take_allrecord(LockType::Read, true, self.hash_size)?;
        self.locks.allrecord = lock::AllRecord {
            count: 1,
            ltype: Some(LockType::Write),
            upgradable: true,
        };
        if self.needs_recovery() {
            let _ = self.locks.drop_allrecord(self.hash_size);
            self.locks.allrecord = lock::AllRecord::default();
            self.lock_and_recover()?;
            return self.take_allrecord_read();
        }
        Ok(())
    }

    /// `tdb_release_transaction_locks`: everything but `ACTIVE_LOCK`.
    fn release_transaction_locks(&mut self) {
        if self.locks.allrecord.count != 0 {
            let _ = self.locks.drop_allrecord(self.hash_size);
            self.locks.allrecord = lock::AllRecord::default();
        }
        self.locks.release_all_but_active();
    }

    /// `transaction_sync`: fdatasync unless `TDB_NOSYNC` or `$TDB_NO_FSYNC`.
    fn tx_sync(&mut self) -> Result<()> {
        if self.flags & flags::NOSYNC != 0 || std::env::var_os("TDB_NO_FSYNC").is_some() {
            return Ok(());
        }
        self.io.sync()
    }

    /// `tdb_transaction_cancel`.
    pub fn transaction_cancel(&mut self) -> Result<()> {
        let r = self.tx_cancel();
        self.note(r)
    }

    pub(crate) fn tx_cancel(&mut self) -> Result<()> {
        let Some(tx) = self.io.tx.as_mut() else {
            return Err(Error::Unchanged(self.ecode, "no transaction".into()));
        };
        if tx.nesting != 0 {
            tx.error = true;
            tx.nesting -= 1;
            return Ok(());
        }
        let tx = self.io.tx.take().expect("transaction");
        self.io.size = tx.old_map_size;
        let mut r = Ok(());
        if tx.magic_offset != 0 {
            let b = self.io.order.put(TDB_RECOVERY_INVALID_MAGIC);
            r = self
                .io
                .raw_write(tx.magic_offset, &b)
                .and_then(|()| self.tx_sync());
        }
        self.release_transaction_locks();
        // As C, the size stays at old_map_size until an access beyond it refreshes it
        // (after a commit that grew the file, C's map_size is the pre-growth size).
        r
    }

    /// `tdb_transaction_prepare_commit`.
    pub fn transaction_prepare_commit(&mut self) -> Result<()> {
        let r = self.tx_prepare();
        self.note(r)
    }

    /// Cancel after a failure and return the failure.
    fn cancel_with(&mut self, e: Error) -> Result<()> {
        let _ = self.tx_cancel();
        Err(e)
    }

    fn tx_prepare(&mut self) -> Result<()> {
        let Some(tx) = self.io.tx.as_ref() else {
            return Err(Error::Unchanged(self.ecode, "no transaction".into()));
        };
        if tx.prepared {
            return self.cancel_with(Error::Einval("transaction already prepared".into()));
        }
        if tx.error {
            return self.cancel_with(Error::io("transaction error pending"));
        }
        if tx.nesting != 0 || tx.blocks.is_empty() {
            return Ok(());
        }
        if self.locks.have_extra_locks(true) {
            return self.cancel_with(Error::Lock("locks pending on commit".into()));
        }
        if let Err(e) = self.locks.upgrade_allrecord(self.hash_size) {
            return self.cancel_with(e);
        }
        if let Err(e) = self
            .locks
            .nest_lock(OPEN_LOCK, LockType::Write, true, false, u32::MAX)
        {
            return self.cancel_with(e);
        }
        if let Err(e) = self.setup_recovery() {
            return self.cancel_with(e);
        }
        let tx = self.io.tx.as_mut().expect("transaction");
        tx.prepared = true;
        let old = tx.old_map_size;
        if self.io.size != old {
            if let Err(e) = self.io.raw_grow(self.io.size) {
                return self.cancel_with(Error::io(format!("expansion failed: {e}")));
            }
        }
        Ok(())
    }

    /// `tdb_recovery_size`: bytes of entries (plus the end word) the recovery needs.
    fn recovery_size(&self) -> u64 {
        let tx = self.io.tx.as_ref().expect("transaction");
        let mut size = 4u64;
        for i in 0..tx.blocks.len() {
            let (off, len) = tx.block_extent(i);
            if u64::from(off) >= tx.old_map_size {
                break;
            }
            if tx.blocks[i].is_none() {
                continue;
            }
            size += 8 + u64::from(len);
        }
        size
    }

    /// `tdb_recovery_allocate`: (offset, capacity) of the recovery area, placing and
    /// growing it as C does.
    fn recovery_allocate(&mut self) -> Result<(u32, u32, u32)> {
        let mut head = self.io.read_u32(RECOVERY_HEAD)?;
        let mut rec = Record::default();
        if head != 0 {
            let mut b = [0u8; REC_HDR as usize];
            self.io.raw_read(head, &mut b)?;
            rec = Record::decode(&b, self.io.order);
            if rec.magic != TDB_RECOVERY_MAGIC && rec.magic != TDB_RECOVERY_INVALID_MAGIC {
                rec.rec_len = 0;
            }
            if rec.rec_len == 0 {
                // A commit killed after it pointed the header at a new recovery area but
                // before it wrote the area's header leaves zeros there. C takes them for
                // an empty area and frees it, making a free record of length 0 that
                // breaks the freelist; like C's own rule for areas of a bad magic, the
                // zeros are ignored instead (left as dead space).
                head = 0;
            }
            let end = u64::from(head) + u64::from(rec.rec_len);
            if end > self.io.size && end > self.io.real_size()? {
                rec.rec_len = 0;
            }
        }
        let mut size = self.recovery_size();
        let too_big = || Error::Oom("recovery size overflows".into());
        if head != 0 && size <= u64::from(rec.rec_len) {
            return Ok((
                head,
                rec.rec_len,
                u32::try_from(size).map_err(|_| too_big())?,
            ));
        }
        if head == 0
            || u64::from(head) + u64::from(REC_HDR) + u64::from(rec.rec_len) != self.io.size
        {
            if head != 0 {
                self.free_record(head, &rec)?;
                size = self.recovery_size();
            }
            head = u32::try_from(self.io.size).map_err(|_| too_big())?;
        }
        let size32 = u32::try_from(size).map_err(|_| too_big())?;
        let map = u32::try_from(self.io.size).map_err(|_| too_big())?;
        let max = expand_increment(map, size32)
            .checked_sub(REC_HDR)
            .ok_or_else(too_big)?;
        let new_end = u64::from(head) + u64::from(REC_HDR) + u64::from(max);
        if new_end > u64::from(u32::MAX) {
            return Err(too_big());
        }
        self.io.raw_grow(new_end)?;
        let real = self.io.real_size()?;
        if real > self.io.size {
            self.io.size = real;
        }
        let size_now = self.io.size;
        self.io.tx.as_mut().expect("transaction").old_map_size = size_now;
        let b = self.io.order.put(head);
        self.io.raw_write(RECOVERY_HEAD, &b)?;
        self.io.tx_write_existing(RECOVERY_HEAD, &b);
        Ok((head, max, size32))
    }

    /// `transaction_setup_recovery`: write the old contents of every modified block,
    /// sync, then mark the area valid and sync again.
    fn setup_recovery(&mut self) -> Result<()> {
        let old_map_size = self.io.tx.as_ref().expect("transaction").old_map_size;
        let (off, max, size) = self.recovery_allocate()?;
        let order = self.io.order;
        let hdr = Record {
            next: 0,
            rec_len: max,
            key_len: u32::try_from(old_map_size).unwrap_or(u32::MAX),
            data_len: size,
            full_hash: 0,
            magic: TDB_RECOVERY_INVALID_MAGIC,
        };
        let mut blob = Vec::with_capacity(REC_HDR as usize + size as usize);
        blob.extend_from_slice(&hdr.encode(order));
        let tx = self.io.tx.as_ref().expect("transaction");
        let cur_old = tx.old_map_size;
        let extents: Vec<(u32, u32)> = (0..tx.blocks.len())
            .filter(|&i| tx.blocks[i].is_some())
            .map(|i| tx.block_extent(i))
            .filter(|&(o, _)| u64::from(o) < old_map_size)
            .collect();
        for (o, len) in extents {
            if u64::from(o) + u64::from(len) > cur_old {
                return Err(Error::corrupt("transaction data over new region boundary"));
            }
            blob.extend_from_slice(&order.put(o));
            blob.extend_from_slice(&order.put(len));
            let at = blob.len();
            blob.resize(at + len as usize, 0);
            self.io.raw_read(o, &mut blob[at..])?;
        }
        blob.extend_from_slice(&order.put(REC_HDR + max));
        self.io.raw_write(off, &blob)?;
        self.io.tx_write_existing(off, &blob);
        self.tx_sync()?;
        let magic_offset = off + 20;
        let m = order.put(TDB_RECOVERY_MAGIC);
        self.io.raw_write(magic_offset, &m)?;
        self.io.tx_write_existing(magic_offset, &m);
        self.io.tx.as_mut().expect("transaction").magic_offset = magic_offset;
        self.tx_sync()
    }

    /// `tdb_transaction_commit`.
    pub fn transaction_commit(&mut self) -> Result<()> {
        let r = self.tx_commit();
        self.note(r)
    }

    fn tx_commit(&mut self) -> Result<()> {
        let Some(tx) = self.io.tx.as_mut() else {
            return Err(Error::Unchanged(self.ecode, "no transaction".into()));
        };
        if tx.error {
            return self.cancel_with(Error::io("transaction error pending"));
        }
        if tx.nesting != 0 {
            tx.nesting -= 1;
            return Ok(());
        }
        if tx.blocks.is_empty() {
            return self.tx_cancel();
        }
        let prepared = tx.prepared;
        if !prepared {
            self.tx_prepare()?;
        }
        let blocks = std::mem::take(&mut self.io.tx.as_mut().expect("transaction").blocks);
        let last = self.io.tx.as_ref().map_or(0, |t| t.last_block_size);
        let n = blocks.len();
        for (i, b) in blocks.into_iter().enumerate() {
            let Some(b) = b else { continue };
            let len = if i + 1 == n { last } else { TX_BLOCK };
            let off = i as u32 * TX_BLOCK;
            if let Err(e) = self.io.raw_write(off, &b[..len as usize]) {
                let tx = self.io.tx.take();
                let _ = self.recover_if_needed();
                self.io.tx = tx;
                return self.cancel_with(e);
            }
        }
        let expanded = self.io.tx.as_ref().is_some_and(|t| t.expanded);
        let need_repack = expanded && {
            let tx = self.io.tx.take();
            let w = self.repack_worthwhile();
            self.io.tx = tx;
            w
        };
        self.tx_sync()?;
        if let Some(fd) = self.locks.fd() {
            // SAFETY: `fd` is the handle's open descriptor; a null `times` means "now".
            unsafe {
                libc::futimens(fd, std::ptr::null());
            }
        }
        self.tx_cancel()?;
        if need_repack {
            let _ = self.repack();
        }
        Ok(())
    }

    /// Whether the largest free block is less than half of all free space.
    fn repack_worthwhile(&mut self) -> bool {
        let Ok(mut walk) = ChainWalk::new(self, List::Free) else {
            return false;
        };
        let (mut total, mut largest) = (0u64, 0u64);
        while let Ok(Some((_, rec))) = walk.next_raw(self) {
            total += u64::from(rec.rec_len);
            largest = largest.max(u64::from(rec.rec_len));
        }
        total > largest * 2
    }

    /// `tdb_repack`: rewrite the database compactly inside a transaction (the file does
    /// not shrink).
    pub fn repack(&mut self) -> Result<()> {
        let r = self.repack_inner();
        self.note(r)
    }

    fn repack_inner(&mut self) -> Result<()> {
        self.tx_start(true)?;
        let r = (|| -> Result<()> {
            let entries = self.entries()?;
            let mut tmp = Tdb::open_internal(self.hash_size, 0)?;
            for (k, d) in &entries {
                tmp.store(k, d, StoreFlag::Insert)?;
            }
            self.wipe_all()?;
            for (k, d) in tmp.entries()? {
                self.store_buffered(&k, &d, StoreFlag::Insert)?;
            }
            Ok(())
        })();
        match r {
            Ok(()) => self.tx_commit(),
            Err(e) => {
                let _ = self.tx_cancel();
                Err(e)
            }
        }
    }
}
