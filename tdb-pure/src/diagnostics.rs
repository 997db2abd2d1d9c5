//! The C API's debugging output: `tdb_dump_all` (every chain and the freelist, record by
//! record), `tdb_printfreelist`, `tdb_summary` and `tdb_validate_freelist`. The texts are
//! C's, byte for byte; where C would loop for ever on a cyclic list, these stop with an
//! error.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::freelist::FREELIST;
use crate::header::{data_start, FEATURE_FLAG_MUTEX, FREELIST_TOP, RECOVERY_HEAD};
use crate::lock::LockType;
use crate::record::{
    REC_HDR, TDB_DEAD_MAGIC, TDB_FREE_MAGIC, TDB_MAGIC, TDB_PAD_U32, TDB_RECOVERY_INVALID_MAGIC,
    TDB_RECOVERY_MAGIC,
};
use crate::walk::{List, WalkGuard};
use crate::Tdb;

/// The list that `chain` names for the lock and walk calls (−1 = the freelist).
fn list_of(chain: i64) -> List {
    if chain < 0 {
        List::Free
    } else {
        List::Chain(chain as u32)
    }
}

impl Tdb {
    /// `tdb_dump_all`: the text C prints for every hash chain and then the freelist.
    pub fn dump_all(&mut self) -> String {
        let mut out = String::new();
        for chain in 0..i64::from(self.hash_size) {
            let _ = self.dump_chain(chain, &mut out);
        }
        out.push_str("freelist:\n");
        let _ = self.dump_chain(FREELIST, &mut out);
        out
    }

    /// `tdb_dump_chain`: one list under its write lock.
    fn dump_chain(&mut self, chain: i64, out: &mut String) -> Result<()> {
        self.lock_list(chain, LockType::Write, true)?;
        let list = list_of(chain);
        let mut guard = WalkGuard::new(self, list, 0);
        let mut off = match self.io.read_u32(list.head()) {
            Ok(off) => off,
            Err(_) => return self.unlock_list(chain, LockType::Write),
        };
        if off != 0 {
            let _ = writeln!(out, "hash={chain}");
        }
        while off != 0 {
            if let Err(e) = guard.step(self) {
                let _ = writeln!(out, "ERROR: {e}");
                break;
            }
            off = self.dump_record(chain, off, out);
        }
        self.unlock_list(chain, LockType::Write)
    }

    /// `tdb_dump_record`: one record's header and tailer check; the next offset.
    fn dump_record(&mut self, chain: i64, off: u32, out: &mut String) -> u32 {
        let Ok(rec) = self.io.read_rec_raw(off) else {
            let _ = writeln!(out, "ERROR: failed to read record at {off}");
            return 0;
        };
        let _ = writeln!(
            out,
            " rec: hash={chain} offset=0x{off:08x} next=0x{:08x} rec_len={} key_len={} \
             data_len={} full_hash=0x{:08x} magic=0x{:x}",
            rec.next, rec.rec_len, rec.key_len, rec.data_len, rec.full_hash, rec.magic
        );
        let tailer_ofs = off
            .wrapping_add(REC_HDR)
            .wrapping_add(rec.rec_len)
            .wrapping_sub(4);
        match self.io.read_u32(tailer_ofs) {
            Err(_) => {
                let _ = writeln!(out, "ERROR: failed to read tailer at {tailer_ofs}");
            }
            Ok(tailer) if tailer != rec.rec_len.wrapping_add(REC_HDR) => {
                let _ = writeln!(
                    out,
                    "ERROR: tailer does not match record! tailer={tailer} totalsize={}",
                    rec.rec_len.wrapping_add(REC_HDR)
                );
            }
            Ok(_) => {}
        }
        rec.next
    }

    /// `tdb_printfreelist`: appends C's text to `out`; an error where C returns −1 (a
    /// bad magic, a failed read, a lock failure, or a cycle C would never leave).
    pub fn printfreelist(&mut self, out: &mut String) -> Result<()> {
        let r = self.printfreelist_inner(out);
        self.note(r)
    }

    fn printfreelist_inner(&mut self, out: &mut String) -> Result<()> {
        self.lock_list(FREELIST, LockType::Write, true)?;
        let r = self.print_free_entries(out);
        let u = self.unlock_list(FREELIST, LockType::Write);
        r.and(u)
    }

    fn print_free_entries(&mut self, out: &mut String) -> Result<()> {
        let Ok(mut off) = self.io.read_u32(FREELIST_TOP) else {
            return Ok(());
        };
        let _ = writeln!(out, "freelist top=[0x{off:08x}]");
        let mut guard = WalkGuard::new(self, List::Free, 0);
        let mut total: u64 = 0;
        while off != 0 {
            guard.step(self)?;
            let rec = self.io.read_rec_raw(off)?;
            if rec.magic != TDB_FREE_MAGIC {
                let _ = writeln!(out, "bad magic 0x{:08x} in free list", rec.magic);
                return Err(Error::corrupt(format!(
                    "bad magic {:#010x} in free list",
                    rec.magic
                )));
            }
            let _ = writeln!(
                out,
                "entry offset=[0x{off:08x}], rec.rec_len = [0x{0:08x} ({0})] (end = 0x{1:08x})",
                rec.rec_len,
                off.wrapping_add(rec.rec_len)
            );
            total += u64::from(rec.rec_len);
            off = rec.next;
        }
        let _ = writeln!(out, "total rec_len = [0x{total:08x} ({total})]");
        Ok(())
    }

    /// `tdb_validate_freelist`: walk the freelist under its write lock; fails with
    /// `TDB_ERR_CORRUPT` on a revisited entry. Returns the entries read, and the outcome.
    pub fn validate_freelist(&mut self) -> (u32, Result<()>) {
        if let Err(e) = self.lock_list(FREELIST, LockType::Write, true) {
            // C returns 0 (success) when it cannot lock.
            self.ecode = e.code();
            return (0, Ok(()));
        }
        let mut count = 0u32;
        let r = self.validate_free_entries(&mut count);
        let _ = self.unlock_list(FREELIST, LockType::Write);
        (count, self.note(r))
    }

    fn validate_free_entries(&mut self, count: &mut u32) -> Result<()> {
        let mut seen = HashSet::from([FREELIST_TOP]);
        let mut off = self.io.read_u32(FREELIST_TOP)?;
        while off != 0 {
            if !seen.insert(off) {
                return Err(Error::corrupt(format!(
                    "freelist entry at {off} seen twice (a loop)"
                )));
            }
            let rec = self.free_read(off)?;
            off = rec.next;
            *count += 1;
        }
        Ok(())
    }

    /// `tdb_summary`: C's human-readable statistics; `None` where C returns NULL (a
    /// lock or read failure, an unexpected magic).
    pub fn summary(&mut self) -> Option<String> {
        let locked = !(self.read_only || self.locks.allrecord.count != 0);
        if locked {
            if let Err(e) = self.lockall(LockType::Read, true, false) {
                self.ecode = e.code();
                return None;
            }
        }
        let r = self.summary_text();
        if locked {
            let _ = self.unlockall(LockType::Read, false);
        }
        r
    }

    fn summary_text(&mut self) -> Option<String> {
        let mut t = SummaryTallies::default();
        let map_size = self.io.size;
        let recovery_off = self.recovery_area()?;
        let mut off = data_start(self.hash_size);
        let mut unc = 0usize;
        while off + 1 < map_size {
            let mut rec = self.io.read_rec_raw(u32::try_from(off).ok()?).ok()?;
            match rec.magic {
                TDB_MAGIC => {
                    t.keys.add(rec.key_len as usize);
                    t.data.add(rec.data_len as usize);
                    let padding = rec
                        .rec_len
                        .wrapping_sub(rec.key_len.wrapping_add(rec.data_len));
                    t.extra.add(padding as usize);
                    if unc > 1 {
                        t.uncoal.add(unc - 1);
                    }
                    unc = 0;
                }
                TDB_FREE_MAGIC => {
                    t.free.add(rec.rec_len as usize);
                    unc += 1;
                }
                TDB_DEAD_MAGIC => t.dead.add(rec.rec_len as usize),
                TDB_RECOVERY_INVALID_MAGIC | TDB_PAD_U32 => {
                    unc += 1;
                    // A valid recovery area's length can be trusted.
                    if off != u64::from(recovery_off) {
                        let space = self.dead_space(off, map_size).map_or(0, |l| l as u32);
                        rec.rec_len = space.wrapping_sub(REC_HDR);
                    }
                    t.dead.add(rec.rec_len as usize);
                }
                other => {
                    self.ecode = crate::code::CORRUPT;
                    let _ = other;
                    return None;
                }
            }
            let next = off + u64::from(REC_HDR) + u64::from(rec.rec_len);
            if next <= off {
                return None;
            }
            off = next;
        }
        if unc > 1 {
            t.uncoal.add(unc - 1);
        }
        for chain in 0..self.hash_size {
            let len = self.chain_length(chain);
            t.hash.add(len);
        }
        let jenkins = !self.has_custom_hash() && self.hash == crate::HashKind::Jenkins;
        let base = self.io.base();
        let lines = HeaderLines {
            base,
            map_size,
            jenkins,
            feature_flags: u32::from(base != 0),
        };
        Some(t.render(&lines, self.hash_size))
    }

    /// `tdb_recovery_area`: the recovery area's offset (0 if none or not a recovery
    /// record); `None` if it cannot be read or lies outside the file.
    fn recovery_area(&mut self) -> Option<u32> {
        let off = self.io.read_u32(RECOVERY_HEAD).ok()?;
        if off == 0 {
            return Some(0);
        }
        let rec = self.io.read_rec_raw(off).ok()?;
        if rec.magic != TDB_RECOVERY_MAGIC && rec.magic != TDB_RECOVERY_INVALID_MAGIC {
            return Some(0);
        }
        self.io.oob(u64::from(off), u64::from(rec.rec_len)).ok()?;
        Some(off)
    }

    /// `get_hash_length`: records in a chain (0 on a read error, `usize::MAX` for a
    /// cycle).
    fn chain_length(&mut self, chain: u32) -> usize {
        let list = List::Chain(chain);
        let Ok(mut off) = self.io.read_u32(list.head()) else {
            return 0;
        };
        let mut guard = WalkGuard::new(self, list, 0);
        let mut count = 0;
        while off != 0 {
            if guard.step(self).is_err() {
                return usize::MAX;
            }
            count += 1;
            match self.rec_read(off) {
                Ok(rec) => off = rec.next,
                Err(_) => return 0,
            }
        }
        count
    }
}

/// C's `struct tally`: count, total, smallest and largest.
#[derive(Default)]
struct Tally {
    min: usize,
    max: usize,
    total: usize,
    num: usize,
}

impl Tally {
    /// `tally_add`, with C's quirk: a new value is checked against the minimum only when
    /// it is not a new maximum.
    fn add(&mut self, len: usize) {
        if self.num == 0 {
            self.min = len;
            self.max = len;
        } else if len > self.max {
            self.max = len;
        } else if len < self.min {
            self.min = len;
        }
        self.num += 1;
        self.total = self.total.wrapping_add(len);
    }

    fn mean(&self) -> usize {
        self.total.checked_div(self.num).unwrap_or(0)
    }

    fn triple(&self) -> String {
        format!("{}/{}/{}", self.min, self.mean(), self.max)
    }
}

/// The summary's facts about the file itself.
struct HeaderLines {
    /// The mutex area's size (C's `hdr_ofs`).
    base: u64,
    map_size: u64,
    jenkins: bool,
    feature_flags: u32,
}

#[derive(Default)]
struct SummaryTallies {
    free: Tally,
    keys: Tally,
    data: Tally,
    dead: Tally,
    extra: Tally,
    hash: Tally,
    uncoal: Tally,
}

impl SummaryTallies {
    /// C's `SUMMARY_FORMAT`.
    fn render(&self, head: &HeaderLines, hash_size: u32) -> String {
        let file_size = head.base + head.map_size;
        let pct = |n: f64| n * 100.0 / file_size as f64;
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let hdrs = (self.keys.num + self.free.num + self.dead.num) as f64 * (REC_HDR + 4) as f64;
        format!(
            "Size of file/data: {file_size}/{}\n\
             Header offset/logical size: {}/{}\n\
             Number of records: {}\n\
             Incompatible hash: {}\n\
             Active/supported feature flags: 0x{:08x}/0x{:08x}\n\
             Robust mutexes locking: {}\n\
             Smallest/average/largest keys: {}\n\
             Smallest/average/largest data: {}\n\
             Smallest/average/largest padding: {}\n\
             Number of dead records: {}\n\
             Smallest/average/largest dead records: {}\n\
             Number of free records: {}\n\
             Smallest/average/largest free records: {}\n\
             Number of hash chains: {}\n\
             Smallest/average/largest hash chains: {}\n\
             Number of uncoalesced records: {}\n\
             Smallest/average/largest uncoalesced runs: {}\n\
             Percentage keys/data/padding/free/dead/rechdrs&tailers/hashes: \
             {:.0}/{:.0}/{:.0}/{:.0}/{:.0}/{:.0}/{:.0}\n",
            self.keys.total.wrapping_add(self.data.total),
            head.base,
            head.map_size,
            self.keys.num,
            yes_no(head.jenkins),
            head.feature_flags,
            FEATURE_FLAG_MUTEX,
            yes_no(head.feature_flags != 0),
            self.keys.triple(),
            self.data.triple(),
            self.extra.triple(),
            self.dead.num,
            self.dead.triple(),
            self.free.num,
            self.free.triple(),
            self.hash.num,
            self.hash.triple(),
            self.uncoal.total,
            self.uncoal.triple(),
            pct(self.keys.total as f64),
            pct(self.data.total as f64),
            pct(self.extra.total as f64),
            pct(self.free.total as f64),
            pct(self.dead.total as f64),
            pct(hdrs),
            pct(f64::from(hash_size) * 4.0),
        )
    }
}
