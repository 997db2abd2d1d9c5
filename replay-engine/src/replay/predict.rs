//! The static half of deadlock avoidance (see [`super::ReplayOptions::predict`]): before the
//! first run, find the waits that would hold the transaction lock while the trace waited
//! for may need it, and resolve them the way a run-time back-off would, so the run does
//! not have to deadlock, be detected and be run again first.

use super::{Backoff, Learned, Resolution};
use crate::analysis::{Analysis, Dep};
use crate::trace::{OpKind, Trace};

/// Whether an op takes the transaction lock.
fn takes_transaction_lock(kind: &OpKind) -> bool {
    matches!(
        kind,
        OpKind::TransactionStart | OpKind::TraverseStart { .. }
    )
}

/// Per trace, the positions of the ops that take the transaction lock, in order.
fn transaction_lockers(traces: &[Trace]) -> Vec<Vec<u32>> {
    traces
        .iter()
        .map(|trace| {
            trace
                .ops
                .iter()
                .enumerate()
                .filter(|(_, op)| takes_transaction_lock(&op.kind))
                .map(|(at, _)| at as u32)
                .collect()
        })
        .collect()
}

/// The lock-order inversions of the plan: for every dependency of op `k` of trace `w` on
/// op `t` of trace `o`, if `w` holds the transaction lock at `k` (inside a traverse, or
/// inside a transaction begun before `k`), and `o` may take the transaction lock (start a
/// transaction or a traverse) after the last op of `o` that `w` is sure to have seen
/// finished before its region starts and up to `t`, the two can block each other. Each is
/// given as the dependency that waits before the region instead, with `k` as the
/// original op.
fn inversions(traces: &[Trace], analysis: &Analysis) -> Vec<Learned> {
    let lockers = transaction_lockers(traces);
    let mut candidates = Vec::new();
    for (file, trace) in traces.iter().enumerate() {
        let groups = &analysis.groups[file];
        let deps = analysis.deps_of(file);
        for (index, dep) in deps.iter().enumerate() {
            let k = dep.op;
            let traverse = groups.outer_traverse(k).filter(|&start| start < k);
            let atomic = groups.atomic[k as usize];
            let transaction = (atomic != crate::analysis::NONE
                && atomic < k
                && matches!(trace.ops[atomic as usize].kind, OpKind::TransactionStart))
            .then_some(atomic);
            let Some(region) = [traverse, transaction].into_iter().flatten().min() else {
                continue;
            };
            // The furthest op of the target trace this trace waited for before the region.
            let seen = deps[..index]
                .iter()
                .filter(|d| d.op <= region && d.target_file == dep.target_file)
                .map(|d| d.target + 1)
                .max()
                .unwrap_or(0);
            let others = &lockers[dep.target_file as usize];
            let from = others.partition_point(|&at| at < seen);
            if others.get(from).is_some_and(|&at| at <= dep.target) {
                candidates.push(Learned {
                    dep: Dep {
                        file: dep.file,
                        op: region,
                        target_file: dep.target_file,
                        target: dep.target,
                    },
                    original_op: k,
                });
            }
        }
    }
    candidates
}

/// Predict the lock-order inversions of the plan (see [`super::ReplayOptions::predict`]) and
/// resolve each as a run-time back-off would: wait before the region holding the
/// transaction lock, if the plan stays free of cycles; otherwise, if the wait is inside
/// a traverse, stop that traverse before the entry whose callback waits (its remaining
/// ops run after the walk, as the original tool did). Returns what was changed.
pub(super) fn predict_backoffs(traces: &[Trace], analysis: &mut Analysis) -> Vec<Backoff> {
    let mut predicted = Vec::new();
    for learned in inversions(traces, analysis) {
        let before = analysis.digest();
        if analysis.add_dependencies(&[learned.dep]).is_ok() {
            if analysis.digest() != before {
                let at = Learned::at(traces, learned.dep.file, learned.dep.op);
                predicted.push(learned.backoff(traces, Resolution::WaitBefore(at)));
            }
            continue;
        }
        let file = learned.dep.file as usize;
        if let Some(entry) =
            analysis.groups[file].stop_traverse_before(&traces[file], learned.original_op)
        {
            let at = Learned::at(traces, learned.dep.file, entry);
            predicted.push(learned.backoff(traces, Resolution::StopTraverseBefore(at)));
        }
    }
    predicted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::analyse;
    use crate::backend::{c::CTdb, Backend};
    use crate::trace::{parse_trace, LoadOptions};

    /// a waits inside a write traverse for b's commit; b starts its transaction before.
    const A: &str = "1 tdb_open 7 0x0 0x42\n1 tdb_store 1:79 1:01 0x1 = 0\n\
                     1 tdb_traverse_start\n1 traverse 1:79 = 1:01\n1 tdb_fetch 1:6b = NULL\n\
                     1 tdb_traverse_end\n1 tdb_close\n";
    const B: &str = "1 tdb_open 7 0x0 0x42\n1 tdb_transaction_start\n\
                     2 tdb_store 1:78 1:02 0x1 = 0\n2 tdb_transaction_commit\n2 tdb_close\n";

    fn traces() -> Vec<Trace> {
        let options = LoadOptions::default();
        vec![
            parse_trace("a", A.as_bytes(), &options).unwrap(),
            parse_trace("b", B.as_bytes(), &options).unwrap(),
        ]
    }

    fn dep(file: u32, op: u32, target_file: u32, target: u32) -> Dep {
        Dep {
            file,
            op,
            target_file,
            target,
        }
    }

    #[test]
    fn an_inversion_that_can_wait_earlier_waits_before_the_traverse() {
        let traces = traces();
        let mut plan = analyse(&traces, CTdb::LOCKING).unwrap();
        // a's fetch (op 3, inside the traverse begun at op 1) waits for b's commit.
        plan.add_dependencies(&[dep(0, 3, 1, 2)]).unwrap();
        let predicted = predict_backoffs(&traces, &mut plan);
        assert_eq!(predicted.len(), 1, "{predicted:?}");
        assert_eq!(
            predicted[0].resolution,
            Resolution::WaitBefore("a:3".into())
        );
        assert!(plan.deps.contains(&dep(0, 1, 1, 2)), "{:?}", plan.deps);
    }

    #[test]
    fn a_circular_inversion_stops_the_traverse_instead() {
        let traces = traces();
        let mut plan = analyse(&traces, CTdb::LOCKING).unwrap();
        // b's transaction starts only once a is inside its traverse: waiting before the
        // traverse would be circular, so the traverse stops before the entry.
        plan.add_dependencies(&[dep(1, 0, 0, 2), dep(0, 3, 1, 2)])
            .unwrap();
        let digest = plan.digest();
        let predicted = predict_backoffs(&traces, &mut plan);
        assert_eq!(predicted.len(), 1, "{predicted:?}");
        assert_eq!(predicted[0].waiting_at, "a:5");
        assert_eq!(predicted[0].waiting_for, "b:4");
        assert_eq!(
            predicted[0].resolution,
            Resolution::StopTraverseBefore("a:4".into())
        );
        assert_eq!(plan.digest(), digest, "no dependency added");
        // Predicting again changes nothing: the traverse already stops there.
        assert!(predict_backoffs(&traces, &mut plan).is_empty());
    }

    #[test]
    fn no_inversion_without_a_transaction_lock_taker() {
        let traces = traces();
        let mut plan = analyse(&traces, CTdb::LOCKING).unwrap();
        // a's fetch waits for b's store, but b's transaction began before anything a saw:
        // with b's op 0 seen, nothing from op 1 to op 1 takes the transaction lock.
        plan.add_dependencies(&[dep(0, 0, 1, 0), dep(0, 3, 1, 1)])
            .unwrap();
        assert!(predict_backoffs(&traces, &mut plan).is_empty());
    }
}
