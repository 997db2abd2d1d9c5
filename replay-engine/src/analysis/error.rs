//! Why a set of traces cannot be replayed: [`AnalysisError`], typed by
//! [`AnalysisErrorKind`] so that callers branch on the kind and the message is only for
//! people.

use std::fmt;

use super::deps::Dep;
use super::keys::{User, Val, Values};
use crate::trace::Trace;

/// The traces cannot be replayed as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisError {
    /// What kind of problem; what callers branch on (the message is for people).
    pub kind: AnalysisErrorKind,
    /// The trace file.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// What is wrong.
    pub message: String,
    /// For a [`AnalysisErrorKind::Cycle`]: the dependencies that wait for each other,
    /// each waiting for the next and the last for the first; empty otherwise.
    pub cycle: Vec<Dep>,
}

/// The kinds of [`AnalysisError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisErrorKind {
    /// One trace's own structure is broken (a transaction, traverse or lock that does
    /// not nest).
    Structure,
    /// The uses of one key cannot be ordered so that every recorded result holds.
    UnorderableKey,
    /// The dependencies make the traces wait for each other in a circle (the analysis's
    /// one known gap on some self-recorded sets).
    Cycle,
}

impl AnalysisError {
    /// Whether this is the dependency circle.
    pub fn is_cycle(&self) -> bool {
        self.kind == AnalysisErrorKind::Cycle
    }

    /// A broken structure at op `op` of `trace`.
    pub(super) fn structure(trace: &Trace, op: usize, message: String) -> AnalysisError {
        AnalysisError {
            kind: AnalysisErrorKind::Structure,
            file: trace.name.clone(),
            line: trace.ops[op].line,
            message,
            cycle: Vec::new(),
        }
    }

    /// The users of `key` admit no order; reported at the user with the lowest seqnum.
    pub(super) fn unorderable(values: &Values<'_>, key: Val, users: &[User]) -> AnalysisError {
        let traces = values.traces;
        let first = users
            .iter()
            .min_by_key(|user| user.seqnum)
            .expect("a key has at least one user");
        let trace = &traces[first.file as usize];
        let files = {
            let mut files: Vec<u32> = users.iter().map(|user| user.file).collect();
            files.dedup();
            files.len()
        };
        if std::env::var_os("TDB_REPLAY_DEBUG").is_some() {
            debug_users(traces, users);
        }
        AnalysisError {
            kind: AnalysisErrorKind::UnorderableKey,
            file: trace.name.clone(),
            line: trace.ops[first.rep as usize].line,
            message: format!(
                "cannot order the {} uses of key {} (from {} trace{}) so that every recorded \
                 result holds, even assuming the record existed before the trace; the traces \
                 do not belong together, or one is damaged",
                users.len(),
                describe_key(values.bytes(key)),
                files,
                if files == 1 { "" } else { "s" },
            ),
            cycle: Vec::new(),
        }
    }

    /// The traces wait for each other along `cycle`.
    pub(super) fn cycle(traces: &[Trace], cycle: Vec<Dep>) -> AnalysisError {
        let chain: Vec<String> = cycle.iter().map(|dep| dep.describe(traces)).collect();
        let first = cycle[0];
        let trace = &traces[first.file as usize];
        AnalysisError {
            kind: AnalysisErrorKind::Cycle,
            file: trace.name.clone(),
            line: trace.ops[first.op as usize].line,
            message: format!(
                "the traces wait for each other in a circle: {}",
                chain.join(", ")
            ),
            cycle,
        }
    }
}

impl fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for AnalysisError {}

/// With `TDB_REPLAY_DEBUG` set: every user of a key that could not be ordered.
fn debug_users(traces: &[Trace], users: &[User]) {
    for user in users {
        let t = &traces[user.file as usize];
        eprintln!(
            "  {}:{} seq {} need {:?} effect {:?}{}",
            t.name,
            t.ops[user.rep as usize].line,
            user.seqnum,
            user.need,
            user.effect,
            if user.cancelled { " (cancelled)" } else { "" }
        );
    }
}

/// A key as people can read it: text if it is printable, hex otherwise, shortened.
pub fn describe_key(bytes: &[u8]) -> String {
    let trimmed = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    let printable = trimmed.iter().all(|&b| (0x20..0x7f).contains(&b));
    let mut text = if printable && !trimmed.is_empty() {
        format!("\"{}\"", String::from_utf8_lossy(trimmed))
    } else {
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    if text.len() > 64 {
        text.truncate(61);
        text.push_str("...");
    }
    text
}
