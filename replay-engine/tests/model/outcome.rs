//! Running one operation on an engine, through the `Backend` trait, and what it gave.

use std::ops::ControlFlow;

use replay_engine::backend::Backend;
use replay_engine::backend::ErrorKind;
use replay_engine::backend::TdbError;
use replay_engine::backend::TraverseKind;

use crate::ops::{KeySet, Op, KEYS};

pub(crate) type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// What a call gave, in a form two engines and the model can be compared on. Traversed
/// records and walked keys are sorted: their order is the hash chains', not the model's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Done,
    Failed(ErrorKind),
    Fetched(Option<Vec<u8>>),
    Parsed(Vec<u8>),
    Exists(bool),
    Traversed {
        count: u32,
        records: Records,
        deleted: u32,
        delete_errors: Vec<ErrorKind>,
    },
    Keys(Vec<Vec<u8>>),
}

pub(crate) fn outcome<T>(result: Result<T, TdbError>, ok: impl FnOnce(T) -> Outcome) -> Outcome {
    match result {
        Ok(value) => ok(value),
        Err(error) => Outcome::Failed(error.kind),
    }
}

/// Runs `op` on one engine.
pub(crate) fn apply<B: Backend>(db: &mut B, op: &Op) -> Outcome {
    let done = |_| Outcome::Done;
    match op {
        Op::Store { key, value, flag } => outcome(db.store(key.bytes(), &value.0, *flag), done),
        Op::Fetch { key } => outcome(db.fetch(key.bytes()), Outcome::Fetched),
        Op::ParseRecord { key } => outcome(
            db.parse_record(key.bytes(), <[u8]>::to_vec),
            Outcome::Parsed,
        ),
        Op::Exists { key } => outcome(db.exists(key.bytes()), Outcome::Exists),
        Op::Delete { key } => outcome(db.delete(key.bytes()), done),
        Op::Append { key, value } => outcome(db.append(key.bytes(), &value.0), done),
        Op::WipeAll => outcome(db.wipe_all(), done),
        Op::Repack => outcome(db.repack(), done),
        Op::TransactionStart => outcome(db.transaction_start(), done),
        Op::TransactionPrepareCommit => outcome(db.transaction_prepare_commit(), done),
        Op::TransactionCommit => outcome(db.transaction_commit(), done),
        Op::TransactionCancel => outcome(db.transaction_cancel(), done),
        Op::TraverseDeleting { doomed } => traverse(db, TraverseKind::Write, *doomed),
        Op::TraverseRead => traverse(db, TraverseKind::Read, KeySet(0)),
        Op::KeyWalk => key_walk(db),
    }
}

/// A traverse that deletes the record it is on when its key is `doomed` (deleting the
/// current record is what tdb allows a traverse callback).
pub(crate) fn traverse<B: Backend>(db: &mut B, kind: TraverseKind, doomed: KeySet) -> Outcome {
    let mut records = Vec::new();
    let mut deleted = 0;
    let mut delete_errors = Vec::new();
    let result = db.traverse(kind, &mut |db: &mut B, key: &[u8], data: &[u8]| {
        records.push((key.to_vec(), data.to_vec()));
        if doomed.contains(key) {
            match db.delete(key) {
                Ok(()) => deleted += 1,
                Err(error) => delete_errors.push(error.kind),
            }
        }
        ControlFlow::Continue(())
    });
    records.sort();
    outcome(result, |count| Outcome::Traversed {
        count,
        records,
        deleted,
        delete_errors,
    })
}

pub(crate) fn key_walk<B: Backend>(db: &mut B) -> Outcome {
    let mut keys = Vec::new();
    let mut next = db.firstkey();
    // A walk that revisits keys shows up as too many keys; the bound stops a cycle.
    while keys.len() <= 4 * KEYS.len() {
        match next {
            Ok(Some(key)) => {
                next = db.nextkey(&key);
                keys.push(key);
            }
            Ok(None) => break,
            Err(error) => return Outcome::Failed(error.kind),
        }
    }
    keys.sort();
    Outcome::Keys(keys)
}
