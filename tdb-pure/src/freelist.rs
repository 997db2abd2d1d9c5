//! Free space: `tdb_free` (left merge only), best-fit allocation with C's float
//! arithmetic, splitting from the end, dead-record reuse and purging, and file growth.

use crate::error::{Error, Result};
use crate::header::{data_start, FREELIST_TOP};
use crate::lock::LockType;
use crate::record::{
    align4, Record, MIN_REC_SIZE, REC_HDR, TDB_DEAD_MAGIC, TDB_FREE_MAGIC, TDB_MAGIC, TDB_PAD_U32,
};
use crate::walk::{ChainWalk, List};
use crate::Tdb;

/// Freelist lock list number.
pub(crate) const FREELIST: i64 = -1;

/// Page size used for growth (x86-64 Linux).
const PAGE_SIZE: u64 = 4096;

/// `tdb_expand_adjust`: how much to grow a database of `map_size` bytes that needs
/// `size` more bytes.
pub fn expand_increment(map_size: u32, size: u32) -> u32 {
    if size > u32::MAX - map_size {
        return size;
    }
    let inner = || -> Option<u64> {
        let inc = if size > 100 * 1024 {
            size.checked_mul(2)?
        } else {
            size.checked_mul(100)?
        };
        let top = map_size.checked_add(inc)?;
        let factor = if map_size > 100 * 1024 * 1024 {
            1.10
        } else {
            1.25
        };
        let grow = (f64::from(map_size) * factor) as u64;
        let new = u64::from(top).max(grow);
        let rounded = new.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        if rounded > u64::from(u32::MAX) {
            return None;
        }
        Some(rounded - u64::from(map_size))
    };
    match inner() {
        Some(v) => v as u32,
        None => u32::MAX - map_size,
    }
}

/// The rec_len requested from the freelist for `n` bytes of key + data.
pub fn wanted_len(n: u32) -> u32 {
    let scaled = (f64::from(n) * 1.25) as u32;
    align4(scaled.wrapping_add(4))
}

impl Tdb {
    /// `tdb_rec_free_read`: read a freelist entry, repairing a live magic.
    pub(crate) fn free_read(&mut self, off: u32) -> Result<Record> {
        let mut rec = self.io.read_rec_raw(off)?;
        if rec.magic == TDB_MAGIC {
            rec.magic = TDB_FREE_MAGIC;
            self.io.write_rec(off, &rec)?;
        }
        if rec.magic != TDB_FREE_MAGIC {
            return Err(Error::corrupt(format!(
                "freelist entry at {off} has magic {:#010x}",
                rec.magic
            )));
        }
        self.check_next(off, rec.next)?;
        Ok(rec)
    }

    /// Validate a `next` pointer read from the record at `off`.
    pub(crate) fn check_next(&mut self, off: u32, next: u32) -> Result<()> {
        if next == 0 {
            return Ok(());
        }
        if u64::from(next) < data_start(self.hash_size) {
            return Err(Error::corrupt(format!(
                "record at {off} links to {next}, inside the header"
            )));
        }
        self.io
            .oob(u64::from(next), u64::from(REC_HDR))
            .map_err(|_| Error::corrupt(format!("record at {off} links to {next}, past EOF")))
    }

    fn write_tailer(&mut self, off: u32, rec: &Record) -> Result<()> {
        let total = REC_HDR
            .checked_add(rec.rec_len)
            .ok_or_else(|| Error::corrupt("rec_len overflow"))?;
        let at = off
            .checked_add(total - 4)
            .ok_or_else(|| Error::corrupt("tailer offset overflow"))?;
        self.io.write_u32(at, total)
    }

    /// `read_record_on_left`: the physical left neighbour of `off`, if plausible.
    fn record_on_left(&mut self, off: u32) -> Result<Option<(u32, Record)>> {
        let ds = data_start(self.hash_size);
        let left_ptr = off.wrapping_sub(4);
        if off < 4 || u64::from(left_ptr) <= ds {
            return Ok(None);
        }
        let left_size = self.io.read_u32(left_ptr)?;
        if left_size == 0 || left_size == TDB_PAD_U32 || left_size > off {
            return Ok(None);
        }
        let left = off - left_size;
        if u64::from(left) < ds {
            return Ok(None);
        }
        let rec = self.io.read_rec_raw(left)?;
        Ok(Some((left, rec)))
    }

    /// If the left neighbour of `off` is free, merge `rec` into it.
    fn merge_left(&mut self, off: u32, rec: &Record) -> Result<Option<(u32, Record)>> {
        let Some((left, mut lrec)) = self.record_on_left(off)? else {
            return Ok(None);
        };
        if lrec.magic != TDB_FREE_MAGIC {
            return Ok(None);
        }
        lrec.rec_len = lrec
            .rec_len
            .checked_add(REC_HDR)
            .and_then(|v| v.checked_add(rec.rec_len))
            .ok_or_else(|| Error::corrupt(format!("merged free record at {left} overflows")))?;
        self.io.write_rec(left, &lrec)?;
        self.write_tailer(left, &lrec)?;
        Ok(Some((left, lrec)))
    }

    /// `tdb_free`: put the record at `off` on the freelist.
    pub(crate) fn free_record(&mut self, off: u32, rec: &Record) -> Result<()> {
        self.lock_list(FREELIST, LockType::Write, true)?;
        let r = self.free_record_locked(off, rec);
        let u = self.unlock_list(FREELIST, LockType::Write);
        r.and(u)
    }

    fn free_record_locked(&mut self, off: u32, rec: &Record) -> Result<()> {
        self.write_tailer(off, rec)?;
        if self.merge_left(off, rec)?.is_some() {
            return Ok(());
        }
        let mut rec = *rec;
        rec.magic = TDB_FREE_MAGIC;
        rec.next = self.io.read_u32(FREELIST_TOP)?;
        self.io.write_rec(off, &rec)?;
        self.io.write_u32(FREELIST_TOP, off)
    }

    /// `tdb_allocate_ofs`: carve `want` bytes out of free block `best`.
    fn allocate_ofs(
        &mut self,
        want: u32,
        off: u32,
        mut rec: Record,
        last: u32,
    ) -> Result<(u32, Record)> {
        if u64::from(rec.rec_len) < u64::from(want) + u64::from(MIN_REC_SIZE) {
            self.io.write_u32(last, rec.next)?;
            rec.magic = TDB_MAGIC;
            self.io.write_rec(off, &rec)?;
            return Ok((off, rec));
        }
        rec.rec_len -= want + REC_HDR;
        self.io.write_rec(off, &rec)?;
        self.write_tailer(off, &rec)?;
        let new_off = off + REC_HDR + rec.rec_len;
        let new = Record {
            rec_len: want,
            magic: TDB_MAGIC,
            ..Record::default()
        };
        self.io.write_rec(new_off, &new)?;
        self.write_tailer(new_off, &new)?;
        Ok((new_off, new))
    }

    /// `tdb_allocate_from_freelist` (freelist lock held).
    fn allocate_from_freelist(&mut self, n: u32) -> Result<(u32, Record)> {
        let want = wanted_len(n);
        let mut rounds = 0u32;
        // One expansion always makes room when the freelist is whole (the new space is
        // freed whole, at least `want` bytes); a second is allowed for safety. More means
        // the new space merges into a free record the freelist has lost (a hostile file,
        // or a leak C tdb itself can leave): C then grows the file by a quarter again and
        // again until it would pass 4 GiB and fails with TDB_ERR_OOM, eating the disk or,
        // in a transaction, memory. tdb-pure fails with the same code straight away.
        let mut expansions = 0u32;
        loop {
            rounds += 1;
            if rounds > 64 {
                return Err(Error::corrupt("freelist allocation does not converge"));
            }
            let mut merged_candidate = false;
            let mut best: Option<(u32, u32, u32)> = None; // (off, last, rec_len)
            let mut multiplier: f32 = 1.0;
            let mut walk = ChainWalk::new(self, List::Free)?;
            while let Some((cur, rec)) = walk.next_free(self)? {
                if let Some((left, lrec)) = self.merge_left(cur, &rec)? {
                    self.io.write_u32(walk.link(), rec.next)?;
                    walk.unlinked();
                    if let Some(b) = best.as_mut() {
                        if b.0 == left {
                            b.2 = lrec.rec_len;
                        }
                    }
                    if lrec.rec_len > want {
                        merged_candidate = true;
                    }
                    continue;
                }
                if rec.rec_len >= want && best.is_none_or(|b| rec.rec_len < b.2) {
                    best = Some((cur, walk.link(), rec.rec_len));
                }
                if let Some(b) = best {
                    if (b.2 as f32) < (want as f32) * multiplier {
                        break;
                    }
                }
                multiplier = (f64::from(multiplier) * 1.05) as f32;
            }
            if let Some((off, last, _)) = best {
                let rec = self.free_read(off)?;
                return self.allocate_ofs(want, off, rec, last);
            }
            if merged_candidate {
                continue;
            }
            expansions += 1;
            if expansions > 2 {
                return Err(Error::Oom(
                    "the freelist does not take the space just added to the file (it merges \
                     into a free record the freelist has lost); `check` and `repack` repair \
                     such a file"
                        .into(),
                ));
            }
            self.expand(
                want.checked_add(REC_HDR)
                    .ok_or_else(|| Error::Oom("record too large".into()))?,
            )?;
        }
    }

    /// `tdb_expand`: grow the database by at least `size` bytes and free the new space.
    pub(crate) fn expand(&mut self, size: u32) -> Result<()> {
        self.lock_list(FREELIST, LockType::Write, true)?;
        let r = self.expand_locked(size);
        let u = self.unlock_list(FREELIST, LockType::Write);
        r.and(u)
    }

    fn expand_locked(&mut self, size: u32) -> Result<()> {
        if self.io.tx.is_some() {
            // C's size probe goes to transaction_oob, which sets TDB_ERR_IO even for a
            // probe: the code stays behind after a successful expansion.
            self.ecode = crate::code::IO;
        }
        let old = self.io.refresh_size()?;
        let old32 = u32::try_from(old).map_err(|_| Error::Oom("database over 4 GiB".into()))?;
        let inc = expand_increment(old32, size);
        if inc < REC_HDR + 4 || u64::from(inc) + old > u64::from(u32::MAX) {
            return Err(Error::Oom(format!(
                "cannot grow database of {old} bytes by {size}"
            )));
        }
        self.io.grow(old + u64::from(inc))?;
        let rec = Record {
            rec_len: inc - REC_HDR,
            ..Record::default()
        };
        self.free_record_locked(old32, &rec)
    }

    /// `tdb_find_dead`: best-fitting dead record in `bucket` for `n` bytes.
    fn find_dead(&mut self, bucket: u32, n: u32) -> Result<Option<(u32, Record, u32)>> {
        let need = n.saturating_add(4);
        let mut best: Option<(u32, Record, u32)> = None;
        let mut walk = ChainWalk::new(self, List::Chain(bucket))?;
        while let Some((cur, rec)) = walk.next_chain(self)? {
            if rec.magic == TDB_DEAD_MAGIC
                && rec.rec_len >= need
                && best.is_none_or(|b| rec.rec_len < b.1.rec_len)
            {
                best = Some((cur, rec, walk.link()));
            }
        }
        Ok(best)
    }

    /// `tdb_allocate`: room for `n` bytes of key + data; chain of `hash` write-locked.
    pub(crate) fn allocate(&mut self, hash: u32, n: u32) -> Result<(u32, Record)> {
        if self.max_dead > 0 {
            for i in 0..self.hash_size {
                let list = hash.wrapping_add(i) % self.hash_size;
                if self
                    .lock_list(i64::from(list), LockType::Write, false)
                    .is_ok()
                {
                    let dead = self.find_dead(list, n);
                    let got = match dead {
                        Ok(Some((off, rec, last))) => {
                            self.io.write_u32(last, rec.next).map(|_| Some((off, rec)))
                        }
                        Ok(None) => Ok(None),
                        Err(e) => Err(e),
                    };
                    self.unlock_list(i64::from(list), LockType::Write)?;
                    if let Ok(Some(found)) = got {
                        return Ok(found);
                    }
                }
                if self.lock_list(FREELIST, LockType::Write, false).is_ok() {
                    self.purge_dead(hash);
                    let r = self.allocate_from_freelist(n);
                    let u = self.unlock_list(FREELIST, LockType::Write);
                    return r.and_then(|v| u.map(|_| v));
                }
            }
        }
        self.lock_list(FREELIST, LockType::Write, true)?;
        self.purge_dead(hash);
        let r = self.allocate_from_freelist(n);
        let u = self.unlock_list(FREELIST, LockType::Write);
        r.and_then(|v| u.map(|_| v))
    }

    /// `tdb_purge_dead` before an allocation: its failure is ignored but, as in C, leaves
    /// its error code.
    fn purge_dead(&mut self, hash: u32) {
        if let Err(e) = self.trim_dead(hash, 0) {
            self.ecode = e.code();
        }
    }

    /// `tdb_trim_dead` with limit `max_dead`: free dead records of the chain of `hash`
    /// beyond the first `max_dead`, unless someone holds them.
    pub(crate) fn trim_dead(&mut self, hash: u32, max_dead: u32) -> Result<()> {
        let mut locked_freelist = false;
        let result = self.trim_dead_walk(hash, max_dead, &mut locked_freelist);
        if locked_freelist {
            let u = self.unlock_list(FREELIST, LockType::Write);
            return result.and(u);
        }
        result
    }

    /// The walk of [`Tdb::trim_dead`], which takes the freelist lock on the first record
    /// it frees (`locked_freelist` says whether it did, even on failure).
    fn trim_dead_walk(
        &mut self,
        hash: u32,
        max_dead: u32,
        locked_freelist: &mut bool,
    ) -> Result<()> {
        let mut num_dead = 0u32;
        let mut walk = ChainWalk::new(self, List::Chain(hash % self.hash_size))?;
        while let Some((cur, rec)) = walk.next_chain(self)? {
            if rec.magic != TDB_DEAD_MAGIC {
                continue;
            }
            num_dead += 1;
            if num_dead <= max_dead {
                continue;
            }
            if !*locked_freelist {
                self.lock_list(FREELIST, LockType::Write, true)?;
                *locked_freelist = true;
            }
            if self.write_lock_record_probe(cur) {
                self.io.write_u32(walk.link(), rec.next)?;
                self.free_record(cur, &rec)?;
                walk.unlinked();
            }
        }
        Ok(())
    }

    /// `tdb_freelist_size`: count freelist entries, merging each into a free left
    /// neighbour on writable handles.
    pub fn freelist_size(&mut self) -> Result<u32> {
        let r = self.freelist_size_inner();
        self.note(r)
    }

    fn freelist_size_inner(&mut self) -> Result<u32> {
        self.lock_list(FREELIST, LockType::Read, true)?;
        let mut count = 0u32;
        let r = self.count_freelist(&mut count);
        let u = self.unlock_list(FREELIST, LockType::Read);
        r.and(u)?;
        Ok(count)
    }

    /// Count the freelist's entries into `count`, merging on writable handles.
    fn count_freelist(&mut self, count: &mut u32) -> Result<()> {
        let mut walk = ChainWalk::new(self, List::Free)?;
        while let Some((off, rec)) = walk.next_raw(self)? {
            *count += 1;
            if !self.read_only && self.merge_left(off, &rec)?.is_some() {
                self.io.write_u32(walk.link(), rec.next)?;
                walk.unlinked();
                // C's loop goes on from the pointer in the record after the merged one,
                // which it therefore neither counts nor merges.
                walk.pass_over(self)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_lengths_from_doc() {
        for (n, want) in [(7, 12), (2, 8), (46, 64), (40, 56), (38, 52), (0, 4)] {
            assert_eq!(wanted_len(n), want, "n = {n}");
        }
    }

    #[test]
    fn expand_increment_worked_example() {
        // Fresh 131-bucket file (696 bytes), want 12 -> expand(36) -> grows to 8192.
        assert_eq!(expand_increment(696, 36), 8192 - 696);
        assert_eq!(expand_increment(u32::MAX - 10, 100), 100);
    }
}
