//! `torture`: a mixed run checked by both engines and recorded, what it refuses to
//! touch, and a run with kills.

use crate::util::{
    arg, assert_says, exits_with, files_starting_with, reports_known_analysis_gap, succeeds,
    tdb_replay, text, write,
};

/// A mixed torture run of three processes, 300 ops each (options follow).
const MIXED_TORTURE: [&str; 7] = [
    "torture",
    "--backend",
    "mixed",
    "--procs",
    "3",
    "--ops",
    "300",
];

/// What every torture run that passed says about the final database.
const BOTH_CHECKS_PASSED: [&str; 2] = ["c     check passed", "pure  check passed"];

#[test]
fn torture_mixed_checks_the_database_and_records_traces_that_replay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("t.tdb");
    let rec = dir.path().join("rec");
    let options = [
        "--transactions",
        "--seed",
        "5",
        "--record",
        arg(&rec),
        arg(&db),
    ];
    let out = succeeds(&[&MIXED_TORTURE[..], &options].concat());
    assert_says(&out, &["seed 5"]);
    assert_says(&out, &BOTH_CHECKS_PASSED);
    let traces = files_starting_with(&rec, "t.tdb.trace.");
    assert_eq!(traces.len(), 3, "one trace per process: {traces:?}");
    let first = std::fs::read_to_string(&traces[0]).expect("trace");
    let open_line = first.lines().next().unwrap_or_default();
    assert!(open_line.ends_with(" tdb_open 7 0x2c0 0x42"), "{first}");
    assert!(first.ends_with(" tdb_close\n"), "{first}");

    let replayed = dir.path().join("r.tdb");
    let mut args = vec!["replay", "--backend", "pure", arg(&replayed)];
    args.extend(traces.iter().map(String::as_str));
    let output = tdb_replay(&args);
    let out = text(&output);
    // The one known analysis gap is reported as bad input.
    if !reports_known_analysis_gap(&out) {
        assert!(output.status.success(), "{out}");
        assert_says(&out, &["all results matched"]);
    }

    // Again onto its own files: no flag needed, and the old traces are replaced.
    succeeds(&[
        "torture",
        "--procs",
        "2",
        "--ops",
        "50",
        "--record",
        arg(&rec),
        arg(&db),
    ]);
    let count = files_starting_with(&rec, "t.tdb.trace.").len();
    assert_eq!(count, 2, "the earlier recording's traces were replaced");
}

#[test]
fn torture_refuses_a_users_file_and_a_foreign_trace() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = write(dir.path(), "precious.tdb", "my data");
    assert_says(
        &exits_with(2, &["torture", "--ops", "10", &db]),
        &["--overwrite"],
    );
    assert_eq!(std::fs::read_to_string(&db).expect("kept"), "my data");

    // A trace of the same database that the tool did not write is not mixed in or
    // replaced.
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).expect("mkdir");
    let foreign = write(&rec, "new.tdb.trace.77", "someone's trace");
    let fresh = dir.path().join("new.tdb");
    exits_with(
        2,
        &["torture", "--ops", "10", "--record", arg(&rec), arg(&fresh)],
    );
    assert_eq!(
        std::fs::read_to_string(&foreign).expect("kept"),
        "someone's trace"
    );
}

#[test]
fn torture_with_kills_restarts_processes_and_the_database_survives() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("k.tdb");
    let options = ["--kill", "10", "--seed", "9", arg(&db)];
    let out = succeeds(&[&MIXED_TORTURE[..], &options].concat());
    assert_says(
        &out,
        &["every write is in a transaction", "killed and restarted"],
    );
    assert_says(&out, &BOTH_CHECKS_PASSED);
}
