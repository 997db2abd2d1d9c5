//! Round trips: parse, emit, parse again gives the same ops (kinds, bytes and seqnums;
//! line numbers may differ) for handwritten traces of both writers and for randomly
//! generated ones; and a subset keeps traverse counts consistent.

use crate::trace::emit::{emit, emit_all};
use crate::trace::{parse_trace, Append, FlavourChoice, LoadOptions, OpKind, Rec, Trace};

fn parse(name: &str, text: &[u8], flavour: FlavourChoice) -> Trace {
    let options = LoadOptions {
        flavour,
        ..LoadOptions::default()
    };
    parse_trace(name, text, &options).unwrap_or_else(|error| {
        panic!("{error}\n{}", String::from_utf8_lossy(text));
    })
}

/// Every op as text with its records resolved, so traces over different arenas compare.
fn resolved(trace: &Trace) -> Vec<String> {
    let bytes = |span| hex(trace.bytes(span));
    let rec = |rec: Rec| rec.map_or("NULL".to_string(), bytes);
    trace
        .ops
        .iter()
        .map(|op| {
            let what = match op.kind {
                OpKind::Fetch { key, result } => format!("fetch {} {}", bytes(key), rec(result)),
                OpKind::ParseRecord { key, ret } => format!("parse {} {ret}", bytes(key)),
                OpKind::Exists { key, ret } => format!("exists {} {ret}", bytes(key)),
                OpKind::Delete { key, ret } => format!("delete {} {ret}", bytes(key)),
                OpKind::Store {
                    key,
                    data,
                    flag,
                    ret,
                } => format!("store {} {} {flag:?} {ret}", bytes(key), rec(data)),
                OpKind::StoreV { key, data, flag } => {
                    format!("storev {} {} {flag:?}", bytes(key), bytes(data))
                }
                OpKind::Append {
                    key,
                    append: Append::Result { appended, result },
                } => format!("append {} {} = {}", bytes(key), rec(appended), rec(result)),
                OpKind::Append {
                    key,
                    append: Append::Previous { previous, appended },
                } => format!(
                    "append {} {} -> {}",
                    bytes(key),
                    rec(previous),
                    rec(appended)
                ),
                OpKind::TraverseEntry {
                    record: Some((key, data)),
                } => format!("traverse {} {}", bytes(key), bytes(data)),
                OpKind::NextKey { key, result } => {
                    format!("nextkey {} {}", bytes(key), rec(result))
                }
                OpKind::FirstKey { result } => format!("firstkey {}", rec(result)),
                OpKind::ChainLock { key, op, ret } => {
                    format!("chainlock {op:?} {} {ret:?}", bytes(key))
                }
                ref other => format!("{other:?}"),
            };
            format!("{} {what}", op.seqnum)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse `text`, emit it, parse that: the same ops, flavour and close.
fn round_trip(name: &str, text: &[u8], flavour: FlavourChoice) -> Vec<u8> {
    let first = parse(name, text, flavour);
    let emitted = emit_all(&first);
    let again = parse(name, &emitted, flavour);
    assert_eq!(
        resolved(&first),
        resolved(&again),
        "{}",
        String::from_utf8_lossy(&emitted)
    );
    assert_eq!(first.flavour, again.flavour);
    assert_eq!(first.open, again.open);
    assert_eq!(first.closed, again.closed);
    assert_eq!(first.close_seqnum, again.close_seqnum);
    // And emitting is stable.
    assert_eq!(emitted, emit_all(&again));
    emitted
}

#[test]
fn the_handwritten_fixtures_round_trip() {
    let a = include_bytes!("../../../../tests/fixtures/handwritten/a.trace");
    let b = include_bytes!("../../../../tests/fixtures/handwritten/b.trace");
    for (name, text) in [("a.trace", &a[..]), ("b.trace", &b[..])] {
        let emitted = round_trip(name, text, FlavourChoice::Auto);
        // tdb's own layout, line for line, but for the flag words' `%#x` form.
        assert_eq!(
            String::from_utf8_lossy(&emitted)
                .lines()
                .skip(1)
                .collect::<Vec<_>>(),
            String::from_utf8_lossy(text)
                .lines()
                .skip(1)
                .collect::<Vec<_>>()
        );
    }
}

const CCAN: &str = "\
3 tdb_open 0 0 0x42
4 tdb_store 2:6b00 NULL 0x1 = 0
4 tdb_store 2:6c00 0: 0x2 = -1
5 tdb_append 2:6b00 1:61 = 1:61
5 tdb_transaction_start
6 tdb_store 2:6d00 3:010203 0x3 = 0
6 tdb_transaction_start
7 tdb_delete 2:6d00 = 0
7 tdb_transaction_prepare_commit
7 tdb_transaction_commit
7 tdb_parse_record 2:6b00 = -8
7 tdb_get_seqnum = 7
7 tdb_firstkey = 2:6b00
7 tdb_nextkey 2:6b00 = NULL
7 tdb_chainlock_nonblock 2:6b00 = -1
7 tdb_chainlock_mark 2:6b00
7 tdb_chainlock_unmark 2:6b00
7 tdb_lockall_nonblock = 0
7 tdb_unlockall
7 tdb_lockall_read
7 tdb_unlockall_read
7 tdb_repack
7 tdb_traverse_read_start
7 traverse 2:6b00 = 1:61
7 tdb_traverse_end = 1
8 tdb_wipe_all
8 tdb_transaction_start
8 tdb_exists 2:6b00 = 0
";

const SAMBA: &str = "\
10 tdb_open 131 0x800 0x2
11 tdb_storev 1:6b 2:6869 0: 1:21 0x0 = -1
12 tdb_append 1:6b 3:686921 = 2:3f3f
12 tdb_append 1:6e NULL = 1:78
12 tdb_chainlock_read_nonblock 1:6b = 0
12 tdb_chainunlock_read 1:6b
12 tdb_transaction_start
13 tdb_store 1:6b 0: 0x1 = 0
13 tdb_transaction_commit
13 tdb_transaction_cancel
13 tdb_traverse_start
13 traversefn
13 tdb_fetch 1:6b = 0:
13 traversefn
13 tdb_traverse_end = 2
14 tdb_fetch NULL = NULL
14 tdb_close
";

#[test]
fn every_op_of_both_writers_round_trips() {
    // A ccan trace with a restart (an implied cancel), open at the end (another), with
    // no tdb_close.
    let ccan = parse("c.trace", CCAN.as_bytes(), FlavourChoice::Auto);
    assert_eq!(ccan.flavour, crate::trace::Flavour::Ccan);
    let implied = ccan
        .ops
        .iter()
        .filter(|op| op.kind == OpKind::TransactionCancel { implied: true })
        .count();
    assert_eq!(implied, 2);
    let emitted = round_trip("c.trace", CCAN.as_bytes(), FlavourChoice::Auto);
    assert!(!String::from_utf8_lossy(&emitted).contains("cancel"));

    let samba = round_trip("s.trace", SAMBA.as_bytes(), FlavourChoice::Auto);
    let samba = String::from_utf8_lossy(&samba);
    assert!(
        samba.contains("12 tdb_append 1:6b 3:686921 = 2:3f3f\n"),
        "{samba}"
    );
    assert!(
        samba.contains("11 tdb_storev 1:6b 3:686921 0 = -1\n"),
        "{samba}"
    );
    assert!(
        samba.ends_with("14 tdb_fetch 0: = NULL\n14 tdb_close\n"),
        "{samba}"
    );
    // Forced flavours round trip too.
    round_trip("c.trace", CCAN.as_bytes(), FlavourChoice::Samba);
    round_trip("s.trace", SAMBA.as_bytes(), FlavourChoice::Samba);
}

#[test]
fn a_subset_keeps_traverse_counts_consistent() {
    let trace = parse("s.trace", SAMBA.as_bytes(), FlavourChoice::Samba);
    let entry = |at: usize| matches!(trace.ops[at].kind, OpKind::TraverseEntry { .. });
    let first_entry = (0..trace.ops.len()).find(|&at| entry(at)).unwrap();
    let mut text = Vec::new();
    let written = emit(&trace, |at| at != first_entry, &mut text).unwrap();
    assert_eq!(written.ops, trace.ops.len() - 1);
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("13 tdb_traverse_end = 1\n"), "{text}");
    let mut text = Vec::new();
    emit(&trace, |at| !entry(at), &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("13 tdb_traverse_end\n"), "{text}");
    let again = parse("s.trace", text.as_bytes(), FlavourChoice::Samba);
    assert_eq!(again.ops.len(), trace.ops.len() - 2);
}

/// A deterministic generator (xorshift), for random but valid traces.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn record(&mut self) -> String {
        match self.below(8) {
            0 => "NULL".to_string(),
            1 => "0:".to_string(),
            _ => {
                let len = self.below(6) + 1;
                let digits: String = (0..len)
                    .map(|_| format!("{:02x}", self.below(256)))
                    .collect();
                format!("{len}:{digits}")
            }
        }
    }

    fn key(&mut self) -> String {
        format!("2:6b{:02x}", self.below(5))
    }
}

/// A random trace of `ops` top-level lines (transactions and traverses with content),
/// in the layout of `samba` or ccan.
fn random_trace(seed: u64, ops: usize, samba: bool) -> String {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut text = format!(
        "{seed} tdb_open 7 {} 0x42\n",
        if samba { "0x800" } else { "0x0" }
    );
    let mut seqnum = seed;
    let simple = |rng: &mut Rng, seqnum: u64| -> String {
        let key = rng.key();
        match rng.below(8) {
            0 => format!("{seqnum} tdb_fetch {key} = {}", rng.record()),
            1 => format!(
                "{seqnum} tdb_store {key} {} {:#x} = 0",
                rng.record(),
                rng.below(4)
            ),
            2 => format!("{seqnum} tdb_delete {key} = -1"),
            3 => format!("{seqnum} tdb_exists {key} = {}", rng.below(2)),
            4 => format!(
                "{seqnum} tdb_append {key} {} = {}",
                rng.record(),
                rng.record()
            ),
            5 => format!("{seqnum} tdb_parse_record {key} = 0"),
            6 if samba => format!(
                "{seqnum} tdb_storev {key} {} {} 0x1 = -1",
                rng.record(),
                rng.record()
            ),
            _ => format!("{seqnum} tdb_nextkey {key} = {}", rng.record()),
        }
    };
    for _ in 0..ops {
        seqnum += rng.below(3);
        match rng.below(10) {
            0 => {
                text += &format!("{seqnum} tdb_transaction_start\n");
                for _ in 0..rng.below(4) {
                    text += &(simple(&mut rng, seqnum) + "\n");
                }
                let end = if rng.below(2) == 0 {
                    "commit"
                } else {
                    "cancel"
                };
                text += &format!("{seqnum} tdb_transaction_{end}\n");
            }
            1 => {
                let read = if rng.below(2) == 0 { "_read" } else { "" };
                text += &format!("{seqnum} tdb_traverse{read}_start\n");
                let entries = rng.below(4);
                for _ in 0..entries {
                    if rng.below(2) == 0 {
                        text += &format!(
                            "{seqnum} traverse {} = {}\n",
                            rng.key(),
                            rng.record().replace("NULL", "0:")
                        );
                    } else {
                        text += &format!("{seqnum} traversefn\n");
                    }
                    if rng.below(2) == 0 {
                        text += &(simple(&mut rng, seqnum) + "\n");
                    }
                }
                if entries > 0 && rng.below(2) == 0 {
                    text += &format!("{seqnum} tdb_traverse_end = {entries}\n");
                } else {
                    text += &format!("{seqnum} tdb_traverse_end\n");
                }
            }
            2 => {
                let key = rng.key();
                text += &format!("{seqnum} tdb_chainlock {key}\n");
                text += &(simple(&mut rng, seqnum) + "\n");
                text += &format!("{seqnum} tdb_chainunlock {key}\n");
            }
            _ => text += &(simple(&mut rng, seqnum) + "\n"),
        }
    }
    if rng.below(4) != 0 {
        text += &format!("{seqnum} tdb_close\n");
    }
    text
}

#[test]
fn generated_traces_round_trip() {
    for seed in 1..40 {
        let samba = seed % 2 == 0;
        let text = random_trace(seed, 60, samba);
        let flavour = if samba {
            FlavourChoice::Samba
        } else {
            FlavourChoice::Ccan
        };
        round_trip("g.trace", text.as_bytes(), flavour);
    }
}
