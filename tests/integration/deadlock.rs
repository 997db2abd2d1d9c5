//! A deadlock the analysis cannot see, made certain by two extra dependencies: trace a
//! waits inside a write traverse (which holds the transaction lock) for trace b's commit,
//! while b cannot start its transaction until a's traverse ends. The replay must notice
//! within its deadlock window, back off (waiting earlier would be circular, so a's
//! traverse stops before that record), run again from a fresh database and succeed.

use crate::util::{analyse, check_final_database, record_analysable};
use replay_engine::analysis::{Analysis, Dep};
use replay_engine::backend::c::CTdb;
use replay_engine::generate::GenerateOptions;
use replay_engine::replay::{self, ReplayOptions, Resolution};
use replay_engine::trace::{parse_trace, LoadOptions, Trace};

const A: &str = "\
1 tdb_open 7 0x0 0x42
1 tdb_store 1:79 1:01 0x1 = 0
1 tdb_traverse_start
1 traverse 1:79 = 1:01
1 tdb_fetch 1:6b = NULL
1 tdb_traverse_end
1 tdb_close
";

const B: &str = "\
1 tdb_open 7 0x0 0x42
1 tdb_transaction_start
2 tdb_store 1:78 1:02 0x1 = 0
2 tdb_transaction_commit
2 tdb_close
";

/// The two traces and a plan with the two extra dependencies that make the deadlock
/// certain: b's transaction starts only once a is inside its traverse (a's op 2, the
/// visited record); a's fetch (op 3) waits for b's commit (b's op 2).
fn forced_deadlock() -> (Vec<Trace>, Analysis) {
    let options = LoadOptions::default();
    let traces = vec![
        parse_trace("a", A.as_bytes(), &options).expect("parses"),
        parse_trace("b", B.as_bytes(), &options).expect("parses"),
    ];
    let mut plan = analyse(&traces);
    assert!(plan.deps.is_empty(), "the traces share no key");
    let dep = |file, op, target_file, target| Dep {
        file,
        op,
        target_file,
        target,
    };
    plan.add_dependencies(&[dep(1, 0, 0, 2), dep(0, 3, 1, 2)])
        .expect("no cycle on paper");
    (traces, plan)
}

pub fn a_lock_deadlock_is_detected_and_backed_off() {
    let (traces, mut plan) = forced_deadlock();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("deadlock.tdb");
    let options = ReplayOptions {
        runs: 2,
        // The prediction would resolve this inversion before the first run (see
        // `a_predicted_inversion_needs_no_rerun`); here the run-time back-off is tested.
        predict: false,
        ..ReplayOptions::default()
    };
    let report = replay::replay::<CTdb>(&db, &traces, &mut plan, &options)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        report.runs.len(),
        2,
        "both timed runs completed after the back-off"
    );
    assert_eq!(report.backoffs.len(), 1, "{:?}", report.backoffs);
    let backoff = &report.backoffs[0];
    assert_eq!(backoff.waiting_at, "a:5");
    assert_eq!(backoff.waiting_for, "b:4");
    assert_eq!(
        backoff.resolution,
        Resolution::StopTraverseBefore("a:4".into())
    );
    check_final_database(&db);
}

/// The same inversion predicted before the first run: the traverse stops before the
/// record at once (waiting earlier would be circular), so no run deadlocks and nothing is
/// run again, and every result still matches.
pub fn a_predicted_inversion_needs_no_rerun() {
    let (traces, mut plan) = forced_deadlock();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("predicted.tdb");
    let options = ReplayOptions {
        runs: 2,
        ..ReplayOptions::default()
    };
    let report = replay::replay::<CTdb>(&db, &traces, &mut plan, &options)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.runs.len(), 2);
    assert_eq!(report.reruns, 0, "{:?}", report.backoffs);
    assert!(report.backoffs.is_empty(), "{:?}", report.backoffs);
    assert_eq!(report.predicted_backoffs.len(), 1);
    let predicted = &report.predicted_backoffs[0];
    assert_eq!(predicted.waiting_at, "a:5");
    assert_eq!(predicted.waiting_for, "b:4");
    assert_eq!(
        predicted.resolution,
        Resolution::StopTraverseBefore("a:4".into())
    );
    check_final_database(&db);
}

/// With deadlock detection pushed out of reach, the stall limit still ends the run, and
/// the report says where each trace was.
pub fn a_stalled_run_is_aborted_with_positions() {
    let (traces, mut plan) = forced_deadlock();
    let dir = tempfile::tempdir().expect("temp dir");
    let options = ReplayOptions {
        deadlock_after: std::time::Duration::from_secs(600),
        stall_after: std::time::Duration::from_millis(300),
        predict: false,
        ..ReplayOptions::default()
    };
    match replay::replay::<CTdb>(&dir.path().join("stall.tdb"), &traces, &mut plan, &options) {
        Err(replay::ReplayError::Stalled(message)) => {
            assert!(
                message.contains("a:5 waiting for another trace"),
                "{message}"
            );
            assert!(message.contains("b:2 inside the engine"), "{message}");
        }
        other => panic!("expected a stall, got {other:?}"),
    }
}

/// A wide self-recorded set (16 processes, as `generate --processes 16 --ops 5000
/// --seed 2`, which needed a rerun before inversions were predicted through a third
/// trace and circular ones cut the traverse short): the prediction keeps the run free of
/// deadlocks but for at most one rerun, and every result matches. Each recording races
/// differently, and about one in four still meets an inversion the prediction misses
/// (through a longer chain of waits), so one rerun is allowed; more is a regression.
pub fn a_wide_generated_set_replays_with_at_most_one_rerun() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = GenerateOptions {
        processes: 16,
        ops: 5000,
        seed: 2,
        ..GenerateOptions::default()
    };
    let (traces, mut plan) = record_analysable::<CTdb>(dir.path(), "wide", &options);
    assert_eq!(traces.len(), 16);
    let db = dir.path().join("wide-replay.tdb");
    let options = ReplayOptions {
        runs: 1,
        ..ReplayOptions::default()
    };
    let report = replay::replay::<CTdb>(&db, &traces, &mut plan, &options)
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        !report.predicted_backoffs.is_empty(),
        "a wide set has inversions"
    );
    assert!(
        report.reruns <= 1,
        "{} reruns; learned at run time: {:?}",
        report.reruns,
        report.backoffs
    );
    assert_eq!(report.runs.len(), 1);
    check_final_database(&db);
}
