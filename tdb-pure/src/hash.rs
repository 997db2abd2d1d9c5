//! The two tdb hash functions: the default "old" gdbm-derived hash and Jenkins lookup3
//! `hashlittle` with initval 0 (`TDB_INCOMPATIBLE_HASH`). Both are defined on byte strings
//! and do not depend on the host or file byte order.

/// Which hash function a file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashKind {
    /// `tdb_old_hash`, the default.
    Old,
    /// `tdb_jenkins_hash` (lookup3 `hashlittle`, initval 0).
    Jenkins,
}

impl HashKind {
    /// Hash `key` with this function.
    pub fn hash(self, key: &[u8]) -> u32 {
        match self {
            HashKind::Old => old_hash(key),
            HashKind::Jenkins => jenkins_hash(key),
        }
    }

    /// The other built-in hash.
    pub fn other(self) -> HashKind {
        match self {
            HashKind::Old => HashKind::Jenkins,
            HashKind::Jenkins => HashKind::Old,
        }
    }
}

/// A caller-supplied hash function (`tdb_open_ex`'s `hash_fn`), used instead of the
/// built-in ones for keys and the header's magic hashes.
#[derive(Clone)]
pub struct CustomHash(std::sync::Arc<HashFn>);

/// The function type a [`CustomHash`] wraps.
pub type HashFn = dyn Fn(&[u8]) -> u32 + Send + Sync;

impl CustomHash {
    /// Wrap a hash function.
    pub fn new(f: impl Fn(&[u8]) -> u32 + Send + Sync + 'static) -> CustomHash {
        CustomHash(std::sync::Arc::new(f))
    }

    /// Hash `key` with the wrapped function.
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u32 {
        (self.0)(key)
    }
}

impl std::fmt::Debug for CustomHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomHash(..)")
    }
}

/// The default tdb hash (derived from gdbm).
pub fn old_hash(key: &[u8]) -> u32 {
    let mut value = 0x238F_13AFu32.wrapping_mul(key.len() as u32);
    for (i, &byte) in key.iter().enumerate() {
        let shift = (i as u32).wrapping_mul(5) % 24;
        value = value.wrapping_add(u32::from(byte) << shift);
    }
    1_103_515_243u32.wrapping_mul(value).wrapping_add(12345)
}

fn word_le(bytes: &[u8]) -> u32 {
    // Up to 4 bytes, little-endian; missing high bytes are zero.
    bytes
        .iter()
        .enumerate()
        .fold(0u32, |acc, (j, &b)| acc | (u32::from(b) << (8 * j)))
}

fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

fn final_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

/// Jenkins lookup3 `hashlittle(key, len, 0)`, as `tdb_jenkins_hash`.
pub fn jenkins_hash(key: &[u8]) -> u32 {
    let init = 0xDEAD_BEEFu32.wrapping_add(key.len() as u32);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut rest = key;
    while rest.len() > 12 {
        a = a.wrapping_add(word_le(&rest[0..4]));
        b = b.wrapping_add(word_le(&rest[4..8]));
        c = c.wrapping_add(word_le(&rest[8..12]));
        mix(&mut a, &mut b, &mut c);
        rest = &rest[12..];
    }
    if rest.is_empty() {
        return c;
    }
    let part = |from: usize| -> u32 {
        let end = rest.len().min(from + 4);
        if from >= end {
            0
        } else {
            word_le(&rest[from..end])
        }
    };
    a = a.wrapping_add(part(0));
    b = b.wrapping_add(part(4));
    c = c.wrapping_add(part(8));
    final_mix(&mut a, &mut b, &mut c);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_test_vectors() {
        let seq: Vec<u8> = (0u8..64).collect();
        let cases: &[(&[u8], u32, u32)] = &[
            (b"", 0x0000_3039, 0xDEAD_BEEF),
            (b"a", 0x094A_72E9, 0x58D6_8708),
            (b"x", 0xF21B_7E86, 0xFAAC_85A7),
            (b"hi", 0x3DA2_605B, 0x54BB_3AB8),
            (b"tdb", 0xFC37_6EA4, 0xA51F_AA8A),
            (b"Hello", 0xAE5B_91EA, 0xC7BC_405B),
            (b"TDB file\n\0", 0xF67D_9F0D, 0xD7B6_94E5),
            (b"nbt_server\0", 0xFD81_5078, 0xC2AC_5E8F),
            (b"hello world", 0x0940_E158, 0x4AA9_4E65),
            (b"abcdefghijkl", 0xB7D4_C8A8, 0x4012_F87B),
            (b"abcdefghijklm", 0xCB34_44CD, 0x9281_28F9),
            (b"abcdefghijklmnopqrstuvwx", 0xC410_0E54, 0x1B63_1FEA),
            (&[0x99, 0x19, 0x01, 0x26], 0x3AFE_F920, 0x76B9_440E),
            (&[0x26, 0x01, 0x19, 0x99], 0x566F_1E0F, 0x123C_1283),
            (&[0xFF; 4], 0xB8E2_E402, 0x9B11_C75B),
            (&seq, 0xA43C_EA2B, 0x9FF0_36CC),
        ];
        for &(key, old, jenkins) in cases {
            assert_eq!(old_hash(key), old, "old hash of {key:?}");
            assert_eq!(jenkins_hash(key), jenkins, "jenkins hash of {key:?}");
        }
    }
}
