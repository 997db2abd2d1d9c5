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
use crate::trace::{OpKind, Span, Trace};

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
    key: Span,
}

/// Work out the groups of one trace.
pub fn find_groups(trace: &Trace) -> Result<Groups, AnalysisError> {
    let mut scan = Scan::new(trace);
    for (index, op) in trace.ops.iter().enumerate() {
        scan.note_enclosing(index);
        scan.op(index, &op.kind)?;
    }
    scan.close_at_end()?;
    Ok(scan.into_groups())
}

/// A transaction the scan has seen start and not yet close.
struct OpenTransaction {
    start: u32,
    /// A nested cancel doomed it: its commit is replayed as a cancel.
    doomed: bool,
}

/// The state of [`find_groups`]' walk through one trace: the tables filled so far, and
/// the groups still open.
struct Scan<'t> {
    trace: &'t Trace,
    groups: Groups,
    /// Closed transactions, chain-lock and all-record-lock sections (merged at the end).
    atomic_intervals: Vec<Interval>,
    /// The transactions whose effects are discarded.
    cancelled: Vec<Interval>,
    transactions: Vec<OpenTransaction>,
    /// The last transaction closed with no other open, which a Samba nested close
    /// extends: (index in `atomic_intervals`, closing op).
    last_closed: Option<(usize, u32)>,
    chainlocks: Vec<OpenChainLock>,
    traverses: Vec<u32>,
    lockalls: Vec<u32>,
    walk_start: Option<u32>,
}

impl<'t> Scan<'t> {
    fn new(trace: &'t Trace) -> Scan<'t> {
        let n = trace.ops.len();
        Scan {
            trace,
            groups: Groups {
                atomic: vec![NONE; n],
                traverse: vec![NONE; n],
                outer_traverse: vec![NONE; n],
                end: vec![NONE; n],
                mode: vec![ReplayMode::AsTraced; n],
                discarded: vec![false; n],
                stop_before: vec![false; n],
                in_read_traverse: vec![false; n],
                walk: vec![NONE; n],
            },
            atomic_intervals: Vec::new(),
            cancelled: Vec::new(),
            transactions: Vec::new(),
            last_closed: None,
            chainlocks: Vec::new(),
            traverses: Vec::new(),
            lockalls: Vec::new(),
            walk_start: None,
        }
    }

    fn fail(&self, op: usize, message: String) -> AnalysisError {
        AnalysisError::structure(self.trace, op, message)
    }

    /// Record the traverses and the key walk that op `index` runs inside.
    fn note_enclosing(&mut self, index: usize) {
        if let Some(&innermost) = self.traverses.last() {
            self.groups.traverse[index] = innermost;
        }
        if let Some(&outermost) = self.traverses.first() {
            self.groups.outer_traverse[index] = outermost;
        }
        let ops = &self.trace.ops;
        self.groups.in_read_traverse[index] = self.traverses.iter().any(|&start| {
            matches!(
                ops[start as usize].kind,
                OpKind::TraverseStart {
                    kind: TraverseKind::Read
                }
            )
        });
        if let Some(start) = self.walk_start {
            self.groups.walk[index] = start;
        }
    }

    /// Take op `index` into account.
    fn op(&mut self, index: usize, kind: &OpKind) -> Result<(), AnalysisError> {
        let i = index as u32;
        match kind {
            OpKind::FirstKey { result } => {
                self.walk_start = result.is_some().then_some(i);
                self.groups.walk[index] = self.walk_start.unwrap_or(NONE);
            }
            OpKind::NextKey { result: None, .. } => self.walk_start = None,
            OpKind::TransactionStart => {
                self.transactions.push(OpenTransaction {
                    start: i,
                    doomed: false,
                });
                self.last_closed = None;
            }
            OpKind::TransactionCommit | OpKind::TransactionCancel { .. } => {
                let is_cancel = matches!(kind, OpKind::TransactionCancel { .. });
                match self.transactions.pop() {
                    Some(open) => self.close_transaction(index, open, is_cancel),
                    None => self.close_untraced_nesting(index, is_cancel)?,
                }
            }
            OpKind::ChainLock { key, op: lock, ret } => {
                self.chain_lock(index, *key, *lock, *ret)?
            }
            OpKind::LockAll { op: lock, ret } => self.lock_all(i, *lock, *ret),
            OpKind::TraverseStart { .. } => {
                self.traverses.push(i);
                self.groups.traverse[index] = i;
                self.groups.outer_traverse[index] = self.traverses[0];
            }
            OpKind::TraverseEnd { .. } => {
                let Some(start) = self.traverses.pop() else {
                    return Err(self.fail(
                        index,
                        "tdb_traverse_end without a traverse start".to_string(),
                    ));
                };
                self.groups.end[start as usize] = i;
            }
            OpKind::TraverseEntry { .. } if self.traverses.is_empty() => {
                let name = self.trace.ops[index].name();
                return Err(self.fail(index, format!("{name} outside a traverse")));
            }
            _ => {}
        }
        Ok(())
    }

    /// A commit or cancel at `index` closing the traced start `open`.
    fn close_transaction(&mut self, index: usize, open: OpenTransaction, is_cancel: bool) {
        let i = index as u32;
        if let Some(outer) = self.transactions.last_mut() {
            // Nested close of a traced nested start: tdb counts it down.
            outer.doomed |= is_cancel || open.doomed;
            return;
        }
        let interval = Interval {
            start: open.start,
            end: i,
        };
        self.atomic_intervals.push(interval);
        self.last_closed = Some((self.atomic_intervals.len() - 1, i));
        if is_cancel || open.doomed {
            self.cancelled.push(interval);
            if !is_cancel {
                self.groups.mode[index] = ReplayMode::AsCancel;
            }
        }
    }

    /// Samba: the start of a nested transaction is not traced, so a commit or cancel at
    /// `index` with no open start means the previous close was the nested one and this
    /// closes the outer.
    fn close_untraced_nesting(
        &mut self,
        index: usize,
        is_cancel: bool,
    ) -> Result<(), AnalysisError> {
        let i = index as u32;
        let Some((slot, inner_close)) = self.last_closed else {
            let name = self.trace.ops[index].name();
            return Err(self.fail(index, format!("{name} without a transaction start")));
        };
        self.groups.mode[inner_close as usize] = ReplayMode::Skip;
        let inner_was_cancel = matches!(
            self.trace.ops[inner_close as usize].kind,
            OpKind::TransactionCancel { .. }
        );
        let interval = &mut self.atomic_intervals[slot];
        interval.end = i;
        let interval = *interval;
        let already_cancelled = self
            .cancelled
            .last()
            .is_some_and(|c| c.start == interval.start);
        if already_cancelled {
            self.cancelled.pop();
        }
        if inner_was_cancel || is_cancel || already_cancelled {
            self.cancelled.push(interval);
            if !is_cancel {
                self.groups.mode[index] = ReplayMode::AsCancel;
            }
        }
        self.last_closed = Some((slot, i));
        Ok(())
    }

    /// A chain-lock call at `index`.
    fn chain_lock(
        &mut self,
        index: usize,
        key: Span,
        lock: ChainLockOp,
        ret: Option<i32>,
    ) -> Result<(), AnalysisError> {
        let i = index as u32;
        match lock {
            ChainLockOp::Lock | ChainLockOp::LockRead => {
                self.chainlocks.push(OpenChainLock { op: i, key });
            }
            ChainLockOp::LockNonblock | ChainLockOp::LockReadNonblock => {
                if ret == Some(0) {
                    self.chainlocks.push(OpenChainLock { op: i, key });
                }
            }
            ChainLockOp::Unlock | ChainLockOp::UnlockRead => {
                let wanted = self.trace.bytes(key);
                let found = self
                    .chainlocks
                    .iter()
                    .rposition(|open| self.trace.bytes(open.key) == wanted);
                let Some(position) = found else {
                    let name = self.trace.ops[index].name();
                    return Err(self.fail(
                        index,
                        format!(
                            "{name} of a chain this trace does not hold (no matching \
                             tdb_chainlock before it)"
                        ),
                    ));
                };
                let open = self.chainlocks.remove(position);
                self.atomic_intervals.push(Interval {
                    start: open.op,
                    end: i,
                });
            }
            ChainLockOp::Mark | ChainLockOp::Unmark => {}
        }
        Ok(())
    }

    /// An all-record lock call at op `i`.
    fn lock_all(&mut self, i: u32, lock: LockAllOp, ret: Option<i32>) {
        match lock {
            LockAllOp::Lock | LockAllOp::LockRead => self.lockalls.push(i),
            LockAllOp::LockNonblock | LockAllOp::LockReadNonblock => {
                if ret == Some(0) {
                    self.lockalls.push(i);
                }
            }
            LockAllOp::Unlock | LockAllOp::UnlockRead => {
                // An unlock with no lock just fails in tdb; the replay reports that.
                if let Some(start) = self.lockalls.pop() {
                    self.atomic_intervals.push(Interval { start, end: i });
                }
            }
            LockAllOp::Mark | LockAllOp::Unmark => {}
        }
    }

    /// Whatever is still open at the end is closed by tdb_close: a transaction is
    /// cancelled there, a chain lock released; a traverse cannot stay open.
    fn close_at_end(&mut self) -> Result<(), AnalysisError> {
        let last = self.trace.ops.len().saturating_sub(1) as u32;
        if let Some(&start) = self.traverses.first() {
            return Err(self.fail(
                start as usize,
                "traverse never ends (no tdb_traverse_end)".to_string(),
            ));
        }
        if let Some(open) = self.transactions.first() {
            let interval = Interval {
                start: open.start,
                end: last,
            };
            self.atomic_intervals.push(interval);
            self.cancelled.push(interval);
        }
        let still_locked = self.chainlocks.iter().map(|open| open.op);
        let still_locked: Vec<u32> = still_locked.chain(self.lockalls.iter().copied()).collect();
        for start in still_locked {
            self.atomic_intervals.push(Interval { start, end: last });
        }
        Ok(())
    }

    /// The finished tables: discarded effects marked, atomic regions merged.
    fn into_groups(self) -> Groups {
        let mut groups = self.groups;
        for interval in &self.cancelled {
            groups.discarded[interval.start as usize..=interval.end as usize].fill(true);
        }
        for region in merge(self.atomic_intervals) {
            groups.end[region.start as usize] = region.end;
            groups.atomic[region.start as usize..=region.end as usize].fill(region.start);
        }
        groups
    }
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
