//! Crash recovery (`tdb_transaction_recover`): a commit that died after making its
//! recovery area valid is rolled back by the next process to take a lock or open the
//! file, from the old blocks the area holds.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::header::{data_start, Header, FREELIST_TOP, HEADER_SIZE, RECOVERY_HEAD};
use crate::lock::{LockType, OPEN_LOCK};
use crate::record::{Record, ALIGNMENT, REC_HDR, TDB_FREE_MAGIC, TDB_RECOVERY_MAGIC};
use crate::walk::{ChainWalk, List};
use crate::Tdb;

/// Whether the database file at `path` holds a valid recovery area: a commit was
/// interrupted after making it valid, so the next read-write open (or lock) rolls the
/// commit back, and a read-only open fails with [`Error::NeedsRecovery`]. Reads the
/// header and the area's record header only (no open, no lock). An area the header
/// points at but that cannot be read is not valid (the open does not refuse it either).
/// A file that is not a tdb, or whose header [`Tdb::open`] refuses, is an error (the
/// one the open reports).
pub fn needs_recovery(path: &Path) -> Result<bool> {
    let file = File::open(path).map_err(|e| Error::io(format!("{}: {e}", path.display())))?;
    let mut raw = [0u8; HEADER_SIZE as usize];
    file.read_exact_at(&mut raw, 0)
        .map_err(|_| Error::io("not a tdb file (bad magic string)"))?;
    let header = Header::decode(&raw)?;
    if header.recovery_start == 0 {
        return Ok(false);
    }
    let mut rec = [0u8; REC_HDR as usize];
    if file
        .read_exact_at(&mut rec, u64::from(header.recovery_start))
        .is_err()
    {
        return Ok(false);
    }
    Ok(Record::decode(&rec, header.order).magic == TDB_RECOVERY_MAGIC)
}

impl Tdb {
    /// `tdb_needs_recovery`: a valid recovery area is present (or cannot be read).
    pub(crate) fn needs_recovery(&mut self) -> bool {
        let Ok(start) = self.io.read_u32(RECOVERY_HEAD) else {
            return true;
        };
        if start == 0 {
            return false;
        }
        match self.io.read_rec_raw(start) {
            Ok(rec) => rec.magic == TDB_RECOVERY_MAGIC,
            Err(_) => true,
        }
    }

    /// `tdb_lock_and_recover`: take the committer's locks in its order and recover.
    pub(crate) fn lock_and_recover(&mut self) -> Result<()> {
        self.locks
            .raw(Some(LockType::Write), HEADER_SIZE, 0, true)?;
        if let Err(e) = self.locks.raw(Some(LockType::Write), OPEN_LOCK, 1, true) {
            let _ = self.locks.raw(None, HEADER_SIZE, 0, false);
            return Err(e);
        }
        let mut r = self.recover_if_needed();
        if r.is_ok() && self.needs_recovery() {
            // Unreadable recovery data: C fails here rather than retrying forever.
            r = Err(Error::io("cannot read the recovery area"));
        }
        let _ = self.locks.raw(None, OPEN_LOCK, 1, false);
        let _ = self.locks.raw(None, HEADER_SIZE, 0, false);
        r
    }

    /// Replay a valid recovery area left by a crashed commit (`tdb_transaction_recover`).
    pub(crate) fn recover_if_needed(&mut self) -> Result<()> {
        let start = self.io.read_u32(RECOVERY_HEAD)?;
        if start == 0 {
            return Ok(());
        }
        let Ok(rec) = self.io.read_rec_raw(start) else {
            return Ok(());
        };
        if rec.magic != TDB_RECOVERY_MAGIC {
            return Ok(());
        }
        if self.read_only {
            return Err(Error::NeedsRecovery);
        }
        let payload = self
            .io
            .read_vec(start + REC_HDR, rec.data_len)
            .map_err(|_| Error::corrupt(format!("recovery area at {start} has a bad length")))?;
        let order = self.io.order;
        let mut at = 0usize;
        while payload.len() - at > 8 {
            let ofs = order.get_at(&payload, at);
            let len = order.get_at(&payload, at + 4) as usize;
            at += 8;
            if payload.len() - at < len {
                return Err(Error::corrupt("recovery entry overruns the recovery area"));
            }
            let end = u64::from(ofs) + len as u64;
            if end > self.io.size {
                self.io.grow(end)?;
            }
            self.io.write(ofs, &payload[at..at + len])?;
            at += len;
        }
        self.io.sync()?;
        // Still under the valid magic, so a recovery killed from here on is run again.
        let old_eof = u64::from(rec.key_len);
        let unused_end = self.end_of_unused_space(start, old_eof)?;
        self.reclaim_unused_space(old_eof, unused_end)?;
        // C also takes the header's pointer off an area past the old end of file, which
        // leaves the area itself in the file with nothing referencing it (both checks
        // then trip over it, and no later commit reuses it). Kept, it is an invalidated
        // recovery area like any other, ready for the next commit.
        self.io.write_u32(start + 20, 0)?;
        self.io.sync()
    }

    /// Where the space a commit added past `old_eof` ends: at the recovery area (at
    /// `start`) if that lies past `old_eof`, else at the end of the file.
    fn end_of_unused_space(&mut self, start: u32, old_eof: u64) -> Result<u64> {
        if u64::from(start) >= old_eof {
            Ok(u64::from(start))
        } else {
            self.io.refresh_size()
        }
    }

    /// Put `[from, to)` on the freelist as one free record: the space the rolled-back
    /// commit had added past the old end of file, and begun to write. Nothing references
    /// it once the old blocks are back, and C's recovery leaves it so, which both checks
    /// then reject as soon as a later commit has moved the recovery area's end-of-file
    /// mark past it. Run again by a repeated recovery, it finds the record already
    /// linked at the head of the freelist (the recovery rewrites the head's block only
    /// if the commit had changed it, and then rewrites it to the old head). Returns the
    /// bytes it linked (0 when it did nothing).
    fn reclaim_unused_space(&mut self, from: u64, to: u64) -> Result<u64> {
        let align = u64::from(ALIGNMENT);
        let min = u64::from(REC_HDR) + align;
        if from < data_start(self.hash_size)
            || !from.is_multiple_of(align)
            || !to.is_multiple_of(align)
            || to < from + min
            || to > self.io.size
        {
            return Ok(0);
        }
        let head = self.io.read_u32(FREELIST_TOP)?;
        if u64::from(head) == from {
            return Ok(0);
        }
        let (Ok(at), Ok(total)) = (u32::try_from(from), u32::try_from(to - from)) else {
            return Ok(0);
        };
        let rec = Record {
            next: head,
            rec_len: total - REC_HDR,
            key_len: 0,
            data_len: 0,
            full_hash: 0,
            magic: TDB_FREE_MAGIC,
        };
        self.io.write_u32(at + total - 4, total)?;
        self.io.write_rec(at, &rec)?;
        self.io.write_u32(FREELIST_TOP, at)?;
        Ok(u64::from(total))
    }

    /// At open, under the open lock (which a committer holds from before it writes the
    /// recovery area's offset until it is done): a header pointing at a recovery area
    /// whose header is still all zeros is what a commit killed between writing the
    /// offset and writing the area leaves. C's next commit would free those zeros as an
    /// area of length 0 and corrupt the freelist; the offset is taken out instead (the
    /// area was never valid, so there is nothing to recover from it).
    pub(crate) fn drop_pointer_to_unwritten_area(&mut self) -> Result<()> {
        let start = self.io.read_u32(RECOVERY_HEAD)?;
        if start == 0 || u64::from(start) + u64::from(REC_HDR) > self.io.size {
            return Ok(());
        }
        let header: [u8; REC_HDR as usize] = {
            let mut b = [0u8; REC_HDR as usize];
            self.io.read(start, &mut b)?;
            b
        };
        if header.iter().all(|&b| b == 0) {
            self.io.write_u32(RECOVERY_HEAD, 0)?;
        }
        Ok(())
    }

    /// Put what a commit killed while writing the space it had added left past the old
    /// end of file, once C's recovery rolled it back, on the freelist: the leftovers
    /// [`crate::CheckReport`] describes. Only where nothing references that space: the
    /// whole of it from the old end of file (the recovery area's mark) to the end of the
    /// file, or to the recovery area where that lies past the mark. Returns the bytes
    /// reclaimed (0 when the check found no leftovers or a list reaches into the space).
    /// Takes the all-record write lock; fails as `check` does on a corrupt file.
    pub fn reclaim_crash_leftovers(&mut self) -> Result<u64> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        self.lockall(LockType::Write, true, false)?;
        let r = self.reclaim_locked();
        let u = self.unlockall(LockType::Write, false);
        let reclaimed = self.note(r)?;
        self.note(u)?;
        Ok(reclaimed)
    }

    fn reclaim_locked(&mut self) -> Result<u64> {
        if !self.check_inner(&mut |_, _| true)?.has_leftovers() {
            return Ok(0);
        }
        let start = self.io.read_u32(RECOVERY_HEAD)?;
        let size = self.io.refresh_size()?;
        let Some(old_eof) = self.last_commit_old_eof(start, size) else {
            return Ok(0);
        };
        let end = self.end_of_unused_space(start, old_eof)?;
        if self.any_list_reaches(old_eof, end)? {
            return Ok(0);
        }
        self.reclaim_unused_space(old_eof, end)
    }

    /// Whether a hash chain or the freelist links to a record in `[from, to)`.
    fn any_list_reaches(&mut self, from: u64, to: u64) -> Result<bool> {
        let lists = (0..self.hash_size).map(List::Chain).chain([List::Free]);
        for list in lists {
            let mut walk = ChainWalk::new(self, list)?;
            while let Some((off, _)) = walk.next_raw(self)? {
                if (from..to).contains(&u64::from(off)) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}
