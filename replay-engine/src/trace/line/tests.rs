//! Line-level tests: every op's happy path (fields and arena bytes) and every way a line
//! can be malformed. File-level rules are tested in `parse`.

use super::*;

/// A parsed line: its seqnum, what it is, and the arena its records went to.
struct Parsed {
    seqnum: u32,
    line: Line,
    arena: Vec<u8>,
}

impl Parsed {
    /// The op (panics on `tdb_close`).
    fn kind(&self) -> &OpKind {
        match &self.line {
            Line::Op(kind) => kind,
            Line::Close => panic!("expected an op, got tdb_close"),
        }
    }

    fn bytes(&self, span: Span) -> &[u8] {
        &self.arena[span.start..span.start + span.len]
    }

    fn rec(&self, rec: Rec) -> Option<&[u8]> {
        rec.map(|span| self.bytes(span))
    }
}

fn ok(text: &str) -> Parsed {
    let mut arena = Arena::default();
    let (seqnum, line) = parse_line(text.as_bytes(), &mut arena)
        .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"));
    Parsed {
        seqnum,
        line,
        arena: arena.into_bytes(),
    }
}

/// The error message for a line, checking that nothing was allocated for it.
fn err(text: &[u8]) -> String {
    let mut arena = Arena::default();
    match parse_line(text, &mut arena) {
        Ok((_, line)) => panic!("{:?} should fail, got {line:?}", text.escape_ascii()),
        Err(msg) => msg,
    }
}

fn assert_err(text: &str, expected: &str) {
    assert_eq!(err(text.as_bytes()), expected, "line {text:?}");
}

fn assert_err_contains(text: &[u8], parts: &[&str]) {
    let msg = err(text);
    for part in parts {
        assert!(msg.contains(part), "{msg:?} should contain {part:?}");
    }
}

#[test]
fn fetch_found_absent_and_empty() {
    let p = ok("27 tdb_fetch 4:6f736200 = NULL");
    assert_eq!(p.seqnum, 27);
    let OpKind::Fetch { key, result } = *p.kind() else {
        panic!("{:?}", p.kind())
    };
    assert_eq!(p.bytes(key), b"osb\0");
    assert_eq!(result, None);

    let p = ok("41 tdb_fetch 3:797000 = 0:");
    let OpKind::Fetch { key, result } = *p.kind() else {
        panic!()
    };
    assert_eq!(p.bytes(key), b"yp\0");
    // `0:` is a present, empty record: not NULL.
    assert_eq!(result, Some(Span::EMPTY));
    assert_eq!(p.rec(result), Some(&b""[..]));

    let p = ok("4294967295 tdb_fetch 2:aBcD = 3:FF00fe");
    assert_eq!(p.seqnum, u32::MAX);
    let OpKind::Fetch { key, result } = *p.kind() else {
        panic!()
    };
    assert_eq!(p.bytes(key), [0xab, 0xcd]);
    assert_eq!(p.rec(result), Some(&[0xff, 0x00, 0xfe][..]));
}

#[test]
fn key_ret_ops() {
    for (text, want_ret) in [
        ("1 tdb_parse_record 1:61 = 0", 0),
        ("1 tdb_parse_record 1:61 = -8", -8),
        ("1 tdb_exists 1:61 = 1", 1),
        ("1 tdb_delete 1:61 = -1", -1),
        ("1 tdb_delete 1:61 = 0", 0),
    ] {
        let p = ok(text);
        let (key, ret) = match *p.kind() {
            OpKind::ParseRecord { key, ret } => (key, ret),
            OpKind::Exists { key, ret } => (key, ret),
            OpKind::Delete { key, ret } => (key, ret),
            ref other => panic!("{other:?}"),
        };
        assert_eq!(p.bytes(key), b"a", "{text}");
        assert_eq!(ret, want_ret, "{text}");
    }
    assert!(matches!(
        ok("1 tdb_parse_record 0: = -1").kind(),
        OpKind::ParseRecord { .. }
    ));
    assert!(matches!(
        ok("1 tdb_exists 1:61 = 0").kind(),
        OpKind::Exists { .. }
    ));
}

#[test]
fn store_flags_in_every_base() {
    for (flag, want) in [
        ("0", StoreFlag::Default),
        ("0x0", StoreFlag::Default),
        ("0x1", StoreFlag::Replace),
        ("1", StoreFlag::Replace),
        ("0X2", StoreFlag::Insert),
        ("2", StoreFlag::Insert),
        ("0x3", StoreFlag::Modify),
        ("03", StoreFlag::Modify),
    ] {
        let p = ok(&format!("42 tdb_store 3:797000 2:6869 {flag} = -10"));
        let OpKind::Store {
            key,
            data,
            flag,
            ret,
        } = *p.kind()
        else {
            panic!()
        };
        assert_eq!(p.bytes(key), b"yp\0");
        assert_eq!(p.rec(data), Some(&b"hi"[..]));
        assert_eq!(flag, want);
        assert_eq!(ret, -10);
    }
    // NULL data stores an empty record, but the line keeps the NULL.
    let p = ok("4 tdb_store 3:6b6100 NULL 0x1 = 0");
    let OpKind::Store { data, .. } = *p.kind() else {
        panic!()
    };
    assert_eq!(data, None);
    let p = ok("4 tdb_store 3:6b6100 0: 0x1 = 0");
    let OpKind::Store { data, .. } = *p.kind() else {
        panic!()
    };
    assert_eq!(data, Some(Span::EMPTY));
}

#[test]
fn storev_concatenates_its_parts() {
    let p = ok("7 tdb_storev 1:6b 2:6162 NULL 0: 3:636465 0x2 = -1");
    let OpKind::StoreV { key, data, flag } = *p.kind() else {
        panic!("{:?}", p.kind())
    };
    assert_eq!(p.bytes(key), b"k");
    assert_eq!(p.bytes(data), b"abcde");
    assert_eq!(flag, StoreFlag::Insert);
    // The traced ret is never checked, whatever it says.
    let p = ok("7 tdb_storev 1:6b 1:61 0 = 0");
    let OpKind::StoreV { data, flag, .. } = *p.kind() else {
        panic!()
    };
    assert_eq!(p.bytes(data), b"a");
    assert_eq!(flag, StoreFlag::Default);
    // No parts at all: an empty value.
    let p = ok("7 tdb_storev 1:6b 0x1 = -1");
    let OpKind::StoreV { data, .. } = *p.kind() else {
        panic!()
    };
    assert_eq!(data, Span::EMPTY);
}

#[test]
fn append_keeps_both_records_in_line_order() {
    let p = ok("132 tdb_append 4:61797900 2:6869 = 4:68696869");
    let OpKind::Append { key, append } = *p.kind() else {
        panic!()
    };
    assert_eq!(p.bytes(key), b"ayy\0");
    let Append::Result { appended, result } = append else {
        panic!("{append:?}")
    };
    assert_eq!(p.rec(appended), Some(&b"hi"[..]));
    assert_eq!(p.rec(result), Some(&b"hihi"[..]));
    let p = ok("1 tdb_append 1:6b NULL = 1:61");
    let OpKind::Append {
        append: Append::Result { appended, result },
        ..
    } = *p.kind()
    else {
        panic!()
    };
    assert_eq!(appended, None);
    assert_eq!(p.rec(result), Some(&b"a"[..]));
}

#[test]
fn ops_without_arguments() {
    for (text, want) in [
        ("1 tdb_wipe_all", OpKind::WipeAll),
        ("1 tdb_repack", OpKind::Repack),
        ("1 tdb_transaction_start", OpKind::TransactionStart),
        (
            "1 tdb_transaction_prepare_commit",
            OpKind::TransactionPrepareCommit,
        ),
        ("1 tdb_transaction_commit", OpKind::TransactionCommit),
        (
            "1 tdb_transaction_cancel",
            OpKind::TransactionCancel { implied: false },
        ),
        (
            "1 tdb_traverse_start",
            OpKind::TraverseStart {
                kind: TraverseKind::Write,
            },
        ),
        (
            "1 tdb_traverse_read_start",
            OpKind::TraverseStart {
                kind: TraverseKind::Read,
            },
        ),
        ("28 traversefn", OpKind::TraverseEntry { record: None }),
        (
            "1 tdb_traverse_end",
            OpKind::TraverseEnd {
                stopped_after: None,
            },
        ),
        (
            "747 tdb_traverse_end = 226",
            OpKind::TraverseEnd {
                stopped_after: Some(226),
            },
        ),
        ("1 tdb_get_seqnum = 12", OpKind::GetSeqnum { ret: 12 }),
    ] {
        assert_eq!(ok(text).kind(), &want, "{text}");
    }
    assert_eq!(ok("4540 tdb_close").line, Line::Close);
}

#[test]
fn full_traverse_entry() {
    let p = ok("60723 traverse 2:6b31 = 3:646174");
    let OpKind::TraverseEntry {
        record: Some((key, data)),
    } = *p.kind()
    else {
        panic!()
    };
    assert_eq!(p.bytes(key), b"k1");
    assert_eq!(p.bytes(data), b"dat");
    let p = ok("1 traverse 1:6b = 0:");
    let OpKind::TraverseEntry {
        record: Some((_, data)),
    } = *p.kind()
    else {
        panic!()
    };
    assert_eq!(data, Span::EMPTY);
}

#[test]
fn firstkey_and_nextkey() {
    let p = ok("3 tdb_firstkey = 2:6b31");
    let OpKind::FirstKey { result } = *p.kind() else {
        panic!()
    };
    assert_eq!(p.rec(result), Some(&b"k1"[..]));
    assert_eq!(
        ok("3 tdb_firstkey = NULL").kind(),
        &OpKind::FirstKey { result: None }
    );
    let p = ok("3 tdb_nextkey 2:6b31 = 2:6b32");
    let OpKind::NextKey { key, result } = *p.kind() else {
        panic!()
    };
    assert_eq!(p.bytes(key), b"k1");
    assert_eq!(p.rec(result), Some(&b"k2"[..]));
    let p = ok("3 tdb_nextkey 2:6b32 = NULL");
    assert!(matches!(*p.kind(), OpKind::NextKey { result: None, .. }));
}

#[test]
fn chainlock_family() {
    use ChainLockOp as C;
    for (name, op, nonblock) in [
        ("tdb_chainlock", C::Lock, false),
        ("tdb_chainlock_nonblock", C::LockNonblock, true),
        ("tdb_chainlock_read", C::LockRead, false),
        ("tdb_chainlock_read_nonblock", C::LockReadNonblock, true),
        ("tdb_chainlock_mark", C::Mark, false),
        ("tdb_chainlock_unmark", C::Unmark, false),
        ("tdb_chainunlock", C::Unlock, false),
        ("tdb_chainunlock_read", C::UnlockRead, false),
    ] {
        let text = if nonblock {
            format!("37 {name} 4:6d797500 = -1")
        } else {
            format!("37 {name} 4:6d797500")
        };
        let p = ok(&text);
        let OpKind::ChainLock { key, op: got, ret } = *p.kind() else {
            panic!("{text}")
        };
        assert_eq!(p.bytes(key), b"myu\0");
        assert_eq!(got, op);
        assert_eq!(ret, nonblock.then_some(-1), "{text}");
        // The other arity is wrong.
        let other = if nonblock {
            format!("37 {name} 4:6d797500")
        } else {
            format!("37 {name} 4:6d797500 = 0")
        };
        assert!(
            err(other.as_bytes()).starts_with("expected <key>"),
            "{other}"
        );
    }
}

#[test]
fn lockall_family() {
    use LockAllOp as L;
    for (name, op, nonblock) in [
        ("tdb_lockall", L::Lock, false),
        ("tdb_lockall_nonblock", L::LockNonblock, true),
        ("tdb_lockall_read", L::LockRead, false),
        ("tdb_lockall_read_nonblock", L::LockReadNonblock, true),
        ("tdb_lockall_mark", L::Mark, false),
        ("tdb_lockall_unmark", L::Unmark, false),
        ("tdb_unlockall", L::Unlock, false),
        ("tdb_unlockall_read", L::UnlockRead, false),
    ] {
        let text = if nonblock {
            format!("9 {name} = 0")
        } else {
            format!("9 {name}")
        };
        assert_eq!(
            ok(&text).kind(),
            &OpKind::LockAll {
                op,
                ret: nonblock.then_some(0)
            },
            "{text}"
        );
        let other = if nonblock {
            format!("9 {name}")
        } else {
            format!("9 {name} = 0")
        };
        assert!(err(other.as_bytes()).starts_with("expected "), "{other}");
    }
}

#[test]
fn null_keys_read_as_the_empty_key() {
    let p = ok("1 tdb_fetch NULL = NULL");
    assert_eq!(
        p.kind(),
        &OpKind::Fetch {
            key: Span::EMPTY,
            result: None
        }
    );
}

#[test]
fn open_line_in_both_flag_styles() {
    let want = OpenLine {
        seqnum: 27,
        hash_size: 2,
        tdb_flags: 1,
        open_flags: 0x42,
    };
    assert_eq!(parse_open(b"27 tdb_open 2 0x1 0x42"), Ok(want));
    // `%#x` prints zero as `0`, `0x%x` as `0x0`; base-0 also takes octal and decimal.
    let open = parse_open(b"0 tdb_open 131 0 02").unwrap();
    assert_eq!(
        (open.hash_size, open.tdb_flags, open.open_flags),
        (131, 0, 2)
    );
    let open = parse_open(b"5 tdb_open 10000 0x0 66").unwrap();
    assert_eq!((open.tdb_flags, open.open_flags), (0, 66));
    for bad in [
        &b"27 tdb_open 2 0x1"[..],
        b"27 tdb_open 2 0x1 0x42 7",
        b"27 tdb_open 2 0x1  0x42",
        b"27 tdb_open 2 0x 0x42",
        b"27 tdb_open -2 0x1 0x42",
        b"27 tdb_fetch 2 0x1 0x42",
        b"tdb_open 2 0x1 0x42",
        b"27 tdb_open 2 0x1 0x42\r",
        b"",
    ] {
        let msg = parse_open(bad).unwrap_err();
        assert!(
            msg.starts_with("expected <seqnum> tdb_open <hash_size> <tdb_flags> <open_flags>, "),
            "{msg}"
        );
    }
}

#[test]
fn number_forms() {
    assert_eq!(parse_u32(b"0"), Some(0));
    assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
    for bad in [&b"4294967296"[..], b"", b"-1", b"+1", b"1a", b"99999999999"] {
        assert_eq!(parse_u32(bad), None, "{:?}", bad.escape_ascii());
    }
    assert_eq!(parse_i32(b"-2147483648"), Some(i32::MIN));
    assert_eq!(parse_i32(b"2147483647"), Some(i32::MAX));
    assert_eq!(parse_i32(b"2147483648"), None);
    assert_eq!(parse_i32(b"-"), None);
    assert_eq!(parse_i32(b"--1"), None);
    assert_eq!(parse_base0(b"0"), Some(0));
    assert_eq!(parse_base0(b"0x1f"), Some(31));
    assert_eq!(parse_base0(b"017"), Some(15));
    assert_eq!(parse_base0(b"17"), Some(17));
    assert_eq!(parse_base0(b"0xffffffff"), Some(u32::MAX));
    for bad in [
        &b"0x"[..],
        b"08",
        b"0x100000000",
        b"",
        b"-1",
        b"0x1g",
        b"1 ",
    ] {
        assert_eq!(parse_base0(bad), None, "{:?}", bad.escape_ascii());
    }
}

#[test]
fn wrong_arity_names_the_grammar() {
    assert_err(
        "27 tdb_fetch 4:6f736200",
        r#"expected <key> = <data> after tdb_fetch, found "4:6f736200""#,
    );
    assert_err(
        "27 tdb_fetch 4:6f736200 NULL",
        r#"expected <key> = <data> after tdb_fetch, found "4:6f736200 NULL""#,
    );
    assert_err(
        "27 tdb_fetch 4:6f736200 = NULL NULL",
        r#"expected <key> = <data> after tdb_fetch, found "4:6f736200 = NULL NULL""#,
    );
    assert_err(
        "27 tdb_fetch",
        "expected <key> = <data> after tdb_fetch, found end of line",
    );
    assert_err(
        "27 tdb_fetch x = NULL",
        r#"expected <key> = <data> after tdb_fetch, found "x = NULL""#,
    );
    assert_err(
        "1 tdb_store 1:61 1:62 = 0",
        r#"expected <key> <data> <flag> = <ret> after tdb_store, found "1:61 1:62 = 0""#,
    );
    assert_err(
        "1 tdb_wipe_all 1:61",
        r#"expected nothing after tdb_wipe_all, found "1:61""#,
    );
    assert_err(
        "1 tdb_close = 0",
        r#"expected nothing after tdb_close, found "= 0""#,
    );
    assert_err(
        "1 tdb_traverse_end 5",
        r#"expected nothing or = <count> after tdb_traverse_end, found "5""#,
    );
    assert_err(
        "1 tdb_firstkey",
        "expected = <key> after tdb_firstkey, found end of line",
    );
    assert_err(
        "1 traverse 1:61",
        r#"expected <key> = <data> after traverse, found "1:61""#,
    );
    assert_err(
        "1 traversefn 1:61 = 1:62",
        r#"expected nothing after traversefn, found "1:61 = 1:62""#,
    );
    assert_err(
        "1 tdb_storev 1:61 1:62 = -1",
        r#"expected <key> <data>... <flag> = <ret> after tdb_storev, found "1:61 1:62 = -1""#,
    );
    // Every op of the catalogue rejects a stray extra word.
    for text in [
        "1 tdb_parse_record 1:61 = 0 x",
        "1 tdb_exists 1:61 = 0 x",
        "1 tdb_delete 1:61 = 0 x",
        "1 tdb_store 1:61 1:62 0x1 = 0 x",
        "1 tdb_storev 1:61 1:62 0x1 = 0 x",
        "1 tdb_append 1:61 1:62 = 1:62 x",
        "1 tdb_repack x",
        "1 tdb_transaction_start x",
        "1 tdb_transaction_prepare_commit x",
        "1 tdb_transaction_commit x",
        "1 tdb_transaction_cancel x",
        "1 tdb_traverse_start x",
        "1 tdb_traverse_read_start x",
        "1 traverse 1:61 = 1:62 x",
        "1 tdb_traverse_end = 3 x",
        "1 tdb_firstkey = 1:61 x",
        "1 tdb_nextkey 1:61 = 1:62 x",
        "1 tdb_get_seqnum = 1 x",
    ] {
        assert!(err(text.as_bytes()).starts_with("expected "), "{text}");
    }
}

#[test]
fn bad_numbers() {
    assert_err(
        "4294967296 tdb_wipe_all",
        r#"expected a seqnum (32-bit unsigned decimal) at the start of the line, found "4294967296""#,
    );
    assert_err(
        "-1 tdb_wipe_all",
        r#"expected a seqnum (32-bit unsigned decimal) at the start of the line, found "-1""#,
    );
    assert_err(
        "x1 tdb_wipe_all",
        r#"expected a seqnum (32-bit unsigned decimal) at the start of the line, found "x1""#,
    );
    assert_err(
        " tdb_wipe_all",
        "expected a seqnum (32-bit unsigned decimal) at the start of the line, found end of line",
    );
    assert_err("27", r#"expected <seqnum> <operation>, found "27""#);
    assert_err(
        "1 tdb_delete 1:61 = x",
        r#"expected a decimal return value after tdb_delete ... =, found "x""#,
    );
    assert_err(
        "1 tdb_delete 1:61 = 2147483648",
        r#"expected a decimal return value after tdb_delete ... =, found "2147483648""#,
    );
    assert_err(
        "1 tdb_traverse_end = -1",
        r#"expected a record count after tdb_traverse_end =, found "-1""#,
    );
    assert_err(
        "1 tdb_store 1:61 1:62 0x4 = 0",
        r#"expected a store flag (0, 0x1, 0x2 or 0x3) after the data of tdb_store, found "0x4""#,
    );
    assert_err(
        "1 tdb_store 1:61 1:62 08 = 0",
        r#"expected a store flag (0, 0x1, 0x2 or 0x3) after the data of tdb_store, found "08""#,
    );
}

#[test]
fn unknown_and_misplaced_ops() {
    assert_err("1 x", r#"unknown operation "x""#);
    assert_err(
        "1 tdb_fetchx 1:61 = NULL",
        r#"unknown operation "tdb_fetchx""#,
    );
    assert_err(
        "1 TDB_FETCH 1:61 = NULL",
        r#"unknown operation "TDB_FETCH""#,
    );
    assert_err(
        "1 tdb_increment_seqnum_nonblock",
        r#"unknown operation "tdb_increment_seqnum_nonblock""#,
    );
    assert_err(
        "1 tdb_open 2 0x1 0x42",
        "tdb_open is only valid on the first line",
    );
}

#[test]
fn empty_words_and_blank_lines() {
    assert_err("", "blank line (expected <seqnum> <operation>)");
    assert_err(
        "1  tdb_wipe_all",
        "empty operation name (two spaces after the seqnum?)",
    );
    for text in [
        "1 tdb_fetch  1:61 = NULL",
        "1 tdb_fetch 1:61  = NULL",
        "1 tdb_fetch 1:61 =  NULL",
        "1 tdb_fetch 1:61 = NULL ",
        "1 tdb_fetch 1:61 = 1:62 ",
        "1 tdb_wipe_all ",
        "1 tdb_traverse_end ",
        "1 tdb_delete 1:61 = 0 ",
        "1 tdb_storev 1:61 1:62  0x1 = 0",
    ] {
        assert_err_contains(
            text.as_bytes(),
            &["empty word after ", "two spaces in a row"],
        );
    }
}

#[test]
fn bad_records() {
    // Odd number of digits, or more digits than the length says.
    assert_err(
        "1 tdb_fetch 2:616 = NULL",
        r#"<key> of tdb_fetch: length 2 needs 4 hex digits, found 3 in record "2:616""#,
    );
    assert_err(
        "1 tdb_fetch 1:616 = NULL",
        r#"<key> of tdb_fetch: length 1 needs 2 hex digits, found 3 in record "1:616""#,
    );
    assert_err(
        "1 tdb_fetch 1:61 = 1:6263",
        r#"<data> of tdb_fetch: length 1 needs 2 hex digits, found 4 in record "1:6263""#,
    );
    assert_err(
        "1 tdb_fetch 0:61 = NULL",
        r#"<key> of tdb_fetch: length 0 needs 0 hex digits, found 2 in record "0:61""#,
    );
    // Fewer digits than the length says, at the end of the line or before a space.
    assert_err(
        "1 tdb_fetch 1:61 = 3:6263",
        r#"<data> of tdb_fetch: length 3 needs 6 hex digits, found 4 in record "3:6263""#,
    );
    assert_err(
        "1 tdb_fetch 3:6263 = NULL",
        r#"<key> of tdb_fetch: length 3 needs 6 hex digits, found 4 in record "3:6263""#,
    );
    assert_err(
        "1 tdb_store 5:6162636465 2:61 0x1 = 0",
        r#"<data> of tdb_store: length 2 needs 4 hex digits, found 2 in record "2:61""#,
    );
    // Not hex.
    assert_err(
        "1 tdb_fetch 2:61zz = NULL",
        r#"<key> of tdb_fetch: invalid hex digit "z" in record "2:61zz""#,
    );
    assert_err(
        "1 tdb_fetch 1:6-1 = NULL",
        r#"<key> of tdb_fetch: invalid hex digit "-" in record "1:6-1""#,
    );
    assert_err(
        "1 tdb_fetch 20:0000000000000000000000000000000000000g00 = NULL",
        r#"<key> of tdb_fetch: invalid hex digit "g" in record "20:0000000000000000000000000000000000000g00""#,
    );
    // Not a record at all.
    for text in [
        "1 tdb_fetch :61 = NULL",
        "1 tdb_fetch 1;61 = NULL",
        "1 tdb_fetch null = NULL",
        "1 tdb_fetch NULLX = NULL",
        "1 tdb_fetch -1:61 = NULL",
        "1 tdb_fetch 0x1:61 = NULL",
    ] {
        assert!(
            err(text.as_bytes()).starts_with("expected <key> = <data> after tdb_fetch, found "),
            "{text}"
        );
    }
}

#[test]
fn huge_lengths_are_errors_not_allocations() {
    for len in [
        "4294967296",
        "99999999999",
        "18446744073709551615",
        "99999999999999999999999",
    ] {
        let text = format!("1 tdb_fetch {len}:6162636465 = NULL");
        // `err` checks the arena stayed unallocated.
        let msg = err(text.as_bytes());
        assert!(
            msg.starts_with(&format!("<key> of tdb_fetch: length {len} ")),
            "{msg}"
        );
        assert!(msg.contains("found 10"), "{msg}");
        let mut arena = Arena::default();
        assert!(parse_line(text.as_bytes(), &mut arena).is_err());
        assert_eq!(arena.capacity(), 0, "{len}");
    }
}

#[test]
fn non_ascii_and_control_bytes_are_rejected() {
    assert_err_contains(
        b"1 tdb_fetch 1:61 = NULL\r",
        &["expected <key> = <data>", r"NULL\r"],
    );
    assert_err_contains(
        b"1 tdb_fetch 1:6\xe9 = NULL",
        &["invalid hex digit", r"\xe9"],
    );
    assert_err_contains(
        b"1 tdb_wipe_all\r",
        &[r#"unknown operation "tdb_wipe_all\r""#],
    );
    assert_err_contains(b"\x00\x01\x02", &["expected a seqnum", r"\x00"]);
    assert_err_contains(b"1 \xff\xfe", &[r#"unknown operation "\xff\xfe""#]);
    assert_err_contains(b"1 tdb_fetch 1:61\t= NULL", &["invalid hex digit", r"\t"]);
}

#[test]
fn long_offending_text_is_cut_in_messages() {
    let text = format!("1 tdb_fetch 100:{} = NULL", "ab".repeat(101));
    let msg = err(text.as_bytes());
    assert!(
        msg.contains("length 100 needs 200 hex digits, found 202"),
        "{msg}"
    );
    assert!(msg.len() < 200, "{msg}");
    assert!(msg.ends_with("\"..."), "{msg}");
}
