//! Analysis tests on small handwritten trace sets whose dependencies are known.

use super::*;
use crate::trace::{parse_trace, FlavourChoice, LoadOptions};

/// ccan's locking, under which the original tool was written (and its worked example
/// computed): read traverses hold the transaction lock too.
const CCAN: LockingModel = LockingModel {
    read_traverse_takes_transaction_lock: true,
};

fn trace(name: &str, text: &str) -> Trace {
    parse_trace(name, text.as_bytes(), &LoadOptions::default()).expect("test trace parses")
}

fn samba(name: &str, text: &str) -> Trace {
    let options = LoadOptions {
        flavour: FlavourChoice::Samba,
        ..LoadOptions::default()
    };
    parse_trace(name, text.as_bytes(), &options).expect("test trace parses")
}

/// The plan's dependencies as `(file:line, file:line)` pairs.
fn deps(traces: &[Trace], plan: &Analysis) -> Vec<(String, String)> {
    let at = |file: u32, op: u32| {
        let trace = &traces[file as usize];
        format!("{}:{}", trace.name, trace.ops[op as usize].line)
    };
    let mut pairs: Vec<(String, String)> = plan
        .deps
        .iter()
        .map(|dep| (at(dep.file, dep.op), at(dep.target_file, dep.target)))
        .collect();
    pairs.sort();
    pairs
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

// trace-replay.md section 5 (9-torture), with the 43-byte value A shortened to 2 bytes.
const F1: &str = "\
2 tdb_open 2 0x1 0x42
4 tdb_append 4:716f7000 2:aaaa = 4:aaaaaaaa
4 tdb_fetch 4:74757400 = NULL
4 tdb_fetch 2:7000 = NULL
4 tdb_transaction_start
4 tdb_chainlock 2:6900
4 tdb_fetch 2:6900 = 0:
5 tdb_store 2:6900 0: 0x1 = 0
5 tdb_chainunlock 2:6900
5 tdb_transaction_commit
6 tdb_fetch 2:6200 = NULL
";

const F2: &str = "\
0 tdb_open 2 0x1 0x42
1 tdb_append 4:716f7000 2:aaaa = 2:aaaa
1 tdb_fetch 4:74757400 = NULL
1 tdb_fetch 2:7000 = NULL
1 tdb_transaction_start
1 tdb_chainlock 2:6900
1 tdb_fetch 2:6900 = NULL
2 tdb_store 2:6900 NULL 0x1 = 0
2 tdb_chainunlock 2:6900
2 tdb_transaction_commit
2 tdb_fetch 2:6200 = NULL
";

#[test]
fn worked_example_gives_the_original_dependencies() {
    let traces = vec![trace("f1", F1), trace("f2", F2)];
    let plan = analyse(&traces, CCAN).expect("analysis succeeds");
    assert_eq!(
        deps(&traces, &plan),
        vec![pair("f1:2", "f2:2"), pair("f1:5", "f2:10")]
    );
    assert!(plan.preexisting.is_empty());
}

#[test]
fn extended_example_orders_traverses_and_a_late_store() {
    let f1 = format!(
        "{F1}6 tdb_traverse_start\n6 traversefn\n6 traversefn\n6 traversefn\n\
         6 tdb_traverse_end\n6 tdb_delete 4:71616200 = -1\n6 tdb_fetch 2:6f00 = 2:667a\n\
         6 tdb_delete 3:7a6f00 = -1\n6 tdb_fetch 2:7900 = NULL\n\
         7 tdb_store 4:69616d00 1:01 0x1 = 0\n9 tdb_store 3:767000 1:02 0x1 = 0\n9 tdb_close\n"
    );
    let f2 = format!(
        "{F2}2 tdb_traverse_start\n2 traversefn\n2 traversefn\n2 tdb_traverse_end\n\
         2 tdb_delete 4:6b766f00 = -1\n4 tdb_transaction_start\n4 tdb_transaction_cancel\n\
         4 tdb_transaction_start\n4 tdb_transaction_commit\n4 tdb_fetch 2:7700 = NULL\n\
         4 tdb_fetch 3:6a7900 = NULL\n6 tdb_store 2:6f00 2:667a 0x1 = 0\n6 tdb_close\n"
    );
    let traces = vec![trace("f1", &f1), trace("f2", &f2)];
    let plan = analyse(&traces, CCAN).expect("analysis succeeds");
    assert_eq!(
        deps(&traces, &plan),
        vec![
            pair("f1:12", "f2:15"),
            pair("f1:18", "f2:23"),
            pair("f1:2", "f2:2"),
            pair("f1:5", "f2:10"),
        ]
    );
}

#[test]
fn a_record_read_before_any_write_must_pre_exist() {
    let traces = vec![trace(
        "t",
        "1 tdb_open 0 0x0 0x2\n1 tdb_fetch 1:6b = 2:0102\n2 tdb_delete 1:6b = 0\n",
    )];
    let plan = analyse(&traces, CCAN).expect("analysis succeeds");
    assert_eq!(plan.preexisting.len(), 1);
    assert_eq!(plan.preexisting[0].key, b"k");
    assert_eq!(plan.preexisting[0].data, [1, 2]);
    assert_eq!(plan.preexisting[0].needed_at, "t:2");
}

#[test]
fn an_existence_check_alone_pre_creates_an_empty_record() {
    let traces = vec![trace(
        "t",
        "1 tdb_open 0 0x0 0x2\n1 tdb_exists 1:6b = 1\n2 tdb_delete 1:6b = 0\n",
    )];
    let plan = analyse(&traces, CCAN).expect("the original aborted here; we must not");
    assert_eq!(plan.preexisting.len(), 1);
    assert!(plan.preexisting[0].data.is_empty());
}

#[test]
fn an_inconsistent_trace_is_rejected_at_its_first_use() {
    let traces = vec![trace(
        "t",
        "1 tdb_open 0 0x0 0x2\n2 tdb_store 1:6b 1:01 0x1 = 0\n2 tdb_fetch 1:6b = 1:02\n",
    )];
    let error =
        analyse(&traces, CCAN).expect_err("no order explains a fetch of 02 after storing 01");
    assert_eq!(error.file, "t");
    assert_eq!(error.line, 2);
    assert!(error.message.contains("key \"k\""), "{}", error.message);
}

#[test]
fn keys_seen_only_in_deletes_do_not_hang_the_analysis() {
    // The original's random()-sized key table looped forever on this (section 4.1.5).
    let mut text = String::from("1 tdb_open 0 0x0 0x2\n");
    for k in 0..50 {
        text.push_str(&format!(
            "1 tdb_store 1:{k:02x} 0: 0x1 = 0\n1 tdb_delete 1:{k:02x} = 0\n"
        ));
    }
    let traces = vec![trace("t", &text)];
    let plan = analyse(&traces, CCAN).expect("analysis succeeds");
    assert_eq!(plan.stats.keys, 50);
}

#[test]
fn a_fetch_waits_for_the_store_that_made_its_value() {
    let a = "1 tdb_open 0 0x0 0x2\n1 tdb_store 1:6b 1:01 0x1 = 0\n";
    let b = "1 tdb_open 0 0x0 0x2\n1 tdb_fetch 1:6b = 1:01\n";
    let traces = vec![trace("a", a), trace("b", b)];
    let plan = analyse(&traces, CCAN).expect("analysis succeeds");
    assert_eq!(deps(&traces, &plan), vec![pair("b:2", "a:2")]);
}

#[test]
fn a_writer_waits_for_the_readers_of_the_previous_value() {
    // b reads the absent key, then a stores it: a must wait for b's read.
    let a = "1 tdb_open 0 0x0 0x2\n2 tdb_store 1:6b 1:01 0x1 = 0\n";
    let b = "1 tdb_open 0 0x0 0x2\n1 tdb_fetch 1:6b = NULL\n";
    let traces = vec![trace("a", a), trace("b", b)];
    let plan = analyse(&traces, CCAN).expect("analysis succeeds");
    assert_eq!(deps(&traces, &plan), vec![pair("a:2", "b:2")]);
}

#[test]
fn seqnum_order_is_overruled_when_results_demand_it() {
    // b's fetch has the lower seqnum but saw a's value, so a's store must run first.
    // a's store can only have happened at seqnum 5 (its open line says 5 already).
    let a = "5 tdb_open 0 0x0 0x2\n5 tdb_store 1:6b 1:01 0x1 = 0\n";
    let b = "1 tdb_open 0 0x0 0x2\n3 tdb_fetch 1:6b = 1:01\n";
    let traces = vec![trace("a", a), trace("b", b)];
    let plan = analyse(&traces, CCAN).expect("analysis succeeds");
    assert_eq!(deps(&traces, &plan), vec![pair("b:2", "a:2")]);
    assert_eq!(plan.stats.fuzzed_keys, 1);
}

#[test]
fn a_dependency_on_a_transaction_member_waits_for_the_commit() {
    let a = "1 tdb_open 0 0x0 0x2\n1 tdb_transaction_start\n2 tdb_store 1:6b 1:01 0x1 = 0\n\
             2 tdb_fetch 1:78 = NULL\n2 tdb_transaction_commit\n";
    let b = "1 tdb_open 0 0x0 0x2\n3 tdb_fetch 1:6b = 1:01\n";
    let traces = vec![trace("a", a), trace("b", b)];
    let plan = analyse(&traces, CCAN).expect("analysis succeeds");
    assert_eq!(deps(&traces, &plan), vec![pair("b:2", "a:5")]);
}

#[test]
fn a_wipe_is_a_writer_of_every_key() {
    let a = "1 tdb_open 0 0x0 0x2\n1 tdb_store 1:6b 1:01 0x1 = 0\n2 tdb_wipe_all\n";
    let b = "1 tdb_open 0 0x0 0x2\n3 tdb_fetch 1:6b = NULL\n";
    let traces = vec![trace("a", a), trace("b", b)];
    let plan = analyse(&traces, CCAN).expect("analysis succeeds");
    assert_eq!(deps(&traces, &plan), vec![pair("b:2", "a:3")]);
}

#[test]
fn samba_nested_commit_extends_the_transaction_and_is_skipped() {
    let text = "1 tdb_open 0 0x0 0x42\n1 tdb_transaction_start\n\
                2 tdb_store 1:6b 1:01 0x1 = 0\n2 tdb_transaction_commit\n\
                3 tdb_store 1:6c 1:01 0x1 = 0\n3 tdb_transaction_commit\n";
    let traces = vec![samba("s", text)];
    let plan = analyse(&traces, CCAN).expect("analysis succeeds");
    let groups = &plan.groups[0];
    assert_eq!(
        groups.end_of(0),
        4,
        "the transaction runs to the second commit"
    );
    assert_eq!(
        groups.mode[2],
        ReplayMode::Skip,
        "the nested commit is not replayed"
    );
    assert_eq!(groups.mode[4], ReplayMode::AsTraced);
}

#[test]
fn samba_nested_cancel_dooms_the_outer_commit() {
    let text = "1 tdb_open 0 0x0 0x42\n1 tdb_transaction_start\n\
                2 tdb_store 1:6b 1:01 0x1 = 0\n2 tdb_transaction_cancel\n\
                2 tdb_transaction_commit\n1 tdb_fetch 1:6b = NULL\n";
    let traces = vec![samba("s", text)];
    let plan =
        analyse(&traces, CCAN).expect("the store is undone, so the fetch of NULL is consistent");
    assert_eq!(plan.groups[0].mode[3], ReplayMode::AsCancel);
    assert!(plan.preexisting.is_empty());
}

#[test]
fn chainlock_unlock_without_lock_is_an_error() {
    let traces = vec![trace("t", "1 tdb_open 0 0x0 0x2\n1 tdb_chainunlock 1:6b\n")];
    let error = analyse(&traces, CCAN).expect_err("unlock of a chain never locked");
    assert_eq!((error.file.as_str(), error.line), ("t", 2));
}

#[test]
fn overlapping_chainlocks_form_one_region() {
    let text = "1 tdb_open 0 0x0 0x2\n1 tdb_chainlock 1:61\n1 tdb_chainlock 1:62\n\
                1 tdb_chainunlock 1:61\n1 tdb_fetch 1:63 = NULL\n1 tdb_chainunlock 1:62\n";
    let traces = vec![trace("t", text)];
    let plan = analyse(&traces, CCAN).expect("analysis succeeds");
    let groups = &plan.groups[0];
    assert_eq!(groups.end_of(0), 4);
    assert!((0..5).all(|op| groups.atomic[op] == 0));
}

#[test]
fn cycles_are_reported_as_chains() {
    let deps = vec![
        Dep {
            file: 0,
            op: 1,
            target_file: 1,
            target: 1,
        },
        Dep {
            file: 1,
            op: 0,
            target_file: 0,
            target: 1,
        },
    ];
    let cycle = cycles::find_cycle(&deps, &[3, 3]).expect("a waits for b waits for a");
    assert_eq!(cycle.0.len(), 2);
    assert!(cycles::find_cycle(&deps[..1], &[3, 3]).is_none());
}

#[test]
fn optimise_keeps_only_the_latest_needed_wait() {
    let dep = |op, target| Dep {
        file: 0,
        op,
        target_file: 1,
        target,
    };
    let mut all = vec![dep(5, 2), dep(5, 7), dep(6, 3), dep(8, 9)];
    prune::optimise(&mut all, 2);
    assert_eq!(all, vec![dep(5, 7), dep(8, 9)]);
}
