//! What a smaller set must show to fail "the same way" as the original: typed fields,
//! never places (trace names, line numbers: removing ops moves every line after them) nor
//! values (bytes, return values, error details).

use std::fmt;

use crate::diff::DivergenceKind;
use crate::replay::mismatch::{Mismatch, MismatchKind};

/// How a set fails, compared field by field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signature {
    /// A replay result differed from the trace: the call and the kind of difference.
    Mismatch {
        /// The call (`tdb_fetch`, ...).
        op: String,
        /// The kind of difference.
        kind: MismatchKind,
    },
    /// `diff` found the engines differing: where, and the op it showed at.
    Divergence {
        /// What differed.
        kind: DivergenceKind,
        /// The op's name, or what was compared.
        op: String,
    },
    /// A deadlock no back-off resolved.
    Deadlock,
    /// No progress within the stall limit.
    Stalled,
    /// A failure of a caller's own check ([`super::FnCheck`]), compared by its text.
    Other(String),
}

impl Signature {
    /// The signature of a replay mismatch.
    pub fn of_mismatch(mismatch: &Mismatch) -> Signature {
        let (op, kind) = mismatch.signature();
        Signature::Mismatch {
            op: op.to_string(),
            kind,
        }
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signature::Mismatch { op, kind } => {
                let what = match kind {
                    MismatchKind::Failed => " failed",
                    MismatchKind::Worked => " worked",
                    MismatchKind::Found => ": record found",
                    MismatchKind::Missing => ": record not found",
                    MismatchKind::Data => " gave",
                };
                write!(f, "mismatch: {op}{what}")
            }
            Signature::Divergence { kind, op } => {
                let what = match kind {
                    DivergenceKind::Result => "different results",
                    DivergenceKind::FinalRecords => "different final records",
                    DivergenceKind::Check => "a failed check",
                };
                write!(f, "{what} at {op}")
            }
            Signature::Deadlock => f.write_str("deadlock"),
            Signature::Stalled => f.write_str("stalled"),
            Signature::Other(text) => f.write_str(text),
        }
    }
}

/// A signature reads as its text, for callers that print or compare that.
impl PartialEq<str> for Signature {
    fn eq(&self, other: &str) -> bool {
        self.to_string().as_str() == other
    }
}

impl PartialEq<&str> for Signature {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl PartialEq<String> for Signature {
    fn eq(&self, other: &String) -> bool {
        self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::Signature;
    use crate::replay::mismatch::{Mismatch, MismatchKind};

    fn mismatch(line: u32, op: &str, kind: MismatchKind, expected: &str, got: &str) -> Mismatch {
        Mismatch {
            trace: "a.trace".to_string(),
            line,
            op: op.to_string(),
            kind,
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }

    #[test]
    fn signatures_keep_the_call_and_kind_but_no_place_or_value() {
        let cases = [
            (
                mismatch(12, "tdb_fetch", MismatchKind::Data, "NULL", "3:616263"),
                "mismatch: tdb_fetch gave",
            ),
            (
                mismatch(9, "tdb_store", MismatchKind::Failed, "0", "Record exists"),
                "mismatch: tdb_store failed",
            ),
            (
                mismatch(9, "tdb_append", MismatchKind::Failed, "", "I/O error"),
                "mismatch: tdb_append failed",
            ),
            (
                mismatch(9, "tdb_delete", MismatchKind::Worked, "-1", "0"),
                "mismatch: tdb_delete worked",
            ),
            (
                mismatch(1, "tdb_exists", MismatchKind::Found, "not found", "found"),
                "mismatch: tdb_exists: record found",
            ),
            (
                mismatch(1, "tdb_exists", MismatchKind::Missing, "found", "not found"),
                "mismatch: tdb_exists: record not found",
            ),
        ];
        for (mismatch, text) in cases {
            let typed = Signature::of_mismatch(&mismatch);
            assert_eq!(typed, text);
        }
        // Two places and values read the same.
        let a = mismatch(3, "tdb_fetch", MismatchKind::Data, "1:61", "0:");
        let b = mismatch(77, "tdb_fetch", MismatchKind::Data, "NULL", "2:6162");
        assert_eq!(Signature::of_mismatch(&a), Signature::of_mismatch(&b));
    }
}
