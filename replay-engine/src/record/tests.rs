//! The recorder writes, line for line, what C tdb's tracing writes for the same calls
//! (formats checked against ccan's and Samba's `tdb_trace*` functions), on both engines.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::*;
use crate::backend::c::CTdb;
use crate::backend::pure::PureTdb;

/// Every kind of call, on a fresh database, recorded in `layout`; returns the trace.
fn record_calls<B: Backend>(dir: &Path, layout: Layout) -> String {
    let db_path = dir.join(format!("{}-{layout:?}.tdb", B::label()));
    let record = RecordOptions {
        dir: dir.to_path_buf(),
        layout,
        retry_lock_errors: false,
    };
    let options = OpenOptions {
        hash_size: 0,
        tdb_flags: tdb_flags::NOSYNC,
        open_flags: libc::O_RDWR | libc::O_CREAT,
        mode: 0o600,
    };
    let mut db = Recording::<B>::open_recorded(&db_path, &options, Some(&record)).expect("open");
    let trace: PathBuf = active_trace().expect("recording");
    db.store(b"a", b"1", StoreFlag::Default).unwrap();
    assert!(db.store(b"a", b"2", StoreFlag::Insert).is_err());
    assert_eq!(db.fetch(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.fetch(b"b").unwrap(), None);
    db.append(b"b", b"xy").unwrap();
    db.append(b"b", b"z").unwrap();
    assert!(db.exists(b"b").unwrap());
    assert!(db.parse_record(b"c", |_| ()).is_err());
    assert!(db.delete(b"c").is_err());
    db.chainlock(b"a", ChainLockOp::LockNonblock).unwrap();
    db.chainlock(b"a", ChainLockOp::Unlock).unwrap();
    db.transaction_start().unwrap();
    db.transaction_start().unwrap();
    db.store(b"d", b"", StoreFlag::Replace).unwrap();
    db.transaction_commit().unwrap();
    db.transaction_prepare_commit().unwrap();
    db.transaction_commit().unwrap();
    db.wipe_all().unwrap();
    db.store(b"e", b"E", StoreFlag::Modify).unwrap_err();
    db.store(b"e", b"E", StoreFlag::Replace).unwrap();
    let walked = db
        .traverse(TraverseKind::Write, &mut |_, _, _| ControlFlow::Break(()))
        .unwrap();
    assert_eq!(walked, 1);
    db.traverse(TraverseKind::Read, &mut |inner, key, _| {
        // A write traverse inside a read traverse runs as a read traverse.
        inner
            .traverse(
                TraverseKind::Write,
                &mut |_, _, _| ControlFlow::Continue(()),
            )
            .unwrap();
        assert_eq!(key, b"e");
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(db.firstkey().unwrap().as_deref(), Some(&b"e"[..]));
    assert_eq!(db.nextkey(b"e").unwrap(), None);
    db.lockall(LockAllOp::LockRead).unwrap();
    db.lockall(LockAllOp::UnlockRead).unwrap();
    db.transaction_start().unwrap();
    db.close().unwrap();
    assert!(active_trace().is_none(), "closing ends the recording");
    std::fs::read_to_string(trace).expect("trace")
}

const CCAN: &str = "\
0 tdb_open 131 0x240 0x42
1 tdb_store 1:61 1:31 0 = 0
1 tdb_store 1:61 1:32 0x2 = -1
1 tdb_fetch 1:61 = 1:31
1 tdb_fetch 1:62 = NULL
2 tdb_append 1:62 2:7879 = 2:7879
3 tdb_append 1:62 1:7a = 3:78797a
3 tdb_exists 1:62 = 1
3 tdb_parse_record 1:63 = -1
3 tdb_delete 1:63 = -1
3 tdb_chainlock_nonblock 1:61 = 0
3 tdb_chainunlock 1:61
3 tdb_transaction_start
3 tdb_transaction_start
4 tdb_store 1:64 0: 0x1 = 0
4 tdb_transaction_commit
4 tdb_transaction_prepare_commit
4 tdb_transaction_commit
4 tdb_lockall
4 tdb_wipe_all
5 tdb_unlockall
5 tdb_store 1:65 1:45 0x3 = -1
6 tdb_store 1:65 1:45 0x1 = 0
6 tdb_traverse_start
6 traverse 1:65 = 1:45
6 tdb_traverse_end = 1
6 tdb_traverse_read_start
6 traverse 1:65 = 1:45
6 tdb_traverse_read_start
6 traverse 1:65 = 1:45
6 tdb_traverse_end
6 tdb_traverse_end
6 tdb_firstkey = 1:65
6 tdb_nextkey 1:65 = NULL
6 tdb_lockall_read
6 tdb_unlockall_read
6 tdb_transaction_start
6 tdb_transaction_cancel
6 tdb_close
";

/// Samba's layout: the append line holds the previous record, nested starts are not
/// traced, and the open line declares no nesting.
fn samba_expected() -> String {
    CCAN.replacen("0 tdb_open 131 0x240 0x42", "0 tdb_open 131 0x40 0x42", 1)
        .replacen(
            "2 tdb_append 1:62 2:7879 = 2:7879",
            "2 tdb_append 1:62 NULL = 2:7879",
            1,
        )
        .replacen(
            "3 tdb_append 1:62 1:7a = 3:78797a",
            "3 tdb_append 1:62 2:7879 = 1:7a",
            1,
        )
        .replacen(
            "3 tdb_transaction_start\n3 tdb_transaction_start\n",
            "3 tdb_transaction_start\n",
            1,
        )
}

#[test]
fn every_call_is_written_as_c_tdb_traces_it_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(record_calls::<CTdb>(dir.path(), Layout::Ccan), CCAN);
    assert_eq!(record_calls::<PureTdb>(dir.path(), Layout::Ccan), CCAN);
    let samba = samba_expected();
    assert_eq!(record_calls::<CTdb>(dir.path(), Layout::Samba), samba);
    assert_eq!(record_calls::<PureTdb>(dir.path(), Layout::Samba), samba);
}

#[test]
fn recorded_calls_parse_back_to_the_same_ops() {
    let dir = tempfile::tempdir().unwrap();
    for (layout, flavour) in [
        (Layout::Ccan, crate::trace::FlavourChoice::Ccan),
        (Layout::Samba, crate::trace::FlavourChoice::Samba),
    ] {
        let text = record_calls::<PureTdb>(dir.path(), layout);
        let options = crate::trace::LoadOptions {
            flavour,
            ..Default::default()
        };
        let trace = crate::trace::parse_trace("recorded", text.as_bytes(), &options)
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(trace.closed);
        assert_eq!(trace.ops.len(), text.lines().count() - 2);
    }
}

#[test]
fn an_unarmed_handle_records_nothing_and_a_taken_name_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = OpenOptions {
        hash_size: 0,
        tdb_flags: tdb_flags::NOSYNC,
        open_flags: libc::O_RDWR | libc::O_CREAT,
        mode: 0o600,
    };
    let path = dir.path().join("x.tdb");
    let mut db = Recording::<PureTdb>::open(&path, &options).unwrap();
    db.store(b"k", b"v", StoreFlag::Insert).unwrap();
    assert!(active_trace().is_none());
    db.close().unwrap();
    let taken = dir.path().join(trace_file_name(&path, std::process::id()));
    std::fs::write(&taken, b"someone else's").unwrap();
    let record = RecordOptions {
        dir: dir.path().to_path_buf(),
        layout: Layout::Ccan,
        retry_lock_errors: false,
    };
    let refused = Recording::<PureTdb>::open_recorded(&path, &options, Some(&record));
    assert!(refused.is_err());
    assert_eq!(std::fs::read(&taken).unwrap(), b"someone else's");
}
