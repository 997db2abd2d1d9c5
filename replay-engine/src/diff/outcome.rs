//! What one op gave on one engine, in a form two engines' results can be compared in
//! without allocating per op: bytes live in one arena per engine, reused unit after unit.

use crate::backend::{ErrorKind, TdbResult};

/// Bytes in an [`Outcomes`] arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes {
    start: usize,
    len: usize,
}

/// The result of one call, or one record a traverse visited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A call that returns only success or an error (store, delete, locks, ...).
    Done(Result<(), ErrorKind>),
    /// `tdb_exists`.
    Found(Result<bool, ErrorKind>),
    /// A call that returns a record or none (fetch, parse_record, firstkey, nextkey).
    Record(Result<Option<Bytes>, ErrorKind>),
    /// `tdb_get_seqnum`.
    Seqnum(Result<i32, ErrorKind>),
    /// One record a traverse's callback saw.
    Visit {
        /// Its key.
        key: Bytes,
        /// Its data.
        data: Bytes,
    },
    /// The end of a traverse: how many records it visited.
    Walked(Result<u32, ErrorKind>),
}

/// One op's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The op (index in its trace) that gave it.
    pub op: u32,
    /// What it gave.
    pub outcome: Outcome,
}

/// The outcomes of one unit on one engine.
#[derive(Default, Debug)]
pub struct Outcomes {
    /// In the order the engine produced them.
    pub steps: Vec<Step>,
    bytes: Vec<u8>,
}

/// What one step of a runner gave (an op, or a whole traverse with its callback's ops):
/// a run of the steps of an [`Outcomes`], and where their bytes are.
#[derive(Clone, Copy, Debug)]
pub struct Given<'a> {
    /// Holds the bytes.
    pub outcomes: &'a Outcomes,
    /// The steps, in the order the engine produced them.
    pub steps: &'a [Step],
}

impl Outcomes {
    /// All the steps kept.
    pub fn given(&self) -> Given<'_> {
        self.given_since(0)
    }

    /// The steps kept from the `start`-th on.
    pub fn given_since(&self, start: usize) -> Given<'_> {
        Given {
            outcomes: self,
            steps: &self.steps[start..],
        }
    }

    /// Bytes kept so far.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Forget everything (keeping the memory).
    pub fn clear(&mut self) {
        self.steps.clear();
        self.bytes.clear();
    }

    /// Keep a copy of `data`.
    pub fn keep(&mut self, data: &[u8]) -> Bytes {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(data);
        Bytes {
            start,
            len: data.len(),
        }
    }

    /// The bytes kept as `bytes`.
    pub fn bytes(&self, bytes: Bytes) -> &[u8] {
        &self.bytes[bytes.start..bytes.start + bytes.len]
    }

    /// Record what op `op` gave.
    pub fn push(&mut self, op: u32, outcome: Outcome) {
        self.steps.push(Step { op, outcome });
    }

    /// Record a call's success or error.
    pub fn done(&mut self, op: u32, result: &TdbResult<()>) {
        self.push(op, Outcome::Done(kind_of(result).map(|_| ())));
    }

    /// Whether step `mine` here and step `theirs` of `other` are the same result.
    pub fn same(&self, mine: &Step, other: &Outcomes, theirs: &Step) -> bool {
        if mine.op != theirs.op {
            return false;
        }
        let same_bytes = |a: Bytes, b: Bytes| self.bytes(a) == other.bytes(b);
        match (mine.outcome, theirs.outcome) {
            (Outcome::Record(Ok(Some(a))), Outcome::Record(Ok(Some(b)))) => same_bytes(a, b),
            (Outcome::Visit { key: ka, data: da }, Outcome::Visit { key: kb, data: db }) => {
                same_bytes(ka, kb) && same_bytes(da, db)
            }
            (a, b) => a == b,
        }
    }

    /// An outcome for people: `0`, `-1 (record does not exist)`, `NULL`, `3:616263`, ...
    pub fn describe(&self, outcome: Outcome) -> String {
        let error = |kind: ErrorKind| format!("-1 ({kind})");
        match outcome {
            Outcome::Done(Ok(())) => "0".to_string(),
            Outcome::Found(Ok(found)) => i32::from(found).to_string(),
            Outcome::Record(Ok(None)) => "NULL".to_string(),
            Outcome::Record(Ok(Some(bytes))) => show(self.bytes(bytes)),
            Outcome::Seqnum(Ok(seqnum)) => seqnum.to_string(),
            Outcome::Walked(Ok(count)) => format!("{count} records"),
            Outcome::Visit { key, data } => format!(
                "a visit of {} = {}",
                show(self.bytes(key)),
                show(self.bytes(data))
            ),
            Outcome::Done(Err(kind))
            | Outcome::Found(Err(kind))
            | Outcome::Record(Err(kind))
            | Outcome::Seqnum(Err(kind))
            | Outcome::Walked(Err(kind)) => error(kind),
        }
    }
}

/// The error kind of a result, dropping the value.
pub fn kind_of<T>(result: &TdbResult<T>) -> Result<&T, ErrorKind> {
    result.as_ref().map_err(|error| error.kind)
}

/// A record as trace files write it (`len:hex`), long ones shortened.
pub fn show(data: &[u8]) -> String {
    crate::replay::executor::show(Some(data))
}
