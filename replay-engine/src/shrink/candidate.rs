//! Candidates: the current set of traces with some traces or ops left out, written back
//! as text ([`crate::trace::emit`]) and parsed and analysed again exactly as files would
//! be, so a candidate is only ever judged in the form it would be written in.

use crate::analysis::{self, Analysis};
use crate::backend::LockingModel;
use crate::trace::emit::{emit, emit_all, is_written};
use crate::trace::{parse_trace, Flavour, FlavourChoice, LoadOptions, Trace};

/// What a candidate keeps of one trace of the current set.
#[derive(Clone, Debug)]
pub enum Keep {
    /// The whole trace.
    All,
    /// None of it: the trace is left out of the set.
    Nothing,
    /// The ops marked `true` (by index into the trace's ops).
    Ops(Vec<bool>),
}

/// A parsed and analysed set of traces.
pub struct Candidate {
    /// The traces, parsed from the text they would be written as.
    pub traces: Vec<Trace>,
    /// Their analysis.
    pub analysis: Analysis,
}

/// The choice of writer that reads a trace back as it was read.
fn same_flavour(trace: &Trace) -> FlavourChoice {
    match trace.flavour {
        Flavour::Ccan => FlavourChoice::Ccan,
        Flavour::Samba => FlavourChoice::Samba,
    }
}

/// Write `trace` keeping the ops `keep` accepts, and parse the text again; `None` when
/// it does not parse.
pub fn rewrite(trace: &Trace, keep: impl Fn(usize) -> bool) -> Option<Trace> {
    let mut text = Vec::new();
    emit(trace, keep, &mut text).ok()?;
    reparse(trace, &text)
}

/// `trace` written and parsed again whole.
pub fn round_trip(trace: &Trace) -> Option<Trace> {
    reparse(trace, &emit_all(trace))
}

fn reparse(trace: &Trace, text: &[u8]) -> Option<Trace> {
    let options = LoadOptions {
        flavour: same_flavour(trace),
        ..LoadOptions::default()
    };
    parse_trace(&trace.name, text, &options).ok()
}

/// The candidate that keeps `keep[i]` of `traces[i]`; `None` if it does not parse or
/// cannot be analysed (it then counts as not failing) or keeps no trace.
pub fn build(traces: &[Trace], keep: &[Keep], locking: LockingModel) -> Option<Candidate> {
    let mut kept = Vec::with_capacity(traces.len());
    for (trace, keep) in traces.iter().zip(keep) {
        match keep {
            Keep::Nothing => {}
            Keep::All => kept.push(round_trip(trace)?),
            Keep::Ops(ops) => kept.push(rewrite(trace, |at| ops[at])?),
        }
    }
    if kept.is_empty() {
        return None;
    }
    let analysis = analysis::analyse(&kept, locking).ok()?;
    Some(Candidate {
        traces: kept,
        analysis,
    })
}

/// Op lines in a set (what its files would hold between `tdb_open` and `tdb_close`).
pub fn written_ops(traces: &[Trace]) -> usize {
    traces
        .iter()
        .map(|trace| trace.ops.iter().filter(|op| is_written(&op.kind)).count())
        .sum()
}
