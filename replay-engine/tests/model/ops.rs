//! The operations a sequence is made of, and the strategies that generate them and
//! the database they run on.

use std::fmt;

use proptest::prelude::*;
use replay_engine::backend::tdb_flags;
use replay_engine::backend::OpenOptions;
use replay_engine::backend::StoreFlag;

/// The key space: small, so that operations keep meeting the same records, and varied
/// (the empty key, binary keys, one long key).
pub(crate) const KEYS: [&[u8]; 10] = [
    b"",
    b"a",
    b"b",
    b"c",
    b"key",
    b"key1",
    b"key2",
    b"\x00",
    b"\xff\x00\xfe",
    b"a-rather-longer-key-for-the-chains",
];

/// Magic bytes are not values, but a readable dump is what shrinking is for.
pub(crate) fn escaped(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

/// One of [`KEYS`], by index.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key(pub(crate) usize);

impl Key {
    pub(crate) fn bytes(self) -> &'static [u8] {
        KEYS[self.0]
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", escaped(self.bytes()))
    }
}

/// A set of keys (bit i is `KEYS[i]`): the records a deleting traverse removes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeySet(pub(crate) u16);

impl KeySet {
    pub(crate) fn contains(self, key: &[u8]) -> bool {
        KEYS.iter()
            .position(|k| *k == key)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries((0..KEYS.len()).filter(|i| self.0 & (1 << i) != 0).map(Key))
            .finish()
    }
}

/// A record's data; printed escaped, long ones abridged.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Value(pub(crate) Vec<u8>);

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() <= 24 {
            write!(f, "b\"{}\"", escaped(&self.0))
        } else {
            write!(
                f,
                "<{} bytes: b\"{}\"...>",
                self.0.len(),
                escaped(&self.0[..16])
            )
        }
    }
}

/// One call on the database.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    Store {
        key: Key,
        value: Value,
        flag: StoreFlag,
    },
    Fetch {
        key: Key,
    },
    ParseRecord {
        key: Key,
    },
    Exists {
        key: Key,
    },
    Delete {
        key: Key,
    },
    Append {
        key: Key,
        value: Value,
    },
    WipeAll,
    Repack,
    TransactionStart,
    TransactionPrepareCommit,
    TransactionCommit,
    TransactionCancel,
    /// `tdb_traverse`, deleting each visited record whose key is in the set.
    TraverseDeleting {
        doomed: KeySet,
    },
    /// `tdb_traverse_read`, collecting every record.
    TraverseRead,
    /// `tdb_firstkey` then `tdb_nextkey` until the end, collecting every key.
    KeyWalk,
}

impl Op {
    /// Whether the call may write to the file (forbidden in a prepared transaction).
    pub(crate) fn may_write(&self) -> bool {
        matches!(
            self,
            Op::Store { .. }
                | Op::Delete { .. }
                | Op::Append { .. }
                | Op::WipeAll
                | Op::Repack
                | Op::TraverseDeleting { .. }
        )
    }
}

pub(crate) fn key() -> impl Strategy<Value = Key> {
    (0..KEYS.len()).prop_map(Key)
}

/// Mostly tiny values over a tiny alphabet (so that a store often repeats the data
/// already there), some empty, some a few hundred bytes (so that the file grows and
/// records move).
pub(crate) fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => Just(Vec::new()),
        4 => proptest::collection::vec(b'x'..=b'z', 0..4),
        3 => proptest::collection::vec(any::<u8>(), 0..24),
        1 => proptest::collection::vec(any::<u8>(), 100..600),
    ]
    .prop_map(Value)
}

pub(crate) fn store_flag() -> impl Strategy<Value = StoreFlag> {
    prop_oneof![
        Just(StoreFlag::Default),
        Just(StoreFlag::Replace),
        Just(StoreFlag::Insert),
        Just(StoreFlag::Modify),
    ]
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        14 => (key(), value(), store_flag()).prop_map(|(key, value, flag)| Op::Store { key, value, flag }),
        4 => key().prop_map(|key| Op::Fetch { key }),
        3 => key().prop_map(|key| Op::ParseRecord { key }),
        3 => key().prop_map(|key| Op::Exists { key }),
        5 => key().prop_map(|key| Op::Delete { key }),
        4 => (key(), value()).prop_map(|(key, value)| Op::Append { key, value }),
        1 => Just(Op::WipeAll),
        1 => Just(Op::Repack),
        4 => Just(Op::TransactionStart),
        2 => Just(Op::TransactionPrepareCommit),
        3 => Just(Op::TransactionCommit),
        2 => Just(Op::TransactionCancel),
        2 => any::<u16>().prop_map(|bits| Op::TraverseDeleting {
            doomed: KeySet(bits & ((1 << KEYS.len()) - 1)),
        }),
        1 => Just(Op::TraverseRead),
        1 => Just(Op::KeyWalk),
    ]
}

/// The database's shape: its hash size (small, so chains are long) and how it treats
/// nested transactions (tdb 1.4.8 allows them unless `TDB_DISALLOW_NESTING`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Setup {
    pub(crate) hash_size: u32,
    pub(crate) nesting: u32,
}

impl Setup {
    pub(crate) fn options(self, create: bool) -> OpenOptions {
        OpenOptions {
            hash_size: self.hash_size,
            tdb_flags: tdb_flags::NOSYNC | self.nesting,
            open_flags: libc::O_RDWR | if create { libc::O_CREAT } else { 0 },
            mode: 0o600,
        }
    }

    pub(crate) fn nesting_allowed(self) -> bool {
        self.nesting & tdb_flags::DISALLOW_NESTING == 0
    }
}

pub(crate) fn setup() -> impl Strategy<Value = Setup> {
    let nesting = prop_oneof![
        Just(0),
        Just(tdb_flags::ALLOW_NESTING),
        Just(tdb_flags::DISALLOW_NESTING),
    ];
    (1u32..=17, nesting).prop_map(|(hash_size, nesting)| Setup { hash_size, nesting })
}
