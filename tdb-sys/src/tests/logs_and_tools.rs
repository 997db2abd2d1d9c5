//! tdb's log messages, and the files against Samba's own tools.

use super::*;

#[test]
fn log_messages_are_captured_and_explain_errors() {
    let dir = TempDir::new().unwrap();
    // Without O_CREAT: with it, tdb 1.4.8 turns a file without tdb magic into a new tdb.
    let no_create = OpenOptions {
        open_flags: libc::O_RDWR,
        ..OpenOptions::default()
    };

    // A file that is not a tdb: tdb fails with EIO and logs nothing.
    let bogus = dir.path().join("not-a-tdb");
    std::fs::write(&bogus, vec![b'x'; 4096]).unwrap();
    let error = Tdb::open(&bogus, &no_create).expect_err("not a tdb file");
    assert_eq!(error.code(), ErrorCode::Io);
    assert_eq!(error.raw_os_error(), Some(libc::EIO));
    assert_eq!(error.message(), None);

    // A tdb header with an old spinlock marker (rwlocks, offset 40): tdb explains.
    let (old, tdb) = open_in(&dir, "spinlocks.tdb", &OpenOptions::default());
    tdb.close().unwrap();
    let mut bytes = std::fs::read(&old).unwrap();
    bytes[40..44].copy_from_slice(&0x1234_5678_u32.to_ne_bytes());
    std::fs::write(&old, bytes).unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&seen);
    let error = Tdb::open_with_log_handler(&old, &no_create, move |message| {
        sink.borrow_mut().push(message.clone());
    })
    .expect_err("spinlock format");
    assert_eq!(error.code(), ErrorCode::Io);
    assert_eq!(error.raw_os_error(), Some(libc::ENOSYS));
    let explanation = error.message().expect("tdb explains a failed open");
    assert!(
        explanation.contains("spinlocks no longer supported"),
        "{explanation}"
    );
    assert!(error.to_string().contains("spinlocks"), "{error}");
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].level, LogLevel::Error);
    assert_eq!(seen[0].text, "tdb_open_ex: spinlocks no longer supported");

    // On an open handle, the recent messages are kept and errors carry theirs.
    let (_, mut tdb) = open_in(&dir, "ok.tdb", &OpenOptions::default());
    tdb.transaction_start().unwrap();
    tdb.transaction_start().unwrap();
    assert!(
        tdb.recent_log()
            .iter()
            .any(|m| m.level == LogLevel::Trace && m.text.contains("nesting")),
        "{:?}",
        tdb.recent_log()
    );
    tdb.transaction_cancel().unwrap();
    tdb.transaction_cancel().unwrap();
    let error = tdb.transaction_cancel().unwrap_err();
    assert!(
        error.message().unwrap().contains("no transaction"),
        "{error}"
    );
    assert!(error.to_string().contains("no transaction"));

    // A handler installed later, and its panic surfacing after the call.
    let count = Rc::new(RefCell::new(0));
    let counter = Rc::clone(&count);
    tdb.set_log_handler(move |_| *counter.borrow_mut() += 1);
    let _ = tdb.transaction_commit();
    assert_eq!(*count.borrow(), 1);
    tdb.set_log_handler(|_| panic!("handler"));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| tdb.transaction_commit()));
    assert!(outcome.is_err());
    tdb.clear_log_handler();
    assert!(tdb.transaction_commit().is_err());
    tdb.clear_log();
    assert!(tdb.recent_log().is_empty());
}

/// Runs `program args` if it is installed; `None` (with a note) if it is not.
fn run_tool(program: &str, args: &[&Path]) -> Option<String> {
    match Command::new(program).args(args).output() {
        Ok(output) => {
            assert!(output.status.success(), "{program} failed: {output:?}");
            Some(String::from_utf8_lossy(&output.stdout).into_owned())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("note: {program} is not installed (Debian: tdb-tools); skipping its check");
            None
        }
        Err(error) => panic!("cannot run {program}: {error}"),
    }
}

#[test]
fn files_pass_tdbtool_check_and_tdbdump_shows_records() {
    let (_dir, path, mut tdb) = scratch();
    tdb.store(b"alpha", b"one", StoreFlag::Insert).unwrap();
    tdb.store(b"beta", b"", StoreFlag::Insert).unwrap();
    tdb.append(b"gamma", b"three").unwrap();
    tdb.transaction_start().unwrap();
    tdb.store(b"delta", b"four", StoreFlag::Insert).unwrap();
    tdb.transaction_commit().unwrap();
    tdb.close().unwrap();

    if let Some(check) = run_tool("tdbtool", &[&path, Path::new("check")]) {
        assert!(check.contains("Database integrity is OK"), "{check}");
    }
    if let Some(dump) = run_tool("tdbdump", &[&path]) {
        for line in [
            "key(5) = \"alpha\"",
            "data(3) = \"one\"",
            "key(4) = \"beta\"",
            "data(0) = \"\"",
            "data(5) = \"three\"",
            "key(5) = \"delta\"",
        ] {
            assert!(dump.contains(line), "missing {line:?} in\n{dump}");
        }
    }
}

/// The point of linking statically: test binaries do not load a system libtdb.
#[test]
fn binary_does_not_link_libtdb_dynamically() {
    let exe = std::env::current_exe().unwrap();
    let Some(libraries) = run_tool("ldd", &[&exe]) else {
        return;
    };
    assert!(!libraries.contains("libtdb"), "{libraries}");
}
