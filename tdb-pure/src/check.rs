//! `tdb_check`: verify the invariants of a database (header, every record in a linear
//! scan, and that each list — freelist and every bucket — references exactly its records,
//! each once). Cycles, cross-links, orphans and bad lengths are reported as `Corrupt`.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::header::{bucket_top, data_start, magic_hashes, Header, FREELIST_TOP, HEADER_SIZE};
use crate::lock::LockType;
use crate::record::{
    Record, ALIGNMENT, REC_HDR, TDB_DEAD_MAGIC, TDB_FREE_MAGIC, TDB_MAGIC, TDB_PAD_BYTE,
    TDB_PAD_U32, TDB_RECOVERY_MAGIC,
};
use crate::Tdb;

/// List id for the freelist in the membership map.
const FREE_LIST: i64 = -1;

impl Tdb {
    /// `tdb_check` without a callback.
    pub fn check(&mut self) -> Result<()> {
        self.check_with(|_, _| true)
    }

    /// `tdb_check`: `f(key, data)` is called for every live record; `false` fails the
    /// check.
    pub fn check_with(&mut self, mut f: impl FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        let lock = !self.read_only && self.locks.allrecord.count == 0;
        if lock {
            let r = self.lockall(LockType::Read, true, false);
            self.note(r)?;
        }
        let r = self.check_inner(&mut f);
        if lock {
            let _ = self.unlockall(LockType::Read, false);
        }
        self.note(r)
    }

    fn check_header(&mut self) -> Result<u32> {
        let mut raw = vec![0u8; HEADER_SIZE as usize];
        self.io.read(0, &mut raw)?;
        let h = Header::decode(&raw).map_err(|e| Error::corrupt(format!("header: {e}")))?;
        if h.order != self.io.order {
            return Err(Error::corrupt("header byte order changed"));
        }
        if (h.magic1_hash != 0 || h.magic2_hash != 0)
            && magic_hashes(self.hash, h.order) != (h.magic1_hash, h.magic2_hash)
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
    fn dead_space(&mut self, off: u64, size: u64) -> Result<u64> {
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

    fn check_inner(&mut self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        let recovery_start = self.check_header()?;
        if self.io.tx.is_some() {
            // The size probe of tdb_check fails in transaction_oob, leaving TDB_ERR_IO.
            self.ecode = crate::code::IO;
        }
        let size = self.io.refresh_size()?;
        let ds = data_start(self.hash_size);
        if size < ds {
            return Err(Error::corrupt("file smaller than its hash table"));
        }
        // Offset -> list the record must be on.
        let mut members: HashMap<u32, i64> = HashMap::new();
        let mut found_recovery = false;
        let mut off = ds;
        while off < size {
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
                    let h = self.hash.hash(&key);
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
                            return Err(Error::corrupt(format!(
                                "check callback rejected the record at {off}"
                            )));
                        }
                    }
                    members.insert(off32, i64::from(rec.full_hash % self.hash_size));
                    off += rec.total();
                }
                TDB_FREE_MAGIC => {
                    self.check_generic(off32, &rec, size)?;
                    members.insert(off32, FREE_LIST);
                    off += rec.total();
                }
                TDB_RECOVERY_MAGIC | 0 | TDB_PAD_U32 if off32 == recovery_start => {
                    if off + rec.total() > size {
                        return Err(Error::corrupt(format!(
                            "recovery area at {off} runs past EOF"
                        )));
                    }
                    found_recovery = true;
                    off += rec.total();
                }
                TDB_RECOVERY_MAGIC => {
                    return Err(Error::corrupt(format!(
                        "recovery record at {off}, but recovery_start is {recovery_start}"
                    )));
                }
                0 | TDB_PAD_U32 => {
                    // Dead space ends where the recovery area starts: an invalidated
                    // recovery record (magic 0) often begins with zeros too (its `next`),
                    // as after a prepared transaction that grew the file was cancelled.
                    let end = match u64::from(recovery_start) {
                        start if start > off && start < size => start,
                        _ => size,
                    };
                    let dead = self.dead_space(off, end)?;
                    if dead < u64::from(REC_HDR) {
                        return Err(Error::corrupt(format!("short dead space at {off}")));
                    }
                    off += dead;
                }
                other => {
                    return Err(Error::corrupt(format!(
                        "record at {off} has unknown magic {other:#010x}"
                    )));
                }
            }
        }
        if recovery_start != 0 && !found_recovery {
            return Err(Error::corrupt(format!(
                "recovery_start {recovery_start} does not point at a record boundary"
            )));
        }
        // Walk every list: each pointer must reach a record of that list, once.
        let mut seen: HashMap<u32, ()> = HashMap::with_capacity(members.len());
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
                if seen.insert(cur, ()).is_some() {
                    return Err(Error::corrupt(format!(
                        "record {cur} is linked twice (cycle or cross-link in list {list})"
                    )));
                }
                let rec = self.io.read_rec_raw(cur)?;
                cur = rec.next;
            }
        }
        if let Some((&orphan, &list)) = members.iter().find(|(o, _)| !seen.contains_key(o)) {
            return Err(Error::corrupt(format!(
                "record {orphan} is not reachable from list {list}"
            )));
        }
        Ok(())
    }
}
