//! Shrinking a failing trace set: delta debugging down to a set in which no single trace,
//! region or op can go without the failure changing or going away.
//!
//! The set is first written back as text and parsed again ([`candidate`]), the form every
//! candidate is judged in. Then, in rounds until a round removes nothing:
//! 1. whole traces (at least one stays);
//! 2. top-level nodes of every trace ([`structure`]): single ops and whole regions (a
//!    transaction with all it holds, a traverse with its entries and callback ops, a
//!    chain-lock or all-record-lock section, a key walk);
//! 3. the nodes inside those regions, one depth at a time: a store inside a transaction,
//!    a traverse entry or a callback op, a nested region; the frame ops that open and
//!    close a region only ever go with the whole region, so every region stays well
//!    formed.
//!
//! 4. unwrapping regions: a region's frame ops go (and a traverse's entries) while what it
//!    held stays, so a store need not stay inside the transaction it was traced in.
//!
//! Each level is one run of the [`ddmin`] core over that level's nodes. A candidate that
//! does not parse or analyse counts as not failing; one that fails must fail with the
//! original [`Failure::signature`] ([`check`]). The result is 1-minimal at every level.

pub mod candidate;
pub mod check;
pub mod ddmin;
pub mod signature;
pub mod structure;

use std::fmt;

use crate::analysis;
use crate::trace::Trace;
use candidate::Keep;
pub use check::{Check, DiffCheck, Failure, FnCheck, ReplayCheck};
pub use signature::Signature;

/// Which nodes a pass removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Whole traces.
    Traces,
    /// Nodes of the region tree at this depth (0: top-level ops and regions).
    Nodes(usize),
    /// The frames of regions, keeping what they hold.
    Frames,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Level::Traces => f.write_str("whole traces"),
            Level::Nodes(0) => f.write_str("top-level ops and regions"),
            Level::Nodes(depth) => write!(f, "ops and regions inside regions (depth {depth})"),
            Level::Frames => f.write_str("region frames, keeping what they hold"),
        }
    }
}

/// Where a shrink is, for a progress display.
#[derive(Clone, Copy, Debug)]
pub struct ShrinkProgress {
    /// The pass running.
    pub level: Level,
    /// Its elements (traces or nodes).
    pub elements: usize,
    /// Candidates run so far, over all passes.
    pub candidates: u64,
    /// Traces in the smallest failing set so far.
    pub traces: usize,
    /// Op lines in it.
    pub ops: usize,
    /// Op lines in the original set.
    pub ops_before: usize,
}

/// A shrunk set.
#[derive(Debug)]
pub struct Shrunk {
    /// The smallest failing set found, as parsed from the text it is written as.
    pub traces: Vec<Trace>,
    /// How the original set failed.
    pub original: Failure,
    /// How the smallest set fails (the same signature).
    pub failure: Failure,
    /// Traces in the original set.
    pub traces_before: usize,
    /// Op lines in the original set.
    pub ops_before: usize,
    /// Op lines in the smallest set.
    pub ops_after: usize,
    /// Candidates run.
    pub candidates: u64,
    /// Rounds over all levels (the last one removed nothing).
    pub rounds: usize,
}

/// Why there is nothing to shrink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShrinkError {
    /// The set cannot be written back and analysed again.
    Unusable(String),
    /// The set does not fail.
    DoesNotFail,
}

impl fmt::Display for ShrinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShrinkError::Unusable(message) => f.write_str(message),
            ShrinkError::DoesNotFail => f.write_str("the set does not fail; nothing to shrink"),
        }
    }
}

impl std::error::Error for ShrinkError {}

/// The file name a shrunk trace is written under: the original's, without the directory
/// and without a `.zst` or `.gz` ending (shrunk traces are written plain).
pub fn output_name(trace_name: &str) -> String {
    let name = std::path::Path::new(trace_name).file_name().map_or_else(
        || trace_name.to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    for ending in [".zst", ".gz"] {
        if let Some(stem) = name.strip_suffix(ending) {
            if !stem.is_empty() {
                return stem.to_string();
            }
        }
    }
    name
}

/// Shrink `traces`, which `check` should find failing; `progress` hears about every
/// candidate.
pub fn shrink<C: Check>(
    traces: &[Trace],
    check: &mut C,
    progress: &mut dyn FnMut(&ShrinkProgress),
) -> Result<Shrunk, ShrinkError> {
    let locking = check.locking();
    let mut start = Vec::with_capacity(traces.len());
    for trace in traces {
        let again = candidate::round_trip(trace).ok_or_else(|| {
            ShrinkError::Unusable(format!("{}: cannot be written back as a trace", trace.name))
        })?;
        start.push(again);
    }
    let mut plan = analysis::analyse(&start, locking)
        .map_err(|error| ShrinkError::Unusable(error.to_string()))?;
    let original = check
        .run(&start, &mut plan)
        .ok_or(ShrinkError::DoesNotFail)?;
    let ops_before = candidate::written_ops(&start);
    let mut state = State {
        traces: start,
        failure: original.clone(),
        original,
        candidates: 0,
        ops_before,
    };
    let traces_before = traces.len();
    let mut rounds = 0;
    loop {
        rounds += 1;
        let before = (state.traces.len(), candidate::written_ops(&state.traces));
        if state.traces.len() > 1 {
            let elements = (0..state.traces.len()).map(Element::Trace).collect();
            state.pass(Level::Traces, elements, 1, check, progress);
        }
        for depth in 0.. {
            let elements = state.nodes_at(depth);
            if elements.is_empty() {
                break;
            }
            state.pass(Level::Nodes(depth), elements, 0, check, progress);
        }
        let elements = state.frames();
        if !elements.is_empty() {
            state.pass(Level::Frames, elements, 0, check, progress);
        }
        if (state.traces.len(), candidate::written_ops(&state.traces)) == before {
            break;
        }
    }
    Ok(Shrunk {
        ops_after: candidate::written_ops(&state.traces),
        traces: state.traces,
        original: state.original,
        failure: state.failure,
        traces_before,
        ops_before,
        candidates: state.candidates,
        rounds,
    })
}

/// Something a pass may remove.
#[derive(Clone, Debug)]
enum Element {
    /// A whole trace.
    Trace(usize),
    /// Ops of a trace: inclusive ranges.
    Ops { trace: usize, ops: Vec<(u32, u32)> },
}

/// The smallest failing set so far.
struct State {
    traces: Vec<Trace>,
    original: Failure,
    failure: Failure,
    candidates: u64,
    ops_before: usize,
}

impl State {
    /// Every node `depth` levels down in the region trees of all traces.
    fn nodes_at(&self, depth: usize) -> Vec<Element> {
        let mut elements = Vec::new();
        for (index, trace) in self.traces.iter().enumerate() {
            let roots = structure::tree(trace);
            elements.extend(structure::at_depth(&roots, depth).into_iter().map(|node| {
                Element::Ops {
                    trace: index,
                    ops: vec![(node.first, node.last)],
                }
            }));
        }
        elements
    }

    /// The frames of every region of every trace.
    fn frames(&self) -> Vec<Element> {
        let mut elements = Vec::new();
        for (index, trace) in self.traces.iter().enumerate() {
            let roots = structure::tree(trace);
            let unwrappings = structure::unwrappings(trace, &roots);
            elements.extend(unwrappings.into_iter().map(|ops| Element::Ops {
                trace: index,
                ops: ops.into_iter().map(|op| (op, op)).collect(),
            }));
        }
        elements
    }

    /// What a candidate keeping only `kept` of `elements` keeps of each trace.
    fn keep(&self, elements: &[Element], kept: &[usize]) -> Vec<Keep> {
        let mut keep = vec![Keep::All; self.traces.len()];
        let mut kept_iter = kept.iter().copied().peekable();
        for (index, element) in elements.iter().enumerate() {
            if kept_iter.next_if_eq(&index).is_some() {
                continue;
            }
            match element {
                Element::Trace(trace) => keep[*trace] = Keep::Nothing,
                Element::Ops { trace, ops: ranges } => {
                    if let Keep::All = keep[*trace] {
                        keep[*trace] = Keep::Ops(vec![true; self.traces[*trace].ops.len()]);
                    }
                    if let Keep::Ops(ops) = &mut keep[*trace] {
                        for &(first, last) in ranges {
                            for slot in &mut ops[first as usize..=last as usize] {
                                *slot = false;
                            }
                        }
                    }
                }
            }
        }
        keep
    }

    /// One ddmin run over `elements`, keeping at least `min_keep`; the set becomes the
    /// smallest failing candidate found.
    fn pass<C: Check>(
        &mut self,
        level: Level,
        elements: Vec<Element>,
        min_keep: usize,
        check: &mut C,
        progress: &mut dyn FnMut(&ShrinkProgress),
    ) {
        let locking = check.locking();
        let mut best: Option<(Vec<Trace>, Failure)> = None;
        let mut candidates = self.candidates;
        let mut ops = candidate::written_ops(&self.traces);
        let mut traces = self.traces.len();
        progress(&ShrinkProgress {
            level,
            elements: elements.len(),
            candidates,
            traces,
            ops,
            ops_before: self.ops_before,
        });
        let mut fails = |kept: &[usize]| {
            candidates += 1;
            let keep = self.keep(&elements, kept);
            let same = candidate::build(&self.traces, &keep, locking).and_then(|mut built| {
                let failure = check.run(&built.traces, &mut built.analysis)?;
                (failure.signature == self.original.signature).then_some((built.traces, failure))
            });
            let failed = same.is_some();
            if let Some((smaller, failure)) = same {
                ops = candidate::written_ops(&smaller);
                traces = smaller.len();
                best = Some((smaller, failure));
            }
            progress(&ShrinkProgress {
                level,
                elements: elements.len(),
                candidates,
                traces,
                ops,
                ops_before: self.ops_before,
            });
            failed
        };
        ddmin::minimise(elements.len(), min_keep, &mut fails);
        self.candidates = candidates;
        if let Some((smaller, failure)) = best {
            self.traces = smaller;
            self.failure = failure;
        }
    }
}

#[cfg(test)]
mod tests;
