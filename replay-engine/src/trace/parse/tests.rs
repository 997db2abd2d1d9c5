//! File-level tests: first and last line, end-of-file rules, flavours, implied ops, and
//! the exact `file:line:` form of errors.

use crate::backend::{ChainLockOp, StoreFlag, TraverseKind};
use crate::trace::{
    parse_trace, Append, FlavourChoice, LoadError, LoadOptions, Op, OpKind, Span, Trace,
};

use super::Flavour;

const OPEN: &str = "27 tdb_open 2 0x1 0x42\n";

fn load_as(text: &[u8], flavour: FlavourChoice) -> Result<Trace, LoadError> {
    let opts = LoadOptions {
        flavour,
        ..LoadOptions::default()
    };
    parse_trace("t.trace", text, &opts)
}

fn load(text: &str) -> Trace {
    load_as(text.as_bytes(), FlavourChoice::Auto)
        .unwrap_or_else(|e| panic!("should load: {e}\n{text}"))
}

fn load_err(text: &[u8]) -> String {
    match load_as(text, FlavourChoice::Auto) {
        Ok(trace) => panic!("should fail, got {:?}", trace.ops),
        Err(err) => err.to_string(),
    }
}

fn kinds(trace: &Trace) -> Vec<OpKind> {
    trace.ops.iter().map(|op| op.kind.clone()).collect()
}

const START: OpKind = OpKind::TransactionStart;
const COMMIT: OpKind = OpKind::TransactionCommit;
const CANCEL: OpKind = OpKind::TransactionCancel { implied: false };
const IMPLIED_CANCEL: OpKind = OpKind::TransactionCancel { implied: true };
const WIPE: OpKind = OpKind::WipeAll;

#[test]
fn a_whole_trace() {
    let trace = load(
        "27 tdb_open 2 0x1 0x42\n\
         27 tdb_fetch 4:6f736200 = NULL\n\
         28 tdb_store 3:797000 0: 0x1 = 0\n\
         28 tdb_close\n",
    );
    assert_eq!(trace.name, "t.trace");
    assert_eq!(trace.open.seqnum, 27);
    assert_eq!(trace.open.hash_size, 2);
    assert_eq!(trace.open.tdb_flags, 1);
    assert_eq!(trace.open.open_flags, 0x42);
    assert!(trace.closed);
    assert!(trace.warnings.is_empty(), "{:?}", trace.warnings);
    assert_eq!(trace.flavour, Flavour::Ccan);
    assert_eq!(trace.ops.len(), 2);
    let Op { seqnum, line, kind } = &trace.ops[0];
    assert_eq!((*seqnum, *line), (27, 2));
    let OpKind::Fetch { key, result: None } = *kind else {
        panic!("{kind:?}")
    };
    assert_eq!(trace.bytes(key), b"osb\0");
    let Op { seqnum, line, kind } = &trace.ops[1];
    assert_eq!((*seqnum, *line), (28, 3));
    let OpKind::Store {
        key,
        data,
        flag,
        ret,
    } = *kind
    else {
        panic!("{kind:?}")
    };
    assert_eq!(trace.bytes(key), b"yp\0");
    assert_eq!(trace.rec(data), Some(&b""[..]));
    assert_eq!((flag, ret), (StoreFlag::Replace, 0));
    assert_eq!(trace.ops[1].name(), "tdb_store");
}

#[test]
fn errors_carry_file_and_line() {
    let text = format!("{OPEN}27 tdb_fetch 1:61 = NULL\n27 tdb_fetch 1:61 NULL\n28 tdb_close\n");
    assert_eq!(
        load_err(text.as_bytes()),
        r#"t.trace:3: expected <key> = <data> after tdb_fetch, found "1:61 NULL""#
    );
    let text = format!("{OPEN}27 tdb_fetch 1:61 = NULL\n27 x\n");
    assert_eq!(
        load_err(text.as_bytes()),
        r#"t.trace:3: unknown operation "x""#
    );
    let text = format!("{OPEN}27 tdb_wipe_all\n\n27 tdb_close\n");
    assert_eq!(
        load_err(text.as_bytes()),
        "t.trace:3: blank line (expected <seqnum> <operation>)"
    );
    let text = format!("{OPEN}27 tdb_fetch 4294967296:61 = NULL\n");
    let msg = load_err(text.as_bytes());
    assert!(
        msg.starts_with("t.trace:2: <key> of tdb_fetch: length 4294967296 needs "),
        "{msg}"
    );
    let msg = load_err(format!("{OPEN}27 tdb_fetch 99999999999:61 = NULL\n").as_bytes());
    assert!(
        msg.starts_with("t.trace:2: <key> of tdb_fetch: length 99999999999 needs "),
        "{msg}"
    );
    let msg = load_err(format!("{OPEN}99999999999 tdb_wipe_all\n").as_bytes());
    assert!(msg.starts_with("t.trace:2: expected a seqnum "), "{msg}");
    let msg = load_err(format!("{OPEN}27 tdb_open 2 0x1 0x42\n").as_bytes());
    assert_eq!(msg, "t.trace:2: tdb_open is only valid on the first line");
}

#[test]
fn the_first_line_must_be_tdb_open() {
    assert_eq!(
        load_err(b"27 tdb_fetch 1:61 = NULL\n27 tdb_close\n"),
        r#"t.trace:1: expected <seqnum> tdb_open <hash_size> <tdb_flags> <open_flags>, found "27 tdb_fetch 1:61 = NULL""#
    );
    assert_eq!(
        load_err(b""),
        "t.trace:1: expected <seqnum> tdb_open <hash_size> <tdb_flags> <open_flags>, found end of file"
    );
    assert_eq!(
        load_err(b"\n"),
        "t.trace:1: expected <seqnum> tdb_open <hash_size> <tdb_flags> <open_flags>, found end of line"
    );
    // `%#x` (2009 ccan) and `0x%x` forms.
    let trace = load("5 tdb_open 131 0 02\n5 tdb_close\n");
    assert_eq!((trace.open.tdb_flags, trace.open.open_flags), (0, 2));
    let trace = load("5 tdb_open 131 0x0 0x2\n5 tdb_close\n");
    assert_eq!((trace.open.tdb_flags, trace.open.open_flags), (0, 2));
    // Only the open line: a trace with no ops.
    let trace = load("5 tdb_open 131 0x0 0x2\n");
    assert!(trace.ops.is_empty());
    assert!(!trace.closed);
}

#[test]
fn lines_after_tdb_close_are_an_error() {
    let text = format!("{OPEN}27 tdb_close\n27 tdb_wipe_all\n");
    assert_eq!(
        load_err(text.as_bytes()),
        r#"t.trace:3: unexpected line after tdb_close: "27 tdb_wipe_all""#
    );
    let text = format!("{OPEN}27 tdb_close\n27 tdb_close\n");
    assert!(load_err(text.as_bytes()).starts_with("t.trace:3: unexpected line after tdb_close"));
    // Even a torn one.
    let text = format!("{OPEN}27 tdb_close\n27 tdb_w");
    assert!(load_err(text.as_bytes()).starts_with("t.trace:3: unexpected line after tdb_close"));
}

#[test]
fn carriage_returns_are_named() {
    let text = format!("{OPEN}27 tdb_wipe_all\r\n27 tdb_close\r\n");
    assert_eq!(
        load_err(text.as_bytes()),
        r#"t.trace:2: carriage return in line (CRLF line endings?): "27 tdb_wipe_all\r""#
    );
    let msg = load_err(b"27 tdb_open 2 0x1 0x42\r\n");
    assert!(
        msg.starts_with("t.trace:1: carriage return in line"),
        "{msg}"
    );
}

#[test]
fn without_tdb_close_the_last_line_is_kept_with_a_warning() {
    let trace = load(&format!("{OPEN}27 tdb_wipe_all\n28 tdb_repack\n"));
    assert!(!trace.closed);
    assert_eq!(kinds(&trace), [WIPE, OpKind::Repack]);
    assert_eq!(
        trace.warnings,
        ["t.trace:3: incomplete trace: no tdb_close"]
    );
}

#[test]
fn a_torn_last_line_is_kept_if_it_parses() {
    let trace = load(&format!("{OPEN}27 tdb_wipe_all\n28 tdb_repack"));
    assert_eq!(kinds(&trace), [WIPE, OpKind::Repack]);
    assert_eq!(
        trace.warnings,
        ["t.trace:3: incomplete trace: no tdb_close"]
    );
    // A final tdb_close without its LF still closes the file.
    let trace = load(&format!("{OPEN}27 tdb_wipe_all\n28 tdb_close"));
    assert!(trace.closed);
    assert!(trace.warnings.is_empty());
}

#[test]
fn a_torn_last_line_that_fails_is_dropped_with_a_warning() {
    let trace = load(&format!("{OPEN}27 tdb_wipe_all\n28 tdb_fetch 3:61"));
    assert_eq!(kinds(&trace), [WIPE]);
    assert_eq!(
        trace.warnings,
        [
            "t.trace:3: dropped the torn last line (17 bytes, no newline at end of file): <key> of \
             tdb_fetch: length 3 needs 6 hex digits, found 2 in record \"3:61\"",
            "t.trace:2: incomplete trace: no tdb_close",
        ]
    );
    // Its partly decoded record does not linger in the arena.
    assert!(trace.arena.is_empty());
    // The same line with its LF is an error.
    let msg = load_err(format!("{OPEN}27 tdb_wipe_all\n28 tdb_fetch 3:61\n").as_bytes());
    assert!(msg.starts_with("t.trace:3: <key> of tdb_fetch"), "{msg}");
    // A torn first line leaves no trace at all.
    assert_eq!(
        load_err(b"27 tdb_op"),
        "t.trace:1: expected <seqnum> tdb_open <hash_size> <tdb_flags> <open_flags>, found end of file"
    );
}

#[test]
fn open_transactions_are_cancelled_at_eof_one_per_level() {
    // ccan 2009 closed with a transaction open and cancelled it untraced.
    let trace = load(&format!(
        "{OPEN}21 tdb_transaction_start\n22 tdb_store 1:61 1:62 0x1 = 0\n22 tdb_close\n"
    ));
    let last = trace.ops.last().unwrap();
    assert_eq!(last.kind, IMPLIED_CANCEL);
    // Synthetic ops carry the last line; the cancel carries its start's seqnum.
    assert_eq!((last.line, last.seqnum), (4, 21));
    assert_eq!(trace.ops.len(), 3);

    // Samba: nested starts are traced only once... but ccan with nesting allowed traces
    // each, and every level open at the end gets its cancel.
    let trace = load(
        "1 tdb_open 2 0x200 0x42\n\
         1 tdb_transaction_start\n\
         1 tdb_transaction_start\n\
         1 tdb_transaction_start\n\
         1 tdb_transaction_commit\n",
    );
    assert_eq!(trace.flavour, Flavour::Ccan);
    assert_eq!(
        kinds(&trace),
        [START, START, START, COMMIT, IMPLIED_CANCEL, IMPLIED_CANCEL]
    );
    assert!(trace.ops[4..].iter().all(|op| op.line == 5));

    let trace = load_as(
        b"1 tdb_open 2 0x0 0x42\n2 tdb_transaction_start\n3 tdb_transaction_start\n",
        FlavourChoice::Samba,
    )
    .unwrap();
    assert_eq!(
        kinds(&trace),
        [START, START, IMPLIED_CANCEL, IMPLIED_CANCEL]
    );
    // Innermost first: its start's seqnum, then the outer one's.
    assert_eq!(trace.ops[2].seqnum, 3);
    assert_eq!(trace.ops[3].seqnum, 2);
}

#[test]
fn ccan_restart_implies_a_cancel() {
    // Without TDB_ALLOW_NESTING a second start in ccan cancelled the first.
    let trace = load(&format!(
        "{OPEN}5 tdb_transaction_start\n6 tdb_store 1:61 1:62 0x1 = 0\n\
         5 tdb_transaction_start\n6 tdb_transaction_commit\n6 tdb_close\n"
    ));
    assert_eq!(trace.flavour, Flavour::Ccan);
    let got: Vec<(u32, OpKind)> = trace
        .ops
        .iter()
        .map(|op| (op.line, op.kind.clone()))
        .collect();
    assert_eq!(got[2], (4, IMPLIED_CANCEL));
    assert_eq!(got[3], (4, START));
    assert_eq!(got.len(), 5, "{got:?}");
    assert!(!trace.ops.iter().any(|op| op.line == 6));

    // Restarted and left open: the implied cancel, then one at the end.
    let trace = load(&format!(
        "{OPEN}5 tdb_transaction_start\n5 tdb_transaction_start\n5 tdb_close\n"
    ));
    assert_eq!(
        kinds(&trace),
        [START, IMPLIED_CANCEL, START, IMPLIED_CANCEL]
    );

    // The same lines in a Samba trace are two levels.
    let trace = load_as(
        format!("{OPEN}5 tdb_transaction_start\n5 tdb_transaction_start\n5 tdb_close\n").as_bytes(),
        FlavourChoice::Samba,
    )
    .unwrap();
    assert_eq!(
        kinds(&trace),
        [START, START, IMPLIED_CANCEL, IMPLIED_CANCEL]
    );
}

#[test]
fn extra_commits_and_cancels_are_not_errors() {
    // Samba traces the commit of a nested start it did not trace; C10 traces a cancel
    // after a failed commit. Neither may drive the depth negative.
    let trace = load_as(
        format!(
            "{OPEN}1 tdb_transaction_start\n1 tdb_transaction_commit\n\
             1 tdb_transaction_commit\n1 tdb_transaction_cancel\n1 tdb_transaction_start\n"
        )
        .as_bytes(),
        FlavourChoice::Samba,
    )
    .unwrap();
    assert_eq!(
        kinds(&trace),
        [START, COMMIT, COMMIT, CANCEL, START, IMPLIED_CANCEL]
    );
    let trace = load(&format!(
        "{OPEN}1 tdb_transaction_commit\n1 tdb_transaction_cancel\n1 tdb_close\n"
    ));
    assert_eq!(kinds(&trace), [COMMIT, CANCEL]);
}

#[test]
fn open_traverses_are_ended_at_eof_innermost_first() {
    let trace = load(&format!(
        "{OPEN}3 tdb_transaction_start\n4 tdb_traverse_read_start\n4 traversefn\n\
         4 tdb_traverse_start\n4 traversefn\n"
    ));
    let end = OpKind::TraverseEnd {
        stopped_after: None,
    };
    assert_eq!(
        kinds(&trace),
        [
            START,
            OpKind::TraverseStart {
                kind: TraverseKind::Read
            },
            OpKind::TraverseEntry { record: None },
            OpKind::TraverseStart {
                kind: TraverseKind::Write
            },
            OpKind::TraverseEntry { record: None },
            end.clone(),
            end,
            IMPLIED_CANCEL,
        ]
    );
    assert!(trace.ops[5..].iter().all(|op| op.line == 6));
    // The traverse end carries the last line's seqnum.
    assert_eq!(trace.ops[5].seqnum, 4);
    // A finished traverse needs nothing.
    let trace = load(&format!(
        "{OPEN}4 tdb_traverse_start\n4 traversefn\n4 tdb_traverse_end = 1\n4 tdb_close\n"
    ));
    assert_eq!(trace.ops.len(), 3);
}

#[test]
fn appends_in_both_layouts_and_flavour_detection() {
    // Fits ccan (the result ends with the appended bytes): read as ccan.
    let ccan = format!("{OPEN}1 tdb_append 1:6b 1:62 = 2:6162\n1 tdb_close\n");
    let trace = load(&ccan);
    assert_eq!(trace.flavour, Flavour::Ccan);
    let OpKind::Append {
        key,
        append: Append::Result { appended, result },
    } = trace.ops[0].kind
    else {
        panic!("{:?}", trace.ops[0].kind)
    };
    assert_eq!(trace.bytes(key), b"k");
    assert_eq!(trace.rec(appended), Some(&b"b"[..]));
    assert_eq!(trace.rec(result), Some(&b"ab"[..]));

    // Samba's `K previous = appended`: "a" then "b" cannot be ccan.
    let samba = format!("{OPEN}1 tdb_append 1:6b 1:61 = 1:62\n1 tdb_close\n");
    let trace = load(&samba);
    assert_eq!(trace.flavour, Flavour::Samba);
    let OpKind::Append {
        append: Append::Previous { previous, appended },
        ..
    } = trace.ops[0].kind
    else {
        panic!("{:?}", trace.ops[0].kind)
    };
    assert_eq!(trace.rec(previous), Some(&b"a"[..]));
    assert_eq!(trace.rec(appended), Some(&b"b"[..]));

    // A first append of a key in Samba: previous NULL, and the result is not NULL in ccan.
    let trace = load(&format!(
        "{OPEN}1 tdb_append 1:6b NULL = 1:62\n1 tdb_close\n"
    ));
    assert_eq!(trace.flavour, Flavour::Ccan);
    let trace = load(&format!(
        "{OPEN}1 tdb_append 1:6b 1:62 = NULL\n1 tdb_close\n"
    ));
    assert_eq!(trace.flavour, Flavour::Samba);
    let OpKind::Append {
        append: Append::Previous { previous, appended },
        ..
    } = trace.ops[0].kind
    else {
        panic!()
    };
    assert_eq!(trace.rec(previous), Some(&b"b"[..]));
    assert_eq!(appended, None);

    // Forced flavours win over what the lines suggest.
    let trace = load_as(samba.as_bytes(), FlavourChoice::Ccan).unwrap();
    assert_eq!(trace.flavour, Flavour::Ccan);
    assert!(matches!(
        trace.ops[0].kind,
        OpKind::Append {
            append: Append::Result { .. },
            ..
        }
    ));
    let trace = load_as(ccan.as_bytes(), FlavourChoice::Samba).unwrap();
    assert_eq!(trace.flavour, Flavour::Samba);
    let OpKind::Append {
        append: Append::Previous { previous, appended },
        ..
    } = trace.ops[0].kind
    else {
        panic!()
    };
    assert_eq!(trace.rec(previous), Some(&b"b"[..]));
    assert_eq!(trace.rec(appended), Some(&b"ab"[..]));
}

#[test]
fn samba_is_detected_from_its_own_lines_and_flags() {
    let cases = [
        (
            format!("{OPEN}1 tdb_storev 1:6b 1:61 0 = -1\n"),
            Flavour::Samba,
        ),
        (
            format!("{OPEN}1 tdb_chainlock_read_nonblock 1:6b = 0\n"),
            Flavour::Samba,
        ),
        (
            format!("{OPEN}1 tdb_chainlock_nonblock 1:6b = 0\n"),
            Flavour::Ccan,
        ),
        ("1 tdb_open 0 0x800 0x2\n".to_owned(), Flavour::Samba),
        ("1 tdb_open 0 0x1081 0x2\n".to_owned(), Flavour::Samba),
        ("1 tdb_open 0 0x481 0x2\n".to_owned(), Flavour::Ccan),
    ];
    for (text, want) in cases {
        assert_eq!(load(&text).flavour, want, "{text}");
        assert_eq!(
            load_as(text.as_bytes(), FlavourChoice::Ccan)
                .unwrap()
                .flavour,
            Flavour::Ccan
        );
    }
    // Detection comes from anywhere in the file and decides how earlier lines read: a
    // second start before the Samba-only line is a nested level, not a ccan restart.
    let trace = load(&format!(
        "{OPEN}1 tdb_transaction_start\n1 tdb_transaction_start\n\
         1 tdb_chainlock_read_nonblock 1:6b = 0\n1 tdb_close\n"
    ));
    assert_eq!(trace.flavour, Flavour::Samba);
    assert_eq!(trace.ops[1].kind, START);
    assert!(matches!(
        trace.ops[2].kind,
        OpKind::ChainLock {
            op: ChainLockOp::LockReadNonblock,
            ret: Some(0),
            ..
        }
    ));
    assert_eq!(trace.ops.len(), 5);
}

#[test]
fn storev_values_are_joined_in_the_arena() {
    let trace = load(&format!(
        "{OPEN}1 tdb_storev 2:6b31 3:616263 NULL 2:6465 0: 0x1 = -1\n1 tdb_close\n"
    ));
    let OpKind::StoreV { key, data, flag } = trace.ops[0].kind else {
        panic!()
    };
    assert_eq!(trace.bytes(key), b"k1");
    assert_eq!(trace.bytes(data), b"abcde");
    assert_eq!(flag, StoreFlag::Replace);
    assert_eq!(trace.arena, b"k1abcde");
}

#[test]
fn null_and_empty_records_stay_distinct() {
    let trace = load(&format!(
        "{OPEN}1 tdb_fetch 1:6b = NULL\n1 tdb_fetch 1:6b = 0:\n1 tdb_close\n"
    ));
    let results: Vec<_> = trace
        .ops
        .iter()
        .map(|op| match op.kind {
            OpKind::Fetch { result, .. } => trace.rec(result),
            _ => panic!(),
        })
        .collect();
    assert_eq!(results, [None, Some(&b""[..])]);
    assert_eq!(
        trace.ops[1].kind,
        OpKind::Fetch {
            key: Span { start: 1, len: 1 },
            result: Some(Span::EMPTY)
        }
    );
}

/// A small deterministic generator for the garbage tests.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let alphabet = b"0123456789abcdefABCDEF:= \n\rNULLx-tdb_fetch\x00\xff";
    let templates = [
        &b"27 tdb_fetch 4:6f736200 = 3:616263\n"[..],
        b"42 tdb_store 3:797000 0: 0x1 = 0\n",
        b"1 tdb_storev 2:6b31 3:616263 NULL 0x1 = -1\n",
        b"132 tdb_append 4:61797900 2:6162 = 4:61626162\n",
        b"747 tdb_traverse_end = 226\n",
        b"37 tdb_chainlock_nonblock 4:6d797500 = -1\n",
    ];
    for round in 0..4000 {
        let mut text = OPEN.as_bytes().to_vec();
        for _ in 0..(rng.next() % 4) {
            let mut line = templates[(rng.next() % templates.len() as u64) as usize].to_vec();
            // Mutate a few bytes, insert or delete some.
            for _ in 0..(rng.next() % 4) {
                let pos = (rng.next() % line.len() as u64) as usize;
                let c = alphabet[(rng.next() % alphabet.len() as u64) as usize];
                match rng.next() % 3 {
                    0 => line[pos] = c,
                    1 => line.insert(pos, c),
                    _ => {
                        line.remove(pos);
                    }
                }
            }
            text.extend_from_slice(&line);
        }
        if round % 3 == 0 {
            text.extend((0..rng.next() % 40).map(|_| rng.next() as u8));
        }
        // Either outcome is fine; a panic or a runaway allocation is not.
        if let Ok(trace) = load_as(&text, FlavourChoice::Auto) {
            assert!(trace.arena.len() <= text.len());
        }
    }
}
