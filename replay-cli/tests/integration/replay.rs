//! `replay`, `analyse` and `example` on the handwritten fixture: what they print, the
//! scratch database they keep, and the files they refuse to touch.

use crate::util::{
    arg, assert_says, database_printed, exits_with, files_starting_with, fixture, on_fixture,
    succeeds, tdb_replay, text, write,
};

#[test]
fn replays_the_handwritten_set_and_keeps_the_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("out.tdb");
    let out = succeeds(&on_fixture(&["replay", "-n", "2", arg(&db)]));
    assert_says(
        &out,
        &[
            "Run 1/2",
            "Run 2/2",
            "all results matched",
            "3 dependencies",
        ],
    );
    assert!(db.exists(), "the scratch database is kept");
}

#[test]
fn quiet_prints_one_figure_per_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("q.tdb");
    let output = tdb_replay(&on_fixture(&["replay", "--quiet", "-n", "3", arg(&db)]));
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for line in lines {
        let number = line.strip_suffix(" usec").expect("`<n> usec`");
        number.parse::<u64>().expect("a number of microseconds");
    }
}

#[test]
fn analyse_lists_dependencies_and_preexisting_records() {
    let out = succeeds(&on_fixture(&["analyse", "--dependencies"]));
    assert_says(&out, &["a.trace:3 waits for", "b.trace:3 waits for"]);
}

#[test]
fn the_example_records_and_replays() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = succeeds(&["example", "--dir", arg(dir.path())]);
    assert_says(
        &out,
        &[
            "c     check passed",
            "pure  check passed",
            "replay --backend c ",
            "replay --backend pure ",
            "replay --backend mixed ",
            "sound to both engines",
            "The engines agree.",
        ],
    );
    assert_eq!(out.matches("all results matched").count(), 3, "{out}");
}

#[test]
fn pure_backend_replays_the_handwritten_set() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("p.tdb");
    let out = succeeds(&on_fixture(&[
        "replay",
        "--backend",
        "pure",
        "-n",
        "2",
        arg(&db),
    ]));
    assert_says(&out, &["all results matched"]);
    // C checks what tdb-pure wrote.
    succeeds(&["check", "--backend", "c", arg(&db)]);
}

#[test]
fn mixed_replay_checks_the_file_with_both_engines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("mixed.tdb");
    let out = succeeds(&on_fixture(&["replay", "--backend", "mixed", arg(&db)]));
    assert_says(&out, &["all results matched", "sound to both engines"]);
}

#[test]
fn a_file_the_tool_did_not_create_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let notes = write(dir.path(), "notes.txt", "my notes\n");
    for command in [vec!["replay"], vec!["bench", "-n", "1", "--tdbfile"]] {
        let mut args: Vec<&str> = command.clone();
        args.push(&notes);
        assert_says(&exits_with(2, &on_fixture(&args)), &["--overwrite"]);
        assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    }
    // Its own scratch file it replaces freely, run after run.
    let own = dir.path().join("own.tdb");
    for _ in 0..2 {
        succeeds(&on_fixture(&["replay", "-q", arg(&own)]));
    }
    // And a user's file only with --overwrite.
    succeeds(&on_fixture(&["replay", "-q", "--overwrite", &notes]));
    assert_ne!(std::fs::read(&notes).unwrap(), b"my notes\n");
}

#[test]
fn replay_records_what_it_did_in_either_layout() {
    let dir = tempfile::tempdir().expect("temp dir");
    for layout in ["ccan", "samba"] {
        let rec = dir.path().join(layout);
        let db = dir.path().join("first.tdb");
        let out = succeeds(&on_fixture(&[
            "replay",
            "-n",
            "2",
            "--record",
            arg(&rec),
            "--layout",
            layout,
            arg(&db),
        ]));
        assert_says(&out, &["Recorded the first run as 2 traces"]);
        // Every file but the tool's hidden markers.
        let traces = files_starting_with(&rec, "first.tdb.trace.");
        assert_eq!(traces.len(), 2, "{traces:?}");
        let again = dir.path().join("again.tdb");
        let mut args = vec!["replay", "--flavour", layout, arg(&again)];
        args.extend(traces.iter().map(String::as_str));
        assert_says(&succeeds(&args), &["all results matched"]);
    }
    // A layout needs somewhere to record.
    exits_with(
        2,
        &["replay", "--layout", "samba", "x.tdb", &fixture("a.trace")],
    );
}

#[test]
fn without_a_database_path_replay_and_torture_pick_a_fresh_one() {
    let out = succeeds(&on_fixture(&["replay"]));
    let db = database_printed(&out);
    assert!(db.ends_with("replay.tdb"), "{out}");
    assert!(db.is_file(), "{out}");
    assert_says(&out, &["all results matched"]);
    let dir = db.parent().expect("its own directory").to_path_buf();

    let out = succeeds(&["torture", "--ops", "40", "--procs", "2"]);
    let tortured = database_printed(&out);
    assert!(tortured.is_file(), "{out}");
    assert_ne!(
        tortured.parent(),
        Some(dir.as_path()),
        "a new directory each time"
    );

    // A missing trace is bad input, and no directory is made for it.
    let out = exits_with(2, &["replay", "/nonexistent/x.trace"]);
    assert!(!out.contains("Database: "), "{out}");
    for made in [dir.as_path(), tortured.parent().expect("dir")] {
        std::fs::remove_dir_all(made).expect("clean up");
    }
}
