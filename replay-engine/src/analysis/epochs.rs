//! Clear-if-first epochs: a set whose database was wiped partway through the recording.
//!
//! tdb wipes a database opened with `TDB_CLEAR_IF_FIRST` when no other process has it
//! open. A recording that spans such a wipe holds two (or more) *epochs*: the traces
//! before the wipe, then the wiping trace and those after it, whose sequence numbers start
//! again from 0 on an empty database. Ordered together, the two epochs' uses of a key
//! contradict each other and the analysis finds the traces waiting in a circle.
//!
//! [`analyse_finding_wipes`] finds the wipes in a loaded set and makes each one explicit: the wiping
//! trace starts with a synthetic transaction holding a `tdb_wipe_all` (the [`MARKER`]),
//! at its open line (line 1, which no recorded op carries). The transaction is there
//! because the wiping handle was opened with the others, before the previous epoch grew
//! the file: `tdb_wipe_all` frees the file up to the size its handle last mapped, while
//! `tdb_transaction_start` first learns the file's current size, as the recorded open
//! (made after the previous epoch) did. Every later step reads the epochs back from that marker
//! ([`epochs`]): the analysis orders each epoch on its own and joins the plans
//! ([`analyse_epochs`]) so that the wipe waits for every op of the previous epoch and
//! every op of the new epoch waits for the wipe; the replay and `diff` run the marker's
//! ops as the tdb calls they are, which leave the records exactly as the wiping open did
//! (none; the sequence number is not reset, but the replay reports `tdb_get_seqnum`,
//! never checks it).
//!
//! A wipe is recognised from the traces alone, walking them in the order given (pid order
//! for a recorded set): a trace that opens with `TDB_CLEAR_IF_FIRST` at sequence number 0
//! after traces of the current epoch that have written (their sequence numbers passed 0)
//! starts a new epoch. Since the traces do not say when a process closed relative to
//! another's open, the split is only made when the set cannot be analysed as one epoch
//! and can be analysed as split; otherwise the set is left as it was, and a set that
//! cannot be split still gets the error naming the two ops that conflict.

use std::ops::Range;

use super::groups::{Groups, ReplayMode, NONE};
use super::{analyse, analyse_one, cycles, prune, Analysis, AnalysisError, AnalysisErrorKind, Dep};
use crate::backend::{tdb_flags, LockingModel};
use crate::trace::{Op, OpKind, Trace};

/// The ops of the synthetic wipe [`analyse_finding_wipes`] puts first in a wiping trace.
pub const MARKER: [OpKind; 3] = [
    OpKind::TransactionStart,
    OpKind::WipeAll,
    OpKind::TransactionCommit,
];

/// Ops in the [`MARKER`].
const MARKED: usize = MARKER.len();

/// Whether `trace` starts with the synthetic wipe [`analyse_finding_wipes`] gives a wiping trace.
pub fn is_wipe_marker(trace: &Trace) -> bool {
    trace.ops.len() >= MARKED
        && trace
            .ops
            .iter()
            .zip(&MARKER)
            .all(|(op, kind)| op.line == 1 && op.kind == *kind)
}

/// The epochs of a set, as ranges of trace indices in the order given: a new one starts
/// at every trace (after the first) carrying the wipe marker. A set without wipes is one
/// epoch; no traces, none.
pub fn epochs(traces: &[Trace]) -> Vec<Range<usize>> {
    let mut starts: Vec<usize> = vec![0];
    starts.extend((1..traces.len()).filter(|&i| is_wipe_marker(&traces[i])));
    if traces.is_empty() {
        return Vec::new();
    }
    let mut ranges: Vec<Range<usize>> = starts.windows(2).map(|w| w[0]..w[1]).collect();
    ranges.push(starts[starts.len() - 1]..traces.len());
    ranges
}

/// The traces that would start a new epoch: opened with `TDB_CLEAR_IF_FIRST` at
/// sequence number 0, given after traces of the current epoch that wrote.
fn candidates(traces: &[Trace]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut wrote = false;
    for (index, trace) in traces.iter().enumerate() {
        let clears = trace.open.tdb_flags & tdb_flags::CLEAR_IF_FIRST != 0;
        if index > 0 && clears && trace.open.seqnum == 0 && wrote {
            found.push(index);
            wrote = false;
        }
        wrote |= trace.open.seqnum > 0
            || trace.ops.iter().any(|op| op.seqnum > 0)
            || trace.close_seqnum.is_some_and(|seqnum| seqnum > 0);
    }
    found
}

/// Analyse a loaded set, finding its clear-if-first wipes: when the set cannot be
/// ordered as one epoch, mark the wiping traces (see the module doc) and analyse it
/// split. Returns the plan of the set as it is left, marked or not; on success with wipes
/// marked, the first trace carries a note for the user naming them (see
/// [`wipes_note`]). A set that cannot be split either gets the one-epoch error, which
/// names the two ops that conflict.
///
/// The splits tried, in turn: at every candidate; then, when there are several, at one
/// candidate alone, the last given first (concurrent clear-if-first openers at the start
/// of a recording, as Samba's mutex databases have, look like candidates too).
///
/// Only a set that fails as one epoch is analysed again, so a set without wipes costs one
/// analysis, as it did before epochs existed.
pub fn analyse_finding_wipes(
    traces: &mut [Trace],
    locking: LockingModel,
) -> Result<Analysis, AnalysisError> {
    let error = match analyse(traces, locking) {
        Ok(plan) => return Ok(plan),
        Err(error) => error,
    };
    if traces.iter().skip(1).any(is_wipe_marker) {
        return Err(error);
    }
    let found = candidates(traces);
    let mut splits: Vec<Vec<usize>> = Vec::new();
    if !found.is_empty() {
        splits.push(found.clone());
    }
    if found.len() > 1 {
        splits.extend(found.iter().rev().map(|&index| vec![index]));
    }
    for split in splits {
        for &index in &split {
            let trace = &mut traces[index];
            let seqnum = trace.open.seqnum;
            let marker = MARKER.iter().map(|kind| Op {
                seqnum,
                line: 1,
                kind: kind.clone(),
            });
            trace.ops.splice(0..0, marker);
        }
        if let Ok(plan) = analyse(traces, locking) {
            let note = wipes_note(traces);
            traces[0].warnings.push(note);
            return Ok(plan);
        }
        for &index in &split {
            traces[index].ops.drain(..MARKED);
        }
    }
    Err(error)
}

/// The note for the user about a set's marked wipes: which opens wiped, how many epochs.
pub fn wipes_note(traces: &[Trace]) -> String {
    let ranges = epochs(traces);
    let wipes: Vec<String> = ranges
        .iter()
        .skip(1)
        .map(|range| format!("{}:1", traces[range.start].name))
        .collect();
    format!(
        "clear-if-first wipe{} at {}: the database was wiped when every earlier opener had \
         closed; the set replays in {} epochs, each ordered on its own",
        if wipes.len() == 1 { "" } else { "s" },
        wipes.join(", "),
        ranges.len()
    )
}

/// Analyse a set of several epochs (as [`epochs`] gives them): each on its own, the
/// wiping trace without its marker; then join the plans, shifting the wiping trace's ops
/// past the marker, with the marker waiting for the last op of every trace of the epoch
/// before and the first op of every other trace of its epoch waiting for the marker.
pub fn analyse_epochs(
    traces: &[Trace],
    epochs: &[Range<usize>],
    locking: LockingModel,
) -> Result<Analysis, AnalysisError> {
    let mut joined = Analysis {
        groups: Vec::with_capacity(traces.len()),
        deps: Vec::new(),
        preexisting: Vec::new(),
        stats: Default::default(),
        op_counts: traces.iter().map(|trace| trace.ops.len()).collect(),
    };
    for (number, range) in epochs.iter().enumerate() {
        let wiper = (number > 0).then_some(range.start);
        let part = analyse_part(traces, range, wiper, locking)?;
        if number == 0 {
            joined.preexisting = part.preexisting;
        } else if let Some(needed) = part.preexisting.first() {
            return Err(AnalysisError {
                kind: AnalysisErrorKind::UnorderableKey,
                file: traces[range.start].name.clone(),
                line: 1,
                message: format!(
                    "this open wiped the database (TDB_CLEAR_IF_FIRST), but {} needs a \
                     record that was there before the wipe",
                    needed.needed_at
                ),
                cycle: Vec::new(),
            });
        }
        let shift = |dep: Dep| shift_dep(dep, range.start as u32, wiper.map(|w| w as u32));
        joined.deps.extend(part.deps.into_iter().map(shift));
        let stats = &mut joined.stats;
        stats.keys += part.stats.keys;
        stats.users += part.stats.users;
        stats.fuzzed_keys += part.stats.fuzzed_keys;
        stats.raw_dependencies += part.stats.raw_dependencies;
        for (offset, mut groups) in part.groups.into_iter().enumerate() {
            if Some(range.start + offset) == wiper {
                groups = prepend_marker(groups);
            }
            joined.groups.push(groups);
        }
        if let Some(wiper) = wiper {
            let join = join_deps(&joined.op_counts, &epochs[number - 1], range, wiper);
            joined.stats.raw_dependencies += join.len();
            joined.deps.extend(join);
        }
    }
    prune::optimise(&mut joined.deps, traces.len());
    if let Some(cycle) = cycles::find_cycle(&joined.deps, &joined.op_counts) {
        return Err(AnalysisError::cycle(traces, cycle.0));
    }
    joined.stats.dependencies = joined.deps.len();
    Ok(joined)
}

/// Analyse the traces of one epoch, the wiping trace (if any) without its marker; a
/// failure is reported with the set's trace indices.
fn analyse_part(
    traces: &[Trace],
    range: &Range<usize>,
    wiper: Option<usize>,
    locking: LockingModel,
) -> Result<Analysis, AnalysisError> {
    let result = match wiper {
        None => analyse_one(&traces[range.clone()], locking),
        Some(wiper) => {
            // A copy of the epoch (the analysis takes a slice), the marker left out.
            let part: Vec<Trace> = traces[range.clone()]
                .iter()
                .enumerate()
                .map(|(offset, trace)| copy(trace, range.start + offset == wiper))
                .collect();
            analyse_one(&part, locking)
        }
    };
    result.map_err(|mut error| {
        let base = range.start as u32;
        let wiper = wiper.map(|w| w as u32);
        error.cycle = error
            .cycle
            .into_iter()
            .map(|dep| shift_dep(dep, base, wiper))
            .collect();
        error
    })
}

/// A copy of `trace`, without its [`MARKER`] if `skip_marker`.
fn copy(trace: &Trace, skip_marker: bool) -> Trace {
    Trace {
        name: trace.name.clone(),
        open: trace.open,
        ops: trace.ops[if skip_marker { MARKED } else { 0 }..].to_vec(),
        arena: trace.arena.clone(),
        closed: trace.closed,
        close_seqnum: trace.close_seqnum,
        flavour: trace.flavour,
        warnings: Vec::new(),
    }
}

/// A dependency of an epoch's own plan, in the set's indices: files move by `base`, and
/// ops of the wiping trace move past the marker.
fn shift_dep(dep: Dep, base: u32, wiper: Option<u32>) -> Dep {
    let file = dep.file + base;
    let target_file = dep.target_file + base;
    let past = |file: u32| u32::from(Some(file) == wiper) * MARKED as u32;
    Dep {
        file,
        op: dep.op + past(file),
        target_file,
        target: dep.target + past(target_file),
    }
}

/// The dependencies that put epoch `current` (started by `wiper`'s marker) after epoch
/// `previous`: the marker waits for the last op of every trace before, and the first op
/// of every other trace of the epoch waits for the marker.
fn join_deps(
    op_counts: &[usize],
    previous: &Range<usize>,
    current: &Range<usize>,
    wiper: usize,
) -> Vec<Dep> {
    let wipe = |file: usize, target: usize| Dep {
        file: file as u32,
        op: 0,
        target_file: target as u32,
        target: op_counts[target].saturating_sub(1) as u32,
    };
    let mut deps: Vec<Dep> = previous
        .clone()
        .filter(|&file| op_counts[file] > 0)
        .map(|file| wipe(wiper, file))
        .collect();
    deps.extend(
        current
            .clone()
            .filter(|&file| file != wiper && op_counts[file] > 0)
            .map(|file| Dep {
                file: file as u32,
                op: 0,
                target_file: wiper as u32,
                target: MARKED as u32 - 1,
            }),
    );
    deps
}

/// The groups of a trace with the [`MARKER`] put before its first op: every per-op list
/// gains the marker's entries (one atomic region, its transaction) and every op index
/// moves up past it.
fn prepend_marker(groups: Groups) -> Groups {
    let end = MARKED as u32 - 1;
    let shift = |head: [u32; MARKED], list: Vec<u32>| -> Vec<u32> {
        let moved = list.into_iter().map(|op| match op {
            NONE => NONE,
            op => op + MARKED as u32,
        });
        head.into_iter().chain(moved).collect()
    };
    let prepend = |list: Vec<bool>| [false; MARKED].into_iter().chain(list).collect();
    Groups {
        atomic: shift([0; MARKED], groups.atomic),
        traverse: shift([NONE; MARKED], groups.traverse),
        outer_traverse: shift([NONE; MARKED], groups.outer_traverse),
        end: shift([end, NONE, NONE], groups.end),
        mode: [ReplayMode::AsTraced; MARKED]
            .into_iter()
            .chain(groups.mode)
            .collect(),
        discarded: prepend(groups.discarded),
        walk: shift([NONE; MARKED], groups.walk),
        in_read_traverse: prepend(groups.in_read_traverse),
        stop_before: prepend(groups.stop_before),
    }
}

#[cfg(test)]
mod tests;
