//! The 24-byte record header (`struct tdb_record`) and its magic values.
//!
//! ```text
//! off  field
//!   0  next       next record in the chain / freelist, 0 = end
//!   4  rec_len    bytes after this header, including the 4-byte tailer
//!   8  key_len
//!  12  data_len
//!  16  full_hash  the key's full 32-bit hash
//!  20  magic
//! 24..             key, data, slack, tailer word (= 24 + rec_len) at 24 + rec_len - 4
//! ```

use crate::header::ByteOrder;

/// Size of a record header.
pub const REC_HDR: u32 = 24;
/// `TDB_MAGIC`: a live record.
pub const TDB_MAGIC: u32 = 0x2601_1999;
/// `TDB_FREE_MAGIC`: a record on the freelist.
pub const TDB_FREE_MAGIC: u32 = 0xD9FE_E666;
/// `TDB_DEAD_MAGIC`: deleted but still linked in its chain.
pub const TDB_DEAD_MAGIC: u32 = 0xFEE1_DEAD;
/// `TDB_RECOVERY_MAGIC`: a valid recovery area.
pub const TDB_RECOVERY_MAGIC: u32 = 0xF53B_C0E7;
/// `TDB_RECOVERY_INVALID_MAGIC`.
pub const TDB_RECOVERY_INVALID_MAGIC: u32 = 0;
/// `TDB_PAD_U32`: expansion fill.
pub const TDB_PAD_U32: u32 = 0x4242_4242;
/// `TDB_PAD_BYTE`.
pub const TDB_PAD_BYTE: u8 = 0x42;
/// `TDB_ALIGNMENT`.
pub const ALIGNMENT: u32 = 4;
/// `MIN_REC_SIZE`: a free block is split only with this much to spare.
pub const MIN_REC_SIZE: u32 = REC_HDR + 4 + 8;

/// A decoded record header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Next record in the chain or freelist.
    pub next: u32,
    /// Bytes after the header, tailer included.
    pub rec_len: u32,
    /// Key length.
    pub key_len: u32,
    /// Data length.
    pub data_len: u32,
    /// Full hash of the key.
    pub full_hash: u32,
    /// Record kind.
    pub magic: u32,
}

impl Record {
    /// Decode a header.
    #[inline]
    pub fn decode(buf: &[u8; 24], order: ByteOrder) -> Record {
        // Decode little-endian words (plain loads on x86), then swap once if needed.
        let w = |i: usize| u32::from_le_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let rec = Record {
            next: w(0),
            rec_len: w(4),
            key_len: w(8),
            data_len: w(12),
            full_hash: w(16),
            magic: w(20),
        };
        match order {
            ByteOrder::Little => rec,
            ByteOrder::Big => Record {
                next: rec.next.swap_bytes(),
                rec_len: rec.rec_len.swap_bytes(),
                key_len: rec.key_len.swap_bytes(),
                data_len: rec.data_len.swap_bytes(),
                full_hash: rec.full_hash.swap_bytes(),
                magic: rec.magic.swap_bytes(),
            },
        }
    }

    /// Encode a header.
    #[inline]
    pub fn encode(&self, order: ByteOrder) -> [u8; 24] {
        let mut buf = [0u8; 24];
        for (i, v) in [
            self.next,
            self.rec_len,
            self.key_len,
            self.data_len,
            self.full_hash,
            self.magic,
        ]
        .into_iter()
        .enumerate()
        {
            order.put_at(&mut buf, 4 * i, v);
        }
        buf
    }

    /// key_len + data_len, None on overflow.
    #[inline]
    pub fn payload(&self) -> Option<u32> {
        self.key_len.checked_add(self.data_len)
    }

    /// Total footprint (header + rec_len), as u64.
    #[inline]
    pub fn total(&self) -> u64 {
        u64::from(REC_HDR) + u64::from(self.rec_len)
    }
}

/// Round up to `ALIGNMENT`.
pub fn align4(n: u32) -> u32 {
    n.wrapping_add(ALIGNMENT - 1) & !(ALIGNMENT - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let r = Record {
            next: 1,
            rec_len: 2,
            key_len: 3,
            data_len: 4,
            full_hash: 5,
            magic: TDB_MAGIC,
        };
        for o in [ByteOrder::Little, ByteOrder::Big] {
            assert_eq!(Record::decode(&r.encode(o), o), r);
        }
        assert_eq!(r.encode(ByteOrder::Big)[3], 1);
        assert_eq!(r.encode(ByteOrder::Little)[0], 1);
    }
}
