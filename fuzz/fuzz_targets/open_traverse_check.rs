//! Arbitrary bytes as a tdb file: open it (mapped or not, read-only or writable), check
//! it, walk it every way a caller can, and on a writable handle change it. Any result is
//! fine except a panic, a hang (libFuzzer's -timeout) or an out-of-bounds access.

#![no_main]

use std::ops::ControlFlow;
use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use tdb_pure::{flags, OpenFlags, StoreFlag, Tdb};

/// Bound on the records a walk visits: a sound fuzz input is small, and a walk that
/// keeps going on a hostile file must end by itself (cycle detection), not by this.
const MAX_VISITS: usize = 100_000;

fn scratch_path() -> PathBuf {
    let dir = std::env::var_os("TDB_FUZZ_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    dir.join(format!("tdb-pure-fuzz-{}.tdb", std::process::id()))
}

fuzz_target!(|input: &[u8]| {
    // The first byte picks how the file is opened; the rest is the file.
    let Some((&mode, file)) = input.split_first() else {
        return;
    };
    let path = scratch_path();
    if std::fs::write(&path, file).is_err() {
        return;
    }
    let writable = mode & 1 != 0;
    let mut tdb_flags = if mode & 2 != 0 { flags::NOMMAP } else { 0 };
    if mode & 4 != 0 {
        tdb_flags |= flags::NOSYNC;
    }
    if mode & 128 != 0 {
        // Unlocked writes: also how robust-mutex files open read-write.
        tdb_flags |= flags::NOLOCK;
    }
    let options = OpenFlags {
        hash_size: 0,
        tdb_flags,
        open_flags: if writable {
            libc::O_RDWR
        } else {
            libc::O_RDONLY
        },
        mode: 0o600,
    };
    if let Ok(mut tdb) = Tdb::open(&path, &options) {
        exercise(&mut tdb, writable, mode);
    }
    let _ = std::fs::remove_file(&path);
});

fn exercise(tdb: &mut Tdb, writable: bool, mode: u8) {
    let _ = tdb.check();
    let _ = tdb.dump(mode & 8 != 0);

    let mut keys = Vec::new();
    let _ = tdb.traverse_read(|_, key, _| {
        keys.push(key.to_vec());
        if keys.len() < MAX_VISITS {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    });
    for key in &keys {
        let _ = tdb.parse_record(key, |data| data.len());
        let _ = tdb.exists(key);
    }

    let mut walked = 0;
    let mut at = tdb.firstkey();
    while let Ok(Some(key)) = at {
        walked += 1;
        if walked >= MAX_VISITS {
            break;
        }
        at = tdb.nextkey(&key);
    }

    if !writable {
        return;
    }
    // Writes on a hostile file: delete every other record during a traverse, then store,
    // append and delete in and out of a transaction.
    let mut n = 0usize;
    let _ = tdb.traverse(|db, key, _| {
        n += 1;
        if n.is_multiple_of(2) {
            let _ = db.delete(key);
        }
        if n < MAX_VISITS {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    });
    let _ = tdb.store(b"fuzz-key", b"fuzz-data", StoreFlag::Replace);
    let _ = tdb.append(b"fuzz-key", b"-more");
    if tdb.transaction_start().is_ok() {
        let _ = tdb.store(b"fuzz-tx", &[mode; 300], StoreFlag::Insert);
        let _ = tdb.delete(b"fuzz-key");
        if mode & 16 != 0 {
            let _ = tdb.transaction_commit();
        } else {
            let _ = tdb.transaction_cancel();
        }
    }
    if mode & 32 != 0 {
        let _ = tdb.repack();
    }
    if mode & 64 != 0 {
        let _ = tdb.wipe_all();
    }
    let _ = tdb.check();
}
