//! Generating trace sets: several processes run a torture-style random workload on one
//! database at the same time, each writing the trace tdb would have written. The result
//! is a real multi-process trace set (seqnums, races and all) that needs no corpus, for
//! the built-in example and for tests.

use std::fs::File;
use std::io::{self, BufWriter};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::backend::{
    tdb_flags, Backend, ChainLockOp, LockAllOp, OpenOptions, StoreFlag, TdbResult, TraverseKind,
};
use crate::process;
use crate::scratch;
use crate::trace::writer::TraceWriter;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Concurrent processes (one trace each).
    pub processes: usize,
    /// Top-level operations per process (a transaction or traverse counts as one).
    pub ops: usize,
    /// Seed of the random workload (process k uses seed + k).
    pub seed: u64,
    /// Hash size of the database (small sizes make chains collide, as tdbtorture does).
    pub hash_size: u32,
    /// Number of distinct keys.
    pub keys: usize,
    /// Also use the ops tdbtorture never ran concurrently: firstkey/nextkey walks,
    /// all-record read locks and wipe_all. Their locks are held across calls in ways no
    /// dependency analysis can see, so concurrent replays of such traces may need
    /// back-offs or fail with tdb lock errors; single-process traces replay fine.
    pub exotic: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            processes: 3,
            ops: 400,
            seed: 1,
            hash_size: 7,
            keys: 40,
            exotic: false,
        }
    }
}

/// The database's flags while generating: sequence numbers (so the trace's seqnum field
/// moves, as tracing forces in tdb) and no fsync.
const FLAGS: u32 = tdb_flags::SEQNUM | tdb_flags::NOSYNC;

/// Run the workload with backend `B` on `dir/<name>.tdb`; returns the trace files written
/// (`dir/<name>.<k>.trace`). The process must be single-threaded (it forks).
pub fn generate<B: Backend>(
    dir: &Path,
    name: &str,
    options: &GenerateOptions,
) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let db_path = dir.join(format!("{name}.tdb"));
    let open = OpenOptions {
        hash_size: options.hash_size,
        tdb_flags: FLAGS,
        open_flags: libc::O_RDWR | libc::O_CREAT,
        mode: 0o600,
    };
    let paths: Vec<PathBuf> = (0..options.processes)
        .map(|k| dir.join(format!("{name}.{}.trace", k + 1)))
        .collect();
    // Never over files the tool did not create (see `scratch`).
    for path in paths.iter().chain([&db_path]) {
        scratch::replace(path).map_err(io::Error::other)?;
    }
    // Start from an empty file.
    let fresh = OpenOptions {
        open_flags: libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
        ..open
    };
    B::open(&db_path, &fresh)
        .and_then(B::close)
        .map_err(|error| io::Error::other(format!("{}: {error}", db_path.display())))?;
    scratch::mark(&db_path).map_err(io::Error::other)?;
    for path in &paths {
        File::create_new(path)?;
        scratch::mark(path).map_err(io::Error::other)?;
    }
    let mut pids = Vec::new();
    for (k, path) in paths.iter().enumerate() {
        let seed = options.seed.wrapping_add(k as u64);
        let pid =
            process::spawn(
                || match run_process::<B>(&db_path, path, &open, seed, options) {
                    Ok(()) => 0,
                    Err(error) => {
                        eprintln!("{}: {error}", path.display());
                        1
                    }
                },
            )?;
        pids.push(pid);
    }
    let mut failed = None;
    for pid in pids {
        let exit = process::wait(pid, true)?;
        if let Some(exit) = exit.filter(|exit| !exit.success()) {
            failed = Some(exit);
        }
    }
    if let Some(exit) = failed {
        return Err(io::Error::other(format!("a workload process {exit}")));
    }
    Ok(paths)
}

/// A small deterministic generator (xorshift64*), so a seed always gives one workload.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Workload<'o> {
    rng: Rng,
    out: TraceWriter<BufWriter<File>>,
    options: &'o GenerateOptions,
}

fn io_error(error: crate::backend::TdbError) -> io::Error {
    io::Error::other(error.to_string())
}

fn run_process<B: Backend>(
    db_path: &Path,
    trace_path: &Path,
    open: &OpenOptions,
    seed: u64,
    options: &GenerateOptions,
) -> io::Result<()> {
    let mut db = B::open(db_path, open).map_err(io_error)?;
    let mut work = Workload {
        rng: Rng::new(seed),
        out: TraceWriter::new(BufWriter::new(
            std::fs::OpenOptions::new().write(true).open(trace_path)?,
        )),
        options,
    };
    let seqnum = seq(&mut db);
    work.out
        .open(seqnum, open.hash_size, open.tdb_flags, open.open_flags)?;
    for _ in 0..options.ops {
        work.top_level(&mut db)?;
    }
    let seqnum = seq(&mut db);
    work.out.bare(seqnum, "tdb_close")?;
    work.out.flush()?;
    db.close().map_err(io_error)
}

/// The seqnum field of a trace line: the header's counter after the op.
fn seq<B: Backend>(db: &mut B) -> i32 {
    db.get_seqnum().unwrap_or(0)
}

/// Run a write again while tdb reports a lock failure (the kernel's deadlock detection
/// refusing a lock another process's upgrade waits for): a trace that recorded such a
/// transient failure could never be replayed faithfully.
fn retry_lock(mut write: impl FnMut() -> TdbResult<()>) -> TdbResult<()> {
    let mut result = write();
    for _ in 0..100 {
        match &result {
            Err(error) if error.kind == crate::backend::ErrorKind::Lock => {
                std::thread::sleep(std::time::Duration::from_micros(50));
                result = write();
            }
            _ => break,
        }
    }
    result
}

fn ret(result: &TdbResult<()>) -> i32 {
    if result.is_ok() {
        0
    } else {
        -1
    }
}

impl Workload<'_> {
    fn key(&mut self) -> Vec<u8> {
        let k = self.rng.below(self.options.keys as u64);
        format!("key{k}\0").into_bytes()
    }

    fn value(&mut self) -> Vec<u8> {
        let len = self.rng.below(40) as usize;
        (0..len).map(|_| self.rng.below(256) as u8).collect()
    }

    /// One top-level step of the workload.
    fn top_level<B: Backend>(&mut self, db: &mut B) -> io::Result<()> {
        let mut choice = self.rng.below(100);
        if !self.options.exotic && choice >= 92 {
            choice = self.rng.below(92);
        }
        match choice {
            0..=69 => self.simple(db),
            70..=75 => self.traverse(db),
            76..=83 => self.transaction(db),
            84..=89 => self.locked_update(db),
            90..=91 => self.nonblocking_update(db),
            92..=94 => self.key_walk(db),
            95..=97 => self.locked_read(db),
            _ => {
                if self.rng.chance(20) {
                    let result = db.wipe_all();
                    if result.is_ok() {
                        let seqnum = seq(db);
                        self.out.bare(seqnum, "tdb_wipe_all")?;
                    }
                }
                Ok(())
            }
        }
    }

    /// A single keyed op.
    fn simple<B: Backend>(&mut self, db: &mut B) -> io::Result<()> {
        self.keyed(db, false)
    }

    /// A single keyed op; inside a read traverse it never appends (the generator's append
    /// takes a write chain lock, which would deadlock against a committing transaction
    /// while the walk holds its record lock).
    fn keyed<B: Backend>(&mut self, db: &mut B, in_read_traverse: bool) -> io::Result<()> {
        let key = self.key();
        let mut choice = self.rng.below(100);
        if in_read_traverse && (75..=84).contains(&choice) {
            choice = 0;
        }
        match choice {
            0..=34 => {
                let got = db.fetch(&key).map_err(io_error)?;
                let seqnum = seq(db);
                self.out.fetch(seqnum, &key, got.as_deref())
            }
            35..=59 => {
                let data = self.value();
                let flag = match self.rng.below(10) {
                    0 => StoreFlag::Insert,
                    1 => StoreFlag::Modify,
                    2 => StoreFlag::Default,
                    _ => StoreFlag::Replace,
                };
                let result = retry_lock(|| db.store(&key, &data, flag));
                let seqnum = seq(db);
                self.out.store(seqnum, &key, &data, flag, ret(&result))
            }
            60..=74 => {
                let result = retry_lock(|| db.delete(&key));
                let seqnum = seq(db);
                self.out.key_ret(seqnum, "tdb_delete", &key, ret(&result))
            }
            75..=84 => self.append(db, &key),
            85..=92 => {
                let found = db.exists(&key).map_err(io_error)?;
                let seqnum = seq(db);
                self.out
                    .key_ret(seqnum, "tdb_exists", &key, i32::from(found))
            }
            _ => {
                let found = db.parse_record(&key, |_| ()).is_ok();
                let seqnum = seq(db);
                let code = if found { 0 } else { -1 };
                self.out.key_ret(seqnum, "tdb_parse_record", &key, code)
            }
        }
    }

    /// `tdb_append`, traced with its result, which is read under the chain lock so that
    /// it is what this append produced.
    fn append<B: Backend>(&mut self, db: &mut B, key: &[u8]) -> io::Result<()> {
        let data = self.value();
        if db.chainlock(key, ChainLockOp::Lock).is_err() {
            return Ok(());
        }
        let appended = db.append(key, &data);
        let result = db.fetch(key);
        let _ = db.chainlock(key, ChainLockOp::Unlock);
        if let (Ok(()), Ok(Some(result))) = (appended, result) {
            let seqnum = seq(db);
            self.out.append(seqnum, key, &data, &result)?;
        }
        Ok(())
    }

    fn traverse<B: Backend>(&mut self, db: &mut B) -> io::Result<()> {
        let kind = if self.rng.chance(50) {
            TraverseKind::Write
        } else {
            TraverseKind::Read
        };
        // tdb writes the start line once it holds the traverse's locks, which may mean
        // after waiting for another process's traverse or transaction: so write it at the
        // first record (or after an empty walk), with the seqnum of that moment.
        let mut started = false;
        let mut failure: Option<io::Error> = None;
        let mut stopped = false;
        let walked = db.traverse(kind, &mut |db, key, data| {
            let step = (|| -> io::Result<bool> {
                if !started {
                    started = true;
                    let seqnum = seq(db);
                    self.out.traverse_start(seqnum, kind)?;
                }
                let seqnum = seq(db);
                self.out.traverse_entry(seqnum, key, data)?;
                if kind == TraverseKind::Write && self.rng.chance(25) {
                    let result = db.delete(key);
                    let seqnum = seq(db);
                    self.out.key_ret(seqnum, "tdb_delete", key, ret(&result))?;
                } else if self.rng.chance(15) {
                    self.keyed(db, kind == TraverseKind::Read)?;
                }
                Ok(self.rng.chance(8))
            })();
            match step {
                Ok(false) => ControlFlow::Continue(()),
                Ok(true) => {
                    stopped = true;
                    ControlFlow::Break(())
                }
                Err(error) => {
                    failure = Some(error);
                    ControlFlow::Break(())
                }
            }
        });
        if let Some(error) = failure {
            return Err(error);
        }
        let count = walked.map_err(io_error)?;
        if !started {
            let seqnum = seq(db);
            self.out.traverse_start(seqnum, kind)?;
        }
        let seqnum = seq(db);
        self.out.traverse_end(seqnum, stopped.then_some(count))
    }

    fn transaction<B: Backend>(&mut self, db: &mut B) -> io::Result<()> {
        if db.transaction_start().is_err() {
            return Ok(());
        }
        let seqnum = seq(db);
        self.out.bare(seqnum, "tdb_transaction_start")?;
        for _ in 0..1 + self.rng.below(5) {
            if self.rng.chance(10) {
                self.traverse(db)?;
            } else {
                self.simple(db)?;
            }
        }
        if self.rng.chance(25) {
            let seqnum = seq(db);
            self.out.bare(seqnum, "tdb_transaction_cancel")?;
            db.transaction_cancel().map_err(io_error)
        } else {
            if self.rng.chance(30) {
                let seqnum = seq(db);
                self.out.bare(seqnum, "tdb_transaction_prepare_commit")?;
                db.transaction_prepare_commit().map_err(io_error)?;
            }
            let seqnum = seq(db);
            self.out.bare(seqnum, "tdb_transaction_commit")?;
            db.transaction_commit().map_err(io_error)
        }
    }

    /// tdbtorture's "lockstore": read and rewrite a record under its chain lock.
    fn locked_update<B: Backend>(&mut self, db: &mut B) -> io::Result<()> {
        let key = self.key();
        db.chainlock(&key, ChainLockOp::Lock).map_err(io_error)?;
        let seqnum = seq(db);
        self.out.chainlock(seqnum, ChainLockOp::Lock, &key, None)?;
        let old = db.fetch(&key).map_err(io_error)?;
        let seqnum = seq(db);
        self.out.fetch(seqnum, &key, old.as_deref())?;
        let mut data = old.unwrap_or_default();
        let extra = self.value();
        data.extend(extra.iter().take(2));
        data.truncate(48);
        let result = db.store(&key, &data, StoreFlag::Replace);
        let seqnum = seq(db);
        self.out
            .store(seqnum, &key, &data, StoreFlag::Replace, ret(&result))?;
        let seqnum = seq(db);
        self.out
            .chainlock(seqnum, ChainLockOp::Unlock, &key, None)?;
        db.chainlock(&key, ChainLockOp::Unlock).map_err(io_error)
    }

    fn nonblocking_update<B: Backend>(&mut self, db: &mut B) -> io::Result<()> {
        let key = self.key();
        let got = db.chainlock(&key, ChainLockOp::LockNonblock);
        let seqnum = seq(db);
        self.out
            .chainlock(seqnum, ChainLockOp::LockNonblock, &key, Some(ret(&got)))?;
        if got.is_ok() {
            let old = db.fetch(&key).map_err(io_error)?;
            let seqnum = seq(db);
            self.out.fetch(seqnum, &key, old.as_deref())?;
            let seqnum = seq(db);
            self.out
                .chainlock(seqnum, ChainLockOp::Unlock, &key, None)?;
            db.chainlock(&key, ChainLockOp::Unlock).map_err(io_error)?;
        }
        Ok(())
    }

    /// Walk the keys with firstkey/nextkey to the end: tdb keeps a read lock on the
    /// current record between the calls, which only the end of the walk releases (an
    /// abandoned walk would block every later transaction commit of other processes).
    fn key_walk<B: Backend>(&mut self, db: &mut B) -> io::Result<()> {
        let mut current = db.firstkey().map_err(io_error)?;
        let seqnum = seq(db);
        self.out.key_walk(seqnum, None, current.as_deref())?;
        while let Some(old) = current.take() {
            current = db.nextkey(&old).unwrap_or(None);
            let seqnum = seq(db);
            self.out.key_walk(seqnum, Some(&old), current.as_deref())?;
        }
        Ok(())
    }

    fn locked_read<B: Backend>(&mut self, db: &mut B) -> io::Result<()> {
        let seqnum = seq(db);
        self.out.lockall(seqnum, LockAllOp::LockRead, None)?;
        db.lockall(LockAllOp::LockRead).map_err(io_error)?;
        for _ in 0..1 + self.rng.below(3) {
            let key = self.key();
            let got = db.fetch(&key).map_err(io_error)?;
            let seqnum = seq(db);
            self.out.fetch(seqnum, &key, got.as_deref())?;
        }
        let seqnum = seq(db);
        self.out.lockall(seqnum, LockAllOp::UnlockRead, None)?;
        db.lockall(LockAllOp::UnlockRead).map_err(io_error)
    }
}
