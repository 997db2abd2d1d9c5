//! The handwritten two-process fixture: known dependencies, and a replay whose every
//! result matches; then the same traces with one recorded result changed must fail at
//! exactly that line.

use crate::util::{analyse, check_final_database, handwritten, load, replay_c, tdbdump};
use replay_engine::backend::c::CTdb;
use replay_engine::replay::{self, ReplayError, ReplayOptions};
use replay_engine::trace::{parse_trace, LoadOptions};

pub fn handwritten_set_has_the_expected_dependencies() {
    let traces = load(&handwritten());
    let plan = analyse(&traces);
    let at = |file: u32, op: u32| {
        let trace = &traces[file as usize];
        let name = std::path::Path::new(&trace.name)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        format!("{name}:{}", trace.ops[op as usize].line)
    };
    let mut deps: Vec<String> = plan
        .deps
        .iter()
        .map(|d| format!("{} -> {}", at(d.file, d.op), at(d.target_file, d.target)))
        .collect();
    deps.sort();
    assert_eq!(
        deps,
        [
            "a.trace:3 -> b.trace:2",
            "b.trace:3 -> a.trace:7",
            "b.trace:4 -> a.trace:8"
        ]
    );
}

pub fn handwritten_set_replays_and_leaves_a_sound_file() {
    let traces = load(&handwritten());
    let mut plan = analyse(&traces);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hand.tdb");
    let report = replay_c(&db, &traces, &mut plan, 3);
    assert_eq!(report.runs.len(), 3);
    check_final_database(&db);
    if let Some(dump) = tdbdump(&db) {
        // k = "hi" and log = "ab" survive; n was deleted by b's traverse.
        assert!(dump.contains("key(1) = \"k\"\ndata(2) = \"hi\""), "{dump}");
        assert!(
            dump.contains("key(3) = \"log\"\ndata(2) = \"ab\""),
            "{dump}"
        );
        assert!(!dump.contains("key(1) = \"n\""), "{dump}");
    }
}

pub fn a_missing_record_fails_at_its_line() {
    // The analysis finds that k must exist before the trace starts; replaying on a
    // database without it must fail at the fetch, with the line and both values.
    let text = "1 tdb_open 0 0x0 0x42\n1 tdb_fetch 1:6b = 2:0102\n1 tdb_close\n";
    let traces =
        vec![parse_trace("t.trace", text.as_bytes(), &LoadOptions::default()).expect("parses")];
    let mut plan = analyse(&traces);
    assert_eq!(plan.preexisting.len(), 1);
    plan.preexisting.clear();
    let dir = tempfile::tempdir().expect("temp dir");
    let result = replay::replay::<CTdb>(
        &dir.path().join("bad.tdb"),
        &traces,
        &mut plan,
        &ReplayOptions::default(),
    );
    match result {
        Err(ReplayError::Mismatch(mismatches)) => assert_eq!(
            mismatches
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["t.trace:2: tdb_fetch gave NULL, the trace recorded 2:0102"]
        ),
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

/// A Samba-written trace (flag 0x800 makes it detectable): nested transactions whose
/// inner start tdb did not trace, `tdb_storev`, Samba's `tdb_append K previous = appended`
/// and a nonblocking read chain lock. Every result must match on C tdb.
pub fn a_samba_trace_with_nested_transactions_replays() {
    let text = "\
1 tdb_open 0 0x880 0x42
1 tdb_transaction_start
2 tdb_storev 1:6b 1:61 1:62 0x1 = -1
2 tdb_transaction_commit
3 tdb_append 1:6b 2:6162 = 1:63
3 tdb_transaction_commit
3 tdb_fetch 1:6b = 3:616263
3 tdb_transaction_start
4 tdb_store 1:6c 1:01 0x2 = 0
4 tdb_transaction_cancel
4 tdb_transaction_commit
4 tdb_fetch 1:6c = NULL
4 tdb_chainlock_read_nonblock 1:6b = 0
4 tdb_fetch 1:6b = 3:616263
4 tdb_chainunlock_read 1:6b
4 tdb_close
";
    let traces =
        vec![parse_trace("samba.trace", text.as_bytes(), &LoadOptions::default()).expect("parses")];
    assert_eq!(traces[0].flavour, replay_engine::trace::Flavour::Samba);
    let mut plan = analyse(&traces);
    assert!(plan.preexisting.is_empty());
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("samba.tdb");
    let report = replay_c(&db, &traces, &mut plan, 2);
    assert!(
        report.runs[0].tolerated.is_empty(),
        "{:?}",
        report.runs[0].tolerated
    );
    check_final_database(&db);
    if let Some(dump) = tdbdump(&db) {
        assert!(dump.contains("key(1) = \"k\"\ndata(3) = \"abc\""), "{dump}");
        assert!(
            !dump.contains("key(1) = \"l\""),
            "the doomed transaction left l: {dump}"
        );
    }
}
