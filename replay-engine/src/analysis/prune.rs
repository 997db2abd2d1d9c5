//! The sixth pass: gather every key's dependencies with the traverses' order, remove
//! those the traces' own order already implies, and collect the records that must exist
//! before the run and the figures for the summary.

use super::deps::{Dep, Planned};
use super::groups::Groups;
use super::order::Initial;
use super::{AnalysisStats, Preexisting};
use crate::trace::Trace;

/// The sixth pass's plan: the pruned dependencies, not yet checked for cycles.
pub struct Pruned<'t> {
    /// The traces, one per process.
    pub traces: &'t [Trace],
    /// Per trace: its groups.
    pub groups: Vec<Groups>,
    /// The dependencies left, sorted by waiting trace and op.
    pub deps: Vec<Dep>,
    /// Records to create before each run.
    pub preexisting: Vec<Preexisting>,
    /// Figures for the summary.
    pub stats: AnalysisStats,
}

/// The sixth pass: prune the plan's dependencies; collect the pre-existing records and the
/// figures.
pub fn prune(planned: Planned<'_>) -> Pruned<'_> {
    let used = &planned.used;
    let traces = used.grouped.traces;
    let mut stats = AnalysisStats {
        keys: used.key_users.keys.len(),
        ..AnalysisStats::default()
    };
    let mut deps = planned.traverse_deps.clone();
    let mut preexisting = Vec::new();
    let key_plans = used.key_users.keys.iter().zip(&used.key_users.users);
    for ((key, users), plan) in key_plans.zip(&planned.keys) {
        stats.users += users.len();
        if plan.ordering.fuzz != Some(0) {
            stats.fuzzed_keys += 1;
        }
        if let Initial::Present(value) = plan.ordering.initial {
            let first = &users[plan.ordering.order[0]];
            let trace = &traces[first.file as usize];
            preexisting.push(Preexisting {
                key: used.values.bytes(*key).to_vec(),
                data: used.values.bytes(value).to_vec(),
                needed_at: format!("{}:{}", trace.name, trace.ops[first.rep as usize].line),
            });
        }
        deps.extend_from_slice(&plan.deps);
    }
    stats.raw_dependencies = deps.len();
    optimise(&mut deps, traces.len());
    stats.dependencies = deps.len();
    Pruned {
        traces,
        groups: planned.used.grouped.groups,
        deps,
        preexisting,
        stats,
    }
}

/// Remove dependencies implied by others: per waiting op keep only the latest target in
/// each other trace, then drop any whose target an earlier op of the same trace already
/// waited for (traces run in order).
pub fn optimise(deps: &mut Vec<Dep>, traces: usize) {
    deps.sort_unstable_by(|a, b| {
        (a.file, a.op, a.target_file, b.target).cmp(&(b.file, b.op, b.target_file, a.target))
    });
    deps.dedup_by(|later, kept| {
        (later.file, later.op, later.target_file) == (kept.file, kept.op, kept.target_file)
    });
    let mut waited: Vec<Option<u32>> = vec![None; traces];
    let mut current_file = u32::MAX;
    deps.retain(|dep| {
        if dep.file != current_file {
            current_file = dep.file;
            waited.iter_mut().for_each(|slot| *slot = None);
        }
        let slot = &mut waited[dep.target_file as usize];
        if slot.is_some_and(|already| already >= dep.target) {
            return false;
        }
        *slot = Some(dep.target);
        true
    });
}
