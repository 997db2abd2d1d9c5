//! The reference the engines are held to: the records, and tdb 1.4.8's transaction
//! state machine.

use std::collections::BTreeMap;

use replay_engine::backend::ErrorKind;
use replay_engine::backend::StoreFlag;

use crate::ops::{Op, Setup};
use crate::outcome::{Outcome, Records};

/// What the model says a call must give.
#[derive(Debug)]
pub(crate) enum Expect {
    Exactly(Outcome),
    /// Some error, of a kind tdb does not set: a transaction call without a transaction
    /// fails leaving `tdb_error()` as an earlier call left it. The two engines must
    /// still agree on it.
    StaleError,
}

impl Expect {
    pub(crate) fn allows(&self, got: &Outcome) -> bool {
        match self {
            Expect::Exactly(want) => want == got,
            Expect::StaleError => matches!(got, Outcome::Failed(_)),
        }
    }
}

/// An open transaction, as `struct tdb_transaction` tracks it.
#[derive(Debug)]
pub(crate) struct Transaction {
    /// The records when it started: what a cancel goes back to.
    pub(crate) snapshot: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Starts beyond the first (`nesting`): a nested commit only decrements it.
    pub(crate) nesting: u32,
    /// `transaction_error`: set by a nested cancel; the outermost commit then fails
    /// with `TDB_ERR_IO` and everything is cancelled.
    pub(crate) error: bool,
    /// Prepared: only a commit or cancel may follow (a write fails with `EINVAL`).
    pub(crate) prepared: bool,
    /// Whether anything was written (`blocks != NULL`): a prepare of a transaction
    /// that wrote nothing does nothing and does not count as prepared.
    pub(crate) wrote: bool,
}

/// The reference: the records, and the transaction state machine of tdb 1.4.8
/// (`common/transaction.c`).
#[derive(Debug)]
pub(crate) struct Model {
    pub(crate) records: BTreeMap<Vec<u8>, Vec<u8>>,
    pub(crate) transaction: Option<Transaction>,
    pub(crate) nesting_allowed: bool,
    /// A prepared transaction was cancelled: `tdb_check` may fail from then on (see
    /// [`Pair::finish`]).
    pub(crate) prepared_then_cancelled: bool,
    /// A `wipe_all` ran outside a transaction while C's idea of the file size may have
    /// been stale: `tdb_check` may fail from then on (see [`Pair::finish`]).
    pub(crate) wiped_on_stale_size: bool,
}

impl Model {
    pub(crate) fn new(setup: Setup) -> Self {
        Model {
            records: BTreeMap::new(),
            transaction: None,
            nesting_allowed: setup.nesting_allowed(),
            prepared_then_cancelled: false,
            wiped_on_stale_size: false,
        }
    }

    pub(crate) fn prepared(&self) -> bool {
        self.transaction.as_ref().is_some_and(|t| t.prepared)
    }

    /// Inside a transaction, note that the file was written to.
    pub(crate) fn wrote(&mut self) {
        if let Some(t) = self.transaction.as_mut() {
            t.wrote = true;
        }
    }

    pub(crate) fn entries(&self) -> Records {
        self.records
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// `_tdb_transaction_cancel`: a nested level only marks the transaction failed; the
    /// outermost one restores the records.
    pub(crate) fn cancel_level(&mut self) {
        let t = self.transaction.as_mut().expect("a transaction");
        if t.nesting > 0 {
            t.nesting -= 1;
            t.error = true;
        } else {
            let t = self.transaction.take().expect("a transaction");
            self.prepared_then_cancelled |= t.prepared;
            self.records = t.snapshot;
        }
    }

    /// A replacing store: writes unless the record already holds exactly `data` (tdb
    /// compares before updating in place).
    pub(crate) fn replace(&mut self, key: &[u8], data: Vec<u8>) {
        if self.records.get(key) != Some(&data) {
            self.records.insert(key.to_vec(), data);
            self.wrote();
        }
    }

    /// Advances the model by `op` and says what the engines must give; `None` when the
    /// op is not to be run, on the two paths this model does not follow:
    ///
    /// - a write inside a prepared transaction: C fails it with `EINVAL` and marks the
    ///   transaction failed (after whatever part of the write got through);
    /// - a store or append of the empty key inside a transaction. An empty slice
    ///   reaches C as a NULL pointer, and C 1.4.8's transaction write refuses a NULL
    ///   key buffer without setting an error code, after the record was allocated (and
    ///   an old record of that key possibly deleted to make room): the call fails with
    ///   a stale code and leaves space that no hash chain or freelist reaches, so
    ///   `tdb_check` fails once the transaction commits. tdb-pure reproduces this on
    ///   purpose; which of these things happen depends on the record's slack;
    /// - for the same reason, a `TDB_MODIFY` store of empty data over a non-empty record
    ///   inside a transaction: the in-place update fails on the NULL buffer, and
    ///   whether tdb then falls back to rewriting the record or fails with `NOEXIST`
    ///   depends on the stale error code an earlier call left.
    pub(crate) fn step(&mut self, op: &Op) -> Option<Expect> {
        use Outcome::{Done, Failed};
        if self.prepared() && op.may_write() {
            return None;
        }
        if self.transaction.is_some() {
            match op {
                Op::Store { key, .. } | Op::Append { key, .. } if key.bytes().is_empty() => {
                    return None;
                }
                Op::Store {
                    key,
                    value,
                    flag: StoreFlag::Modify,
                } if value.0.is_empty()
                    && self.records.get(key.bytes()).is_some_and(|v| !v.is_empty()) =>
                {
                    return None;
                }
                _ => {}
            }
        }
        let exactly = Expect::Exactly;
        Some(match op {
            Op::Store { key, value, flag } => {
                let key = key.bytes();
                let present = self.records.contains_key(key);
                match flag {
                    StoreFlag::Insert if present => exactly(Failed(ErrorKind::Exists)),
                    StoreFlag::Modify if !present => exactly(Failed(ErrorKind::NoExist)),
                    _ => {
                        self.replace(key, value.0.clone());
                        exactly(Done)
                    }
                }
            }
            Op::Fetch { key } => exactly(Outcome::Fetched(self.records.get(key.bytes()).cloned())),
            Op::ParseRecord { key } => exactly(match self.records.get(key.bytes()) {
                Some(data) => Outcome::Parsed(data.clone()),
                None => Failed(ErrorKind::NoExist),
            }),
            Op::Exists { key } => exactly(Outcome::Exists(self.records.contains_key(key.bytes()))),
            Op::Delete { key } => exactly(match self.records.remove(key.bytes()) {
                Some(_) => {
                    self.wrote();
                    Done
                }
                None => Failed(ErrorKind::NoExist),
            }),
            Op::Append { key, value } => {
                let key = key.bytes();
                let mut data = self.records.get(key).cloned().unwrap_or_default();
                data.extend_from_slice(&value.0);
                self.replace(key, data);
                exactly(Done)
            }
            Op::WipeAll => {
                self.records.clear();
                self.wrote();
                exactly(Done)
            }
            // tdb_repack runs in a (possibly nested) transaction of its own: it rewrites
            // everything, and its commit is the nested commit of the transaction around it.
            Op::Repack => exactly(match self.transaction.as_mut() {
                None => Done,
                Some(_) if !self.nesting_allowed => Failed(ErrorKind::Nesting),
                Some(t) => {
                    t.wrote = true;
                    if t.error {
                        // Its commit fails and cancels its own level (the transaction
                        // stays marked failed); the records are unchanged either way.
                        Failed(ErrorKind::Io)
                    } else {
                        Done
                    }
                }
            }),
            Op::TransactionStart => exactly(match self.transaction.as_mut() {
                None => {
                    self.transaction = Some(Transaction {
                        snapshot: self.records.clone(),
                        nesting: 0,
                        error: false,
                        prepared: false,
                        wrote: false,
                    });
                    Done
                }
                Some(_) if !self.nesting_allowed => Failed(ErrorKind::Nesting),
                Some(t) => {
                    t.nesting += 1;
                    Done
                }
            }),
            Op::TransactionPrepareCommit => {
                let Some(t) = self.transaction.as_mut() else {
                    return Some(Expect::StaleError);
                };
                exactly(if t.prepared {
                    self.cancel_level();
                    Failed(ErrorKind::Einval)
                } else if t.error {
                    self.cancel_level();
                    Failed(ErrorKind::Io)
                } else {
                    if t.nesting == 0 && t.wrote {
                        t.prepared = true;
                    }
                    Done
                })
            }
            Op::TransactionCommit => {
                let Some(t) = self.transaction.as_mut() else {
                    return Some(Expect::StaleError);
                };
                exactly(if t.error {
                    self.cancel_level();
                    Failed(ErrorKind::Io)
                } else {
                    if t.nesting > 0 {
                        t.nesting -= 1;
                    } else {
                        self.transaction = None;
                    }
                    Done
                })
            }
            Op::TransactionCancel => {
                if self.transaction.is_none() {
                    return Some(Expect::StaleError);
                }
                self.cancel_level();
                exactly(Done)
            }
            Op::TraverseDeleting { doomed } => {
                let records = self.entries();
                let before = self.records.len();
                self.records.retain(|key, _| !doomed.contains(key));
                let deleted = (before - self.records.len()) as u32;
                if deleted > 0 {
                    self.wrote();
                }
                exactly(Outcome::Traversed {
                    count: before as u32,
                    records,
                    deleted,
                    delete_errors: Vec::new(),
                })
            }
            Op::TraverseRead => exactly(Outcome::Traversed {
                count: self.records.len() as u32,
                records: self.entries(),
                deleted: 0,
                delete_errors: Vec::new(),
            }),
            Op::KeyWalk => exactly(Outcome::Keys(self.records.keys().cloned().collect())),
        })
    }
}
