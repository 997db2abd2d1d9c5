//! Groups: the spans of one trace that must be treated as a unit.
//!
//! * **Atomic regions**: transactions, chain-lock and all-record-lock sections. Other processes cannot
//!   interleave with what they protect, so the analysis treats each region as a single
//!   user of every key touched inside it, and a dependency on any member becomes a
//!   dependency on the region's end. Overlapping or nested transactions and chain locks
//!   are merged into one region (the original only handled proper nesting).
//! * **Traverses**: `tdb_traverse_start` .. `tdb_traverse_end`. Their members stay
//!   individual users; the replay runs them from inside the traverse callback.
//!
//! Transactions follow the writer's nesting rules: ccan traces were already normalised by
//! the parser (a restart became an implied cancel); in Samba traces a nested start is not
//! traced but its commit or cancel is, so a close with no open start extends the last
//! closed transaction, and the earlier close becomes a nested one that the replay skips.
//! A nested cancel dooms the outer transaction, whose commit is then replayed as a cancel.

use super::AnalysisError;
use crate::backend::{ChainLockOp, LockAllOp, TraverseKind};
use crate::trace::{OpKind, Trace};

/// "No group" in the per-op tables.
pub const NONE: u32 = u32::MAX;

/// How the replay must run an op, where that differs from what the trace says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayMode {
    /// Run it as traced and check the result.
    AsTraced,
    /// Do not run it: the commit or cancel of a nested transaction whose start the writer
    /// did not trace (Samba).
    Skip,
    /// Run a commit as a cancel: an inner cancel doomed the transaction.
    AsCancel,
}

/// The group structure of one trace.
#[derive(Debug, Default)]
pub struct Groups {
    /// Per op: start of the atomic region (merged transactions and chain locks) that
    /// contains it, or [`NONE`].
    pub atomic: Vec<u32>,
    /// Per op: start of the innermost traverse containing it (the start and end ops
    /// included), or [`NONE`].
    pub traverse: Vec<u32>,
    /// Per op: start of the outermost traverse containing it, or [`NONE`].
    pub outer_traverse: Vec<u32>,
    /// Per op: for a group start (atomic region or traverse), the op that ends it;
    /// otherwise [`NONE`].
    pub end: Vec<u32>,
    /// Per op: how the replay runs it.
    pub mode: Vec<ReplayMode>,
    /// Per op: whether its effect is discarded because an enclosing transaction is
    /// cancelled (explicitly, implicitly at end of trace, or doomed by a nested cancel).
    pub discarded: Vec<bool>,
    /// Per op: start (`tdb_firstkey`) of the key walk whose record lock is held while it
    /// runs (from a firstkey that found a key to the nextkey that found none), or
    /// [`NONE`].
    pub walk: Vec<u32>,
    /// Per op: whether it runs inside a read traverse's callback, where tdb refuses every
    /// write with `TDB_ERR_RDONLY` whatever the record holds.
    pub in_read_traverse: Vec<bool>,
    /// Per op: for a traverse entry, whether the replay's walk stops before it (learned
    /// from a deadlock; the ops from there on run after the walk).
    pub stop_before: Vec<bool>,
}

impl Groups {
    /// The op ending the group that starts at `start`.
    pub fn end_of(&self, start: u32) -> u32 {
        self.end[start as usize]
    }

    /// Whether `op` starts an atomic region.
    pub fn is_atomic_start(&self, op: u32) -> bool {
        self.atomic[op as usize] == op
    }

    /// The start of the outermost traverse containing `op` (its own start and end
    /// included), if any.
    pub fn outer_traverse(&self, op: u32) -> Option<u32> {
        let start = self.outer_traverse[op as usize];
        (start != NONE).then_some(start)
    }

    /// Make the outermost traverse around `op` stop before the entry whose callback runs
    /// `op`, so the traverse's locks are gone by the time `op` runs. Returns that entry,
    /// or `None` if `op` is in no traverse, before its first entry, or already stops.
    pub fn stop_traverse_before(&mut self, trace: &Trace, op: u32) -> Option<u32> {
        let outer = self.outer_traverse(op)?;
        let entry = (outer + 1..=op).rev().find(|&at| {
            self.traverse[at as usize] == outer
                && matches!(trace.ops[at as usize].kind, OpKind::TraverseEntry { .. })
        })?;
        if std::mem::replace(&mut self.stop_before[entry as usize], true) {
            return None;
        }
        Some(entry)
    }

    /// The start of the outermost lock-holding region (atomic region, traverse or key walk) that
    /// `op` is strictly inside: while waiting before `op`, the trace holds that region's
    /// locks. `None` if it holds none.
    pub fn outermost_held(&self, op: u32) -> Option<u32> {
        let inside = |start: u32| (start != NONE && start < op).then_some(start);
        let atomic = inside(self.atomic[op as usize]);
        let traverse = self.outer_traverse(op).and_then(inside);
        let walk = inside(self.walk[op as usize]);
        [atomic, traverse, walk].into_iter().flatten().min()
    }
}

/// The first pass's plan: the traces with the groups of each.
pub struct Grouped<'t> {
    /// The traces, one per process.
    pub traces: &'t [Trace],
    /// Per trace: its groups.
    pub groups: Vec<Groups>,
}

/// The first pass: the groups of every trace.
pub fn group_traces(traces: &[Trace]) -> Result<Grouped<'_>, AnalysisError> {
    let groups = traces
        .iter()
        .map(find_groups)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Grouped { traces, groups })
}

/// A closed interval of ops `[start, end]`.
#[derive(Clone, Copy, Debug)]
struct Interval {
    start: u32,
    end: u32,
}

struct OpenChainLock {
    op: u32,
    key: crate::trace::Span,
}

/// Work out the groups of one trace (file number `file` in messages).
pub fn find_groups(trace: &Trace) -> Result<Groups, AnalysisError> {
    let n = trace.ops.len();
    let mut groups = Groups {
        atomic: vec![NONE; n],
        traverse: vec![NONE; n],
        outer_traverse: vec![NONE; n],
        end: vec![NONE; n],
        mode: vec![ReplayMode::AsTraced; n],
        discarded: vec![false; n],
        stop_before: vec![false; n],
        in_read_traverse: vec![false; n],
        walk: vec![NONE; n],
    };
    let mut atomic_intervals: Vec<Interval> = Vec::new();
    let mut cancelled: Vec<Interval> = Vec::new();

    let mut transactions: Vec<u32> = Vec::new();
    // The last transaction closed with no other open, which a Samba nested close extends.
    let mut last_closed: Option<(usize, u32)> = None; // (index in atomic_intervals, closing op)
    let mut doomed: Vec<bool> = Vec::new(); // parallel to `transactions`
    let mut chainlocks: Vec<OpenChainLock> = Vec::new();
    let mut traverses: Vec<u32> = Vec::new();
    let mut lockalls: Vec<u32> = Vec::new();
    let mut walk_start: Option<u32> = None;

    let fail = |op: usize, message: String| AnalysisError::structure(trace, op, message);

    for (index, op) in trace.ops.iter().enumerate() {
        let i = index as u32;
        if let Some(&innermost) = traverses.last() {
            groups.traverse[index] = innermost;
        }
        if let Some(&outermost) = traverses.first() {
            groups.outer_traverse[index] = outermost;
        }
        groups.in_read_traverse[index] = traverses.iter().any(|&start| {
            matches!(
                trace.ops[start as usize].kind,
                OpKind::TraverseStart {
                    kind: TraverseKind::Read
                }
            )
        });
        if let Some(start) = walk_start {
            groups.walk[index] = start;
        }
        match &op.kind {
            OpKind::FirstKey { result } => {
                walk_start = result.is_some().then_some(i);
                groups.walk[index] = walk_start.unwrap_or(NONE);
            }
            OpKind::NextKey { result: None, .. } => walk_start = None,
            OpKind::TransactionStart => {
                transactions.push(i);
                doomed.push(false);
                last_closed = None;
            }
            OpKind::TransactionCommit | OpKind::TransactionCancel { .. } => {
                let is_cancel = matches!(op.kind, OpKind::TransactionCancel { .. });
                match transactions.pop() {
                    Some(start) => {
                        let was_doomed = doomed.pop().unwrap_or(false);
                        if let Some(outer) = doomed.last_mut() {
                            // Nested close of a traced nested start: tdb counts it down.
                            *outer |= is_cancel || was_doomed;
                        } else {
                            let interval = Interval { start, end: i };
                            atomic_intervals.push(interval);
                            last_closed = Some((atomic_intervals.len() - 1, i));
                            if is_cancel || was_doomed {
                                cancelled.push(interval);
                                if !is_cancel {
                                    groups.mode[index] = ReplayMode::AsCancel;
                                }
                            }
                        }
                    }
                    None => {
                        // Samba: the start of a nested transaction is not traced, so the
                        // previous close was the nested one and this closes the outer.
                        let Some((slot, inner_close)) = last_closed else {
                            return Err(fail(
                                index,
                                format!("{} without a transaction start", op.name()),
                            ));
                        };
                        groups.mode[inner_close as usize] = ReplayMode::Skip;
                        let inner_was_cancel = matches!(
                            trace.ops[inner_close as usize].kind,
                            OpKind::TransactionCancel { .. }
                        );
                        let interval = &mut atomic_intervals[slot];
                        interval.end = i;
                        let interval = *interval;
                        let already_cancelled =
                            cancelled.last().is_some_and(|c| c.start == interval.start);
                        if already_cancelled {
                            cancelled.pop();
                        }
                        if inner_was_cancel || is_cancel || already_cancelled {
                            cancelled.push(interval);
                            if !is_cancel {
                                groups.mode[index] = ReplayMode::AsCancel;
                            }
                        }
                        last_closed = Some((slot, i));
                    }
                }
            }
            OpKind::ChainLock { key, op: lock, ret } => match lock {
                ChainLockOp::Lock | ChainLockOp::LockRead => {
                    chainlocks.push(OpenChainLock { op: i, key: *key });
                }
                ChainLockOp::LockNonblock | ChainLockOp::LockReadNonblock => {
                    if *ret == Some(0) {
                        chainlocks.push(OpenChainLock { op: i, key: *key });
                    }
                }
                ChainLockOp::Unlock | ChainLockOp::UnlockRead => {
                    let wanted = trace.bytes(*key);
                    let found = chainlocks
                        .iter()
                        .rposition(|open| trace.bytes(open.key) == wanted);
                    let Some(position) = found else {
                        return Err(fail(
                            index,
                            format!(
                                "{} of a chain this trace does not hold (no matching \
                                 tdb_chainlock before it)",
                                op.name()
                            ),
                        ));
                    };
                    let open = chainlocks.remove(position);
                    atomic_intervals.push(Interval {
                        start: open.op,
                        end: i,
                    });
                }
                ChainLockOp::Mark | ChainLockOp::Unmark => {}
            },
            OpKind::LockAll { op: lock, ret } => match lock {
                LockAllOp::Lock | LockAllOp::LockRead => lockalls.push(i),
                LockAllOp::LockNonblock | LockAllOp::LockReadNonblock => {
                    if *ret == Some(0) {
                        lockalls.push(i);
                    }
                }
                LockAllOp::Unlock | LockAllOp::UnlockRead => {
                    // An unlock with no lock just fails in tdb; the replay reports that.
                    if let Some(start) = lockalls.pop() {
                        atomic_intervals.push(Interval { start, end: i });
                    }
                }
                LockAllOp::Mark | LockAllOp::Unmark => {}
            },
            OpKind::TraverseStart { .. } => {
                traverses.push(i);
                groups.traverse[index] = i;
                groups.outer_traverse[index] = traverses[0];
            }
            OpKind::TraverseEnd { .. } => {
                let Some(start) = traverses.pop() else {
                    return Err(fail(
                        index,
                        "tdb_traverse_end without a traverse start".to_string(),
                    ));
                };
                groups.end[start as usize] = i;
            }
            OpKind::TraverseEntry { .. } if traverses.is_empty() => {
                return Err(fail(index, format!("{} outside a traverse", op.name())));
            }
            _ => {}
        }
    }

    let last = n.saturating_sub(1) as u32;
    if let Some(&start) = traverses.first() {
        return Err(fail(
            start as usize,
            "traverse never ends (no tdb_traverse_end)".to_string(),
        ));
    }
    // Whatever is still open at the end is closed by tdb_close: a transaction is cancelled
    // there, a chain lock released.
    if let Some(&start) = transactions.first() {
        let interval = Interval { start, end: last };
        atomic_intervals.push(interval);
        cancelled.push(interval);
    }
    let still_locked = chainlocks.iter().map(|open| open.op).chain(lockalls);
    for start in still_locked {
        atomic_intervals.push(Interval { start, end: last });
    }

    for interval in &cancelled {
        for flag in &mut groups.discarded[interval.start as usize..=interval.end as usize] {
            *flag = true;
        }
    }
    for region in merge(atomic_intervals) {
        groups.end[region.start as usize] = region.end;
        for slot in &mut groups.atomic[region.start as usize..=region.end as usize] {
            *slot = region.start;
        }
    }
    Ok(groups)
}

/// Merge overlapping or nested intervals into disjoint outermost ones.
fn merge(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.sort_by_key(|interval| (interval.start, std::cmp::Reverse(interval.end)));
    let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
    for interval in intervals {
        match merged.last_mut() {
            Some(last) if interval.start <= last.end => last.end = last.end.max(interval.end),
            _ => merged.push(interval),
        }
    }
    merged
}
