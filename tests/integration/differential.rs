//! Differential runs of the project's own traces: `diff` (C tdb and tdb-pure in lock
//! step) must agree on sets recorded on either engine, a mixed concurrent replay must
//! match every result, and a deliberately broken engine must be caught at exactly the
//! `file:line` where its fault shows.

use std::path::Path;

use crate::util::faulty::{inject, Fault, Faulty};
use crate::util::{analyse, check_final_database, recorded_set};
use replay_engine::analysis::{Analysis, ReplayMode};
use replay_engine::backend::c::CTdb;
use replay_engine::backend::pure::PureTdb;
use replay_engine::backend::Backend;
use replay_engine::diff::{self, schedule::Schedule, DiffReport, DivergenceKind};
use replay_engine::replay::{self, ReplayOptions};
use replay_engine::trace::{parse_trace, LoadOptions, OpKind, Trace};

fn run_diff<A: Backend, B: Backend>(dir: &Path, traces: &[Trace], plan: &Analysis) -> DiffReport {
    diff::diff::<A, B>(
        traces,
        plan,
        &dir.join("diff-a.tdb"),
        &dir.join("diff-b.tdb"),
        None,
    )
    .unwrap_or_else(|error| panic!("{error}"))
}

pub fn diff_and_mixed_agree_on_sets_recorded_on_each_engine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sets = [
        recorded_set::<CTdb>(dir.path(), "on-c", 21),
        recorded_set::<PureTdb>(dir.path(), "on-pure", 22),
    ];
    for (traces, plan) in sets {
        let report = run_diff::<CTdb, PureTdb>(dir.path(), &traces, &plan);
        if let Some(divergence) = &report.divergence {
            panic!("{divergence}");
        }
        let ops: usize = traces.iter().map(|trace| trace.ops.len()).sum();
        assert_eq!(report.ops as usize, ops, "every op ran");
        assert!(report.records > 0, "the workload leaves records");
        assert!(report.identical_files, "the engines wrote different bytes");

        let db = dir.path().join("mixed.tdb");
        let mut plan = analyse(&traces);
        let options = ReplayOptions {
            runs: 2,
            ..ReplayOptions::default()
        };
        let replayed = replay::replay_mixed::<CTdb, PureTdb>(&db, &traces, &mut plan, &options)
            .unwrap_or_else(|error| panic!("mixed replay: {error}"));
        assert_eq!(replayed.runs.len(), 2);
        assert!(replayed.runs.iter().all(|run| run.ops as usize >= ops));
        check_final_database(&db);
        let mut pure: PureTdb = replay_engine::inspect::open_existing(&db).expect("opens");
        pure.check().expect("tdb-pure finds the mixed file sound");
    }
}

/// Where the `n`-th fetch the differential run makes is, by the same schedule it uses.
fn nth_fetch(traces: &[Trace], plan: &Analysis, n: u64) -> Option<String> {
    let mut schedule = Schedule::new(traces, plan);
    let mut seen = 0;
    while let Some((index, unit)) = schedule.pop() {
        for op in unit.start..=unit.end {
            let is_fetch = matches!(traces[index].ops[op as usize].kind, OpKind::Fetch { .. });
            if is_fetch && plan.groups[index].mode[op as usize] == ReplayMode::AsTraced {
                seen += 1;
                if seen == n {
                    return Some(traces[index].location(op));
                }
            }
        }
    }
    None
}

/// The `n`, from `from` on, of a fetch that recorded a record (a "not found" stays the
/// same however broken the engine).
fn nth_found_fetch(traces: &[Trace], plan: &Analysis, from: u64) -> Option<u64> {
    let mut schedule = Schedule::new(traces, plan);
    let mut seen = 0;
    while let Some((index, unit)) = schedule.pop() {
        for op in unit.start..=unit.end {
            if let OpKind::Fetch { result, .. } = traces[index].ops[op as usize].kind {
                if plan.groups[index].mode[op as usize] == ReplayMode::AsTraced {
                    seen += 1;
                    let outside = plan.groups[index].outer_traverse(op).is_none();
                    if seen >= from && result.is_some() && outside {
                        return Some(seen);
                    }
                }
            }
        }
    }
    None
}

pub fn diff_reports_a_changed_result_at_its_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (traces, plan) = recorded_set::<CTdb>(dir.path(), "faulty", 31);
    // Fetches from the start, a third and two thirds into the run (the set is recorded
    // afresh each time, so its size varies).
    let fetches = (1..)
        .take_while(|&n| nth_fetch(&traces, &plan, n).is_some())
        .count() as u64;
    for from in [1, fetches / 3, fetches * 2 / 3] {
        let n = nth_found_fetch(&traces, &plan, from)
            .or_else(|| nth_found_fetch(&traces, &plan, 1))
            .expect("some fetch found a record");
        let expected = nth_fetch(&traces, &plan, n).expect("the fetch exists");
        inject(Fault::NthFetchResult(n));
        let report = run_diff::<CTdb, Faulty<PureTdb>>(dir.path(), &traces, &plan);
        inject(Fault::None);
        let divergence = report.divergence.expect("the broken engine is caught");
        assert_eq!(divergence.kind, DivergenceKind::Result);
        assert_eq!(divergence.location, expected, "{divergence}");
        assert_eq!(divergence.op, "tdb_fetch");
        assert_ne!(divergence.first.1, divergence.second.1);
        assert!(divergence.key.is_some());
    }
    // And the same engine unbroken agrees.
    let report = run_diff::<CTdb, Faulty<PureTdb>>(dir.path(), &traces, &plan);
    assert!(report.divergence.is_none());
}

pub fn diff_reports_a_changed_stored_byte_where_it_is_read() {
    let text = "\
1 tdb_open 7 0x0 0x42
2 tdb_store 1:61 3:616263 0x1 = 0
3 tdb_store 1:62 2:7878 0x1 = 0
3 tdb_fetch 1:61 = 3:616263
3 tdb_exists 1:62 = 1
3 tdb_fetch 1:62 = 2:7878
3 tdb_delete 1:62 = 0
3 tdb_close
";
    let trace = parse_trace("bytes.trace", text.as_bytes(), &LoadOptions::default())
        .unwrap_or_else(|error| panic!("{error}"));
    let traces = vec![trace];
    let plan = analyse(&traces);
    let dir = tempfile::tempdir().expect("temp dir");
    inject(Fault::NthStoredByte(2));
    let report = run_diff::<CTdb, Faulty<PureTdb>>(dir.path(), &traces, &plan);
    inject(Fault::None);
    let divergence = report.divergence.expect("the stored byte is caught");
    assert_eq!(divergence.location, "bytes.trace:6", "{divergence}");
    assert_eq!(divergence.first, ("c", "2:7878".to_string()));
    assert_eq!(divergence.second, ("pure", "2:2278".to_string()));
    assert_eq!(
        divergence.history,
        ["bytes.trace:3: tdb_store", "bytes.trace:5: tdb_exists"]
    );
    let shown = divergence.to_string();
    assert!(
        shown.starts_with("bytes.trace:6: tdb_fetch: c gave 2:7878, pure gave 2:2278"),
        "{shown}"
    );

    // Stored last, it shows in the final records.
    let text = text.replace("3 tdb_delete 1:62 = 0\n", "");
    let text = text.replace("3 tdb_fetch 1:62 = 2:7878\n", "");
    let trace = parse_trace("last.trace", text.as_bytes(), &LoadOptions::default())
        .unwrap_or_else(|error| panic!("{error}"));
    let traces = vec![trace];
    let plan = analyse(&traces);
    inject(Fault::NthStoredByte(2));
    let report = run_diff::<CTdb, Faulty<PureTdb>>(dir.path(), &traces, &plan);
    inject(Fault::None);
    let divergence = report.divergence.expect("the stored byte is caught");
    assert_eq!(
        divergence.kind,
        DivergenceKind::FinalRecords,
        "{divergence}"
    );
    assert_eq!(divergence.key.as_deref(), Some(&b"b"[..]));
    assert_eq!(divergence.history.len(), 2);
}
