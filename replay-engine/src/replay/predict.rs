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

/// What a waiter's target trace may go through before the op waited for.
struct Reach<'a> {
    analysis: &'a Analysis,
    lockers: &'a [Vec<u32>],
    /// The waiting trace.
    waiter: u32,
    /// The start of the region the waiter holds.
    region: u32,
    /// The waiter's dependencies before the one being looked at.
    earlier: &'a [Dep],
}

impl Reach<'_> {
    /// Whether trace `file` takes the transaction lock in ops `from..=to`.
    fn takes_lock(&self, file: u32, from: u32, to: u32) -> bool {
        let others = &self.lockers[file as usize];
        let at = others.partition_point(|&at| at < from);
        others.get(at).is_some_and(|&at| at <= to)
    }

    /// The ops of trace `file` the waiter is sure to have seen finished before its
    /// region: up to the furthest one it waited for.
    fn seen(&self, file: u32) -> u32 {
        self.earlier
            .iter()
            .filter(|d| d.op <= self.region && d.target_file == file)
            .map(|d| d.target + 1)
            .max()
            .unwrap_or(0)
    }

    /// Whether one of the ops `from..=to` of trace `file` waits for an op of a third
    /// trace that takes the transaction lock on its way there: the target then blocks,
    /// through that third trace, on the lock the waiter holds. The third trace's ops count
    /// as done up to the furthest the waiter itself waited for before its region.
    fn through_others(&self, file: u32, from: u32, to: u32) -> bool {
        let deps = self.analysis.deps_of(file as usize);
        let first = deps.partition_point(|d| d.op < from);
        deps[first..]
            .iter()
            .take_while(|d| d.op <= to)
            .filter(|d| d.target_file != self.waiter && d.target_file != file)
            .any(|d| {
                let done = self.seen(d.target_file);
                done <= d.target && self.takes_lock(d.target_file, done, d.target)
            })
    }
}

/// The lock-order inversions of the plan: for every dependency of op `k` of trace `w` on
/// op `t` of trace `o`, if `w` holds the transaction lock at `k` (inside a traverse, or
/// inside a transaction begun before `k`), and `o` may take the transaction lock (start a
/// transaction or a traverse) after the last op of `o` that `w` is sure to have seen
/// finished before its region starts and up to `t` (or one of those ops of `o` waits for
/// a third trace that may take it; see [`Reach::through_others`]), the two can block
/// each other. Each is given as the dependency that waits before the region instead,
/// with `k` as the original op.
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
                candidates.extend(recorded_before(traces, analysis, dep));
                continue;
            };
            // The furthest op of the target trace this trace waited for before the region.
            let seen = deps[..index]
                .iter()
                .filter(|d| d.op <= region && d.target_file == dep.target_file)
                .map(|d| d.target + 1)
                .max()
                .unwrap_or(0);
            let reach = Reach {
                analysis,
                lockers: &lockers,
                waiter: dep.file,
                region,
                earlier: &deps[..index],
            };
            if reach.takes_lock(dep.target_file, seen, dep.target)
                || reach.through_others(dep.target_file, seen, dep.target)
            {
                candidates.push(Learned {
                    dep: Dep {
                        file: dep.file,
                        op: region,
                        target_file: dep.target_file,
                        target: dep.target,
                    },
                    original_op: k,
                });
            } else {
                candidates.extend(recorded_before(traces, analysis, dep));
            }
        }
    }
    candidates
}

/// A wait inside a lock-holding region (a transaction, which holds the all-record read
/// lock every writer needs; a chain lock; a traverse or key walk) for an op the recording
/// finished before the region began: waiting before the region keeps the recorded order
/// and holds no lock the target may need on its way.
fn recorded_before(traces: &[Trace], analysis: &Analysis, dep: &Dep) -> Option<Learned> {
    let region = analysis.groups[dep.file as usize].outermost_held(dep.op)?;
    let seqnum = |file: u32, op: u32| traces[file as usize].ops[op as usize].seqnum;
    (seqnum(dep.target_file, dep.target) < seqnum(dep.file, region)).then_some(Learned {
        dep: Dep {
            file: dep.file,
            op: region,
            target_file: dep.target_file,
            target: dep.target,
        },
        original_op: dep.op,
    })
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
    fn an_inversion_through_a_third_trace_is_predicted() {
        let options = LoadOptions::default();
        let traces = vec![
            parse_trace("a", A.as_bytes(), &options).unwrap(),
            parse_trace(
                "b",
                "1 tdb_open 7 0x0 0x42\n1 tdb_store 1:77 1:03 0x1 = 0\n\
                              1 tdb_close\n"
                    .as_bytes(),
                &options,
            )
            .unwrap(),
            parse_trace("c", B.as_bytes(), &options).unwrap(),
        ];
        let mut plan = analyse(&traces, CTdb::LOCKING).unwrap();
        // a's fetch inside its traverse waits for b's store, which waits for c's commit:
        // b never takes the transaction lock, but c does on the way.
        plan.add_dependencies(&[dep(0, 3, 1, 0), dep(1, 0, 2, 2)])
            .unwrap();
        let predicted = predict_backoffs(&traces, &mut plan);
        assert_eq!(predicted.len(), 1, "{predicted:?}");
        assert_eq!(predicted[0].waiting_for, "b:2");
        assert_eq!(
            predicted[0].resolution,
            Resolution::WaitBefore("a:3".into())
        );
        assert!(plan.deps.contains(&dep(0, 1, 1, 0)), "{:?}", plan.deps);
        // Once a has waited for c's commit before its traverse, c's lock is behind it.
        let mut plan = analyse(&traces, CTdb::LOCKING).unwrap();
        plan.add_dependencies(&[dep(0, 0, 2, 2), dep(0, 3, 1, 0), dep(1, 0, 2, 2)])
            .unwrap();
        assert!(predict_backoffs(&traces, &mut plan).is_empty());
    }

    #[test]
    fn a_wait_in_a_transaction_for_an_op_recorded_before_it_waits_before_it() {
        let options = LoadOptions::default();
        let a = "1 tdb_open 7 0x0 0x42\n5 tdb_transaction_start\n5 tdb_store 1:79 1:01 0x1 = 0\n\
                 5 tdb_exists 1:6b = 0\n6 tdb_transaction_commit\n6 tdb_close\n";
        let b = "1 tdb_open 7 0x0 0x42\n2 tdb_store 1:78 1:02 0x1 = 0\n3 tdb_close\n";
        let traces = vec![
            parse_trace("a", a.as_bytes(), &options).unwrap(),
            parse_trace("b", b.as_bytes(), &options).unwrap(),
        ];
        let mut plan = analyse(&traces, CTdb::LOCKING).unwrap();
        // a's exists (op 2, inside the transaction begun at op 0) waits for b's store,
        // which the recording finished (seqnum 2) before a's transaction began (seqnum 5).
        plan.add_dependencies(&[dep(0, 2, 1, 0)]).unwrap();
        let predicted = predict_backoffs(&traces, &mut plan);
        assert_eq!(predicted.len(), 1, "{predicted:?}");
        assert_eq!(
            predicted[0].resolution,
            Resolution::WaitBefore("a:2".into())
        );
        assert!(plan.deps.contains(&dep(0, 0, 1, 0)), "{:?}", plan.deps);
        // Recorded after the transaction began: not predicted (b takes no lock a holds
        // on its way, as far as the traces say).
        let b_late = "1 tdb_open 7 0x0 0x42\n9 tdb_store 1:78 1:02 0x1 = 0\n9 tdb_close\n";
        let traces = vec![
            parse_trace("a", a.as_bytes(), &options).unwrap(),
            parse_trace("b", b_late.as_bytes(), &options).unwrap(),
        ];
        let mut plan = analyse(&traces, CTdb::LOCKING).unwrap();
        plan.add_dependencies(&[dep(0, 2, 1, 0)]).unwrap();
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
