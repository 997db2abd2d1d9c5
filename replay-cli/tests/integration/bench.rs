//! `bench` and `microbench`: every figure printed, in order, the ratios the figures'
//! own, and the scratch files cleaned up or refused.

use crate::util::{
    arg, assert_says, exits_with, figure, fixture, generated_set, on_fixture,
    reports_known_analysis_gap, succeeds, tdb_replay, text, write,
};

#[test]
fn bench_measures_both_backends_and_prints_their_ratio() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("bench.tdb");
    let bench = |traces: &[String]| {
        let mut args = vec!["bench", "-n", "2", "--tdbfile", arg(&db)];
        args.extend(traces.iter().map(String::as_str));
        tdb_replay(&args)
    };
    let mut output = None;
    let traces = generated_set(dir.path(), |traces| {
        let out = bench(traces);
        let gap = out.status.code() == Some(2) && reports_known_analysis_gap(&text(&out));
        output = Some(out);
        !gap
    });
    let output = output.expect("a bench ran");
    assert_eq!(traces.len(), 3);
    assert!(output.status.success(), "{}", text(&output));
    let out = text(&output);
    // Every figure, in this order: c, pure, their ratio, mixed, its ratio, diff, its ratio.
    let labels = [
        "replay (c)",
        "replay (pure)",
        "replay pure / c",
        "replay (mixed)",
        "replay mixed / c",
        "diff ",
        "diff / replay c",
    ];
    let mut at = 0;
    for label in labels {
        let found = out[at..]
            .find(&format!("\n{label}"))
            .unwrap_or_else(|| panic!("missing {label:?} (in order) in:\n{out}"));
        at += found + 1;
        assert!(figure(&out[at..], label) > 0.0, "{label} in:\n{out}");
    }
    assert_says(&out, &["of 2; ", "the engines agree"]);
    // The ratios are the figures' own: diff / replay c from the best times.
    // The times are printed to 0.1 ms, so the ratio of the printed times is only that
    // close to the printed ratio.
    let (diff_ms, c_ms) = (figure(&out, "diff  "), figure(&out, "replay (c)"));
    let ratio = diff_ms / c_ms;
    let printed = figure(&out, "diff / replay c");
    let rounding = ratio * (0.05 / diff_ms + 0.05 / c_ms);
    assert!(
        (ratio - printed).abs() <= rounding + 0.002,
        "{ratio} vs {printed}\n{out}"
    );
    // The replay database is kept; the diff databases beside it are removed.
    assert!(db.exists());
    for engine in ["c", "pure"] {
        let diff_db = dir.path().join(format!("bench.diff-{engine}.tdb"));
        assert!(!diff_db.exists(), "{} is left behind", diff_db.display());
    }

    // A single trace: no mixed replay (it would be C alone), but diff still runs.
    let output = bench(&[fixture("a.trace")]);
    assert!(output.status.success(), "{}", text(&output));
    let out = text(&output);
    assert_says(&out, &["replay (mixed)    skipped"]);
    assert!(!out.contains("replay mixed / c"), "{out}");
    assert!(figure(&out, "diff / replay c") > 0.0, "{out}");

    // A file of a diff database's name that tdb-replay did not create is left alone.
    let notes = write(dir.path(), "mine.diff-pure.tdb", "my notes\n");
    let mine = dir.path().join("mine.tdb");
    let out = exits_with(
        2,
        &on_fixture(&["bench", "-n", "1", "--tdbfile", arg(&mine)]),
    );
    assert_says(&out, &["mine.diff-pure.tdb"]);
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    assert!(!mine.exists(), "refused before anything ran");
}

#[test]
fn microbench_times_every_operation_on_both_backends_and_both_lockings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = succeeds(&[
        "microbench",
        "--records",
        "10,50",
        "--ops",
        "200",
        "-n",
        "1",
        "--dir",
        arg(dir.path()),
    ]);
    let rows: Vec<&str> = out
        .lines()
        .filter(|line| line.trim_start().starts_with(char::is_numeric))
        .collect();
    assert_eq!(
        rows.len(),
        16 + 10,
        "8 operations at 2 sizes, and 5 of them again under mutexes:\n{out}"
    );
    assert_says(&out, &["robust-mutex locking"]);
    for row in rows {
        let ratio: f64 = row
            .split_whitespace()
            .last()
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("no ratio in {row:?}"));
        assert!(ratio > 0.0, "{row}");
    }
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
        "scratch databases are removed"
    );
}
