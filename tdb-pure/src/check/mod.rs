//! `tdb_check`: verify the invariants of a database (header, every record in a linear
//! scan, and that each list — freelist and every bucket — references exactly its records,
//! each once). Cycles, cross-links, orphans and bad lengths are reported as `Corrupt`.
//!
//! One thing is not corruption although C's `tdb_check` rejects it: the space a commit
//! that grew the file had begun to write when it was killed. C's recovery rolls the
//! database back to the old end of file and leaves that space as it was, referenced by
//! no list (tdb-pure's puts it back on the freelist). The check skips it, while the
//! recovery area still marks that end of file, and says so in its [`CheckReport`].

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::header::{bucket_top, data_start, Header, FREELIST_TOP, HEADER_SIZE};
use crate::lock::LockType;
use crate::record::{
    Record, ALIGNMENT, REC_HDR, TDB_DEAD_MAGIC, TDB_FREE_MAGIC, TDB_MAGIC, TDB_PAD_BYTE,
    TDB_PAD_U32, TDB_RECOVERY_MAGIC,
};
use crate::Tdb;

mod report;

pub use report::{CheckReport, Leftover};

/// List id for the freelist in the membership map.
const FREE_LIST: i64 = -1;

/// What the linear scan of [`Tdb::check`] knows and gathers.
struct Scan {
    /// The file's size.
    size: u64,
    /// The header's recovery-area offset (0: none).
    recovery_start: u32,
    /// Offset of every record met -> the list it must be on.
    members: HashMap<u32, i64>,
    /// Whether the scan met the recovery area at `recovery_start`.
    found_recovery: bool,
    /// Bytes of keys and data that skipping leftovers may still read (see
    /// `Tdb::resync`).
    resync_budget: u64,
    /// The end of file before the last commit that used the recovery area, if known.
    old_eof: Option<u64>,
    /// Ranges where records no list reaches are a killed commit's leftovers, not
    /// corruption.
    leftover_ranges: Vec<(u64, u64)>,
}

impl Tdb {
    /// `tdb_check` without a callback.
    pub fn check(&mut self) -> Result<()> {
        self.check_with(|_, _| true)
    }

    /// `tdb_check`: `f(key, data)` is called for every live record; `false` fails the
    /// check.
    pub fn check_with(&mut self, f: impl FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        self.check_report_with(f).map(|_| ())
    }

    /// [`Tdb::check`], also saying what it skipped (see [`CheckReport`]).
    pub fn check_report(&mut self) -> Result<CheckReport> {
        self.check_report_with(|_, _| true)
    }

    fn check_report_with(
        &mut self,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<CheckReport> {
        let lock = !self.read_only && self.locks.allrecord.count == 0;
        if lock {
            let r = self.lockall(LockType::Read, true, false);
            self.note(r)?;
        }
        let r = self.check_inner(&mut f);
        if lock {
            let _ = self.unlockall(LockType::Read, false);
        }
        match r {
            Ok(report) => Ok(report),
            Err(e) => self.note(Err(e)).map(|()| CheckReport::default()),
        }
    }

    /// The end of file before the last commit that used the recovery area (its
    /// `key_len`), if the area is readable and that end lies inside the file.
    pub(crate) fn last_commit_old_eof(&mut self, recovery_start: u32, size: u64) -> Option<u64> {
        if recovery_start == 0 {
            return None;
        }
        let rec = self.io.read_rec_raw(recovery_start).ok()?;
        let old_eof = u64::from(rec.key_len);
        (old_eof >= data_start(self.hash_size) && old_eof < size).then_some(old_eof)
    }

    /// The first offset after `off` where a record (or a run of dead space) checks out,
    /// or `size`: where a scan that failed inside a killed commit's leftovers resumes.
    /// `None` once the records tried there would have the check read more than its budget
    /// of keys and data (a hostile file can put a plausible header every few bytes).
    fn resync(
        &mut self,
        off: u64,
        scan: &mut Scan,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Option<u64> {
        let mut p = (off + 1).next_multiple_of(u64::from(ALIGNMENT));
        while p + u64::from(REC_HDR) <= scan.size {
            let rec = self.io.read_rec_raw(p as u32).ok()?;
            if rec.magic == TDB_MAGIC || rec.magic == TDB_DEAD_MAGIC {
                let cost = u64::from(rec.key_len) + u64::from(rec.data_len);
                scan.resync_budget = scan.resync_budget.checked_sub(cost)?;
            }
            if self.check_record(p, scan, f).is_ok() {
                // Scanned again by the caller from here on.
                scan.members.remove(&(p as u32));
                return Some(p);
            }
            p += u64::from(ALIGNMENT);
        }
        Some(scan.size)
    }

    fn check_header(&mut self) -> Result<u32> {
        let mut raw = vec![0u8; HEADER_SIZE as usize];
        self.io.read(0, &mut raw)?;
        let h = Header::decode(&raw).map_err(|e| Error::corrupt(format!("header: {e}")))?;
        if h.order != self.io.order {
            return Err(Error::corrupt("header byte order changed"));
        }
        if (h.magic1_hash != 0 || h.magic2_hash != 0)
            && self.magic_hashes(h.order) != (h.magic1_hash, h.magic2_hash)
        {
            return Err(Error::corrupt(
                "magic hashes do not match the hash function",
            ));
        }
        if h.hash_size != self.hash_size {
            return Err(Error::corrupt(format!(
                "hash_size {} differs from the open handle's {}",
                h.hash_size, self.hash_size
            )));
        }
        if h.recovery_start != 0 && u64::from(h.recovery_start) < data_start(self.hash_size) {
            return Err(Error::corrupt(format!(
                "recovery_start {} inside the header",
                h.recovery_start
            )));
        }
        Ok(h.recovery_start)
    }

    /// Generic rules for any record at `off` in a file of `size` bytes.
    fn check_generic(&mut self, off: u32, rec: &Record, size: u64) -> Result<()> {
        let ds = data_start(self.hash_size);
        if rec.next != 0
            && (u64::from(rec.next) < ds
                || !rec.next.is_multiple_of(ALIGNMENT)
                || u64::from(rec.next) + u64::from(REC_HDR) > size)
        {
            return Err(Error::corrupt(format!(
                "record at {off}: bad next {}",
                rec.next
            )));
        }
        if !rec.rec_len.is_multiple_of(ALIGNMENT) || rec.rec_len < 4 {
            return Err(Error::corrupt(format!(
                "record at {off}: bad rec_len {}",
                rec.rec_len
            )));
        }
        if u64::from(off) + rec.total() > size {
            return Err(Error::corrupt(format!(
                "record at {off}: rec_len {} runs past EOF",
                rec.rec_len
            )));
        }
        let tail_at = (u64::from(off) + rec.total() - 4) as u32;
        let tailer = self.io.read_u32(tail_at)?;
        if u64::from(tailer) != rec.total() {
            return Err(Error::corrupt(format!(
                "record at {off}: tailer {tailer} should be {}",
                rec.total()
            )));
        }
        Ok(())
    }

    /// Length of the run of 0x00/0x42 bytes at `off` (capped at EOF).
    pub(crate) fn dead_space(&mut self, off: u64, size: u64) -> Result<u64> {
        let mut len = 0u64;
        let mut buf = [0u8; 4096];
        while off + len < size {
            let n = (size - off - len).min(buf.len() as u64) as usize;
            self.io.read((off + len) as u32, &mut buf[..n])?;
            match buf[..n].iter().position(|&b| b != 0 && b != TDB_PAD_BYTE) {
                Some(p) => return Ok(len + p as u64),
                None => len += n as u64,
            }
        }
        Ok(len)
    }

    /// The whole check: header, linear scan, list walk, unreached records.
    pub(crate) fn check_inner(
        &mut self,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<CheckReport> {
        let mut scan = self.start_check()?;
        let mut report = CheckReport::default();
        self.scan_records(&mut scan, &mut report, f)?;
        if scan.recovery_start != 0 && !scan.found_recovery {
            return Err(Error::corrupt(format!(
                "recovery_start {} does not point at a record boundary",
                scan.recovery_start
            )));
        }
        let reached = self.walk_lists(&scan.members)?;
        Self::judge_unreached(&scan, &reached, &mut report)?;
        Ok(report)
    }

    /// Check the header and the file's size; the state of the scan that follows.
    fn start_check(&mut self) -> Result<Scan> {
        let recovery_start = self.check_header()?;
        if self.io.tx.is_some() {
            // The size probe of tdb_check fails in transaction_oob, leaving TDB_ERR_IO.
            self.ecode = crate::code::IO;
        }
        let size = self.io.refresh_size()?;
        if size < data_start(self.hash_size) {
            return Err(Error::corrupt("file smaller than its hash table"));
        }
        let old_eof = self.last_commit_old_eof(recovery_start, size);
        Ok(Scan {
            size,
            recovery_start,
            members: HashMap::new(),
            found_recovery: false,
            resync_budget: 4 * size + (64 << 20),
            old_eof,
            leftover_ranges: old_eof.map(|eof| (eof, size)).into_iter().collect(),
        })
    }

    /// The linear scan: every record from the end of the hash table to the end of file,
    /// skipping (and reporting) a killed commit's leftovers.
    fn scan_records(
        &mut self,
        scan: &mut Scan,
        report: &mut CheckReport,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let mut off = data_start(self.hash_size);
        let mut dead_from: Option<u64> = None;
        while off < scan.size {
            match self.check_record(off, scan, f) {
                Ok((next, dead)) => {
                    dead_from = if dead { dead_from.or(Some(off)) } else { None };
                    off = next;
                }
                Err(e) => {
                    let from = dead_from.unwrap_or(off);
                    let Some(end) = self.skip_leftovers(from, off, scan, f)? else {
                        return Err(e);
                    };
                    // Any record the scan took from the skipped bytes goes with them.
                    scan.members
                        .retain(|&o, _| u64::from(o) < from || u64::from(o) >= end);
                    report
                        .leftovers
                        .push(Leftover::SkippedBytes { start: from, end });
                    dead_from = None;
                    off = end;
                }
            }
        }
        Ok(())
    }

    /// Where the scan, which failed at `off` (in dead space from `from` on), goes on if
    /// what it met is garbage a crashed commit left past the old end of file; `None`
    /// if it is not.
    fn skip_leftovers(
        &mut self,
        from: u64,
        off: u64,
        scan: &mut Scan,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<Option<u64>> {
        if let Some((area_eof, end)) = self
            .crash_leftovers(from, scan.size, scan.recovery_start)?
            .filter(|&(_, end)| end > off)
        {
            scan.leftover_ranges.push((area_eof, end));
            return Ok(Some(end));
        }
        // Past the old end of file of the last commit: the new space that commit was
        // writing when it was killed (the recovery area, reused, lies before it). Skip to
        // where records check out again; the list walk still rejects any list that links
        // into the skipped bytes.
        if scan.old_eof.is_none_or(|eof| from < eof) {
            return Ok(None);
        }
        Ok(self.resync(off, scan, f))
    }

    /// Walk every list: each pointer must reach a record of that list, once. Returns the
    /// records reached.
    fn walk_lists(&mut self, members: &HashMap<u32, i64>) -> Result<HashSet<u32>> {
        let mut reached = HashSet::with_capacity(members.len());
        for list in -1..i64::from(self.hash_size) {
            let head_at = if list < 0 {
                FREELIST_TOP
            } else {
                bucket_top(list as u32)
            };
            let mut cur = self.io.read_u32(head_at)?;
            while cur != 0 {
                match members.get(&cur) {
                    Some(&l) if l == list => {}
                    Some(&l) => {
                        return Err(Error::corrupt(format!(
                            "list {list} links to record {cur}, which belongs to list {l}"
                        )))
                    }
                    None => {
                        return Err(Error::corrupt(format!(
                            "list {list} links to {cur}, which is not a record of that kind"
                        )))
                    }
                }
                // The guard against cycles: no record is reached twice.
                if !reached.insert(cur) {
                    return Err(Error::corrupt(format!(
                        "record {cur} is linked twice (cycle or cross-link in list {list})"
                    )));
                }
                cur = self.io.read_rec_raw(cur)?.next;
            }
        }
        Ok(reached)
    }

    /// Records no list reaches: a killed commit's leftovers where it wrote whole records
    /// past the old end of file, else corruption.
    fn judge_unreached(
        scan: &Scan,
        reached: &HashSet<u32>,
        report: &mut CheckReport,
    ) -> Result<()> {
        let mut orphans: Vec<(u32, i64)> = scan
            .members
            .iter()
            .filter(|(o, _)| !reached.contains(o))
            .map(|(&o, &l)| (o, l))
            .collect();
        orphans.sort_unstable();
        for (orphan, list) in orphans {
            let at = u64::from(orphan);
            if !scan.leftover_ranges.iter().any(|&(a, b)| a <= at && at < b) {
                return Err(Error::corrupt(format!(
                    "record {orphan} is not reachable from list {list}"
                )));
            }
            report
                .leftovers
                .push(Leftover::UnreachableRecord { offset: at });
        }
        Ok(())
    }

    /// Check the record (or run of dead space) at `off`: its next offset, and whether it
    /// was dead space.
    fn check_record(
        &mut self,
        off: u64,
        scan: &mut Scan,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(u64, bool)> {
        let (size, recovery_start) = (scan.size, scan.recovery_start);
        if off + u64::from(REC_HDR) > size {
            return Err(Error::corrupt(format!("truncated record header at {off}")));
        }
        let off32 = off as u32;
        let rec = self.io.read_rec_raw(off32)?;
        match rec.magic {
            TDB_MAGIC | TDB_DEAD_MAGIC => {
                self.check_generic(off32, &rec, size)?;
                let payload = rec
                    .payload()
                    .filter(|p| p.checked_add(4).is_some_and(|n| n <= rec.rec_len));
                if payload.is_none() {
                    return Err(Error::corrupt(format!(
                        "record at {off}: key {} + data {} + 4 exceed rec_len {}",
                        rec.key_len, rec.data_len, rec.rec_len
                    )));
                }
                let key = self.io.read_vec(off32 + REC_HDR, rec.key_len)?;
                let h = self.hash_key(&key);
                if h != rec.full_hash {
                    return Err(Error::corrupt(format!(
                        "record at {off}: full_hash {:#010x} but key hashes to {h:#010x}",
                        rec.full_hash
                    )));
                }
                if rec.magic == TDB_MAGIC {
                    let data = self
                        .io
                        .read_vec(off32 + REC_HDR + rec.key_len, rec.data_len)?;
                    if !f(&key, &data) {
                        // C fails the check without setting an error code.
                        return Err(Error::Unchanged(
                            self.ecode,
                            format!("check callback rejected the record at {off}"),
                        ));
                    }
                }
                scan.members
                    .insert(off32, i64::from(rec.full_hash % self.hash_size));
                Ok((off + rec.total(), false))
            }
            TDB_FREE_MAGIC => {
                self.check_generic(off32, &rec, size)?;
                scan.members.insert(off32, FREE_LIST);
                Ok((off + rec.total(), false))
            }
            TDB_RECOVERY_MAGIC | 0 | TDB_PAD_U32 if off32 == recovery_start => {
                if off + rec.total() > size {
                    return Err(Error::corrupt(format!(
                        "recovery area at {off} runs past EOF"
                    )));
                }
                scan.found_recovery = true;
                Ok((off + rec.total(), false))
            }
            TDB_RECOVERY_MAGIC => Err(Error::corrupt(format!(
                "recovery record at {off}, but recovery_start is {recovery_start}"
            ))),
            0 | TDB_PAD_U32 => {
                // Dead space ends where the recovery area starts: an invalidated
                // recovery record (magic 0) often begins with zeros too (its `next`),
                // as after a prepared transaction that grew the file was cancelled.
                let end = match u64::from(recovery_start) {
                    start if start > off && start < size => start,
                    _ => size,
                };
                let mut dead = self.dead_space(off, end)?;
                if off + dead < end {
                    // The zeros may run into the next record's header: its `next` is 0 at
                    // the end of a list, and the low bytes of its `rec_len` may be too.
                    let stop = (off + dead) & !u64::from(ALIGNMENT - 1);
                    for back in [0u64, 4, 8] {
                        let Some(r) = stop.checked_sub(back).filter(|&r| r > off) else {
                            break;
                        };
                        if r + u64::from(REC_HDR) > size {
                            continue;
                        }
                        let magic = self.io.read_rec_raw(r as u32)?.magic;
                        if matches!(
                            magic,
                            TDB_MAGIC | TDB_DEAD_MAGIC | TDB_FREE_MAGIC | TDB_RECOVERY_MAGIC
                        ) {
                            dead = r - off;
                            break;
                        }
                    }
                }
                if dead < u64::from(REC_HDR) {
                    return Err(Error::corrupt(format!("short dead space at {off}")));
                }
                Ok((off + dead, true))
            }
            other => Err(Error::corrupt(format!(
                "record at {off} has unknown magic {other:#010x}"
            ))),
        }
    }

    /// Garbage that a commit killed after it grew the file leaves once recovered, found
    /// from `from` on: `(old end of file, end of the garbage)`.
    ///
    /// Such a commit puts its recovery area at the transaction's end of file, past the
    /// space the transaction added (which exists only in its cache until the commit
    /// writes it), and grows the file with zeros. Killed before it finishes, and
    /// recovered, the file holds the old database up to the old end of file (the
    /// recovery area's `key_len`), then zeros and whatever blocks of the new space the
    /// commit had written (records no list references), then the recovery area, its
    /// magic zeroed and its offset taken out of the header because it lies past the old
    /// end of file. C tdb leaves the same bytes, and no later operation reuses them.
    /// The area is recognised by its header (`next` and `full_hash` zero, magic zero, or
    /// still valid if the recovery was itself killed between clearing the header's
    /// pointer and the magic; an old end of file at or before `from`) and by the end word
    /// after its entries.
    ///
    /// The same search finds the previous recovery area that such a recovery orphans
    /// when the commit had moved the area: the old copy of the header block that the
    /// recovery writes back was read after the commit had pointed the header at the new
    /// area, so once that pointer is cleared nothing references the old area (magic
    /// zero, inside the old end of file). It is accepted where dead space, or nothing,
    /// separates it from `from`: `(its offset, its end)`.
    fn crash_leftovers(
        &mut self,
        from: u64,
        size: u64,
        recovery_start: u32,
    ) -> Result<Option<(u64, u64)>> {
        const CHUNK: u64 = 1 << 16;
        let ds = data_start(self.hash_size);
        let order = self.io.order;
        let mut at = from.next_multiple_of(u64::from(ALIGNMENT));
        while at + u64::from(REC_HDR) <= size {
            let len = (CHUNK + u64::from(REC_HDR)).min(size - at);
            let chunk = self.io.read_vec(at as u32, len as u32)?;
            let mut i = 0usize;
            while i as u64 + u64::from(REC_HDR) <= len && (i as u64) < CHUNK {
                let word = |k: usize| order.get_at(&chunk, i + k);
                let magic = word(20);
                let unlinked = magic == 0 || magic == TDB_RECOVERY_MAGIC;
                if word(0) == 0 && word(16) == 0 && unlinked && word(4) != 0 {
                    let p = at + i as u64;
                    if p == u64::from(recovery_start) {
                        i += ALIGNMENT as usize;
                        continue;
                    }
                    let rec = self.io.read_rec_raw(p as u32)?;
                    let old_eof = u64::from(rec.key_len);
                    let plausible = rec.rec_len.is_multiple_of(ALIGNMENT)
                        && p + rec.total() <= size
                        && rec.data_len >= 4
                        && rec.data_len <= rec.rec_len
                        && old_eof >= ds;
                    if plausible {
                        let end_word = self.io.read_u32(p as u32 + REC_HDR + rec.data_len - 4)?;
                        if u64::from(end_word) == rec.total() {
                            if old_eof <= from {
                                return Ok(Some((old_eof, p + rec.total())));
                            }
                            // An area the header lost: only dead space may precede it.
                            if self.dead_space(from, p)? == p - from {
                                return Ok(Some((p, p + rec.total())));
                            }
                        }
                    }
                }
                i += ALIGNMENT as usize;
            }
            at += CHUNK;
        }
        Ok(None)
    }
}
