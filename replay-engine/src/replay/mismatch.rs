//! Why a replayed trace stopped: typed values, so that callers (the supervisor, the
//! shrinker, the CLI) compare fields, and the wording is only for people.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of difference a [`Mismatch`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// The call failed where the trace recorded success. `got` is the error; `expected`
    /// is the recorded result, or empty where the trace records none (the call is only
    /// known to have worked).
    Failed,
    /// The call worked where the trace recorded a failure; `expected` is the recorded
    /// return value.
    Worked,
    /// A lookup found a record the trace did not find.
    Found,
    /// A lookup did not find a record the trace found.
    Missing,
    /// The bytes returned differ from the recorded ones.
    Data,
}

/// One result that differed from the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The trace file's name.
    pub trace: String,
    /// The 1-based line of the op.
    pub line: u32,
    /// The name of the call made, as traces write it (`tdb_store`, ...).
    pub op: String,
    /// What differed.
    pub kind: MismatchKind,
    /// What the trace recorded, for people (empty where it records nothing to show).
    pub expected: String,
    /// What the engine gave, for people.
    pub got: String,
}

impl Mismatch {
    /// What a smaller set of traces must show to fail "the same way": the call and the
    /// kind of difference, without the place (trace, line) or the values.
    pub fn signature(&self) -> (&str, MismatchKind) {
        (&self.op, self.kind)
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Mismatch {
            trace,
            line,
            op,
            kind,
            expected,
            got,
        } = self;
        write!(f, "{trace}:{line}: ")?;
        match kind {
            MismatchKind::Failed if expected.is_empty() => {
                write!(f, "{op} failed ({got}), the trace says it worked")
            }
            MismatchKind::Failed => {
                write!(f, "{op} failed ({got}), the trace recorded {expected}")
            }
            MismatchKind::Worked => {
                write!(f, "{op} worked, the trace recorded it failing ({expected})")
            }
            MismatchKind::Found | MismatchKind::Missing => {
                write!(f, "{op}: record {got}, the trace recorded {expected}")
            }
            MismatchKind::Data => write!(f, "{op} gave {got}, the trace recorded {expected}"),
        }
    }
}

impl std::error::Error for Mismatch {}

/// Why a trace stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecError {
    /// A result differed from the trace, or the backend failed where the trace did not.
    /// Boxed, so that the executor's hot path returns a one-word `Result`.
    Mismatch(Box<Mismatch>),
    /// The supervisor aborted the run (another trace failed, or a deadlock back-off).
    Aborted,
}
