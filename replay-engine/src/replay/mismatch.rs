//! Why a replayed trace stopped: typed values, so that callers (the supervisor, the
//! shrinker, the CLI) compare fields, and the wording is only for people.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of difference a [`Mismatch`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// The call failed where the trace recorded success.
    Failed,
    /// The call worked where the trace recorded a failure.
    Worked,
    /// A lookup found a record the trace did not, or the other way round.
    Found,
    /// The bytes returned differ from the recorded ones.
    Data,
    /// A returned number (a count, a sequence number, a key) differs from the recorded
    /// one.
    Value,
}

/// One result that differed from the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The trace file's name.
    pub trace: String,
    /// The 1-based line of the op.
    pub line: u32,
    /// The op's call name as the trace writes it (`tdb_store`, ...).
    pub op: String,
    /// What differed.
    pub kind: MismatchKind,
    /// What the trace recorded, for people.
    pub expected: String,
    /// What the engine gave, for people.
    pub got: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.expected.is_empty() {
            // A message built whole (transitional, see executor.rs).
            return write!(f, "{}:{}: {}", self.trace, self.line, self.got);
        }
        write!(
            f,
            "{}:{}: {}: {}, the trace recorded {}",
            self.trace, self.line, self.op, self.got, self.expected
        )
    }
}

impl std::error::Error for Mismatch {}

/// Why a trace stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecError {
    /// A result differed from the trace, or the backend failed where the trace did not.
    Mismatch(Mismatch),
    /// The supervisor aborted the run (another trace failed, or a deadlock back-off).
    Aborted,
}
