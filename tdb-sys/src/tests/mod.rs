//! Tests of the safe wrapper against the real libtdb 1.4.8: the shared helpers and the
//! keyed calls here, the rest by topic.

mod loaded;
mod locks;
mod logs_and_tools;
mod transactions;
mod traverse;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use tempfile::TempDir;

use crate::{flags, ErrorCode, LogLevel, OpenOptions, StoreFlag, Tdb, TraverseMode};

fn open_in(dir: &TempDir, name: &str, options: &OpenOptions) -> (PathBuf, Tdb) {
    let path = dir.path().join(name);
    let tdb = Tdb::open(&path, options).expect("open");
    (path, tdb)
}

fn scratch() -> (TempDir, PathBuf, Tdb) {
    let dir = TempDir::new().expect("tempdir");
    let (path, tdb) = open_in(&dir, "test.tdb", &OpenOptions::default());
    (dir, path, tdb)
}

fn code<T: std::fmt::Debug>(result: crate::Result<T>) -> ErrorCode {
    result.expect_err("expected an error").code()
}

fn contents(tdb: &mut Tdb) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut all = BTreeMap::new();
    tdb.traverse_read(|_, key, data| {
        all.insert(key.to_vec(), data.to_vec());
        ControlFlow::Continue(())
    })
    .expect("traverse_read");
    all
}

fn fill(tdb: &mut Tdb, n: usize) {
    for i in 0..n {
        let key = format!("key{i}");
        let data = format!("data{i}");
        tdb.store(key.as_bytes(), data.as_bytes(), StoreFlag::Insert)
            .expect("store");
    }
}

#[test]
fn open_reports_handle_properties() {
    let dir = TempDir::new().unwrap();
    let options = OpenOptions {
        hash_size: 17,
        ..OpenOptions::default()
    };
    let (path, tdb) = open_in(&dir, "props.tdb", &options);
    assert_eq!(tdb.hash_size(), 17);
    assert!(tdb.fd().is_some());
    assert_eq!(tdb.error(), None);
    assert!(!tdb.transaction_active());
    tdb.close().expect("close");
    assert!(path.is_file());

    let default = Tdb::open(dir.path().join("default.tdb"), &OpenOptions::default()).unwrap();
    assert_eq!(default.hash_size(), 131, "tdb's default hash size");

    let internal = Tdb::open(
        "in-memory",
        &OpenOptions {
            tdb_flags: flags::INTERNAL,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    assert!(internal.fd().is_none(), "TDB_INTERNAL has no file");
}

#[test]
fn empty_record_is_not_a_missing_record() {
    let (_dir, _path, mut tdb) = scratch();
    tdb.store(b"empty", b"", StoreFlag::Insert).unwrap();

    let fetched = tdb
        .fetch(b"empty")
        .unwrap()
        .expect("an empty record exists");
    assert!(fetched.is_empty());
    assert_eq!(
        tdb.fetch_with(b"empty", |d| d.map(<[u8]>::len)).unwrap(),
        Some(0)
    );
    assert!(tdb.exists(b"empty"));
    assert_eq!(tdb.parse_record(b"empty", <[u8]>::len).unwrap(), 0);

    assert!(tdb.fetch(b"absent").unwrap().is_none());
    assert!(tdb.fetch_with(b"absent", |d| d.is_none()).unwrap());
    assert_eq!(
        tdb.error(),
        Some(ErrorCode::NoExist),
        "C sets NOEXIST on a miss"
    );
    assert!(!tdb.exists(b"absent"));
    assert_eq!(
        code(tdb.parse_record(b"absent", |_| ())),
        ErrorCode::NoExist
    );

    // The empty key is a key like any other.
    assert!(!tdb.exists(b""));
    tdb.store(b"", b"for the empty key", StoreFlag::Default)
        .unwrap();
    assert_eq!(
        tdb.fetch(b"").unwrap().as_deref(),
        Some(&b"for the empty key"[..])
    );
    tdb.delete(b"").unwrap();
    assert!(!tdb.exists(b""));
}

#[test]
fn store_flags_give_tdb_error_kinds() {
    let (_dir, _path, mut tdb) = scratch();
    assert_eq!(
        code(tdb.store(b"k", b"v", StoreFlag::Modify)),
        ErrorCode::NoExist
    );
    assert!(!tdb.exists(b"k"), "a failed modify creates nothing");
    tdb.store(b"k", b"v1", StoreFlag::Insert).unwrap();
    assert_eq!(
        code(tdb.store(b"k", b"v2", StoreFlag::Insert)),
        ErrorCode::Exists
    );
    assert_eq!(tdb.fetch(b"k").unwrap().as_deref(), Some(&b"v1"[..]));
    tdb.store(b"k", b"v3", StoreFlag::Modify).unwrap();
    tdb.store(b"k", b"v4", StoreFlag::Replace).unwrap();
    assert_eq!(tdb.fetch(b"k").unwrap().as_deref(), Some(&b"v4"[..]));
    tdb.store(b"k", b"v5", StoreFlag::Default).unwrap();
    assert_eq!(tdb.fetch(b"k").unwrap().as_deref(), Some(&b"v5"[..]));
}

#[test]
fn delete_of_a_missing_key_is_noexist() {
    let (_dir, _path, mut tdb) = scratch();
    assert_eq!(code(tdb.delete(b"nothing")), ErrorCode::NoExist);
    tdb.store(b"k", b"v", StoreFlag::Default).unwrap();
    tdb.delete(b"k").unwrap();
    assert_eq!(code(tdb.delete(b"k")), ErrorCode::NoExist);
    assert!(tdb.fetch(b"k").unwrap().is_none());
}

#[test]
fn append_creates_then_extends() {
    let (_dir, _path, mut tdb) = scratch();
    tdb.append(b"log", b"one").unwrap();
    assert_eq!(tdb.fetch(b"log").unwrap().as_deref(), Some(&b"one"[..]));
    tdb.append(b"log", b",two").unwrap();
    tdb.append(b"log", b"").unwrap();
    assert_eq!(tdb.fetch(b"log").unwrap().as_deref(), Some(&b"one,two"[..]));
    tdb.append(b"empty", b"").unwrap();
    assert_eq!(tdb.fetch(b"empty").unwrap().as_deref(), Some(&b""[..]));
}

#[test]
fn parse_record_borrows_and_returns_the_closure_value() {
    let (_dir, _path, mut tdb) = scratch();
    tdb.store(b"k", b"hello world", StoreFlag::Default).unwrap();
    let words = tdb
        .parse_record(b"k", |data| data.split(|&b| b == b' ').count())
        .unwrap();
    assert_eq!(words, 2);
    // Inside a transaction the data comes from the transaction's buffers.
    tdb.transaction_start().unwrap();
    tdb.store(b"k", b"changed", StoreFlag::Default).unwrap();
    assert_eq!(tdb.parse_record(b"k", <[u8]>::to_vec).unwrap(), b"changed");
    tdb.transaction_cancel().unwrap();
    assert_eq!(
        tdb.parse_record(b"k", <[u8]>::to_vec).unwrap(),
        b"hello world"
    );
}

#[test]
fn seqnum_counts_changes_only_with_the_flag() {
    let dir = TempDir::new().unwrap();
    let (_, mut plain) = open_in(&dir, "plain.tdb", &OpenOptions::default());
    plain.store(b"a", b"1", StoreFlag::Default).unwrap();
    assert_eq!(plain.get_seqnum(), 0);

    let options = OpenOptions {
        tdb_flags: flags::SEQNUM,
        ..OpenOptions::default()
    };
    let (_, mut counted) = open_in(&dir, "seqnum.tdb", &options);
    let start = counted.get_seqnum();
    counted.store(b"a", b"1", StoreFlag::Default).unwrap();
    counted.store(b"b", b"2", StoreFlag::Default).unwrap();
    counted.delete(b"a").unwrap();
    assert_eq!(counted.get_seqnum(), start + 3);
}

#[test]
fn wipe_all_and_repack() {
    let (_dir, _path, mut tdb) = scratch();
    fill(&mut tdb, 50);
    for i in (0..50).step_by(2) {
        tdb.delete(format!("key{i}").as_bytes()).unwrap();
    }
    tdb.repack().unwrap();
    let after = contents(&mut tdb);
    assert_eq!(after.len(), 25);
    assert_eq!(after[&b"key1"[..]], b"data1");
    tdb.check().unwrap();

    tdb.wipe_all().unwrap();
    assert!(contents(&mut tdb).is_empty());
    assert!(tdb.firstkey().unwrap().is_none());
    tdb.check().unwrap();
}
