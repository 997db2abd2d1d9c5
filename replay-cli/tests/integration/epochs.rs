//! Clear-if-first epochs at the command line: `analyse` lists them (human and `--json`),
//! and a set recorded by `torture --wipe-restart` replays and diffs.

use std::path::Path;

use crate::util::{arg, json_run, succeeds};

/// The handwritten wiped set, in recorded order.
fn wiped_set() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/epochs");
    ["a", "b", "c", "d"]
        .iter()
        .map(|name| dir.join(format!("{name}.trace")).display().to_string())
        .collect()
}

#[test]
fn analyse_lists_the_epochs() {
    let set = wiped_set();
    let mut args = vec!["analyse", "--json"];
    args.extend(set.iter().map(String::as_str));
    let (json, human) = json_run(&args);
    let epochs = json["epochs"].as_array().expect("epochs");
    assert_eq!(epochs.len(), 2, "{json}");
    assert!(epochs[0]["wiped_at"].is_null());
    assert_eq!(epochs[0]["traces"].as_array().unwrap().len(), 2);
    assert_eq!(epochs[0]["ops"], 4);
    let wiped_at = epochs[1]["wiped_at"].as_str().expect("the wipe");
    assert!(wiped_at.ends_with("c.trace:1"), "{wiped_at}");
    // c's 3 ops and the marker's 3, d's 2.
    assert_eq!(epochs[1]["ops"], 8);
    assert!(human.contains("2 clear-if-first epochs"), "{human}");
    assert!(
        human.contains(&format!("epoch 2 (wiped by {wiped_at}): 8 ops")),
        "{human}"
    );
    assert!(human.contains("clear-if-first wipe at"), "{human}");
}

#[test]
fn an_unwiped_set_is_one_epoch() {
    let set = crate::util::fixture_set();
    let mut args = vec!["analyse", "--json"];
    args.extend(set);
    let (json, human) = json_run(&args);
    assert_eq!(json["epochs"].as_array().unwrap().len(), 1, "{json}");
    assert!(!human.contains("clear-if-first"), "{human}");
}

#[test]
fn a_torture_wipe_restart_replays_and_diffs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("t.tdb");
    let record = dir.path().join("rec");
    let out = succeeds(&[
        "torture",
        "--backend",
        "mixed",
        "--procs",
        "3",
        "--ops",
        "200",
        "--seed",
        "7",
        "--transactions",
        "--wipe-restart",
        "--record",
        arg(&record),
        arg(&db),
    ]);
    assert!(out.contains("opened with TDB_CLEAR_IF_FIRST"), "{out}");
    // The traces as torture lists them: the restart's last.
    let traces: Vec<String> = out
        .lines()
        .skip_while(|line| !line.starts_with("Recorded"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .map(|line| line.trim().to_string())
        .collect();
    assert_eq!(traces.len(), 4, "{out}");
    let replayed = dir.path().join("replay.tdb");
    let mut args = vec!["replay", "--backend", "mixed", arg(&replayed)];
    args.extend(traces.iter().map(String::as_str));
    let report = succeeds(&args);
    assert!(report.contains("all results matched"), "{report}");
    let mut args = vec!["diff"];
    args.extend(traces.iter().map(String::as_str));
    let report = succeeds(&args);
    assert!(report.contains("The engines agree"), "{report}");
}
