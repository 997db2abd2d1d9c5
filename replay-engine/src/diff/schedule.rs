//! One interleaving of the traces' units that the dependencies allow, chosen the same way
//! every time: of the units whose dependencies have all run, the one whose first line
//! carries the lowest seqnum (the closest thing a trace has to a clock), ties going to
//! the earlier trace. When no unit is ready (the dependencies wait for each other across
//! units), the unit with the fewest unmet dependencies runs anyway and they are counted:
//! both engines still see the same ops in the same order, which is all a differential
//! run needs.

use super::units::{units, Unit};
use crate::analysis::{Analysis, Dep};
use crate::trace::Trace;

/// Chooses the next unit to run.
pub struct Schedule<'a> {
    traces: &'a [Trace],
    deps: Vec<&'a [Dep]>,
    units: Vec<Vec<Unit>>,
    /// Per trace: the next unit to run.
    next: Vec<usize>,
    /// Per trace: the first of its dependencies not yet behind it.
    next_dep: Vec<usize>,
    /// Per trace: ops run so far (every op before this index has run).
    done: Vec<u32>,
    /// Dependencies a unit ran without (see the module documentation).
    pub overridden: u64,
}

impl<'a> Schedule<'a> {
    /// A schedule for `traces` under `analysis`.
    pub fn new(traces: &'a [Trace], analysis: &'a Analysis) -> Self {
        let units: Vec<Vec<Unit>> = traces
            .iter()
            .zip(&analysis.groups)
            .map(|(trace, groups)| units(groups, trace.ops.len()))
            .collect();
        Schedule {
            traces,
            deps: (0..traces.len()).map(|t| analysis.deps_of(t)).collect(),
            next: vec![0; traces.len()],
            next_dep: vec![0; traces.len()],
            done: vec![0; traces.len()],
            units,
            overridden: 0,
        }
    }

    /// Units in all traces.
    pub fn unit_count(&self) -> usize {
        self.units.iter().map(Vec::len).sum()
    }

    /// The next unit, as (trace, unit), and mark it run; `None` when all have run.
    pub fn pop(&mut self) -> Option<(usize, Unit)> {
        let mut best: Option<(u32, u32, usize)> = None; // (unmet, seqnum, trace)
        for trace in 0..self.traces.len() {
            let Some(&unit) = self.units[trace].get(self.next[trace]) else {
                continue;
            };
            let unmet = self.unmet(trace, unit);
            let seqnum = self.traces[trace].ops[unit.start as usize].seqnum;
            let key = (unmet, seqnum, trace);
            if best.is_none_or(|best| key < best) {
                best = Some(key);
            }
        }
        let (unmet, _, trace) = best?;
        let unit = self.units[trace][self.next[trace]];
        self.overridden += u64::from(unmet);
        self.next[trace] += 1;
        self.done[trace] = unit.end + 1;
        let deps = self.deps[trace];
        while self.next_dep[trace] < deps.len() && deps[self.next_dep[trace]].op <= unit.end {
            self.next_dep[trace] += 1;
        }
        Some((trace, unit))
    }

    /// How many dependencies of `unit` of `trace` wait for ops that have not run.
    fn unmet(&self, trace: usize, unit: Unit) -> u32 {
        self.deps[trace][self.next_dep[trace]..]
            .iter()
            .take_while(|dep| dep.op <= unit.end)
            .filter(|dep| self.done[dep.target_file as usize] <= dep.target)
            .count() as u32
    }
}

/// Every unit in the order a [`Schedule`] gives them, worked out once.
///
/// The choice depends on nothing but the traces and the analysis (no clock, no engine
/// result), so both engines of a differential run can walk one copy of it.
#[derive(Clone, Debug, Default)]
pub struct Order {
    /// The units, as (trace, unit), first to run first.
    pub units: Vec<(usize, Unit)>,
    /// Dependencies the units ran without (see the module documentation).
    pub overridden: u64,
}

impl Order {
    /// The order for `traces` under `analysis`.
    pub fn new(traces: &[Trace], analysis: &Analysis) -> Self {
        let mut schedule = Schedule::new(traces, analysis);
        let mut units = Vec::with_capacity(schedule.unit_count());
        while let Some(next) = schedule.pop() {
            units.push(next);
        }
        Order {
            units,
            overridden: schedule.overridden,
        }
    }
}
