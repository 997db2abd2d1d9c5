//! Epoch tests on the handwritten wiped set of `tests/fixtures/epochs`.

use super::*;
use crate::trace::{parse_trace, LoadOptions};

const LOCKING: LockingModel = LockingModel {
    read_traverse_takes_transaction_lock: false,
};

fn trace(name: &str, text: &str) -> Trace {
    parse_trace(name, text.as_bytes(), &LoadOptions::default()).expect("test trace parses")
}

/// The fixture set, in the order a glob gives it.
fn wiped_set() -> Vec<Trace> {
    vec![
        trace(
            "a",
            include_str!("../../../../tests/fixtures/epochs/a.trace"),
        ),
        trace(
            "b",
            include_str!("../../../../tests/fixtures/epochs/b.trace"),
        ),
        trace(
            "c",
            include_str!("../../../../tests/fixtures/epochs/c.trace"),
        ),
        trace(
            "d",
            include_str!("../../../../tests/fixtures/epochs/d.trace"),
        ),
    ]
}

/// `(waiting file:line, waited-for file:line)` pairs of a plan.
fn deps(traces: &[Trace], plan: &Analysis) -> Vec<(String, String)> {
    let at = |file: u32, op: u32| traces[file as usize].location(op);
    plan.deps
        .iter()
        .map(|dep| (at(dep.file, dep.op), at(dep.target_file, dep.target)))
        .collect()
}

#[test]
fn the_wiped_set_is_a_circle_as_one_epoch() {
    let set = wiped_set();
    assert_eq!(epochs(&set), vec![0..4]);
    let error = analyse(&set, LOCKING).expect_err("one epoch cannot be ordered");
    assert!(error.is_cycle(), "{error}");
}

#[test]
fn the_wipe_is_found_marked_and_splits_the_set() {
    let mut set = wiped_set();
    assert_eq!(candidates(&set), vec![2]);
    analyse_finding_wipes(&mut set, LOCKING).expect("analyses split");
    assert!(is_wipe_marker(&set[2]));
    assert_eq!(set[2].location(0), "c:1");
    assert_eq!(epochs(&set), vec![0..2, 2..4]);
    // Marking twice changes nothing.
    analyse_finding_wipes(&mut set, LOCKING).expect("analyses as marked");
    assert_eq!(set[2].ops.len(), 3 + MARKED);

    let plan = analyse(&set, LOCKING).expect("split, the set analyses");
    assert_eq!(plan.groups.len(), 4);
    assert_eq!(plan.groups[2].mode.len(), set[2].ops.len());
    assert!(plan.preexisting.is_empty());
    let pairs = deps(&set, &plan);
    let has = |a: &str, b: &str| pairs.contains(&(a.to_string(), b.to_string()));
    // The wipe waits for the end of epoch 0; d's first op waits for the wipe (or for
    // something after it in c).
    assert!(has("c:1", "a:4") || has("c:1", "b:2"), "{pairs:?}");
    assert_eq!(set[2].ops[1].kind, OpKind::WipeAll);
    assert_eq!(plan.groups[2].end[0], 2, "the marker is one transaction");
    assert!(
        pairs
            .iter()
            .any(|(waiting, target)| waiting == "d:2" && target.starts_with("c:")),
        "{pairs:?}"
    );
    // Nothing of epoch 1 runs before epoch 0 has finished: every trace of it waits for
    // both of epoch 0's traces, directly or through the wipe.
    assert!(crate::analysis::cycles::find_cycle(&plan.deps, plan.op_counts()).is_none());
}

#[test]
fn a_set_that_analyses_as_one_epoch_is_left_alone() {
    // c opens with CLEAR_IF_FIRST at 0 after a wrote, but nothing contradicts one epoch.
    let mut set = vec![
        trace(
            "a",
            "0 tdb_open 7 0x80 0x42\n0 tdb_store 1:61 1:31 0x1 = 0\n1 tdb_close\n",
        ),
        trace(
            "c",
            "0 tdb_open 7 0x81 0x42\n0 tdb_store 1:62 1:32 0x1 = 0\n1 tdb_close\n",
        ),
    ];
    assert_eq!(candidates(&set), vec![1]);
    analyse_finding_wipes(&mut set, LOCKING).expect("analyses as one epoch");
    assert_eq!(set[1].ops.len(), 1);
    assert!(!is_wipe_marker(&set[1]));
    assert_eq!(epochs(&set).len(), 1);
}

#[test]
fn a_set_that_cannot_be_split_keeps_the_error_naming_the_conflict() {
    // The wiping trace's follower needs a record only epoch 0 made: the split does not
    // analyse either, so the set stays one epoch with its circle.
    let mut set = wiped_set();
    set[3] = trace(
        "d",
        "2 tdb_open 7 0x80 0x2\n2 tdb_fetch 1:78 = 1:31\n2 tdb_close\n",
    );
    let error = analyse_finding_wipes(&mut set, LOCKING).expect_err("still a circle");
    assert_eq!(epochs(&set).len(), 1);
    let text = error.to_string();
    assert!(text.contains("a:") && text.contains("c:"), "{text}");
}

#[test]
fn a_record_needed_after_the_wipe_is_an_error_at_the_wiping_open() {
    let mut set = wiped_set();
    set[3] = trace(
        "d",
        "2 tdb_open 7 0x80 0x2\n2 tdb_fetch 1:71 = 1:31\n2 tdb_close\n",
    );
    let marker = MARKER.iter().map(|kind| Op {
        seqnum: 0,
        line: 1,
        kind: kind.clone(),
    });
    set[2].ops.splice(0..0, marker);
    let error = analyse(&set, LOCKING).expect_err("q was never stored after the wipe");
    assert_eq!((error.file.as_str(), error.line), ("c", 1));
    assert!(error.message.contains("d:2"), "{}", error.message);
}

#[test]
fn candidates_need_clear_if_first_at_zero_after_writes() {
    let set = vec![
        // Opens at 0 with CLEAR_IF_FIRST but is first: the creating open.
        trace(
            "a",
            "0 tdb_open 7 0x81 0x42\n0 tdb_fetch 1:61 = NULL\n0 tdb_close\n",
        ),
        // Nothing written yet: a concurrent opener, not a wipe.
        trace(
            "b",
            "0 tdb_open 7 0x81 0x42\n0 tdb_store 1:61 1:31 0x1 = 0\n1 tdb_close\n",
        ),
        // No CLEAR_IF_FIRST.
        trace(
            "c",
            "0 tdb_open 7 0x80 0x42\n0 tdb_fetch 1:61 = NULL\n0 tdb_close\n",
        ),
        // Not at 0.
        trace(
            "d",
            "3 tdb_open 7 0x81 0x42\n3 tdb_fetch 1:61 = NULL\n3 tdb_close\n",
        ),
        trace(
            "e",
            "0 tdb_open 7 0x81 0x42\n0 tdb_fetch 1:61 = NULL\n0 tdb_close\n",
        ),
    ];
    assert_eq!(candidates(&set), vec![4]);
    assert!(epochs(&[]).is_empty());
}

#[test]
fn the_marker_shifts_every_group_index() {
    let groups = Groups {
        atomic: vec![0, 0, NONE],
        traverse: vec![NONE; 3],
        outer_traverse: vec![NONE; 3],
        end: vec![1, NONE, NONE],
        mode: vec![ReplayMode::AsTraced, ReplayMode::Skip, ReplayMode::AsTraced],
        discarded: vec![false, true, false],
        walk: vec![NONE; 3],
        in_read_traverse: vec![false; 3],
        stop_before: vec![false; 3],
    };
    let shifted = prepend_marker(groups);
    assert_eq!(shifted.atomic, vec![0, 0, 0, 3, 3, NONE]);
    assert_eq!(shifted.end, vec![2, NONE, NONE, 4, NONE, NONE]);
    assert_eq!(shifted.traverse, vec![NONE; 6]);
    assert_eq!(shifted.mode[4], ReplayMode::Skip);
    assert_eq!(
        shifted.discarded,
        vec![false, false, false, false, true, false]
    );
    assert_eq!(shifted.stop_before.len(), 6);
}

#[test]
fn the_wipes_found_are_noted_once() {
    let mut set = wiped_set();
    analyse_finding_wipes(&mut set, LOCKING).expect("analyses split");
    let note = set[0].warnings.last().expect("a wipe is noted");
    assert!(note.starts_with("clear-if-first wipe at c:1:"), "{note}");
    assert!(note.contains("2 epochs"), "{note}");
    let notes = set[0].warnings.len();
    analyse_finding_wipes(&mut set, LOCKING).expect("analyses as marked");
    assert_eq!(
        set[0].warnings.len(),
        notes,
        "a marked set is not marked again"
    );
}

#[test]
fn among_several_candidates_the_one_that_splits_is_chosen() {
    // b opens with CLEAR_IF_FIRST at 0 beside a (both concurrent at the start, as Samba's
    // mutex databases are opened) and reads what a wrote: splitting at b fails, at c
    // alone works.
    let mut set = wiped_set();
    set[1] = trace(
        "b",
        "0 tdb_open 7 0x81 0x2\n2 tdb_fetch 2:6b31 = 2:7631\n2 tdb_close\n",
    );
    assert_eq!(candidates(&set), vec![1, 2]);
    analyse_finding_wipes(&mut set, LOCKING).expect("analyses split");
    assert_eq!(epochs(&set), vec![0..2, 2..4]);
    assert!(!is_wipe_marker(&set[1]));
}
