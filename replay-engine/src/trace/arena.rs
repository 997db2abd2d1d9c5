//! The byte store behind every record of one trace. Traces repeat the same values a
//! great deal (users.ldb records 632 MB of hex holding 11 MB of distinct values), so a
//! record identical to an earlier one reuses the earlier bytes: the arena stays small,
//! loading faults in fewer pages, and the replay compares against memory still in cache.

use std::hash::{BuildHasher, BuildHasherDefault};

use rustc_hash::FxHasher;

use super::model::Span;

/// Records shorter than this are not worth a hash lookup.
const MIN_INTERNED: usize = 16;

/// Growing record storage with deduplication of whole records.
#[derive(Default)]
pub(crate) struct Arena {
    bytes: Vec<u8>,
    /// Hash of a record's bytes → the first record with that hash.
    seen: std::collections::HashMap<u64, Span, BuildHasherDefault<NoHash>>,
}

/// The table's keys are already hashes.
#[derive(Default)]
pub(crate) struct NoHash(u64);

impl std::hash::Hasher for NoHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) | u64::from(byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena")
            .field("bytes", &self.bytes.len())
            .field("distinct_records", &self.seen.len())
            .finish()
    }
}

impl Arena {
    /// Bytes stored so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Bytes allocated (for tests that check nothing was allocated).
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Drop everything from `len` on (after a line failed to parse).
    pub fn truncate(&mut self, len: usize) {
        if len < self.bytes.len() {
            self.bytes.truncate(len);
            self.seen.retain(|_, span| span.start + span.len <= len);
        }
    }

    /// Room for `len` more bytes at the end, to decode into; returns where it starts.
    pub fn grow(&mut self, len: usize) -> usize {
        let start = self.bytes.len();
        self.bytes.resize(start + len, 0);
        start
    }

    /// The bytes from `start` to the end, to decode into.
    pub fn tail_mut(&mut self, start: usize) -> &mut [u8] {
        &mut self.bytes[start..]
    }

    /// The bytes of a span.
    pub fn get(&self, span: Span) -> &[u8] {
        &self.bytes[span.start..span.start + span.len]
    }

    /// The record just decoded at `start..end`: if an identical one is stored already,
    /// give the bytes back and return that one.
    pub fn intern_tail(&mut self, start: usize) -> Span {
        let span = Span {
            start,
            len: self.bytes.len() - start,
        };
        if span.len < MIN_INTERNED {
            return span;
        }
        let hash = BuildHasherDefault::<FxHasher>::default().hash_one(&self.bytes[start..]);
        match self.seen.get(&hash) {
            Some(&earlier) if self.get(earlier) == &self.bytes[start..] => {
                self.bytes.truncate(start);
                earlier
            }
            Some(_) => span,
            None => {
                self.seen.insert(hash, span);
                span
            }
        }
    }

    /// The stored bytes, for the finished trace.
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.bytes.shrink_to_fit();
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(arena: &mut Arena, bytes: &[u8]) -> Span {
        let start = arena.grow(bytes.len());
        arena.tail_mut(start).copy_from_slice(bytes);
        arena.intern_tail(start)
    }

    #[test]
    fn identical_records_share_bytes() {
        let mut arena = Arena::default();
        let a = store(&mut arena, &[7; 40]);
        let b = store(&mut arena, &[8; 40]);
        let c = store(&mut arena, &[7; 40]);
        assert_eq!(a, c);
        assert_ne!(a, b);
        assert_eq!(arena.len(), 80);
        assert_eq!(arena.get(c), &[7; 40]);
    }

    #[test]
    fn short_records_are_kept_as_they_come() {
        let mut arena = Arena::default();
        let a = store(&mut arena, b"abc");
        let b = store(&mut arena, b"abc");
        assert_ne!(a, b);
        assert_eq!(arena.len(), 6);
    }

    #[test]
    fn truncation_forgets_dropped_records() {
        let mut arena = Arena::default();
        store(&mut arena, &[1; 32]);
        let mark = arena.len();
        store(&mut arena, &[2; 32]);
        arena.truncate(mark);
        let again = store(&mut arena, &[2; 32]);
        assert_eq!(
            again.start, mark,
            "not a dangling reference to dropped bytes"
        );
        assert_eq!(arena.get(again), &[2; 32]);
    }
}
