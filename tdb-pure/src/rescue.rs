//! `tdb_rescue`: best-effort salvage of a damaged database. Every 4-byte offset is tried
//! as a live record whose key hashes to its stored hash; the records the hash chains
//! reach are preferred, and records lying inside free space or the recovery area are
//! dropped unless nothing better exists for their key. Each key's survivors are handed
//! out once, in key order (shortest first, then bytewise), with their data.

use std::collections::HashSet;

use crate::error::Result;
use crate::header::{data_start, FREELIST_TOP, RECOVERY_HEAD};
use crate::lock::LockType;
use crate::record::{Record, ALIGNMENT, REC_HDR, TDB_FREE_MAGIC, TDB_MAGIC};
use crate::Tdb;

/// A plausible record found by the scan.
struct Found {
    off: u32,
    rec: Record,
    key: Vec<u8>,
    in_hash: bool,
    in_free: bool,
}

impl Tdb {
    /// `tdb_rescue`: call `walk(key, data)` for each record worth saving (see the
    /// module). Read errors are expected and skipped; only a lock failure fails.
    pub fn rescue(&mut self, mut walk: impl FnMut(&[u8], &[u8])) -> Result<()> {
        let locked = !(self.read_only || self.locks.allrecord.count != 0);
        if locked {
            let r = self.lockall(LockType::Read, true, false);
            self.note(r)?;
        }
        let _ = self.io.refresh_size();
        let mut found = self.scan_for_records();
        self.mark_list_members(&mut found);
        if let Ok(off) = self.io.read_u32(RECOVERY_HEAD) {
            if off != 0 {
                if let Ok(rec) = self.io.read_rec_raw(off) {
                    mark_free_area(&mut found, off, rec.total());
                }
            }
        }
        found.sort_by(|a, b| (a.key.len(), &a.key).cmp(&(b.key.len(), &b.key)));
        for group in found.chunk_by(|a, b| a.key == b.key) {
            let in_hash = group.iter().any(|f| f.in_hash);
            for f in group {
                if (in_hash && f.in_hash) || (!in_hash && !f.in_free) {
                    let data_off = f.off + REC_HDR + f.rec.key_len;
                    if let Ok(data) = self.io.read_vec(data_off, f.rec.data_len) {
                        walk(&f.key, &data);
                    }
                }
            }
        }
        if locked {
            let _ = self.unlockall(LockType::Read, false);
        }
        Ok(())
    }

    /// Every offset that looks like a live record (`looks_like_valid_record`), in order.
    fn scan_for_records(&mut self) -> Vec<Found> {
        let start = data_start(self.hash_size);
        let mut found = Vec::new();
        let mut off = start;
        while off < self.io.size {
            let o = off as u32;
            off += u64::from(ALIGNMENT);
            let Ok(rec) = self.io.read_rec_raw(o) else {
                // C's failed read leaves `TDB_ERR_IO` (the last offsets always fail).
                self.ecode = crate::code::IO;
                continue;
            };
            if rec.magic != TDB_MAGIC
                || u64::from(rec.key_len) + u64::from(rec.data_len) > u64::from(rec.rec_len)
                || rec.rec_len % ALIGNMENT != 0
                || (rec.next > 0 && u64::from(rec.next) < start)
                || self
                    .io
                    .oob(u64::from(rec.next), u64::from(REC_HDR))
                    .is_err()
            {
                continue;
            }
            let Ok(key) = self.io.read_vec(o + REC_HDR, rec.key_len) else {
                continue;
            };
            if self.hash_key(&key) == rec.full_hash {
                found.push(Found {
                    off: o,
                    rec,
                    key,
                    in_hash: false,
                    in_free: false,
                });
            }
        }
        found
    }

    /// Walk the freelist (marking the space of its free records) and every hash chain
    /// (marking the records they reach), each until a revisit or a read error.
    fn mark_list_members(&mut self, found: &mut [Found]) {
        for list in 0..=self.hash_size {
            let mut seen = HashSet::new();
            let Ok(mut off) = self.io.read_u32(FREELIST_TOP + 4 * list) else {
                continue;
            };
            while off != 0 && seen.insert(off) {
                let Ok(rec) = self.io.read_rec_raw(off) else {
                    break;
                };
                if list == 0 {
                    if rec.magic != TDB_FREE_MAGIC {
                        break;
                    }
                    mark_free_area(found, off, rec.total());
                } else if let Ok(i) = found.binary_search_by_key(&off, |f| f.off) {
                    found[i].in_hash = true;
                }
                off = rec.next;
            }
        }
    }
}

/// Mark every found record starting inside `[off, off + len)` as lying in free space.
fn mark_free_area(found: &mut [Found], off: u32, len: u64) {
    let from = found.partition_point(|f| f.off < off);
    let end = u64::from(off) + len;
    for f in &mut found[from..] {
        if u64::from(f.off) >= end {
            break;
        }
        f.in_free = true;
    }
}
