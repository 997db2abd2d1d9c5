//! The fifth pass: repair circles between the keys' orders.
//!
//! Each key is ordered on its own, so where many ops share a seqnum two keys can break a
//! tie in opposite ways and the traces end up waiting for each other in a circle. Repair:
//! take a dependency in the circle that some key's order produced, require that key to
//! order the two users the other way round, search its order again under that constraint,
//! and replace the key's plan.

use super::cycles::{find_cycle, Cycle};
use super::deps::{Context, KeyPlan, Planned};
use super::order::order_key;
use super::AnalysisError;

/// Rounds of cycle repair before giving up.
const MAX_REPAIRS: usize = 64;

/// The fifth pass: the plan with no circle of keys' orders, or the circle that could not
/// be repaired.
pub fn repair_cycles(mut planned: Planned<'_>) -> Result<Planned<'_>, AnalysisError> {
    let traces = planned.used.grouped.traces;
    let op_counts: Vec<usize> = traces.iter().map(|trace| trace.ops.len()).collect();
    for _ in 0..MAX_REPAIRS {
        let Some(cycle) = find_cycle(&planned.all_deps(), &op_counts) else {
            return Ok(planned);
        };
        if !repair_one(&mut planned, &cycle) {
            return Err(AnalysisError::cycle(traces, cycle.0));
        }
    }
    match find_cycle(&planned.all_deps(), &op_counts) {
        None => Ok(planned),
        Some(cycle) => Err(AnalysisError::cycle(traces, cycle.0)),
    }
}

/// Every key-order edge in `cycle` as `(implausibility, key, dependency index)`, least
/// plausible first: the one whose waited-for user's seqnum interval starts furthest after
/// the waiter's end. Edges the seqnums agree with are evidence, not tie-breaks: left out.
fn candidates(planned: &Planned<'_>, cycle: &Cycle) -> Vec<(i64, usize, usize)> {
    let mut candidates: Vec<(i64, usize, usize)> = Vec::new();
    for dep in &cycle.0 {
        for (key, plan) in planned.keys.iter().enumerate() {
            for (at, _) in plan.deps.iter().enumerate().filter(|(_, d)| *d == dep) {
                let (waiter, target) = plan.origins[at];
                let users = &planned.used.key_users.users[key];
                let implausible =
                    i64::from(users[target].earliest) - i64::from(users[waiter].seqnum);
                if implausible >= 0 {
                    candidates.push((implausible, key, at));
                }
            }
        }
    }
    candidates.sort_by_key(|&(implausible, key, at)| (std::cmp::Reverse(implausible), key, at));
    candidates
}

/// Reverse the first candidate edge of `cycle` whose key can be ordered the other way
/// round; whether one could.
fn repair_one(planned: &mut Planned<'_>, cycle: &Cycle) -> bool {
    let candidates = candidates(planned, cycle);
    let Planned {
        used,
        pins,
        keys,
        locking,
        ..
    } = planned;
    let ctx = Context {
        traces: used.grouped.traces,
        groups: &used.grouped.groups,
        locking: *locking,
    };
    for (_, key, at) in candidates {
        let plan = &mut keys[key];
        let (waiter, target) = plan.origins[at];
        let mut before = plan.before.clone();
        before.push((waiter, target));
        let users = &used.key_users.users[key];
        let reordered = order_key(users, &used.values, pins.as_ref(), &before);
        if std::env::var_os("TDB_REPLAY_DEBUG").is_some() {
            let (w, t) = (&users[waiter], &users[target]);
            let outcome = if reordered.is_some() {
                "reordered"
            } else {
                "impossible"
            };
            eprintln!(
                "repair: key {key} user {}:{} before {}:{} -> {outcome}",
                w.file, w.rep, t.file, t.rep
            );
        }
        if let Some(ordering) = reordered {
            *plan = KeyPlan::new(&ctx, users, ordering, before);
            return true;
        }
    }
    false
}
