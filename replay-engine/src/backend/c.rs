//! The C backend: Samba's libtdb 1.4.8 (linked statically by `tdb-sys`) behind
//! [`Backend`].
//!
//! A thin adapter: every call goes to the `tdb-sys` method of the same name, and every
//! error keeps the exact `tdb_error()` code C reported. That code is sometimes stale: a
//! few failure paths in tdb (unlocking a lock that is not held, committing without a
//! transaction, a `tdb_check` callback's veto) do not set it, so the code is whatever an
//! earlier call left, and [`ErrorKind::UNSET`](super::ErrorKind::UNSET) when that was
//! `TDB_SUCCESS`. tdb's log explanation, when it gave one, becomes the error's detail.

use std::path::Path;

use tdb_sys as sys;

use super::{
    Backend, ChainLockOp, LockAllOp, LockingModel, OpenOptions, StoreFlag, TdbError, TdbResult,
    TraverseFn, TraverseKind,
};

/// A database opened with the C tdb.
#[derive(Debug)]
pub struct CTdb {
    tdb: sys::Tdb,
}

impl CTdb {
    /// The `tdb-sys` handle, for calls the trait does not cover (logs, `check`, ...).
    pub fn tdb(&mut self) -> &mut sys::Tdb {
        &mut self.tdb
    }

    /// The `tdb-sys` handle, giving up the adapter.
    pub fn into_inner(self) -> sys::Tdb {
        self.tdb
    }
}

impl CTdb {
    /// `tdb_open` on the tdb whose functions `api` holds (a `lib:` engine's library).
    pub fn open_with_api(
        api: &'static sys::Api,
        path: &Path,
        options: &OpenOptions,
    ) -> TdbResult<Self> {
        check(sys::Tdb::open_with_api(api, path, options)).map(CTdb::from)
    }
}

impl AsMut<sys::Tdb> for CTdb {
    fn as_mut(&mut self) -> &mut sys::Tdb {
        &mut self.tdb
    }
}

impl From<sys::Tdb> for CTdb {
    fn from(tdb: sys::Tdb) -> Self {
        CTdb { tdb }
    }
}

/// A `tdb-sys` error as a backend error: the code, plus tdb's log explanation and the OS
/// error (of a failed open or close) as the detail.
fn to_tdb_error(error: sys::Error) -> TdbError {
    let kind = error.code();
    let detail = match (error.message(), error.os_error()) {
        (Some(message), Some(os)) => Some(with_os_error(message, &os)),
        (Some(message), None) => Some(message.to_string()),
        (None, Some(os)) => Some(os.to_string()),
        (None, None) => None,
    };
    TdbError { kind, detail }
}

/// tdb's log message with the OS error, whose text the message often already ends with
/// ("could not open file x: No such file or directory"): then only its number is added.
fn with_os_error(message: &str, os: &std::io::Error) -> String {
    let text = os.to_string();
    let number = os.raw_os_error().map(|errno| format!("os error {errno}"));
    let plain = number
        .as_deref()
        .and_then(|number| text.strip_suffix(&format!(" ({number})")));
    match (plain, number) {
        (Some(plain), Some(number)) if message.ends_with(plain) => format!("{message} ({number})"),
        _ => format!("{message} ({os})"),
    }
}

fn check<T>(result: sys::Result<T>) -> TdbResult<T> {
    result.map_err(to_tdb_error)
}

impl Backend for CTdb {
    const NAME: &'static str = "c";

    // Samba tdb 1.4.8, common/traverse.c: tdb_traverse_read() only bumps the handle's
    // traverse_read counter and walks the chains with read locks (plus a read lock on the
    // record handed out); it takes no TRANSACTION_LOCK. Only tdb_traverse() (the write
    // traverse) takes it, for its whole walk. The read-side locking was removed in
    // Samba commit f80076fe43f "tdb: Remove locking from tdb_traverse_read()" (2017,
    // first in tdb 1.3.14), so a read traverse runs concurrently with another process's
    // transaction and sees the pre-transaction data.
    const LOCKING: LockingModel = LockingModel {
        read_traverse_takes_transaction_lock: false,
    };

    fn open(path: &Path, options: &OpenOptions) -> TdbResult<Self> {
        check(sys::Tdb::open(path, options)).map(CTdb::from)
    }

    fn close(self) -> TdbResult<()> {
        check(self.tdb.close())
    }

    fn store(&mut self, key: &[u8], data: &[u8], flag: StoreFlag) -> TdbResult<()> {
        check(self.tdb.store(key, data, flag))
    }

    fn fetch_with<R>(&mut self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> TdbResult<R> {
        check(self.tdb.fetch_with(key, f))
    }

    fn parse_record<R>(&mut self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> TdbResult<R> {
        check(self.tdb.parse_record(key, f))
    }

    /// C's `tdb_exists` cannot report errors (it returns 0 for them), so neither can this.
    fn exists(&mut self, key: &[u8]) -> TdbResult<bool> {
        Ok(self.tdb.exists(key))
    }

    fn delete(&mut self, key: &[u8]) -> TdbResult<()> {
        check(self.tdb.delete(key))
    }

    fn append(&mut self, key: &[u8], data: &[u8]) -> TdbResult<()> {
        check(self.tdb.append(key, data))
    }

    fn get_seqnum(&mut self) -> TdbResult<i32> {
        Ok(self.tdb.get_seqnum())
    }

    fn wipe_all(&mut self) -> TdbResult<()> {
        check(self.tdb.wipe_all())
    }

    fn repack(&mut self) -> TdbResult<()> {
        check(self.tdb.repack())
    }

    fn transaction_start(&mut self) -> TdbResult<()> {
        check(self.tdb.transaction_start())
    }

    fn transaction_prepare_commit(&mut self) -> TdbResult<()> {
        check(self.tdb.transaction_prepare_commit())
    }

    fn transaction_commit(&mut self) -> TdbResult<()> {
        check(self.tdb.transaction_commit())
    }

    fn transaction_cancel(&mut self) -> TdbResult<()> {
        check(self.tdb.transaction_cancel())
    }

    fn chainlock(&mut self, key: &[u8], op: ChainLockOp) -> TdbResult<()> {
        let tdb = &mut self.tdb;
        check(match op {
            ChainLockOp::Lock => tdb.chainlock(key),
            ChainLockOp::LockNonblock => tdb.chainlock_nonblock(key),
            ChainLockOp::LockRead => tdb.chainlock_read(key),
            ChainLockOp::LockReadNonblock => tdb.chainlock_read_nonblock(key),
            ChainLockOp::Mark => tdb.chainlock_mark(key),
            ChainLockOp::Unmark => tdb.chainlock_unmark(key),
            ChainLockOp::Unlock => tdb.chainunlock(key),
            ChainLockOp::UnlockRead => tdb.chainunlock_read(key),
        })
    }

    fn lockall(&mut self, op: LockAllOp) -> TdbResult<()> {
        let tdb = &mut self.tdb;
        check(match op {
            LockAllOp::Lock => tdb.lockall(),
            LockAllOp::LockNonblock => tdb.lockall_nonblock(),
            LockAllOp::LockRead => tdb.lockall_read(),
            LockAllOp::LockReadNonblock => tdb.lockall_read_nonblock(),
            LockAllOp::Mark => tdb.lockall_mark(),
            LockAllOp::Unmark => tdb.lockall_unmark(),
            LockAllOp::Unlock => tdb.unlockall(),
            LockAllOp::UnlockRead => tdb.unlockall_read(),
        })
    }

    fn traverse(&mut self, kind: TraverseKind, f: &mut TraverseFn<'_, Self>) -> TdbResult<u32> {
        let mode = match kind {
            TraverseKind::Write => sys::TraverseMode::Write,
            TraverseKind::Read => sys::TraverseMode::Read,
        };
        check(sys::Tdb::traverse_with(self, mode, |this, key, data| {
            f(this, key, data)
        }))
    }

    fn firstkey(&mut self) -> TdbResult<Option<Vec<u8>>> {
        check(self.tdb.firstkey()).map(|key| key.map(|key| key.to_vec()))
    }

    fn nextkey(&mut self, key: &[u8]) -> TdbResult<Option<Vec<u8>>> {
        check(self.tdb.nextkey(key)).map(|key| key.map(|key| key.to_vec()))
    }

    fn check(&mut self) -> TdbResult<()> {
        check(self.tdb.check())
    }
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use tempfile::TempDir;

    use super::*;
    use crate::backend::{tdb_flags, ErrorKind};

    fn options(tdb_flags: u32) -> OpenOptions {
        OpenOptions {
            hash_size: 0,
            tdb_flags,
            open_flags: libc::O_RDWR | libc::O_CREAT,
            mode: 0o600,
        }
    }

    fn scratch() -> (TempDir, CTdb) {
        let dir = TempDir::new().unwrap();
        let db = CTdb::open(&dir.path().join("c.tdb"), &options(0)).unwrap();
        (dir, db)
    }

    fn kind<T: std::fmt::Debug>(result: TdbResult<T>) -> ErrorKind {
        result.expect_err("expected an error").kind
    }

    #[test]
    fn records_and_error_kinds() {
        let (_dir, mut db) = scratch();
        assert_eq!(CTdb::NAME, "c");
        assert_eq!(
            kind(db.store(b"k", b"v", StoreFlag::Modify)),
            ErrorKind::NoExist
        );
        db.store(b"k", b"v", StoreFlag::Insert).unwrap();
        assert_eq!(
            kind(db.store(b"k", b"w", StoreFlag::Insert)),
            ErrorKind::Exists
        );
        db.store(b"k", b"w", StoreFlag::Modify).unwrap();
        assert_eq!(db.fetch(b"k").unwrap(), Some(b"w".to_vec()));

        db.store(b"empty", b"", StoreFlag::Default).unwrap();
        assert_eq!(db.fetch(b"empty").unwrap(), Some(Vec::new()));
        assert_eq!(db.fetch(b"absent").unwrap(), None);
        assert_eq!(
            db.fetch_with(b"empty", |d| d.map(<[u8]>::len)).unwrap(),
            Some(0)
        );
        assert!(db.exists(b"empty").unwrap());
        assert!(!db.exists(b"absent").unwrap());
        assert_eq!(db.parse_record(b"k", <[u8]>::to_vec).unwrap(), b"w");
        assert_eq!(kind(db.parse_record(b"absent", |_| ())), ErrorKind::NoExist);

        assert_eq!(kind(db.delete(b"absent")), ErrorKind::NoExist);
        db.delete(b"k").unwrap();
        db.append(b"a", b"1").unwrap();
        db.append(b"a", b"2").unwrap();
        assert_eq!(db.fetch(b"a").unwrap(), Some(b"12".to_vec()));
        db.repack().unwrap();
        db.wipe_all().unwrap();
        assert_eq!(db.firstkey().unwrap(), None);
        db.close().unwrap();
    }

    #[test]
    fn open_failure_has_a_kind_and_detail() {
        let dir = TempDir::new().unwrap();
        let missing = dir.path().join("no/such/dir.tdb");
        let error = CTdb::open(&missing, &options(0)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Io);
        assert!(error.detail.unwrap().contains("No such file"));

        let contradictory = options(tdb_flags::ALLOW_NESTING | tdb_flags::DISALLOW_NESTING);
        let error = CTdb::open(&dir.path().join("x.tdb"), &contradictory).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Einval);
    }

    #[test]
    fn seqnum_and_transactions() {
        let dir = TempDir::new().unwrap();
        let mut db = CTdb::open(&dir.path().join("s.tdb"), &options(tdb_flags::SEQNUM)).unwrap();
        let start = db.get_seqnum().unwrap();
        db.transaction_start().unwrap();
        db.transaction_start().unwrap(); // nesting is 1.4.8's default
        db.store(b"k", b"v", StoreFlag::Default).unwrap();
        db.transaction_commit().unwrap();
        db.transaction_prepare_commit().unwrap();
        db.transaction_commit().unwrap();
        assert_eq!(db.get_seqnum().unwrap(), start + 1);

        db.transaction_start().unwrap();
        db.transaction_start().unwrap();
        db.transaction_cancel().unwrap();
        assert_eq!(kind(db.transaction_commit()), ErrorKind::Io);

        let mut flat = CTdb::open(
            &dir.path().join("flat.tdb"),
            &options(tdb_flags::DISALLOW_NESTING),
        )
        .unwrap();
        flat.transaction_start().unwrap();
        assert_eq!(kind(flat.transaction_start()), ErrorKind::Nesting);
        flat.transaction_cancel().unwrap();
    }

    #[test]
    fn lock_ops() {
        let (_dir, mut db) = scratch();
        for (lock, unlock) in [
            (ChainLockOp::Lock, ChainLockOp::Unlock),
            (ChainLockOp::LockNonblock, ChainLockOp::Unlock),
            (ChainLockOp::LockRead, ChainLockOp::UnlockRead),
            (ChainLockOp::LockReadNonblock, ChainLockOp::UnlockRead),
            (ChainLockOp::Mark, ChainLockOp::Unmark),
        ] {
            db.chainlock(b"k", lock).unwrap();
            db.chainlock(b"k", unlock).unwrap();
        }
        for (lock, unlock) in [
            (LockAllOp::Lock, LockAllOp::Unlock),
            (LockAllOp::LockNonblock, LockAllOp::Unlock),
            (LockAllOp::LockRead, LockAllOp::UnlockRead),
            (LockAllOp::LockReadNonblock, LockAllOp::UnlockRead),
            (LockAllOp::Mark, LockAllOp::Unmark),
        ] {
            db.lockall(lock).unwrap();
            db.lockall(unlock).unwrap();
        }
        assert_eq!(kind(db.lockall(LockAllOp::Unlock)), ErrorKind::Lock);
        // A chain unlock without the lock does not set tdb's code: C reports what the
        // failed unlockall above left.
        let error = db.chainlock(b"k", ChainLockOp::Unlock).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Lock);
        assert!(error.detail.unwrap().contains("count is 0"));
    }

    #[test]
    fn traverse_gives_the_backend_to_the_callback() {
        let (_dir, mut db) = scratch();
        for i in 0..6 {
            db.store(format!("k{i}").as_bytes(), b"v", StoreFlag::Insert)
                .unwrap();
        }
        let mut changed = 0;
        let count = db
            .traverse(TraverseKind::Write, &mut |db: &mut CTdb, key, _| {
                db.store(key, b"changed", StoreFlag::Modify).unwrap();
                changed += 1;
                if changed == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert_eq!(count, 2);

        let mut values = Vec::new();
        let mut write_errors = Vec::new();
        let count = db
            .traverse(TraverseKind::Read, &mut |db: &mut CTdb, key, data| {
                values.push(data.to_vec());
                write_errors.push(db.delete(key).unwrap_err().kind);
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(count, 6);
        assert_eq!(values.iter().filter(|v| *v == b"changed").count(), 2);
        assert!(write_errors.iter().all(|k| *k == ErrorKind::ReadOnly));

        let mut keys = Vec::new();
        let mut key = db.firstkey().unwrap();
        while let Some(current) = key {
            key = db.nextkey(&current).unwrap();
            keys.push(current);
        }
        keys.sort();
        assert_eq!(keys.len(), 6);
        assert_eq!(keys[0], b"k0");
    }

    const PROBE_DB_VAR: &str = "REPLAY_ENGINE_TEST_PROBE_DB";

    /// The child half of [`locking_model_matches_tdb_1_4_8`]: tries to start a
    /// transaction without blocking and prints the outcome.
    #[test]
    #[ignore = "helper: run in a child process by locking_model_matches_tdb_1_4_8"]
    fn transaction_probe_child() {
        let Ok(path) = std::env::var(PROBE_DB_VAR) else {
            return;
        };
        let mut db = CTdb::open(Path::new(&path), &options(0)).unwrap();
        match db.tdb().transaction_start_nonblock() {
            Ok(()) => {
                db.transaction_cancel().unwrap();
                println!("PROBE=ok");
            }
            Err(error) => println!("PROBE={:?}", error.code()),
        }
    }

    /// Whether another process can start a transaction while this one is inside a
    /// traverse of `kind` (fcntl locks only conflict between processes).
    fn transaction_possible_during(kind: TraverseKind) -> String {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("probe.tdb");
        let mut db = CTdb::open(&path, &options(0)).unwrap();
        db.store(b"k", b"v", StoreFlag::Default).unwrap();
        let mut outcome = String::new();
        db.traverse(kind, &mut |_: &mut CTdb, _, _| {
            let output = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "backend::c::tests::transaction_probe_child",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(PROBE_DB_VAR, &path)
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            let stdout = String::from_utf8_lossy(&output.stdout);
            outcome = stdout
                .split_once("PROBE=")
                .and_then(|(_, rest)| rest.lines().next())
                .unwrap_or_default()
                .to_string();
            ControlFlow::Break(())
        })
        .unwrap();
        outcome
    }

    /// `LOCKING.read_traverse_takes_transaction_lock` is false because another process
    /// can start a transaction during a read traverse, but not during a write traverse.
    #[test]
    fn locking_model_matches_tdb_1_4_8() {
        let read_takes_lock = transaction_possible_during(TraverseKind::Read) != "ok";
        assert_eq!(
            read_takes_lock,
            CTdb::LOCKING.read_traverse_takes_transaction_lock
        );
        assert_eq!(transaction_possible_during(TraverseKind::Write), "NoLock");
    }
}
