//! Robust-mutex files (`TDB_MUTEX_LOCKING`) against C tdb: the same bytes for a new
//! file, each engine reading and writing what the other wrote under locking, and
//! processes of both engines contending for chain and all-record mutexes, including a
//! holder killed with SIGKILL. The other process is this test binary run again as a
//! helper (`mutex_helper_child`), driven line by line over its stdin and stdout.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;
use tdb_pure::{flags, StoreFlag, Tdb};

const MUTEX: u32 = flags::MUTEX_LOCKING | flags::CLEAR_IF_FIRST | flags::NOSYNC;

fn mutex_size(path: &Path) -> u32 {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        u32::from_le_bytes(bytes[40..44].try_into().unwrap()),
        0x0BAD_1A52,
        "feature-flag marker"
    );
    assert_eq!(
        u32::from_le_bytes(bytes[60..64].try_into().unwrap()),
        1,
        "mutex feature"
    );
    u32::from_le_bytes(bytes[64..68].try_into().unwrap())
}

#[test]
fn new_mutex_files_are_byte_identical_to_c() {
    let tmp = tempfile::tempdir().unwrap();
    for hash_size in [1, 2, 96, 97, 131, 1000] {
        for extra in [0, flags::CLEAR_IF_FIRST] {
            let tdb_flags = flags::MUTEX_LOCKING | extra;
            let cp = tmp.path().join(format!("c-{hash_size}-{extra}.tdb"));
            let pp = tmp.path().join(format!("p-{hash_size}-{extra}.tdb"));
            drop(c_open(&cp, hash_size, tdb_flags));
            drop(open(&pp, &rw_create(hash_size, tdb_flags)));
            let (c, p) = (std::fs::read(&cp).unwrap(), std::fs::read(&pp).unwrap());
            assert_eq!(c.len(), p.len(), "hash_size {hash_size}: sizes");
            let at = c.iter().zip(&p).position(|(a, b)| a != b);
            assert_eq!(
                at, None,
                "hash_size {hash_size} flags {tdb_flags}: first difference"
            );
            let size = mutex_size(&cp);
            assert_eq!(
                Some(size),
                tdb_pure::mutex::mutex_size(hash_size),
                "tdb_mutex_size"
            );
            assert_eq!(
                c.len() as u64,
                u64::from(size) + 172 + 4 * u64::from(hash_size)
            );
        }
    }
}

#[test]
fn refusals_match_c() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("m.tdb");
    drop(c_open(&path, 31, flags::MUTEX_LOCKING));
    // A mutex file without the flag (locked): C refuses, and so does tdb-pure.
    assert!(tdb_sys::Tdb::open(
        &path,
        &tdb_sys::OpenOptions {
            hash_size: 0,
            tdb_flags: 0,
            open_flags: libc::O_RDWR,
            mode: 0
        }
    )
    .is_err());
    let err = Tdb::open(&path, &rw_create(0, 0)).unwrap_err();
    assert_eq!(err.code(), tdb_pure::code::EINVAL, "{err}");
    assert!(err.to_string().contains("TDB_MUTEX_LOCKING"), "{err}");
    // With TDB_NOLOCK or read-only, both open it.
    open(&path, &rw_create(0, flags::NOLOCK)).check().unwrap();
    open(&path, &ro()).check().unwrap();
    // Flag combinations C refuses.
    for bad in [flags::NOMMAP, flags::INTERNAL] {
        let o = rw_create(0, flags::MUTEX_LOCKING | bad);
        assert!(Tdb::open(tmp.path().join("x.tdb"), &o).is_err(), "{bad}");
    }
    // A mutex area of the wrong size (another platform's): refused with locking.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[64..68].copy_from_slice(&8192u32.to_le_bytes());
    let odd = tmp.path().join("odd.tdb");
    std::fs::write(&odd, &bytes).unwrap();
    assert!(Tdb::open(&odd, &rw_create(0, flags::MUTEX_LOCKING)).is_err());
    // The flag on a plain file changes nothing: fcntl locking, no mutex area.
    let plain = tmp.path().join("plain.tdb");
    drop(c_open(&plain, 7, 0));
    let mut p = open(&plain, &rw_create(0, flags::MUTEX_LOCKING));
    p.store(b"k", b"v", StoreFlag::Insert).unwrap();
    drop(p);
    assert_eq!(std::fs::read(&plain).unwrap()[40..44], [0u8; 4]);
}

fn records(n: u32, tag: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                format!("{tag}-key{i}").into_bytes(),
                vec![i as u8; (i % 70) as usize],
            )
        })
        .collect()
}

/// C writes a mutex file (stores, a transaction, deletes); tdb-pure opens it with
/// locking, reads exactly that, writes more (transaction included); C, opened again, reads
/// exactly what tdb-pure left and its check passes. Then the same the other way round.
#[test]
fn each_engine_reads_and_writes_the_others_mutex_file() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    for pure_first in [false, true] {
        let path = tmp.path().join(format!("rw-{pure_first}.tdb"));
        let first = records(300, "first");
        let second = records(200, "second");
        let write = |pure: bool, recs: &[(Vec<u8>, Vec<u8>)]| {
            if pure {
                let mut p = open(&path, &rw_create(131, MUTEX));
                for (k, d) in recs {
                    p.store(k, d, StoreFlag::Insert).unwrap();
                }
                p.transaction_start().unwrap();
                for (k, _) in recs.iter().step_by(3) {
                    p.delete(k).unwrap();
                }
                p.transaction_commit().unwrap();
                p.chainlock(b"x").unwrap();
                p.chainunlock(b"x").unwrap();
                p.lockall_write().unwrap();
                p.unlockall_write().unwrap();
            } else {
                let mut c = c_open(&path, 131, MUTEX);
                for (k, d) in recs {
                    c.store(k, d, tdb_sys::StoreFlag::Insert).unwrap();
                }
                c.transaction_start().unwrap();
                for (k, _) in recs.iter().step_by(3) {
                    c.delete(k).unwrap();
                }
                c.transaction_commit().unwrap();
            }
        };
        let kept = |recs: &[(Vec<u8>, Vec<u8>)]| -> Vec<(Vec<u8>, Vec<u8>)> {
            recs.iter()
                .enumerate()
                .filter(|(i, _)| i % 3 != 0)
                .map(|(_, r)| r.clone())
                .collect()
        };
        // The writers open with CLEAR_IF_FIRST, as Samba does, so another process keeps
        // the file open throughout (as Samba's long-lived parent would); it creates it.
        let mut keeper = Helper::start(&path, if pure_first { "c" } else { "pure" });
        write(pure_first, &first);
        write(!pure_first, &second);
        let mut want = kept(&first);
        want.extend(kept(&second));
        let want = sorted(want);
        keeper.must("check");
        keeper.finish();
        // Not held by anyone now: open without CLEAR_IF_FIRST to keep the records.
        let mut p = open(&path, &rw_create(0, flags::MUTEX_LOCKING));
        assert_eq!(sorted(p.entries().unwrap()), want);
        p.check().unwrap();
        drop(p);
        let mut c = c_open(&path, 0, flags::MUTEX_LOCKING);
        assert_eq!(sorted(c_entries(&mut c)), want);
        c.check().unwrap();
        drop(c);
        assert!(mutex_size(&path) >= 4096);
        if let Some((ok, out)) = tool("tdbtool", &[path.to_str().unwrap(), "check"]) {
            assert!(ok && out.contains("integrity is OK"), "{out}");
        }
    }
}

// ---- cross-process contention, through a helper child ----

const ENV_PATH: &str = "TDB_PURE_MUTEX_HELPER_PATH";
const ENV_ENGINE: &str = "TDB_PURE_MUTEX_HELPER_ENGINE";

/// The calls the helper makes, on either engine.
enum Engine {
    C(tdb_sys::Tdb),
    Pure(Box<Tdb>),
}

impl Engine {
    fn open(path: &Path, engine: &str) -> Engine {
        let flags = flags::MUTEX_LOCKING | flags::NOSYNC;
        match engine {
            "c" => Engine::C(c_open(path, 0, flags)),
            _ => Engine::Pure(Box::new(open(path, &rw_create(0, flags)))),
        }
    }

    /// Run one command; Ok(()) or the error text.
    fn run(&mut self, cmd: &str) -> Result<(), String> {
        let (verb, arg) = cmd.split_once(' ').unwrap_or((cmd, ""));
        let key = arg.as_bytes();
        match self {
            Engine::C(c) => {
                let r = match verb {
                    "chainlock" => c.chainlock(key),
                    "chainlock_nonblock" => c.chainlock_nonblock(key),
                    "chainlock_read_nonblock" => c.chainlock_read_nonblock(key),
                    "chainunlock" => c.chainunlock(key),
                    "lockall" => c.lockall(),
                    "lockall_nonblock" => c.lockall_nonblock(),
                    "lockall_read" => c.lockall_read(),
                    "unlockall" => c.unlockall(),
                    "unlockall_read" => c.unlockall_read(),
                    "store" => c.store(key, b"stored", tdb_sys::StoreFlag::Replace),
                    "check" => c.check(),
                    _ => panic!("unknown command {cmd}"),
                };
                r.map_err(|e| e.to_string())
            }
            Engine::Pure(p) => {
                let r = match verb {
                    "chainlock" => p.chainlock(key),
                    "chainlock_nonblock" => p.chainlock_nonblock(key),
                    "chainlock_read_nonblock" => p.chainlock_read_nonblock(key),
                    "chainunlock" => p.chainunlock(key),
                    "lockall" => p.lockall_write(),
                    "lockall_nonblock" => p.lockall_nonblock(),
                    "lockall_read" => p.lockall_read(),
                    "unlockall" => p.unlockall_write(),
                    "unlockall_read" => p.unlockall_read(),
                    "store" => p.store(key, b"stored", StoreFlag::Replace),
                    "check" => p.check(),
                    _ => panic!("unknown command {cmd}"),
                };
                r.map_err(|e| e.to_string())
            }
        }
    }
}

/// Child side: open the database with the engine named in the environment, then run
/// one command per stdin line, answering `@@ok` or `@@err <why>` on stdout. A no-op
/// unless run as the helper.
#[test]
#[ignore = "helper"]
fn mutex_helper_child() {
    let Some([path, engine]) = helper_job([ENV_PATH, ENV_ENGINE]) else {
        return;
    };
    let mut db = Engine::open(Path::new(&path), &engine.to_string_lossy());
    println!("@@open");
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        if line == "exit" {
            break;
        }
        match db.run(&line) {
            Ok(()) => println!("@@ok"),
            Err(e) => println!("@@err {e}"),
        }
        std::io::stdout().flush().unwrap();
    }
    drop(db);
    std::process::exit(0);
}

struct Helper {
    child: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
}

impl Helper {
    fn start(path: &Path, engine: &str) -> Helper {
        let mut child = helper_command(&test_name(module_path!(), "mutex_helper_child"))
            .env(ENV_PATH, path)
            .env(ENV_ENGINE, engine)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let to = child.stdin.take().unwrap();
        let from = BufReader::new(child.stdout.take().unwrap());
        let mut h = Helper { child, to, from };
        assert_eq!(h.answer(), "@@open");
        h
    }

    /// The next protocol line (test-harness chatter skipped).
    fn answer(&mut self) -> String {
        loop {
            let mut line = String::new();
            assert!(self.from.read_line(&mut line).unwrap() > 0, "helper ended");
            if let Some(at) = line.find("@@") {
                return line[at..].trim_end().to_string();
            }
        }
    }

    fn send(&mut self, cmd: &str) {
        writeln!(self.to, "{cmd}").unwrap();
        self.to.flush().unwrap();
    }

    /// Run a command in the child; true if it succeeded.
    fn ask(&mut self, cmd: &str) -> bool {
        self.send(cmd);
        self.answer() == "@@ok"
    }

    fn must(&mut self, cmd: &str) {
        self.send(cmd);
        let a = self.answer();
        assert_eq!(a, "@@ok", "helper: {cmd}");
    }

    fn finish(mut self) {
        self.send("exit");
        assert!(self.child.wait().unwrap().success());
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

/// A database both processes open without CLEAR_IF_FIRST (so neither wipes the other's
/// records), created by `creator`.
fn shared_db(tmp: &tempfile::TempDir, name: &str, creator: &str) -> std::path::PathBuf {
    let path = tmp.path().join(name);
    let flags = flags::MUTEX_LOCKING | flags::NOSYNC;
    if creator == "c" {
        let mut c = c_open(&path, 31, flags);
        c.store(b"key", b"v0", tdb_sys::StoreFlag::Insert).unwrap();
    } else {
        let mut p = open(&path, &rw_create(31, flags));
        p.store(b"key", b"v0", StoreFlag::Insert).unwrap();
    }
    path
}

/// The pairs tried: (this process's engine, the helper's engine).
const PAIRS: [(&str, &str); 2] = [("pure", "c"), ("c", "pure")];

/// Two keys in different chains of a 31-chain database.
fn other_chain_key() -> &'static str {
    let h = |k: &[u8]| tdb_pure::HashKind::Jenkins.hash(k) % 31;
    ["other", "other1", "other2", "other3"]
        .into_iter()
        .find(|k| h(k.as_bytes()) != h(b"key"))
        .unwrap()
}

#[test]
fn chain_mutex_contention_across_engines() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    for (me, other) in PAIRS {
        let path = shared_db(&tmp, &format!("contend-{me}.tdb"), other);
        let mut helper = Helper::start(&path, other);
        let mut db = Engine::open(&path, me);
        let other_key = other_chain_key();

        // The helper holds the chain: nonblocking attempts fail, read ones too (mutexes
        // do not share); another chain is free.
        helper.must("chainlock key");
        assert!(db.run("chainlock_nonblock key").is_err(), "{me} vs {other}");
        assert!(db.run("chainlock_read_nonblock key").is_err());
        assert!(
            db.run("lockall_nonblock").is_err(),
            "allrecord vs a held chain"
        );
        db.run(&format!("chainlock_nonblock {other_key}")).unwrap();
        db.run(&format!("chainunlock {other_key}")).unwrap();

        // A blocking lock waits until the helper lets go, and then sees its store.
        helper.must("store key");
        let started = Instant::now();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            helper.must("chainunlock key");
            helper
        });
        db.run("chainlock key").unwrap();
        let waited = started.elapsed();
        let mut helper = release.join().unwrap();
        assert!(
            waited >= Duration::from_millis(250),
            "did not wait: {waited:?}"
        );
        assert!(!helper.ask("chainlock_nonblock key"), "we hold it now");
        db.run("chainunlock key").unwrap();
        assert!(helper.ask("chainlock_nonblock key"));
        helper.must("chainunlock key");
        let data = match &mut db {
            Engine::C(c) => c.fetch(b"key").unwrap().unwrap().as_slice().to_vec(),
            Engine::Pure(p) => p.fetch(b"key").unwrap(),
        };
        assert_eq!(data, b"stored");
        helper.must("check");
        db.run("check").unwrap();
        helper.finish();
    }
}

#[test]
fn allrecord_mutex_against_chain_locks_across_engines() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    for (me, other) in PAIRS {
        let path = shared_db(&tmp, &format!("all-{me}.tdb"), me);
        let mut helper = Helper::start(&path, other);
        let mut db = Engine::open(&path, me);

        // The helper's write allrecord lock keeps every chain from us.
        helper.must("lockall");
        assert!(db.run("chainlock_nonblock key").is_err());
        assert!(db.run("chainlock_nonblock anything").is_err());
        assert!(db.run("lockall_nonblock").is_err());
        helper.must("unlockall");
        db.run("chainlock_nonblock key").unwrap();
        // Our chain lock keeps the helper's allrecord lock out, until released.
        assert!(!helper.ask("lockall_nonblock"));
        db.run("chainunlock key").unwrap();
        assert!(helper.ask("lockall_nonblock"));
        helper.must("unlockall");

        // A read allrecord lock: chain locks still wait (they may write).
        helper.must("lockall_read");
        assert!(db.run("chainlock_nonblock key").is_err());
        helper.must("unlockall_read");

        // A blocking allrecord lock waits for a chain holder.
        db.run("chainlock key").unwrap();
        helper.send("lockall");
        std::thread::sleep(Duration::from_millis(200));
        db.run("chainunlock key").unwrap();
        assert_eq!(
            helper.answer(),
            "@@ok",
            "blocking lockall after the chain was freed"
        );
        assert!(db.run("chainlock_nonblock key").is_err());
        helper.must("unlockall");
        db.run("chainlock_nonblock key").unwrap();
        db.run("chainunlock key").unwrap();
        helper.finish();
    }
}

#[test]
fn killed_holder_is_recovered_across_engines() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    for (me, other) in PAIRS {
        // A chain holder killed: the next locker takes the mutex over (EOWNERDEAD).
        // This process opens first and stays open, so no later opener is the first
        // (which would initialise the mutexes again and hide the dead owner).
        let path = shared_db(&tmp, &format!("kill-{me}.tdb"), other);
        let mut db = Engine::open(&path, me);
        let mut helper = Helper::start(&path, other);
        helper.must("chainlock key");
        helper.must("store key");
        helper.kill();
        db.run("chainlock key").unwrap();
        db.run("chainunlock key").unwrap();
        db.run("store key").unwrap();
        db.run("check").unwrap();

        // An allrecord holder killed: the allrecord mutex is taken over, its state reset,
        // and chain and allrecord locks work again, on both engines.
        let mut helper = Helper::start(&path, other);
        helper.must("lockall");
        helper.kill();
        db.run("chainlock key").unwrap();
        db.run("chainunlock key").unwrap();
        db.run("lockall").unwrap();
        db.run("unlockall").unwrap();
        let mut helper = Helper::start(&path, other);
        assert!(helper.ask("lockall_nonblock"));
        helper.must("unlockall");
        helper.must("chainlock key");
        helper.must("chainunlock key");
        helper.must("check");
        helper.finish();
        drop(db);
        let mut c = c_open(&path, 0, flags::MUTEX_LOCKING);
        c.check().unwrap();
    }
}
