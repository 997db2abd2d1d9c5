//! Crash recovery proven with real kills, in both directions.
//!
//! * **Random kills**: a child process (this test binary, run again as a helper) commits
//!   transactions of 1, a few and hundreds of stores, deletes and appends, syncs on, on C
//!   tdb or on tdb-pure, logging `committing N` before and `committed N` after each
//!   commit; the parent kills it with `SIGKILL` after a random delay, then has copies of
//!   the file recovered by tdb-pure and by C tdb: each must hold exactly the state of
//!   transaction N−1 or N (N the last commit begun), agree with the other, and pass both
//!   engines' `check`. The next child starts on one of the recovered copies or on the
//!   killed file itself, so that some kills land in the recovery run by `open`.
//!   `TDB_CRASH_KILLS=N` sets the number of kills per direction (default 100).
//! * **Every fault point**: through tdb-pure's fault hook (`tdb_pure::fault`), a child
//!   dies at the k-th write, growth or sync of a commit, for every k, cleanly or after
//!   half a write, for several transaction shapes; the same for the recovery that the
//!   next open runs; and the k-th call fails with an I/O error instead (in process).

mod util;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tdb_pure::fault::{FaultAction, FaultPoint};
use tdb_pure::{code, OpenFlags, StoreFlag, Tdb};
use util::Rng;

// ---------------------------------------------------------------------------------------
// The workload: transaction N's operations are a function of N alone.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Store(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Append(Vec<u8>, Vec<u8>),
}

/// `len` bytes that encode transaction `n` and item `i`.
fn value(n: u64, i: u64, len: usize) -> Vec<u8> {
    let mut v = format!("{n}:{i}:").into_bytes();
    let fill = b'a' + ((n * 7 + i) % 26) as u8;
    v.resize(len.max(v.len()), fill);
    v
}

fn gen_store(n: u64) -> Op {
    Op::Store(b"gen".to_vec(), n.to_string().into_bytes())
}

/// Transaction `n` of the random-kill workload: the generation key, then by `n % 10`
/// nothing more (0-2: one store in all), a few operations (3-8), or hundreds of them on
/// a key range that widens with `n`, so the file keeps growing and the recovery area has
/// to move (9).
fn tx_ops(n: u64) -> Vec<Op> {
    let mut rng = Rng(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut ops = vec![gen_store(n)];
    match n % 10 {
        0..=2 => {}
        3..=8 => {
            ops.push(Op::Store(
                format!("a{}", n % 16).into_bytes(),
                value(n, 0, 8),
            ));
            for i in 0..2 + rng.below(6) {
                let key = format!("s{}", rng.below(60)).into_bytes();
                ops.push(match rng.below(3) {
                    0 => Op::Store(key, value(n, i, 1 + rng.below(200) as usize)),
                    1 => Op::Delete(key),
                    _ => Op::Append(
                        format!("a{}", rng.below(16)).into_bytes(),
                        value(n, i, 1 + rng.below(60) as usize),
                    ),
                });
            }
        }
        _ => {
            let range = 300 + n / 4;
            for i in 0..200 + rng.below(200) {
                let key = format!("b{}", rng.below(range)).into_bytes();
                if rng.below(5) == 0 {
                    ops.push(Op::Delete(key));
                } else {
                    ops.push(Op::Store(key, value(n, i, 1 + rng.below(1500) as usize)));
                }
            }
        }
    }
    ops
}

/// The transactions of the fault-point test, by shape.
fn shape_ops(shape: &str, n: u64) -> Vec<Op> {
    let mut ops = vec![gen_store(n)];
    match shape {
        // One store: only the generation key.
        "one" => {}
        "few" => {
            ops.push(Op::Store(b"s1".to_vec(), value(n, 1, 40)));
            ops.push(Op::Delete(b"s2".to_vec()));
            ops.push(Op::Append(b"a3".to_vec(), value(n, 3, 30)));
            ops.push(Op::Store(b"s4".to_vec(), value(n, 4, 300)));
        }
        // Hundreds of records rewritten all over the file and hundreds of new ones: the
        // file grows, and the recovery area must move to hold the old blocks.
        "grow" => {
            for i in 0..500 {
                ops.push(Op::Store(format!("g{i}").into_bytes(), value(n, i, 1000)));
            }
            for i in 0..300 {
                ops.push(Op::Store(
                    format!("grow{i}").into_bytes(),
                    value(n, i, 1200),
                ));
            }
            ops.push(Op::Delete(b"s5".to_vec()));
        }
        // Hundreds of new records and few changed blocks: the file grows, and the
        // recovery area, big enough for the old blocks, stays where it is (before the old
        // end of file, so that recovery keeps it and its end-of-file mark).
        "extend" => {
            for i in 0..300 {
                ops.push(Op::Store(format!("ext{i}").into_bytes(), value(n, i, 1200)));
            }
        }
        // The first transaction on a new file: no recovery area yet.
        "fresh" => {
            for i in 0..20 {
                ops.push(Op::Store(format!("f{i}").into_bytes(), value(n, i, 100)));
            }
        }
        other => panic!("unknown shape {other}"),
    }
    ops
}

type State = BTreeMap<Vec<u8>, Vec<u8>>;

fn apply(state: &mut State, ops: &[Op]) {
    for op in ops {
        match op {
            Op::Store(k, v) => {
                state.insert(k.clone(), v.clone());
            }
            Op::Delete(k) => {
                state.remove(k);
            }
            Op::Append(k, v) => state.entry(k.clone()).or_default().extend_from_slice(v),
        }
    }
}

/// The expected database after each generation of the random-kill workload, advanced
/// on demand.
struct Model {
    gen: u64,
    state: State,
}

impl Model {
    fn new() -> Model {
        Model {
            gen: 0,
            state: State::new(),
        }
    }

    fn advance_to(&mut self, gen: u64) {
        assert!(
            gen >= self.gen,
            "generation went back from {} to {gen}",
            self.gen
        );
        while self.gen < gen {
            self.gen += 1;
            apply(&mut self.state, &tx_ops(self.gen));
        }
    }
}

fn gen_of(state: &State) -> u64 {
    state
        .get(&b"gen"[..])
        .map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap())
}

// ---------------------------------------------------------------------------------------
// The two engines.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    C,
    Pure,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::C => "c",
            Engine::Pure => "pure",
        }
    }

    fn parse(s: &str) -> Engine {
        match s {
            "c" => Engine::C,
            "pure" => Engine::Pure,
            _ => panic!("engine {s}"),
        }
    }

    fn other(self) -> Engine {
        match self {
            Engine::C => Engine::Pure,
            Engine::Pure => Engine::C,
        }
    }
}

/// Syncs on (no `TDB_NOSYNC`).
fn rw(create: bool) -> OpenFlags {
    OpenFlags {
        hash_size: 0,
        tdb_flags: 0,
        open_flags: libc::O_RDWR | if create { libc::O_CREAT } else { 0 },
        mode: 0o600,
    }
}

fn c_opts(create: bool) -> tdb_sys::OpenOptions {
    let o = rw(create);
    tdb_sys::OpenOptions {
        hash_size: o.hash_size,
        tdb_flags: o.tdb_flags,
        open_flags: o.open_flags,
        mode: o.mode,
    }
}

/// A read-write handle on either engine.
#[allow(clippy::large_enum_variant)]
enum Db {
    C(tdb_sys::Tdb),
    Pure(Tdb),
}

impl Db {
    fn open(engine: Engine, path: &Path, create: bool) -> Result<Db, String> {
        match engine {
            Engine::C => tdb_sys::Tdb::open(path, &c_opts(create))
                .map(Db::C)
                .map_err(|e| format!("C open: {e}")),
            Engine::Pure => Tdb::open(path, &rw(create))
                .map(Db::Pure)
                .map_err(|e| format!("tdb-pure open: {e}")),
        }
    }

    fn start(&mut self) {
        match self {
            Db::C(c) => c.transaction_start().unwrap(),
            Db::Pure(p) => p.transaction_start().unwrap(),
        }
    }

    fn apply(&mut self, ops: &[Op]) {
        for op in ops {
            match (&mut *self, op) {
                (Db::C(c), Op::Store(k, v)) => c.store(k, v, tdb_sys::StoreFlag::Replace).unwrap(),
                (Db::C(c), Op::Delete(k)) => {
                    if let Err(e) = c.delete(k) {
                        assert_eq!(e.code(), tdb_sys::ErrorCode::NoExist, "{e}");
                    }
                }
                (Db::C(c), Op::Append(k, v)) => c.append(k, v).unwrap(),
                (Db::Pure(p), Op::Store(k, v)) => p.store(k, v, StoreFlag::Replace).unwrap(),
                (Db::Pure(p), Op::Delete(k)) => {
                    if let Err(e) = p.delete(k) {
                        assert_eq!(e.code(), code::NOEXIST, "{e}");
                    }
                }
                (Db::Pure(p), Op::Append(k, v)) => p.append(k, v).unwrap(),
            }
        }
    }

    fn commit(&mut self) {
        match self {
            Db::C(c) => c.transaction_commit().unwrap(),
            Db::Pure(p) => p.transaction_commit().unwrap(),
        }
    }

    /// The engine's check; `Ok(true)` when tdb-pure's passed by skipping what a killed
    /// commit left past the old end of file (see `tdb_pure::CheckReport`).
    fn check(&mut self) -> Result<bool, String> {
        match self {
            Db::C(c) => c
                .check()
                .map(|()| false)
                .map_err(|e| format!("C check: {e}")),
            Db::Pure(p) => p
                .check_report()
                .map(|report| report.has_leftovers())
                .map_err(|e| format!("tdb-pure check: {e}")),
        }
    }

    fn state(&mut self) -> Result<State, String> {
        let mut out = State::new();
        match self {
            Db::C(c) => {
                c.traverse_read(|_, k, d| {
                    assert!(out.insert(k.to_vec(), d.to_vec()).is_none(), "key twice");
                    ControlFlow::Continue(())
                })
                .map_err(|e| format!("C traverse: {e}"))?;
            }
            Db::Pure(p) => {
                for (k, d) in p.entries().map_err(|e| format!("tdb-pure traverse: {e}"))? {
                    if out.insert(k, d).is_some() {
                        return Err("tdb-pure traverse: key twice".into());
                    }
                }
            }
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------
// The helper process.
// ---------------------------------------------------------------------------------------

const ENV_CHILD: &str = "TDB_CRASH_CHILD";

/// Child side: a no-op unless run as the helper. `TDB_CRASH_CHILD` holds the job:
/// `run <engine> <db> <log>`: commit transactions 1, 2, ... past the one in the file until
/// killed, logging; `commit <db> <shape> <k> <torn>`: one tdb-pure commit of `shape` that
/// dies at its k-th fault point; `recover <db> <k> <torn>`: a tdb-pure open whose
/// recovery dies at its k-th fault point.
#[test]
fn crash_child() {
    let Some(job) = std::env::var_os(ENV_CHILD) else {
        return;
    };
    let job = job.into_string().unwrap();
    let args: Vec<&str> = job.split('\u{1f}').collect();
    match args[0] {
        "run" => child_run(
            Engine::parse(args[1]),
            Path::new(args[2]),
            Path::new(args[3]),
        ),
        "commit" => {
            let (k, torn) = (args[3].parse().unwrap(), args[4] == "1");
            let mut db = Db::open(Engine::Pure, Path::new(args[1]), false).unwrap();
            let n = gen_of(&db.state().unwrap()) + 1;
            db.start();
            db.apply(&shape_ops(args[2], n));
            let Db::Pure(mut db) = db else { unreachable!() };
            db.set_fault_hook(Some(die_at(k, torn)));
            db.transaction_commit().unwrap();
        }
        "recover" => {
            let (k, torn) = (args[2].parse().unwrap(), args[3] == "1");
            let _db = Tdb::open_with_fault_hook(args[1], &rw(false), die_at(k, torn)).unwrap();
        }
        other => panic!("unknown job {other}"),
    }
    std::process::exit(0);
}

/// A fault hook that kills the process at its `k`-th point (1-based), after half the
/// buffer if `torn`.
fn die_at(k: usize, torn: bool) -> tdb_pure::fault::FaultHook {
    let mut seen = 0usize;
    Box::new(move |point| {
        seen += 1;
        if seen < k {
            return FaultAction::Proceed;
        }
        match point {
            FaultPoint::Write { len, .. } if torn && tearable(len) => {
                FaultAction::TornWrite((len / 2) & !7)
            }
            _ => FaultAction::Crash,
        }
    })
}

/// Whether a kill can tear a write of `len` bytes: a word (the recovery magic, a
/// pointer) is one store into the mapping or one page of a `pwrite`, whole or not at all;
/// a longer copy can stop between its 8- to 32-byte moves or between pages.
fn tearable(len: usize) -> bool {
    len >= 16
}

/// Append one line to the log with a single `write(2)`.
fn log_line(log: &mut std::fs::File, line: &str) {
    log.write_all(format!("{line}\n").as_bytes()).unwrap();
}

fn child_run(engine: Engine, path: &Path, log: &Path) {
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut db = Db::open(engine, path, true).unwrap();
    let mut n = gen_of(&db.state().unwrap());
    log_line(&mut log, &format!("opened {n}"));
    loop {
        n += 1;
        log_line(&mut log, &format!("begin {n}"));
        db.start();
        db.apply(&tx_ops(n));
        log_line(&mut log, &format!("committing {n}"));
        db.commit();
        log_line(&mut log, &format!("committed {n}"));
    }
}

fn helper(job: &[&str], stderr: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(ENV_CHILD, job.join("\u{1f}"))
        .env_remove("TDB_NO_FSYNC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap());
    cmd
}

// ---------------------------------------------------------------------------------------
// Checking a killed file.
// ---------------------------------------------------------------------------------------

/// The valid recovery area's offset, if the file has one (a commit was interrupted
/// after its recovery data was made valid and before it was invalidated again).
fn pending_recovery(path: &Path) -> Option<u32> {
    let bytes = std::fs::read(path).ok()?;
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let start = word(44)?;
    (start != 0 && word(start as usize + 20)? == 0xF53B_C0E7).then_some(start)
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {from:?} -> {to:?}: {e}"));
}

/// Whether a failed C `tdb_check` is C's dead-space blind spot: its scan of a run of
/// zeros re-reads the run's first byte instead of walking it, so the run always seems to
/// reach the end of the file, and the records or the recovery area after it are missed
/// ("Dead space at A-EOF (of EOF)", then "Hashes do not match records" or "Expected a
/// recovery area"). Only accepted where tdb-pure's check, which walks the run, passes.
fn c_dead_space_blind_spot(message: &str) -> bool {
    message.split("Dead space at ").skip(1).any(|rest| {
        let Some((range, tail)) = rest.split_once(" (of ") else {
            return false;
        };
        let end = range.split_once('-').map(|(_, e)| e);
        let size = tail.split_once(')').map(|(s, _)| s);
        end.is_some() && end == size
    })
}

/// Files both engines' checks rejected for records no list reaches (see [`check_both`]).
static ORPHANED: AtomicUsize = AtomicUsize::new(0);

/// Files whose C check failed on what a killed commit left past the old end of file,
/// skipped (and reported) by tdb-pure's check (see [`check_both`]).
static LEFTOVERS: AtomicUsize = AtomicUsize::new(0);

/// Whether tdb-pure's check of the closed file at `path` skipped a killed commit's
/// leftovers past the old end of file: C's recovery leaves them (tdb-pure's reclaims
/// them), and once a later commit has moved the recovery area's end-of-file mark past
/// them, neither engine's check can tell them from corruption.
fn has_leftovers(path: &Path) -> bool {
    Tdb::open(path, &rw(false))
        .and_then(|mut db| db.check_report())
        .is_ok_and(|report| report.has_leftovers())
}

/// Both checks of a closed file: tdb-pure's must pass; C's must pass too, or fail only
/// in its dead-space blind spot (then `Ok(true)`), or fail where tdb-pure's check skipped
/// the leftovers of a commit killed while it wrote the space it had added (C's and
/// tdb-pure's recovery leave those bytes as they are; then `Ok(true)` too).
///
/// One failure of both is accepted (and counted in [`ORPHANED`]): records no list
/// reaches, as a commit that grew the file and was killed after writing some of the new
/// blocks leaves past the old end of file once recovered. Neither engine's recovery
/// frees that space (C's does not truncate, for the sake of other processes' mappings),
/// and after a later commit nothing marks it any more: C's `tdb_check` then reports
/// "Hashes do not match records" on files C itself recovered. The records are checked
/// exactly all the same (both engines must read the expected state).
fn check_both(path: &Path) -> Result<bool, String> {
    let pure = Db::open(Engine::Pure, path, false)?.check();
    let c = Db::open(Engine::C, path, false)?.check();
    let orphans = |e: &str| {
        e.contains("is not reachable from list") || e.contains("Hashes do not match records")
    };
    match (pure, c) {
        (Ok(_), Ok(_)) => Ok(false),
        (Ok(_), Err(e)) if c_dead_space_blind_spot(&e) => Ok(true),
        (Ok(true), Err(_)) => {
            LEFTOVERS.fetch_add(1, Ordering::Relaxed);
            Ok(true)
        }
        (Err(p), Err(c)) if orphans(&p) && (orphans(&c) || c_dead_space_blind_spot(&c)) => {
            ORPHANED.fetch_add(1, Ordering::Relaxed);
            Ok(false)
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// Recover a copy of `killed` with `first` and read it, then read it with the other
/// engine too, and run both checks. Returns the state and whether C's check failed in
/// its blind spot.
fn recover_with(first: Engine, killed: &Path, copy_to: &Path) -> Result<(State, bool), String> {
    copy(killed, copy_to);
    let state = Db::open(first, copy_to, false)?.state()?;
    let again = Db::open(first.other(), copy_to, false)?.state()?;
    if again != state {
        return Err(format!(
            "after recovery by {}, {} reads different records",
            first.name(),
            first.other().name()
        ));
    }
    let blind = check_both(copy_to)?;
    Ok((state, blind))
}

/// What a killed file recovered to.
struct Recovered {
    gen: u64,
    state: State,
    /// C's check failed in its dead-space blind spot.
    c_check_blind: bool,
}

/// Recover copies of `killed` with each engine (`<dir>/by-pure.tdb`, `<dir>/by-c.tdb`);
/// both must give the same state, whose generation must be in `allowed`.
fn verify_killed(killed: &Path, dir: &Path, allowed: &[u64]) -> Result<Recovered, String> {
    let (by_pure, blind_p) = recover_with(Engine::Pure, killed, &dir.join("by-pure.tdb"))
        .map_err(|e| format!("recovered by tdb-pure: {e}"))?;
    let (by_c, blind_c) = recover_with(Engine::C, killed, &dir.join("by-c.tdb"))
        .map_err(|e| format!("recovered by C: {e}"))?;
    if by_pure != by_c {
        return Err(format!(
            "tdb-pure and C recover different states (generations {} and {})",
            gen_of(&by_pure),
            gen_of(&by_c)
        ));
    }
    let gen = gen_of(&by_pure);
    if !allowed.contains(&gen) {
        return Err(format!(
            "recovered generation {gen}, expected one of {allowed:?}"
        ));
    }
    Ok(Recovered {
        gen,
        state: by_pure,
        c_check_blind: blind_p || blind_c,
    })
}

/// A fresh scratch directory under the target dir (kept after a failure).
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("crash-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------
// Random kills.
// ---------------------------------------------------------------------------------------

/// Where a kill landed, from the last line the child logged.
#[derive(Default, Debug)]
struct Landings {
    /// Before `open` returned: process start-up, open, or the recovery open runs.
    starting: usize,
    /// ... of which on a file that needed recovery.
    starting_in_recovery: usize,
    /// Between transactions.
    between: usize,
    /// Building a transaction (`transaction_start` and the operations).
    in_transaction: usize,
    /// Inside `transaction_commit`, which then turned out rolled back (state N−1) ...
    commit_rolled_back: usize,
    /// ... or complete (state N).
    commit_completed: usize,
    /// Kills after which the file held a valid recovery area.
    needing_recovery: usize,
    /// Kills after which C's check failed in its dead-space blind spot.
    c_check_blind: usize,
    /// Kills after which C's recovery left the killed commit's new space unreferenced.
    c_leftovers: usize,
    /// Kills that left the header pointing at a recovery area not yet written.
    zero_area: usize,
    /// Transactions committed in all.
    commits: u64,
}

fn kills_wanted() -> usize {
    std::env::var("TDB_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
}

/// Wait until `log` holds a line starting with `what`.
fn wait_for_line(log: &Path, what: &str, child: &mut Child, stderr: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::fs::read_to_string(log).is_ok_and(|s| s.lines().any(|l| l.starts_with(what))) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "helper ended ({status}) before logging {what:?}: {}",
                std::fs::read_to_string(stderr).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "helper never logged {what:?}");
        std::thread::sleep(Duration::from_micros(100));
    }
}

fn random_kills(engine: Engine, kills: usize, seed: u64) -> Landings {
    let dir = scratch(&format!("kills-{}", engine.name()));
    let db = dir.join("db.tdb");
    let log = dir.join("log");
    let stderr = dir.join("child.err");
    let mut rng = Rng(seed);
    let mut model = Model::new();
    let mut land = Landings::default();
    // The generation the file on `db` holds (or will hold once recovered).
    let mut base = 0u64;
    let mut base_needs_recovery = false;
    for kill in 0..kills {
        let _ = std::fs::remove_file(&log);
        let job = [
            "run",
            engine.name(),
            db.to_str().unwrap(),
            log.to_str().unwrap(),
        ];
        let mut child = helper(&job, &stderr).spawn().unwrap();
        // One kill in eight is timed from the start, to land in start-up, open or
        // recovery; the others from the moment the database is open.
        if rng.below(8) != 0 {
            wait_for_line(&log, "opened", &mut child, &stderr);
        }
        // Log-uniform between 20 µs and 200 ms (a commit with its four syncs takes
        // 10-30 ms on a disk, one without syncs tens of µs).
        let u = rng.below(1 << 20) as f64 / f64::from(1 << 20);
        let delay = 20e-6 * (200e-3f64 / 20e-6).powf(u);
        std::thread::sleep(Duration::from_secs_f64(delay));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        if status.signal() != Some(libc::SIGKILL) {
            panic!(
                "kill {kill}: helper ended on its own ({status}): {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        let mut text = String::new();
        std::fs::File::open(&log)
            .and_then(|mut f| f.read_to_string(&mut text))
            .unwrap_or_default();
        // Only whole lines count.
        let text = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        let mut last_committed = base;
        let mut in_commit = None;
        let mut last = "";
        for line in text.lines() {
            let (word, n) = line.split_once(' ').unwrap();
            let n: u64 = n.parse().unwrap();
            match word {
                "opened" => assert_eq!(
                    n, base,
                    "kill {kill}: the helper opened generation {n}, recovered was {base}"
                ),
                "committing" => in_commit = Some(n),
                "committed" => {
                    assert_eq!(in_commit, Some(n));
                    in_commit = None;
                    last_committed = n;
                    land.commits += 1;
                }
                _ => {}
            }
            last = word;
        }
        let allowed: Vec<u64> = match in_commit {
            Some(n) => vec![n - 1, n],
            None => vec![last_committed],
        };
        let needs = pending_recovery(&db).is_some();
        land.needing_recovery += usize::from(needs);
        let Recovered {
            gen,
            state,
            c_check_blind,
        } = verify_killed(&db, &dir, &allowed).unwrap_or_else(|e| {
            panic!(
                "kill {kill} of {} (log: {:?}): {e}; files kept in {}",
                engine.name(),
                text.lines().last(),
                dir.display()
            )
        });
        land.c_check_blind += usize::from(c_check_blind);
        model.advance_to(gen);
        assert!(
            model.state == state,
            "kill {kill}: generation {gen} holds the wrong records; files kept in {}",
            dir.display()
        );
        match last {
            "" => {
                land.starting += 1;
                land.starting_in_recovery += usize::from(base_needs_recovery);
            }
            "begin" => land.in_transaction += 1,
            "committing" if gen == last_committed => land.commit_rolled_back += 1,
            "committing" => land.commit_completed += 1,
            _ => land.between += 1,
        }
        // Go on from the copy tdb-pure recovered, the one C recovered, or the killed file
        // itself (recovered by the next helper's open, where the next kill may land).
        // Where C's recovery left the killed commit's leftovers, only tdb-pure's copy is
        // a file whose checks can pass after the next commit (see `has_leftovers`).
        let c_left = has_leftovers(&dir.join("by-c.tdb"));
        land.c_leftovers += usize::from(c_left);
        // Nor can C commit on a file whose header points at a recovery area never written
        // (see `points_at_zeros`); tdb-pure's open takes that pointer out.
        let zero_area = points_at_zeros(&db);
        land.zero_area += usize::from(zero_area);
        match rng.below(3) {
            0 => copy(&dir.join("by-pure.tdb"), &db),
            _ if c_left || zero_area => copy(&dir.join("by-pure.tdb"), &db),
            1 => copy(&dir.join("by-c.tdb"), &db),
            _ => {}
        }
        base_needs_recovery = pending_recovery(&db).is_some();
        base = gen;
    }
    let _ = std::fs::remove_dir_all(&dir);
    land
}

fn report(engine: Engine, kills: usize, land: &Landings) {
    println!(
        "{kills} kills of {} survived, each recovered by both engines: {land:?}; \
         checks so far failed by both engines for records no list reaches (C's flaw): {}; \
         C checks failed on a killed commit's leftovers that tdb-pure's check skipped: {}",
        match engine {
            Engine::C => "C tdb",
            Engine::Pure => "tdb-pure",
        },
        ORPHANED.load(Ordering::Relaxed),
        LEFTOVERS.load(Ordering::Relaxed)
    );
}

#[test]
fn random_kills_of_c_tdb() {
    let kills = kills_wanted();
    let land = random_kills(Engine::C, kills, 0xC0FF_EE01);
    report(Engine::C, kills, &land);
    assert!(land.commits > 0);
}

#[test]
fn random_kills_of_tdb_pure() {
    let kills = kills_wanted();
    let land = random_kills(Engine::Pure, kills, 0x00DD_BA11);
    report(Engine::Pure, kills, &land);
    assert!(land.commits > 0);
}

// ---------------------------------------------------------------------------------------
// Every fault point of a commit, and of the recovery after it.
// ---------------------------------------------------------------------------------------

/// A hook that records every point and lets it proceed.
fn recorder() -> (tdb_pure::fault::FaultHook, Arc<Mutex<Vec<FaultPoint>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let hook = Box::new(move |p| {
        log.lock().unwrap().push(p);
        FaultAction::Proceed
    });
    (hook, seen)
}

/// The database the transaction of `shape` starts from: generations 1..=30 of the
/// random workload (so it has a recovery area and free space), or a new empty file.
fn fault_base(dir: &Path, shape: &str) -> (PathBuf, Model) {
    let path = dir.join(format!("base-{shape}.tdb"));
    let mut db = Db::open(Engine::Pure, &path, true).unwrap();
    let mut model = Model::new();
    if shape != "fresh" {
        for n in 1..=30 {
            db.start();
            db.apply(&tx_ops(n));
            db.commit();
        }
        model.advance_to(30);
    }
    if shape == "grow" {
        // Half a megabyte more, which the transaction rewrites in place.
        let ops: Vec<Op> = (0..500)
            .map(|i| Op::Store(format!("g{i}").into_bytes(), value(0, i, 1000)))
            .collect();
        db.start();
        db.apply(&ops);
        db.commit();
        apply(&mut model.state, &ops);
    }
    drop(db);
    (path, model)
}

/// One more transaction on a recovered file, by each engine (syncs off), then both checks:
/// the file is not only readable but usable.
fn keeps_working(path: &Path, engine: Engine) -> Result<(), String> {
    let nosync = tdb_pure::flags::NOSYNC;
    match engine {
        Engine::Pure => {
            let mut o = rw(false);
            o.tdb_flags = nosync;
            let mut db = Tdb::open(path, &o).map_err(|e| e.to_string())?;
            db.transaction_start().map_err(|e| e.to_string())?;
            for i in 0..50 {
                db.store(
                    format!("after{i}").as_bytes(),
                    &[7; 700],
                    StoreFlag::Replace,
                )
                .map_err(|e| e.to_string())?;
            }
            db.transaction_commit().map_err(|e| e.to_string())?;
        }
        Engine::C => {
            let mut o = c_opts(false);
            o.tdb_flags = nosync;
            let mut db = tdb_sys::Tdb::open(path, &o).map_err(|e| e.to_string())?;
            db.transaction_start().map_err(|e| e.to_string())?;
            for i in 0..50 {
                db.store(
                    format!("after{i}").as_bytes(),
                    &[7; 700],
                    tdb_sys::StoreFlag::Replace,
                )
                .map_err(|e| e.to_string())?;
            }
            db.transaction_commit().map_err(|e| e.to_string())?;
        }
    }
    check_both(path).map(|_| ())
}

#[derive(Default, Debug)]
struct FaultCounts {
    /// Fault points of the commits (writes, growths, syncs), each crashed at.
    commit_points: usize,
    /// ... of which syncs.
    syncs: usize,
    /// Torn writes (half a buffer written, then killed).
    torn: usize,
    /// Fault points of the recovery, each crashed at (cleanly and torn).
    recovery_points: usize,
    /// Points failed with an I/O error instead (in process).
    failed: usize,
    /// Kills that left the header pointing at a recovery area not yet written (zeros),
    /// on which C's next commit would break the file (so C is not asked to).
    c_zero_area: usize,
    /// Kills after which C's recovery left the killed commit's new space unreferenced,
    /// so that after C's next commit both checks reject the file (C's flaw; tdb-pure's
    /// recovery of the same file reclaims the space and passes).
    c_leftovers_after_commit: usize,
    /// Kills that left the header pointing at an area not yet written (taken out by
    /// tdb-pure's open).
    zero_area: usize,
}

/// Whether the header points at a recovery area whose header is still all zeros: a
/// commit was killed between writing the area's offset and the area. C tdb's next commit
/// takes the zeros for an empty area and frees it, making a free record of length 0:
/// the file is corrupt from then on (tdb-pure ignores such an area, and its read-write
/// open takes the pointer out).
fn points_at_zeros(path: &Path) -> bool {
    let b = std::fs::read(path).unwrap();
    let start = u32::from_ne_bytes(b[44..48].try_into().unwrap()) as usize;
    start != 0
        && b.get(start..start + 24)
            .is_some_and(|h| h.iter().all(|&x| x == 0))
}

/// Run the helper on `job` and require that it killed itself.
fn run_dying(job: &[&str], stderr: &Path) {
    let status = helper(job, stderr).status().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{job:?}: the helper did not die at its fault point ({status}): {}",
        std::fs::read_to_string(stderr).unwrap_or_default()
    );
}

fn fault_points(shape: &str, counts: &mut FaultCounts) {
    let dir = scratch(&format!("points-{shape}"));
    let stderr = dir.join("child.err");
    let (base, mut model) = fault_base(&dir, shape);
    let n = model.gen + 1;
    let before = model.state.clone();
    apply(&mut model.state, &shape_ops(shape, n));
    let after = model.state;
    let expect = |gen: u64, state: &State| {
        let want = if gen == n { &after } else { &before };
        assert!(
            state == want,
            "{shape}: generation {gen} holds other records"
        );
    };

    // Count the points of the commit.
    let work = dir.join("work.tdb");
    copy(&base, &work);
    let start_of = |p: &Path| {
        let b = std::fs::read(p).unwrap();
        u32::from_ne_bytes(b[44..48].try_into().unwrap())
    };
    let area_before = start_of(&work);
    let mut db = Db::open(Engine::Pure, &work, false).unwrap();
    db.start();
    db.apply(&shape_ops(shape, n));
    let Db::Pure(mut p) = db else { unreachable!() };
    let (hook, seen) = recorder();
    p.set_fault_hook(Some(hook));
    p.transaction_commit().unwrap();
    drop(p);
    let points = seen.lock().unwrap().clone();
    if shape == "grow" {
        assert_ne!(
            start_of(&work),
            area_before,
            "the recovery area did not move"
        );
    }
    if shape == "extend" {
        assert_eq!(start_of(&work), area_before, "the recovery area moved");
        let grown =
            std::fs::metadata(&work).unwrap().len() > std::fs::metadata(&base).unwrap().len();
        assert!(grown, "the file did not grow");
    }
    let (gen, state) = {
        let r = verify_killed(&work, &dir, &[n]).unwrap();
        (r.gen, r.state)
    };
    expect(gen, &state);
    let last_sync = points.len();
    let syncs: Vec<usize> = (1..=last_sync)
        .filter(|&k| points[k - 1] == FaultPoint::Sync)
        .collect();
    assert_eq!(syncs.len(), 4, "{shape}: {points:?}");

    // Crash at every point, cleanly and with half of each write; and past the last one.
    // The hundreds of block writes of "grow" are sampled unless TDB_CRASH_ALL_POINTS is
    // set (every other point always runs).
    let all = std::env::var_os("TDB_CRASH_ALL_POINTS").is_some();
    let is_block = |p: Option<&FaultPoint>| matches!(p, Some(FaultPoint::Write { len: 4096, .. }));
    let block_writes = points.iter().filter(|p| is_block(Some(p))).count();
    let sampled =
        |k: usize| all || block_writes < 40 || !is_block(points.get(k - 1)) || k.is_multiple_of(25);
    let mut gens = Vec::new();
    for k in (1..=points.len() + 1).filter(|&k| sampled(k)) {
        for torn in [false, true] {
            let is_write =
                matches!(points.get(k - 1), Some(FaultPoint::Write { len, .. }) if tearable(*len));
            if torn && !is_write {
                continue;
            }
            copy(&base, &work);
            let job = [
                "commit",
                work.to_str().unwrap(),
                shape,
                &k.to_string(),
                if torn { "1" } else { "0" },
            ];
            if k <= points.len() {
                run_dying(&job, &stderr);
            } else {
                let status = helper(&job, &stderr).status().unwrap();
                assert!(status.success(), "{shape}: commit without a fault failed");
            }
            let r = verify_killed(&work, &dir, &[n - 1, n]).unwrap_or_else(|e| {
                panic!(
                    "{shape}: killed at point {k} of {} ({:?}, torn {torn}): {e}; files in {}",
                    points.len(),
                    points.get(k - 1),
                    dir.display()
                )
            });
            expect(r.gen, &r.state);
            assert!(
                !points_at_zeros(&dir.join("by-pure.tdb")),
                "{shape}: tdb-pure's open left the pointer to an unwritten area (point {k})"
            );
            counts.zero_area += usize::from(points_at_zeros(&work));
            if !torn {
                gens.push(r.gen);
            } else {
                counts.torn += 1;
            }
            for (file, engine) in [("by-pure.tdb", Engine::Pure), ("by-c.tdb", Engine::C)] {
                if engine == Engine::C && points_at_zeros(&dir.join(file)) {
                    // C frees the zeros as an empty recovery area and breaks the file.
                    counts.c_zero_area += 1;
                    continue;
                }
                let c_left = engine == Engine::C && has_leftovers(&dir.join(file));
                match keeps_working(&dir.join(file), engine) {
                    Ok(()) => {}
                    Err(e)
                        if c_left
                            && (e.starts_with("tdb-pure check") || e.starts_with("C check")) =>
                    {
                        counts.c_leftovers_after_commit += 1;
                    }
                    Err(e) => panic!(
                        "{shape}: after a kill at point {k} (torn {torn}), {} fails: {e}",
                        engine.name()
                    ),
                }
            }
        }
    }
    // The old state until the recovery area is invalidated, the new one after: only
    // a kill at the last sync (and no kill) leaves generation N.
    let first_new = gens.iter().position(|&g| g == n).unwrap();
    assert!(
        gens[first_new..].iter().all(|&g| g == n),
        "{shape}: {gens:?}"
    );
    assert_eq!(
        gens.len() - first_new,
        2,
        "{shape}: {gens:?} for {points:?}"
    );
    counts.commit_points += gens.len() - 1;
    counts.syncs += syncs.len();

    // Fail every point with an I/O error instead: no panic, no hang, the handle still
    // answers, and the file holds N-1 or N (N if the commit said so).
    for k in (1..=points.len()).filter(|&k| sampled(k)) {
        copy(&base, &work);
        let mut db = Db::open(Engine::Pure, &work, false).unwrap();
        db.start();
        db.apply(&shape_ops(shape, n));
        let Db::Pure(mut p) = db else { unreachable!() };
        let mut seen = 0;
        p.set_fault_hook(Some(Box::new(move |_| {
            seen += 1;
            if seen == k {
                FaultAction::Fail
            } else {
                FaultAction::Proceed
            }
        })));
        let committed = p.transaction_commit().is_ok();
        if p.transaction_active() {
            let _ = p.transaction_cancel();
        }
        p.set_fault_hook(None);
        let _ = p.fetch(b"gen");
        drop(p);
        let allowed: &[u64] = if committed { &[n] } else { &[n - 1, n] };
        let r = verify_killed(&work, &dir, allowed).unwrap_or_else(|e| {
            panic!(
                "{shape}: I/O error at point {k} ({:?}), commit ok {committed}: {e}",
                points[k - 1]
            )
        });
        expect(r.gen, &r.state);
        counts.failed += 1;
    }

    // Crash the recovery itself: take the file of a kill at the last block write (it
    // needs recovery), and kill the open that recovers it at each of its points.
    let k_last_write = syncs[2] - 1;
    copy(&base, &work);
    run_dying(
        &[
            "commit",
            work.to_str().unwrap(),
            shape,
            &k_last_write.to_string(),
            "0",
        ],
        &stderr,
    );
    assert!(
        pending_recovery(&work).is_some(),
        "{shape}: no recovery pending"
    );
    let crashed = dir.join("crashed.tdb");
    copy(&work, &crashed);
    let (hook, seen) = recorder();
    drop(Tdb::open_with_fault_hook(&work, &rw(false), hook).unwrap());
    let rpoints = seen.lock().unwrap().clone();
    assert!(rpoints.len() >= 4, "{shape}: recovery points {rpoints:?}");
    let rblocks = rpoints.iter().filter(|p| is_block(Some(p))).count();
    let rsampled =
        |j: usize| all || rblocks < 40 || !is_block(rpoints.get(j - 1)) || j.is_multiple_of(25);
    for j in (1..=rpoints.len()).filter(|&j| rsampled(j)) {
        for torn in [false, true] {
            if torn && !matches!(rpoints[j - 1], FaultPoint::Write { len, .. } if tearable(len)) {
                continue;
            }
            copy(&crashed, &work);
            run_dying(
                &[
                    "recover",
                    work.to_str().unwrap(),
                    &j.to_string(),
                    if torn { "1" } else { "0" },
                ],
                &stderr,
            );
            let r = verify_killed(&work, &dir, &[n - 1]).unwrap_or_else(|e| {
                panic!(
                    "{shape}: recovery killed at point {j} ({:?}, torn {torn}): {e}",
                    rpoints[j - 1]
                )
            });
            expect(r.gen, &r.state);
            counts.recovery_points += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kill_at_every_fault_point_of_a_commit_and_of_its_recovery() {
    let mut counts = FaultCounts::default();
    for shape in ["one", "few", "grow", "extend", "fresh"] {
        fault_points(shape, &mut counts);
    }
    println!("fault points exercised: {counts:?}");
}
