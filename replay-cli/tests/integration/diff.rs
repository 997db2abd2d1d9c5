//! `diff` and `shrink` as a user runs them: agreement on the fixture, what is left
//! behind, and a failing set shrunk to its one failing op.

use std::path::Path;

use crate::util::{
    arg, assert_says, exits_with, fixture, on_fixture, succeeds, tdb_replay_with_env, text, write,
};

#[test]
fn diff_agrees_on_the_handwritten_set_and_cleans_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let work = dir.path().join("work");
    let out = succeeds(&on_fixture(&["diff", "--concurrent", "--dir", arg(&work)]));
    assert_says(
        &out,
        &[
            "every result the same",
            "byte-identical files",
            "Concurrent on mixed",
            "The engines agree.",
        ],
    );
    assert!(work.join("c.tdb").exists() && work.join("pure.tdb").exists());

    // Without --dir, nothing is left behind when the engines agree.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("tmp dir");
    let output = tdb_replay_with_env(
        &["diff", "-q", &fixture("a.trace")],
        &[("TMPDIR", tmp.as_os_str())],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "agree\n");
    assert_eq!(std::fs::read_dir(&tmp).expect("tmp dir").count(), 0);
}

#[test]
fn shrink_of_a_set_that_does_not_fail_is_bad_input_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("out");
    let out = exits_with(2, &on_fixture(&["shrink", "--out", arg(&out_dir)]));
    assert_says(
        &out,
        &["the set does not fail under diff; nothing to shrink"],
    );
    let written = std::fs::read_dir(&out_dir).map_or(0, |entries| entries.count());
    assert_eq!(written, 0, "nothing is written");
}

/// The handwritten second trace with an unlock of an all-record lock it never took: the
/// replay fails there (tdb refuses the unlock), `diff` does not (both engines refuse it).
fn failing_b(dir: &Path) -> String {
    let b = std::fs::read_to_string(fixture("b.trace")).expect("fixture");
    let b = b.replace(
        "5 tdb_traverse_start\n",
        "5 tdb_fetch 1:71 = NULL\n5 tdb_unlockall\n5 tdb_traverse_start\n",
    );
    write(dir, "b.trace", &b)
}

#[test]
fn shrink_refuses_to_overwrite_a_file_it_did_not_create() {
    let dir = tempfile::tempdir().expect("temp dir");
    let b = failing_b(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("out dir");
    let notes = write(&out, "b.trace", "my notes\n");
    let a = fixture("a.trace");
    let mut args = vec!["shrink", "--backend", "c", "--out", arg(&out), &a, &b];
    assert_says(&exits_with(2, &args), &["--overwrite"]);
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");

    // With --overwrite the file is handed over and replaced by the shrunk trace.
    args.insert(1, "--overwrite");
    succeeds(&args);
    assert!(std::fs::read_to_string(&notes)
        .unwrap()
        .contains("tdb_unlockall"));
}

#[test]
fn shrink_writes_the_minimal_failing_set_and_reruns_over_its_own_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let b = failing_b(dir.path());
    let out = dir.path().join("out");
    let a = fixture("a.trace");
    let args = ["shrink", "--backend", "c", "--out", arg(&out), &a, &b];
    for _ in 0..2 {
        let printed = succeeds(&args);
        assert_says(
            &printed,
            &[
                "kept 1 of 27 ops in 1 traces (of 2)",
                "b.trace:9: tdb_unlockall failed",
                "out/b.trace:2: tdb_unlockall failed",
            ],
        );
        assert_eq!(
            std::fs::read_to_string(out.join("b.trace")).unwrap(),
            "0 tdb_open 7 0x1 0x42\n5 tdb_unlockall\n6 tdb_close\n"
        );
        assert!(!out.join("a.trace").exists(), "a.trace is not needed");
    }
    // Under diff the same set does not fail: both engines refuse the unlock.
    exits_with(2, &["shrink", "--out", arg(&out), &a, &b]);
}
