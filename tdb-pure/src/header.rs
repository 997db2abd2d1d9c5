//! The 168-byte file header and the fixed layout in front of the record area.
//!
//! ```text
//! off  size  field
//!   0    32  magic_food      "TDB file\n\0", rest zero (never byte-swapped)
//!  32     4  version         0x2601196D; also the byte-order probe
//!  36     4  hash_size       number of buckets
//!  40     4  rwlocks         0, 0x0BAD1A51 (jenkins marker) or 0x0BAD1A52 (feature flags)
//!  44     4  recovery_start  transaction recovery area, 0 if none
//!  48     4  sequence_number
//!  52     4  magic1_hash     H("TDB file\n\0")
//!  56     4  magic2_hash     H(TDB_MAGIC in file order)
//!  60     4  feature_flags   meaningful only when rwlocks = 0x0BAD1A52
//!  64     4  mutex_size
//!  68   100  reserved
//! 168     4  freelist head   (FREELIST_TOP)
//! 172  4*hs  bucket heads
//! ```

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::hash::HashKind;
use crate::record::TDB_MAGIC;

/// Size of `struct tdb_header`.
pub const HEADER_SIZE: u32 = 168;
/// The magic string at offset 0 (10 bytes, NUL included).
pub const MAGIC_FOOD: &[u8; 10] = b"TDB file\n\0";
/// `TDB_VERSION`.
pub const TDB_VERSION: u32 = 0x2601_196D;
/// Offset of the version word.
pub const VERSION_OFS: u32 = 32;
/// Offset of `hash_size`.
pub const HASH_SIZE_OFS: u32 = 36;
/// Offset of `rwlocks`.
pub const RWLOCKS_OFS: u32 = 40;
/// Offset of `recovery_start` (`TDB_RECOVERY_HEAD`).
pub const RECOVERY_HEAD: u32 = 44;
/// Offset of `sequence_number` (`TDB_SEQNUM_OFS`).
pub const SEQNUM_OFS: u32 = 48;
/// Offset of `magic1_hash`.
pub const MAGIC1_OFS: u32 = 52;
/// Offset of `magic2_hash`.
pub const MAGIC2_OFS: u32 = 56;
/// Offset of `feature_flags`.
pub const FEATURE_FLAGS_OFS: u32 = 60;
/// Offset of `mutex_size`.
pub const MUTEX_SIZE_OFS: u32 = 64;
/// Offset of the freelist head word.
pub const FREELIST_TOP: u32 = HEADER_SIZE;
/// `TDB_HASH_RWLOCK_MAGIC`: created with `TDB_INCOMPATIBLE_HASH`.
pub const HASH_RWLOCK_MAGIC: u32 = 0x0BAD_1A51;
/// `TDB_FEATURE_FLAG_MAGIC`: feature_flags and mutex_size are meaningful.
pub const FEATURE_FLAG_MAGIC: u32 = 0x0BAD_1A52;
/// `TDB_FEATURE_FLAG_MUTEX`.
pub const FEATURE_FLAG_MUTEX: u32 = 1;
/// `DEFAULT_HASH_SIZE`.
pub const DEFAULT_HASH_SIZE: u32 = 131;
/// Largest hash size C accepts (UINT32_MAX / 4).
pub const MAX_HASH_SIZE: u32 = 0x3FFF_FFFF;

/// Offset of the head word of the bucket of a full hash (`TDB_HASH_TOP`).
pub fn hash_top(hash: u32, hash_size: u32) -> u32 {
    HEADER_SIZE + 4 * (hash % hash_size + 1)
}

/// Offset of the head word of bucket `bucket`.
pub fn bucket_top(bucket: u32) -> u32 {
    HEADER_SIZE + 4 * (bucket + 1)
}

/// Start of the record area (`TDB_DATA_START`), as u64 to avoid overflow.
pub fn data_start(hash_size: u32) -> u64 {
    u64::from(HEADER_SIZE) + 4 + 4 * u64::from(hash_size)
}

/// Byte order of a file's structural words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// Little-endian words.
    Little,
    /// Big-endian words.
    Big,
}

impl ByteOrder {
    /// The host's order (C's default for a new file).
    pub fn native() -> ByteOrder {
        if cfg!(target_endian = "big") {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        }
    }

    /// The opposite order.
    pub fn swapped(self) -> ByteOrder {
        match self {
            ByteOrder::Little => ByteOrder::Big,
            ByteOrder::Big => ByteOrder::Little,
        }
    }

    /// Decode a word.
    #[inline]
    pub fn get(self, bytes: [u8; 4]) -> u32 {
        match self {
            ByteOrder::Little => u32::from_le_bytes(bytes),
            ByteOrder::Big => u32::from_be_bytes(bytes),
        }
    }

    /// Decode the word at `at` in `buf` (caller guarantees `at + 4 <= buf.len()`).
    #[inline]
    pub fn get_at(self, buf: &[u8], at: usize) -> u32 {
        self.get([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
    }

    /// Encode a word.
    #[inline]
    pub fn put(self, value: u32) -> [u8; 4] {
        match self {
            ByteOrder::Little => value.to_le_bytes(),
            ByteOrder::Big => value.to_be_bytes(),
        }
    }

    /// Encode `value` at `at` in `buf`.
    #[inline]
    pub fn put_at(self, buf: &mut [u8], at: usize, value: u32) {
        buf[at..at + 4].copy_from_slice(&self.put(value));
    }
}

/// The decoded header words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Byte order of the file.
    pub order: ByteOrder,
    /// Number of hash buckets.
    pub hash_size: u32,
    /// The `rwlocks` format marker.
    pub rwlocks: u32,
    /// Offset of the recovery area or 0.
    pub recovery_start: u32,
    /// The sequence number.
    pub seqnum: u32,
    /// Stored hash of the magic string.
    pub magic1_hash: u32,
    /// Stored hash of `TDB_MAGIC`.
    pub magic2_hash: u32,
    /// Feature flags (0 unless rwlocks is `FEATURE_FLAG_MAGIC`).
    pub feature_flags: u32,
    /// Size of the mutex area (0 unless the mutex feature is set).
    pub mutex_size: u32,
}

/// The magic hashes (m1, m2) a file created with `hash` in byte order `order` carries.
pub fn magic_hashes(hash: HashKind, order: ByteOrder) -> (u32, u32) {
    magic_hashes_by(|k| hash.hash(k), order)
}

/// The magic hashes (m1, m2) of any hash function (`tdb_header_hash`).
pub fn magic_hashes_by(hash: impl Fn(&[u8]) -> u32, order: ByteOrder) -> (u32, u32) {
    let m1 = hash(MAGIC_FOOD);
    let m2 = hash(&order.put(TDB_MAGIC));
    if m1 == 0 && m2 == 0 {
        (1, 0)
    } else {
        (m1, m2)
    }
}

impl Header {
    /// Whether bytes 0..10 carry the magic string (else "not a tdb": C would create).
    pub fn has_magic(raw: &[u8]) -> bool {
        raw.len() >= HEADER_SIZE as usize && &raw[..MAGIC_FOOD.len()] == MAGIC_FOOD
    }

    /// Decode and validate a header as `tdb_open` does; `raw` must hold 168 bytes with
    /// the magic string.
    pub fn decode(raw: &[u8]) -> Result<Header> {
        if !Header::has_magic(raw) {
            return Err(Error::io("not a tdb file (bad magic string)"));
        }
        let native = ByteOrder::native();
        let v = native.get_at(raw, VERSION_OFS as usize);
        let order = if v == TDB_VERSION {
            native
        } else if v.swap_bytes() == TDB_VERSION {
            native.swapped()
        } else {
            return Err(Error::io(format!("unknown tdb version {v:#010x}")));
        };
        let w = |ofs: u32| order.get_at(raw, ofs as usize);
        let header = Header {
            order,
            hash_size: w(HASH_SIZE_OFS),
            rwlocks: w(RWLOCKS_OFS),
            recovery_start: w(RECOVERY_HEAD),
            seqnum: w(SEQNUM_OFS),
            magic1_hash: w(MAGIC1_OFS),
            magic2_hash: w(MAGIC2_OFS),
            feature_flags: w(FEATURE_FLAGS_OFS),
            mutex_size: w(MUTEX_SIZE_OFS),
        };
        match header.rwlocks {
            0 | HASH_RWLOCK_MAGIC | FEATURE_FLAG_MAGIC => {}
            other => {
                return Err(Error::Unsupported(format!(
                    "rwlocks field {other:#010x}: spinlock/rwlock tdb files are no longer supported"
                )))
            }
        }
        if header.hash_size == 0 {
            return Err(Error::Unsupported("hash_size is 0".into()));
        }
        if header.rwlocks == FEATURE_FLAG_MAGIC && header.feature_flags & !FEATURE_FLAG_MUTEX != 0 {
            return Err(Error::Unsupported(format!(
                "unknown feature flags {:#x}",
                header.feature_flags
            )));
        }
        if header.hash_size > MAX_HASH_SIZE {
            return Err(Error::Einval(format!(
                "hash_size {} too large",
                header.hash_size
            )));
        }
        Ok(header)
    }

    /// Read and decode the header at the start of the file at `path`, without opening
    /// the database (no locks, no recovery): its byte order, hash size, format marker and
    /// feature flags ([`Header::has_mutexes`]). A robust-mutex file starts with the same
    /// header as the one behind its mutex area.
    pub fn read_file(path: impl AsRef<Path>) -> Result<Header> {
        let path = path.as_ref();
        let mut raw = [0u8; HEADER_SIZE as usize];
        std::fs::File::open(path)
            .and_then(|mut file| file.read_exact(&mut raw))
            .map_err(|e| Error::io(format!("cannot read the header of {}: {e}", path.display())))?;
        Header::decode(&raw)
    }

    /// Whether this is a robust-mutex file.
    pub fn has_mutexes(&self) -> bool {
        self.rwlocks == FEATURE_FLAG_MAGIC && self.feature_flags & FEATURE_FLAG_MUTEX != 0
    }

    /// Choose the hash function as `check_header_hash` does with no caller function;
    /// `prefer_jenkins` is `TDB_INCOMPATIBLE_HASH` in the open flags.
    pub fn select_hash(&self, prefer_jenkins: bool) -> Result<HashKind> {
        if self.magic1_hash == 0 && self.magic2_hash == 0 {
            return Ok(HashKind::Old);
        }
        let first = if prefer_jenkins {
            HashKind::Jenkins
        } else {
            HashKind::Old
        };
        for kind in [first, first.other()] {
            if magic_hashes(kind, self.order) == (self.magic1_hash, self.magic2_hash) {
                return Ok(kind);
            }
        }
        Err(Error::Einval(
            "file was not created with a known hash function (magic hashes do not match)".into(),
        ))
    }

    /// The bytes C writes for a new file: header plus zeroed freelist and bucket heads.
    pub fn new_file_image(
        hash_size: u32,
        hash: HashKind,
        rwlocks: u32,
        order: ByteOrder,
    ) -> Vec<u8> {
        let len = data_start(hash_size) as usize;
        let mut buf = vec![0u8; len];
        buf[..MAGIC_FOOD.len()].copy_from_slice(MAGIC_FOOD);
        order.put_at(&mut buf, VERSION_OFS as usize, TDB_VERSION);
        order.put_at(&mut buf, HASH_SIZE_OFS as usize, hash_size);
        order.put_at(&mut buf, RWLOCKS_OFS as usize, rwlocks);
        let (m1, m2) = magic_hashes(hash, order);
        order.put_at(&mut buf, MAGIC1_OFS as usize, m1);
        order.put_at(&mut buf, MAGIC2_OFS as usize, m2);
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_hash_table() {
        assert_eq!(
            magic_hashes(HashKind::Old, ByteOrder::Little),
            (0xF67D_9F0D, 0x3AFE_F920)
        );
        assert_eq!(
            magic_hashes(HashKind::Old, ByteOrder::Big),
            (0xF67D_9F0D, 0x566F_1E0F)
        );
        assert_eq!(
            magic_hashes(HashKind::Jenkins, ByteOrder::Little),
            (0xD7B6_94E5, 0x76B9_440E)
        );
        assert_eq!(
            magic_hashes(HashKind::Jenkins, ByteOrder::Big),
            (0xD7B6_94E5, 0x123C_1283)
        );
    }

    #[test]
    fn image_roundtrip_both_orders() {
        for order in [ByteOrder::Little, ByteOrder::Big] {
            let img = Header::new_file_image(7, HashKind::Jenkins, HASH_RWLOCK_MAGIC, order);
            assert_eq!(img.len(), 172 + 28);
            let h = Header::decode(&img).unwrap();
            assert_eq!(h.order, order);
            assert_eq!(h.hash_size, 7);
            assert_eq!(h.select_hash(false).unwrap(), HashKind::Jenkins);
        }
    }

    #[test]
    fn read_file_reports_the_mutex_feature() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.tdb");
        let mut img =
            Header::new_file_image(7, HashKind::Jenkins, FEATURE_FLAG_MAGIC, ByteOrder::Big);
        ByteOrder::Big.put_at(&mut img, FEATURE_FLAGS_OFS as usize, FEATURE_FLAG_MUTEX);
        std::fs::write(&path, &img).unwrap();
        let header = Header::read_file(&path).unwrap();
        assert!(header.has_mutexes());
        assert_eq!((header.order, header.hash_size), (ByteOrder::Big, 7));
        std::fs::write(&path, &img[..100]).unwrap();
        assert!(matches!(Header::read_file(&path), Err(Error::Io(_))));
        assert!(Header::read_file(dir.path().join("absent")).is_err());
    }

    #[test]
    fn refusals() {
        let mut img = Header::new_file_image(131, HashKind::Old, 0, ByteOrder::Little);
        img[40..44].copy_from_slice(&0x172F_C567u32.to_le_bytes());
        assert!(matches!(Header::decode(&img), Err(Error::Unsupported(_))));
        let mut img = Header::new_file_image(131, HashKind::Old, 0, ByteOrder::Little);
        img[32] ^= 0xFF;
        assert!(matches!(Header::decode(&img), Err(Error::Io(_))));
        let mut img = Header::new_file_image(131, HashKind::Old, 0, ByteOrder::Little);
        img[36..40].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(Header::decode(&img), Err(Error::Unsupported(_))));
    }
}
