//! The `tdb-replay` binary as a user meets it: exit statuses, messages, output formats.

use std::path::Path;
use std::process::{Command, Output};

fn tdb_replay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tdb-replay"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/handwritten")
        .join(name)
        .display()
        .to_string()
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write trace");
    path.display().to_string()
}

#[test]
fn replays_the_handwritten_set_and_keeps_the_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("out.tdb");
    let db = db.to_str().expect("utf-8 path");
    let output = tdb_replay(&[
        "replay",
        "-n",
        "2",
        db,
        &fixture("a.trace"),
        &fixture("b.trace"),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let out = text(&output);
    assert!(out.contains("Run 1/2") && out.contains("Run 2/2"), "{out}");
    assert!(out.contains("all results matched"), "{out}");
    assert!(out.contains("3 dependencies"), "{out}");
    assert!(Path::new(db).exists(), "the scratch database is kept");
}

#[test]
fn quiet_prints_one_figure_per_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("q.tdb");
    let output = tdb_replay(&[
        "replay",
        "--quiet",
        "-n",
        "3",
        db.to_str().expect("utf-8"),
        &fixture("a.trace"),
        &fixture("b.trace"),
    ]);
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
fn a_malformed_line_is_reported_with_file_and_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = write(
        dir.path(),
        "bad.trace",
        "1 tdb_open 0 0x0 0x42\n1 tdb_fetch 1:6b\n",
    );
    let db = dir.path().join("x.tdb");
    let output = tdb_replay(&["replay", db.to_str().expect("utf-8"), &trace]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("{trace}:2:")), "{stderr}");
}

#[test]
fn a_huge_length_field_is_an_error_not_an_allocation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = write(
        dir.path(),
        "huge.trace",
        "1 tdb_open 0 0x0 0x42\n1 tdb_fetch 4294967296:00 = NULL\n",
    );
    let output = tdb_replay(&["analyse", &trace]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("{trace}:2:")),
        "{}",
        text(&output)
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
    let output = tdb_replay(&["replay", db.to_str().expect("utf-8"), &trace]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("cannot order"), "{}", text(&output));
}

#[test]
fn a_missing_file_says_which() {
    let output = tdb_replay(&["analyse", "/nonexistent/trace"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("/nonexistent/trace"),
        "{}",
        text(&output)
    );
}

#[test]
fn analyse_lists_dependencies_and_preexisting_records() {
    let output = tdb_replay(&[
        "analyse",
        "--dependencies",
        &fixture("a.trace"),
        &fixture("b.trace"),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let out = text(&output);
    assert!(out.contains("a.trace:3 waits for"), "{out}");
    assert!(out.contains("b.trace:3 waits for"), "{out}");
}

#[test]
fn the_example_records_and_replays() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = tdb_replay(&["example", "--dir", dir.path().to_str().expect("utf-8")]);
    assert!(output.status.success(), "{}", text(&output));
    let out = text(&output);
    assert!(out.contains("c     check passed"), "{out}");
    assert!(out.contains("pure  check passed"), "{out}");
    for engine in ["c", "pure", "mixed"] {
        assert!(
            out.contains(&format!("replay --backend {engine} ")),
            "{out}"
        );
    }
    assert_eq!(out.matches("all results matched").count(), 3, "{out}");
    assert!(out.contains("sound to both engines"), "{out}");
    assert!(out.contains("The engines agree."), "{out}");
}

#[test]
fn pure_backend_replays_the_handwritten_set() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("p.tdb");
    let db = db.to_str().expect("utf-8");
    let output = tdb_replay(&[
        "replay",
        "--backend",
        "pure",
        "-n",
        "2",
        db,
        &fixture("a.trace"),
        &fixture("b.trace"),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("all results matched"),
        "{}",
        text(&output)
    );
    let output = tdb_replay(&["check", "--backend", "c", db]);
    assert!(
        output.status.success(),
        "C checks what tdb-pure wrote: {}",
        text(&output)
    );
}

/// Samba's test files, if this machine has them (`TDB_PURE_TEST_FILES`, or `shared/`
/// beside the checkout).
fn tdb_files() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("TDB_PURE_TEST_FILES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/tdb-files"));
    if dir.join("sample_tdb.tdb").exists() {
        Some(dir)
    } else {
        eprintln!("Samba's test tdb files not found: skipped");
        None
    }
}

#[test]
fn dump_prints_exactly_what_tdbdump_prints_on_both_backends() {
    let Some(dir) = tdb_files() else { return };
    let expected = std::fs::read_to_string(dir.join("sample_tdb.txt")).expect("expected dump");
    let sample = dir.join("sample_tdb.tdb");
    for backend in ["c", "pure"] {
        let output = tdb_replay(&[
            "dump",
            "--backend",
            backend,
            sample.to_str().expect("utf-8"),
        ]);
        assert!(output.status.success(), "{backend}: {}", text(&output));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            expected,
            "{backend}"
        );
    }
}

#[test]
fn check_passes_sound_files_and_explains_bad_ones() {
    let Some(dir) = tdb_files() else { return };
    let scratch = tempfile::tempdir().expect("temp dir");
    let corrupt = scratch.path().join("corrupt.tdb");
    let mut bytes = std::fs::read(dir.join("sample_tdb.tdb")).expect("sample");
    bytes[700..704].copy_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
    std::fs::write(&corrupt, bytes).expect("write copy");
    for backend in ["c", "pure"] {
        let sample = dir.join("sample_tdb.tdb");
        let output = tdb_replay(&[
            "check",
            "--backend",
            backend,
            sample.to_str().expect("utf-8"),
        ]);
        assert!(output.status.success(), "{backend}: {}", text(&output));
        assert!(text(&output).contains("3 records"), "{}", text(&output));

        let output = tdb_replay(&[
            "check",
            "--backend",
            backend,
            corrupt.to_str().expect("utf-8"),
        ]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{backend}: {}",
            text(&output)
        );
        assert!(
            text(&output).contains("corrupt"),
            "{backend}: {}",
            text(&output)
        );

        let rwlock = dir.join("rwlock-le.tdb");
        let output = tdb_replay(&[
            "check",
            "--backend",
            backend,
            rwlock.to_str().expect("utf-8"),
        ]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{backend}: {}",
            text(&output)
        );
        assert!(
            text(&output).contains("no longer supported"),
            "{backend}: {}",
            text(&output)
        );
    }
}

/// Record a concurrent set with `tdb-replay generate` (three processes); returns the
/// trace paths and the seed used. Known gap: about one heavily stalled recording in a
/// hundred ends in a dependency cycle, so `usable` may ask for another seed (at most two).
fn generated_set(dir: &Path, mut usable: impl FnMut(&[String]) -> bool) -> Vec<String> {
    for seed in 1..=3u32 {
        let traces = dir.join(format!("set{seed}"));
        let seed = seed.to_string();
        let output = tdb_replay(&[
            "generate",
            "--processes",
            "3",
            "--ops",
            "150",
            "--seed",
            &seed,
            "--dir",
            traces.to_str().expect("utf-8 path"),
        ]);
        assert!(output.status.success(), "{}", text(&output));
        let paths: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(paths.len(), 3, "{}", text(&output));
        if usable(&paths) {
            return paths;
        }
    }
    panic!("three recordings in a row ended in a dependency cycle");
}

/// The first figure after `label` at the start of a line of `out`.
fn figure(out: &str, label: &str) -> f64 {
    let line = out
        .lines()
        .find(|line| line.starts_with(label))
        .unwrap_or_else(|| panic!("missing {label:?} in:\n{out}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|figure| figure.parse().ok())
        .unwrap_or_else(|| panic!("no figure in {line:?}"))
}

#[test]
fn bench_measures_both_backends_and_prints_their_ratio() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("bench.tdb");
    let bench = |traces: &[String]| {
        let mut args = vec!["bench", "-n", "2", "--tdbfile", db.to_str().expect("utf-8")];
        args.extend(traces.iter().map(String::as_str));
        tdb_replay(&args)
    };
    let mut output = None;
    let traces = generated_set(dir.path(), |traces| {
        let out = bench(traces);
        let cycle = out.status.code() == Some(2) && text(&out).contains("circle");
        output = Some(out);
        !cycle
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
    assert!(out.contains("of 2; "), "two runs of each: {out}");
    assert!(out.contains("the engines agree"), "{out}");
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
    assert!(out.contains("replay (mixed)    skipped"), "{out}");
    assert!(!out.contains("replay mixed / c"), "{out}");
    assert!(figure(&out, "diff / replay c") > 0.0, "{out}");

    // A file of a diff database's name that tdb-replay did not create is left alone.
    let notes = write(dir.path(), "mine.diff-pure.tdb", "my notes\n");
    let mine = dir.path().join("mine.tdb");
    let output = tdb_replay(&[
        "bench",
        "-n",
        "1",
        "--tdbfile",
        mine.to_str().expect("utf-8 path"),
        &fixture("a.trace"),
        &fixture("b.trace"),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("mine.diff-pure.tdb"),
        "{}",
        text(&output)
    );
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    assert!(!mine.exists(), "refused before anything ran");
}

#[test]
fn microbench_times_every_operation_on_both_backends_and_both_lockings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = tdb_replay(&[
        "microbench",
        "--records",
        "10,50",
        "--ops",
        "200",
        "-n",
        "1",
        "--dir",
        dir.path().to_str().expect("utf-8 path"),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let out = text(&output);
    let rows: Vec<&str> = out
        .lines()
        .filter(|line| line.trim_start().starts_with(char::is_numeric))
        .collect();
    assert_eq!(
        rows.len(),
        16 + 10,
        "8 operations at 2 sizes, and 5 of them again under mutexes:\n{out}"
    );
    assert!(out.contains("robust-mutex locking"), "{out}");
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

#[test]
fn mixed_replay_checks_the_file_with_both_engines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("mixed.tdb");
    let output = tdb_replay(&[
        "replay",
        "--backend",
        "mixed",
        db.to_str().expect("utf-8 path"),
        &fixture("a.trace"),
        &fixture("b.trace"),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let out = text(&output);
    assert!(out.contains("all results matched"), "{out}");
    assert!(out.contains("sound to both engines"), "{out}");
}

#[test]
fn diff_agrees_on_the_handwritten_set_and_cleans_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let work = dir.path().join("work");
    let output = tdb_replay(&[
        "diff",
        "--concurrent",
        "--dir",
        work.to_str().expect("utf-8 path"),
        &fixture("a.trace"),
        &fixture("b.trace"),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let out = text(&output);
    assert!(out.contains("every result the same"), "{out}");
    assert!(out.contains("byte-identical files"), "{out}");
    assert!(out.contains("Concurrent on mixed"), "{out}");
    assert!(out.contains("The engines agree."), "{out}");
    assert!(work.join("c.tdb").exists() && work.join("pure.tdb").exists());

    // Without --dir, nothing is left behind when the engines agree.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("tmp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_tdb-replay"))
        .args(["diff", "-q", &fixture("a.trace")])
        .env("TMPDIR", &tmp)
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "agree\n");
    assert_eq!(std::fs::read_dir(&tmp).expect("tmp dir").count(), 0);
}

#[test]
fn diff_of_a_malformed_trace_is_bad_input() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = write(
        dir.path(),
        "bad.trace",
        "1 tdb_open 7 0x0 0x42\n2 tdb_store 1:61 zz 0x1 = 0\n2 tdb_close\n",
    );
    let output = tdb_replay(&["diff", &trace]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("bad.trace:2:"), "{}", text(&output));
}

#[test]
fn a_file_the_tool_did_not_create_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let notes = write(dir.path(), "notes.txt", "my notes\n");
    let traces = [fixture("a.trace"), fixture("b.trace")];
    for command in [vec!["replay"], vec!["bench", "-n", "1", "--tdbfile"]] {
        let mut args: Vec<&str> = command.clone();
        args.push(&notes);
        args.extend(traces.iter().map(String::as_str));
        let output = tdb_replay(&args);
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        assert!(text(&output).contains("--overwrite"), "{}", text(&output));
        assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    }
    // Its own scratch file it replaces freely, run after run.
    let own = dir.path().join("own.tdb");
    let own = own.to_str().expect("utf-8 path");
    for _ in 0..2 {
        let output = tdb_replay(&["replay", "-q", own, &traces[0], &traces[1]]);
        assert!(output.status.success(), "{}", text(&output));
    }
    // And a user's file only with --overwrite.
    let output = tdb_replay(&[
        "replay",
        "-q",
        "--overwrite",
        &notes,
        &traces[0],
        &traces[1],
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert_ne!(std::fs::read(&notes).unwrap(), b"my notes\n");
}

#[test]
fn torture_mixed_checks_the_database_and_records_traces_that_replay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("t.tdb");
    let rec = dir.path().join("rec");
    let output = tdb_replay(&[
        "torture",
        "--backend",
        "mixed",
        "--procs",
        "3",
        "--ops",
        "300",
        "--transactions",
        "--seed",
        "5",
        "--record",
        rec.to_str().expect("utf-8"),
        db.to_str().expect("utf-8"),
    ]);
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("seed 5"), "{out}");
    assert!(out.contains("c     check passed"), "{out}");
    assert!(out.contains("pure  check passed"), "{out}");
    let mut traces: Vec<String> = std::fs::read_dir(&rec)
        .expect("record dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("t.tdb.trace."))
        })
        .map(|path| path.display().to_string())
        .collect();
    traces.sort();
    assert_eq!(traces.len(), 3, "one trace per process: {traces:?}");
    let first = std::fs::read_to_string(&traces[0]).expect("trace");
    let open_line = first.lines().next().unwrap_or_default();
    assert!(open_line.ends_with(" tdb_open 7 0x2c0 0x42"), "{first}");
    assert!(first.ends_with(" tdb_close\n"), "{first}");

    let replayed = dir.path().join("r.tdb");
    let mut args = vec![
        "replay",
        "--backend",
        "pure",
        replayed.to_str().expect("utf-8"),
    ];
    args.extend(traces.iter().map(String::as_str));
    let output = tdb_replay(&args);
    let out = text(&output);
    // The one known analysis gap (a dependency circle) is reported as bad input.
    if !out.contains("circle") {
        assert!(output.status.success(), "{out}");
        assert!(out.contains("all results matched"), "{out}");
    }

    // Again onto its own files: no flag needed, and the old traces are replaced.
    let output = tdb_replay(&[
        "torture",
        "--procs",
        "2",
        "--ops",
        "50",
        "--record",
        rec.to_str().expect("utf-8"),
        db.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let count = std::fs::read_dir(&rec)
        .expect("record dir")
        .filter(|entry| {
            let name = entry.as_ref().expect("entry").file_name();
            name.to_string_lossy().starts_with("t.tdb.trace.")
        })
        .count();
    assert_eq!(count, 2, "the earlier recording's traces were replaced");
}

#[test]
fn torture_refuses_a_users_file_and_a_foreign_trace() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = write(dir.path(), "precious.tdb", "my data");
    let output = tdb_replay(&["torture", "--ops", "10", &db]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("--overwrite"), "{}", text(&output));
    assert_eq!(std::fs::read_to_string(&db).expect("kept"), "my data");

    // A trace of the same database that the tool did not write is not mixed in or
    // replaced.
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).expect("mkdir");
    let foreign = write(&rec, "new.tdb.trace.77", "someone's trace");
    let fresh = dir.path().join("new.tdb");
    let output = tdb_replay(&[
        "torture",
        "--ops",
        "10",
        "--record",
        rec.to_str().expect("utf-8"),
        fresh.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert_eq!(
        std::fs::read_to_string(&foreign).expect("kept"),
        "someone's trace"
    );
}

#[test]
fn replay_records_what_it_did_in_either_layout() {
    let dir = tempfile::tempdir().expect("temp dir");
    for layout in ["ccan", "samba"] {
        let rec = dir.path().join(layout);
        let db = dir.path().join("first.tdb");
        let output = tdb_replay(&[
            "replay",
            "-n",
            "2",
            "--record",
            rec.to_str().expect("utf-8"),
            "--layout",
            layout,
            db.to_str().expect("utf-8"),
            &fixture("a.trace"),
            &fixture("b.trace"),
        ]);
        let out = text(&output);
        assert!(output.status.success(), "{out}");
        assert!(out.contains("Recorded the first run as 2 traces"), "{out}");
        let mut traces: Vec<String> = std::fs::read_dir(&rec)
            .expect("record dir")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| {
                !path
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .starts_with('.')
            })
            .map(|path| path.display().to_string())
            .collect();
        traces.sort();
        assert_eq!(traces.len(), 2, "{traces:?}");
        let again = dir.path().join("again.tdb");
        let mut args = vec![
            "replay",
            "--flavour",
            layout,
            again.to_str().expect("utf-8"),
        ];
        args.extend(traces.iter().map(String::as_str));
        let output = tdb_replay(&args);
        assert!(output.status.success(), "{}", text(&output));
        assert!(text(&output).contains("all results matched"));
    }
    // A layout needs somewhere to record.
    let output = tdb_replay(&["replay", "--layout", "samba", "x.tdb", &fixture("a.trace")]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn shrink_of_a_set_that_does_not_fail_is_bad_input_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let output = tdb_replay(&[
        "shrink",
        "--out",
        out.to_str().expect("utf-8"),
        &fixture("a.trace"),
        &fixture("b.trace"),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("the set does not fail under diff; nothing to shrink"),
        "{}",
        text(&output)
    );
    let written = std::fs::read_dir(&out).map_or(0, |entries| entries.count());
    assert_eq!(written, 0, "nothing is written");
}

#[test]
fn shrink_of_a_malformed_trace_is_bad_input_at_its_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = write(
        dir.path(),
        "bad.trace",
        "1 tdb_open 7 0x0 0x42\n2 tdb_fetch 1:61 = 2:6\n2 tdb_close\n",
    );
    let out = dir.path().join("out");
    let output = tdb_replay(&["shrink", "--out", out.to_str().expect("utf-8"), &trace]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("bad.trace:2:"), "{}", text(&output));
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
    let args = [
        "shrink",
        "--backend",
        "c",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    let mut with_traces: Vec<&str> = args.to_vec();
    let a = fixture("a.trace");
    with_traces.extend([a.as_str(), b.as_str()]);
    let output = tdb_replay(&with_traces);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("--overwrite"), "{}", text(&output));
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");

    // With --overwrite the file is handed over and replaced by the shrunk trace.
    with_traces.insert(1, "--overwrite");
    let output = tdb_replay(&with_traces);
    assert!(output.status.success(), "{}", text(&output));
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
    let args = [
        "shrink",
        "--backend",
        "c",
        "--out",
        out.to_str().expect("utf-8"),
        &a,
        &b,
    ];
    for _ in 0..2 {
        let output = tdb_replay(&args);
        assert!(output.status.success(), "{}", text(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("kept 1 of 27 ops in 1 traces (of 2)"),
            "{stdout}"
        );
        assert!(
            stdout.contains("b.trace:9: tdb_unlockall failed"),
            "{stdout}"
        );
        assert!(
            stdout.contains("out/b.trace:2: tdb_unlockall failed"),
            "{stdout}"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("b.trace")).unwrap(),
            "0 tdb_open 7 0x1 0x42\n5 tdb_unlockall\n6 tdb_close\n"
        );
        assert!(!out.join("a.trace").exists(), "a.trace is not needed");
    }
    // Under diff the same set does not fail: both engines refuse the unlock.
    let output = tdb_replay(&["shrink", "--out", out.to_str().expect("utf-8"), &a, &b]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}

#[test]
fn torture_with_kills_restarts_processes_and_the_database_survives() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("k.tdb");
    let output = tdb_replay(&[
        "torture",
        "--backend",
        "mixed",
        "--procs",
        "3",
        "--ops",
        "300",
        "--kill",
        "10",
        "--seed",
        "9",
        db.to_str().expect("utf-8"),
    ]);
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("every write is in a transaction"), "{out}");
    assert!(out.contains("killed and restarted"), "{out}");
    assert!(out.contains("c     check passed"), "{out}");
    assert!(out.contains("pure  check passed"), "{out}");
}

/// Child half of [`recover_rolls_back_a_killed_commit`]: run only when the parent sets
/// `TDB_REPLAY_TEST_KILL_COMMIT` to a database, it commits a transaction that grows the
/// file and is killed (`SIGKILL`, by tdb-pure's fault hook) at the second block it writes
/// past the old end of file.
#[test]
fn helper_killed_commit() {
    use tdb_pure::fault::{FaultAction, FaultPoint};
    let Some(path) = std::env::var_os("TDB_REPLAY_TEST_KILL_COMMIT") else {
        return;
    };
    let old_end = std::fs::metadata(&path).expect("database").len();
    let mut db = tdb_pure::Tdb::open(&path, &read_write()).expect("open");
    db.transaction_start().expect("start");
    for i in 0..300 {
        let key = format!("new{i}");
        db.store(key.as_bytes(), &[7; 1200], tdb_pure::StoreFlag::Replace)
            .expect("store");
    }
    // The second block past the old end: the first, with the new free record's header at
    // the old end, is written, its tailer is not.
    let mut new_blocks = 0;
    db.set_fault_hook(Some(Box::new(move |point| match point {
        FaultPoint::Write { off, len: 4096 } if u64::from(off) >= old_end => {
            new_blocks += 1;
            if new_blocks == 2 {
                FaultAction::Crash
            } else {
                FaultAction::Proceed
            }
        }
        _ => FaultAction::Proceed,
    })));
    let _ = db.transaction_commit();
    std::process::exit(3);
}

fn read_write() -> tdb_pure::OpenFlags {
    tdb_pure::OpenFlags {
        hash_size: 0,
        tdb_flags: 0,
        open_flags: libc::O_RDWR | libc::O_CREAT,
        mode: 0o600,
    }
}

#[test]
fn recover_rolls_back_a_killed_commit() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("killed.tdb");
    {
        let mut db = tdb_pure::Tdb::open(&db_path, &read_write()).expect("create");
        for round in 0..3 {
            db.transaction_start().expect("start");
            for i in 0..100 {
                let key = format!("old{i}");
                db.store(
                    key.as_bytes(),
                    format!("v{round}").as_bytes(),
                    tdb_pure::StoreFlag::Replace,
                )
                .expect("store");
            }
            db.transaction_commit().expect("commit");
        }
    }
    let status = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "helper_killed_commit",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("TDB_REPLAY_TEST_KILL_COMMIT", &db_path)
        .status()
        .expect("helper runs");
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    let file = db_path.to_str().expect("utf-8");
    let by_c_path = dir.path().join("by-c.tdb");
    std::fs::copy(&db_path, &by_c_path).expect("copy");
    let by_c = by_c_path.to_str().expect("utf-8");

    // check and dump open read-only: they refuse the file and say what to do.
    let output = tdb_replay(&["check", file]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("tdb-replay recover"),
        "{}",
        text(&output)
    );

    let output = tdb_replay(&["recover", file]);
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("rolled back the commit a crash had interrupted"),
        "{out}"
    );
    assert!(out.contains("sound (c backend), 100 records"), "{out}");
    assert!(
        !out.contains("skipped"),
        "tdb-pure's recovery reclaims the space: {out}"
    );
    let output = tdb_replay(&["recover", file]);
    assert!(
        text(&output).contains("no interrupted commit"),
        "{}",
        text(&output)
    );
    let dump = text(&tdb_replay(&["dump", file]));
    assert_eq!(dump.matches("data(2) = \"v2\"").count(), 100, "{dump}");
    assert!(!dump.contains("new"), "{dump}");

    // C's recovery of the same file leaves the half-written space: C's check rejects it,
    // tdb-pure's explains it, and a recover with tdb-pure reclaims it.
    let output = tdb_replay(&["recover", "--backend", "c", by_c]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("rolled back the commit"), "{out}");
    assert!(out.contains("skipped what a killed commit left"), "{out}");
    let output = tdb_replay(&["recover", by_c]);
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("back on the freelist"), "{out}");
    assert!(out.contains("sound (c backend), 100 records"), "{out}");
    assert_eq!(text(&tdb_replay(&["dump", by_c])), dump);
}

/// The path of the `Database: PATH` line a command prints when it picked the path.
fn database_printed(out: &str) -> std::path::PathBuf {
    let line = out
        .lines()
        .find(|line| line.starts_with("Database: "))
        .unwrap_or_else(|| panic!("no database path printed: {out}"));
    std::path::PathBuf::from(line.trim_start_matches("Database: "))
}

#[test]
fn without_a_database_path_replay_and_torture_pick_a_fresh_one() {
    let output = tdb_replay(&["replay", &fixture("a.trace"), &fixture("b.trace")]);
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    let db = database_printed(&out);
    assert!(db.ends_with("replay.tdb"), "{out}");
    assert!(db.is_file(), "{out}");
    assert!(out.contains("all results matched"), "{out}");
    let dir = db.parent().expect("its own directory").to_path_buf();

    let output = tdb_replay(&["torture", "--ops", "40", "--procs", "2"]);
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    let tortured = database_printed(&out);
    assert!(tortured.is_file(), "{out}");
    assert_ne!(
        tortured.parent(),
        Some(dir.as_path()),
        "a new directory each time"
    );

    // A missing trace is bad input, and no directory is made for it.
    let output = tdb_replay(&["replay", "/nonexistent/x.trace"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(!text(&output).contains("Database: "), "{}", text(&output));
    for made in [dir.as_path(), tortured.parent().expect("dir")] {
        std::fs::remove_dir_all(made).expect("clean up");
    }
}
