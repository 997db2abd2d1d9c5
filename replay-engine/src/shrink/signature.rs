//! What a smaller set must show to fail "the same way" as the original: typed fields,
//! never places (trace names, line numbers: removing ops moves every line after them) nor
//! values (bytes, return values, error details).

use std::fmt;

use crate::diff::DivergenceKind;
use crate::replay::mismatch::{Mismatch, MismatchKind};
use crate::trace::Trace;

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
    /// A replay failed otherwise (closing the database, ...), without its place.
    ReplayFailed(String),
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

    /// The signature of a replay failure the supervisor reported as text.
    ///
    /// Transitional: `ReplayError::Mismatch` still carries each worker's failure as the
    /// text its [`Mismatch`] displayed (the worker→supervisor pipe is text). This reads
    /// back the two fields a signature needs from that text's fixed shape (see
    /// `Mismatch`'s `Display`); once the error carries `Mismatch` values, callers use
    /// [`Signature::of_mismatch`] and this goes.
    pub fn of_replay_message(traces: &[Trace], message: &str) -> Signature {
        let body = without_place(traces, message);
        let op_end = body.find([' ', ':']).unwrap_or(body.len());
        let (op, rest) = body.split_at(op_end);
        let kind = if rest.starts_with(" failed (") {
            Some(MismatchKind::Failed)
        } else if rest.starts_with(" worked, ") {
            Some(MismatchKind::Worked)
        } else if rest.starts_with(": record found, ") {
            Some(MismatchKind::Found)
        } else if rest.starts_with(": record not found, ") {
            Some(MismatchKind::Missing)
        } else if rest.starts_with(" gave ") {
            Some(MismatchKind::Data)
        } else {
            None
        };
        match kind {
            Some(kind) if op.starts_with("tdb_") => Signature::Mismatch {
                op: op.to_string(),
                kind,
            },
            _ => Signature::ReplayFailed(body.to_string()),
        }
    }
}

/// `message` without a leading `trace:line: ` of one of `traces`.
fn without_place<'m>(traces: &[Trace], message: &'m str) -> &'m str {
    for trace in traces {
        let Some(rest) = message.strip_prefix(trace.name.as_str()) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if let Some(rest) = rest[digits..].strip_prefix(": ") {
            return rest;
        }
    }
    message
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
            Signature::ReplayFailed(text) => write!(f, "mismatch: {text}"),
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
        let traces = [crate::trace::parse_trace(
            "a.trace",
            b"1 tdb_open 7 0x0 0x42\n",
            &crate::trace::LoadOptions::default(),
        )
        .unwrap()];
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
            // The text the supervisor has today reads back to the same fields.
            let read = Signature::of_replay_message(&traces, &mismatch.to_string());
            assert_eq!(read, typed, "{mismatch}");
        }
        // Two places and values read the same.
        let a = mismatch(3, "tdb_fetch", MismatchKind::Data, "1:61", "0:");
        let b = mismatch(77, "tdb_fetch", MismatchKind::Data, "NULL", "2:6162");
        assert_eq!(Signature::of_mismatch(&a), Signature::of_mismatch(&b));
        // Other failures keep their text, without the place.
        assert_eq!(
            Signature::of_replay_message(&traces, "a.trace: closing the database failed: x"),
            Signature::ReplayFailed("a.trace: closing the database failed: x".to_string())
        );
    }
}
