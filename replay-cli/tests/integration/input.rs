//! Bad input, as every command meets it: a malformed line is reported at its `file:line`,
//! an impossible trace is refused before anything runs, a missing file is named; all exit
//! with status 2.

use crate::util::{arg, assert_says, exits_with, write};

/// Writes `content` as `dir/name` and requires `command` on it to exit 2 at `name:line:`.
fn bad_at_line(command: &[&str], name: &str, content: &str, line: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = write(dir.path(), name, content);
    let mut args = command.to_vec();
    args.push(&trace);
    let out = exits_with(2, &args);
    assert_says(&out, &[&format!("{trace}:{line}:")]);
}

#[test]
fn a_malformed_line_is_reported_with_file_and_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("x.tdb");
    bad_at_line(
        &["replay", arg(&db)],
        "bad.trace",
        "1 tdb_open 0 0x0 0x42\n1 tdb_fetch 1:6b\n",
        2,
    );
}

#[test]
fn a_huge_length_field_is_an_error_not_an_allocation() {
    bad_at_line(
        &["analyse"],
        "huge.trace",
        "1 tdb_open 0 0x0 0x42\n1 tdb_fetch 4294967296:00 = NULL\n",
        2,
    );
}

#[test]
fn diff_of_a_malformed_trace_is_bad_input() {
    bad_at_line(
        &["diff"],
        "bad.trace",
        "1 tdb_open 7 0x0 0x42\n2 tdb_store 1:61 zz 0x1 = 0\n2 tdb_close\n",
        2,
    );
}

#[test]
fn shrink_of_a_malformed_trace_is_bad_input_at_its_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    bad_at_line(
        &["shrink", "--out", arg(&out)],
        "bad.trace",
        "1 tdb_open 7 0x0 0x42\n2 tdb_fetch 1:61 = 2:6\n2 tdb_close\n",
        2,
    );
}

#[test]
fn an_inconsistent_trace_is_refused_before_replay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = write(
        dir.path(),
        "inconsistent.trace",
        "1 tdb_open 0 0x0 0x42\n2 tdb_store 1:6b 1:01 0x1 = 0\n2 tdb_fetch 1:6b = 1:02\n",
    );
    let db = dir.path().join("x.tdb");
    let out = exits_with(2, &["replay", arg(&db), &trace]);
    assert_says(&out, &["cannot order"]);
}

#[test]
fn a_missing_file_says_which() {
    let out = exits_with(2, &["analyse", "/nonexistent/trace"]);
    assert_says(&out, &["/nonexistent/trace"]);
}
