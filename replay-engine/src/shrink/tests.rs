//! The shrinker with a toy check (no engine): whole traces, top-level regions and ops
//! inside regions go; frames go whole, and alone where what they held is needed
//! without them; a candidate failing differently is refused.

use super::{shrink, Failure, FnCheck, Level, ShrinkError, Signature};
use crate::analysis::Analysis;
use crate::backend::LockingModel;
use crate::trace::emit::emit_all;
use crate::trace::{parse_trace, LoadOptions, OpKind, Trace};

const A: &str = "\
1 tdb_open 7 0x0 0x42
2 tdb_store 1:61 1:31 0x1 = 0
3 tdb_transaction_start
3 tdb_store 3:626164 1:32 0x1 = 0
3 tdb_fetch 1:61 = 1:31
4 tdb_transaction_commit
4 tdb_chainlock 1:61
4 tdb_fetch 1:61 = 1:31
4 tdb_chainunlock 1:61
4 tdb_traverse_read_start
4 traversefn
4 tdb_fetch 3:626164 = 1:32
4 traversefn
4 tdb_traverse_end = 2
5 tdb_delete 1:61 = 0
5 tdb_close
";

const B: &str = "\
1 tdb_open 7 0x0 0x42
1 tdb_fetch 1:7a = NULL
6 tdb_store 1:7a 1:33 0x1 = 0
6 tdb_transaction_start
7 tdb_store 1:79 1:34 0x1 = 0
7 tdb_transaction_commit
7 tdb_close
";

fn set() -> Vec<Trace> {
    [("a.trace", A), ("b.trace", B), ("c.trace", B)]
        .into_iter()
        .map(|(name, text)| {
            parse_trace(name, text.as_bytes(), &LoadOptions::default())
                .unwrap_or_else(|error| panic!("{error}"))
        })
        .collect()
}

const LOCKING: LockingModel = LockingModel {
    read_traverse_takes_transaction_lock: false,
};

/// Fails ("bad") when some trace stores key `bad` inside a transaction and later fetches
/// it, and b.trace is in the set; without b.trace it fails differently ("other").
fn toy(traces: &[Trace], _: &mut Analysis) -> Option<Failure> {
    let bad = traces.iter().any(|trace| {
        let on_bad = |at: usize, fetch: bool| match trace.ops[at].kind {
            OpKind::Store { key, .. } if !fetch => trace.bytes(key) == b"bad",
            OpKind::Fetch { key, .. } if fetch => trace.bytes(key) == b"bad",
            _ => false,
        };
        let is = |at: usize, kind: OpKind| trace.ops[at].kind == kind;
        let store = (0..trace.ops.len()).find(|&at| on_bad(at, false));
        store.is_some_and(|store| {
            (0..store).any(|at| is(at, OpKind::TransactionStart))
                && (store..trace.ops.len()).any(|at| is(at, OpKind::TransactionCommit))
                && (store..trace.ops.len()).any(|at| on_bad(at, true))
        })
    });
    let with_b = traces.iter().any(|trace| trace.name == "b.trace");
    bad.then(|| Failure {
        signature: Signature::Other(if with_b { "bad" } else { "other" }.to_string()),
        message: "a bad fetch".to_string(),
    })
}

#[test]
fn shrinks_to_the_ops_that_matter_keeping_regions_whole() {
    let traces = set();
    let mut check = FnCheck {
        locking: LOCKING,
        run: toy,
    };
    let mut levels = Vec::new();
    let shrunk = shrink(&traces, &mut check, &mut |progress| {
        if levels.last() != Some(&progress.level) {
            levels.push(progress.level);
        }
        assert!(progress.ops <= progress.ops_before);
    })
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(shrunk.ops_before, 14 + 5 + 5);
    assert_eq!(shrunk.traces_before, 3);
    assert_eq!(shrunk.original.signature, "bad");
    assert_eq!(shrunk.failure.signature, "bad");
    let names: Vec<&str> = shrunk.traces.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a.trace", "b.trace"]);
    let a = String::from_utf8(emit_all(&shrunk.traces[0])).unwrap();
    assert_eq!(
        a,
        "\
1 tdb_open 7 0x0 0x42
3 tdb_transaction_start
3 tdb_store 3:626164 1:32 0x1 = 0
4 tdb_transaction_commit
4 tdb_fetch 3:626164 = 1:32
5 tdb_close
"
    );
    assert!(shrunk.traces[1].ops.is_empty());
    assert_eq!(shrunk.ops_after, 4);
    assert!(shrunk.candidates > 5);
    assert!(shrunk.rounds >= 2, "the last round removes nothing");
    assert_eq!(
        &levels[..4],
        [
            Level::Traces,
            Level::Nodes(0),
            Level::Nodes(1),
            Level::Frames
        ]
    );
}

#[test]
fn a_set_that_does_not_fail_is_refused() {
    let traces = set();
    let mut check = FnCheck {
        locking: LOCKING,
        run: |_: &[Trace], _: &mut Analysis| None,
    };
    let error = shrink(&traces, &mut check, &mut |_| {}).unwrap_err();
    assert_eq!(error, ShrinkError::DoesNotFail);
}

#[test]
fn output_names_drop_the_directory_and_compression() {
    assert_eq!(
        super::output_name("/x/y/users.ldb.trace.19774.zst"),
        "users.ldb.trace.19774"
    );
    assert_eq!(super::output_name("a.trace.gz"), "a.trace");
    assert_eq!(super::output_name("dir/b.trace"), "b.trace");
    assert_eq!(super::output_name(".zst"), ".zst");
}
