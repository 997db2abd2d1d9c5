//! Every fault point of a commit, and of the recovery after it.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tdb_pure::fault::{FaultAction, FaultPoint};
use tdb_pure::{StoreFlag, Tdb};

use super::child::{helper, tearable};
use super::engine::{c_opts, rw, Db, Engine};
use super::verify::{
    check_both, copy, has_leftovers, needs_recovery, points_at_zeros, scratch, verify_killed,
};
use super::workload::{apply, shape_ops, tx_ops, value, Model, Op, State};
use crate::util::serial;

/// A hook that records every point and lets it proceed.
pub(super) fn recorder() -> (tdb_pure::fault::FaultHook, Arc<Mutex<Vec<FaultPoint>>>) {
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
pub(super) fn fault_base(dir: &Path, shape: &str) -> (PathBuf, Model) {
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
pub(super) fn keeps_working(path: &Path, engine: Engine) -> Result<(), String> {
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
pub(super) struct FaultCounts {
    /// Fault points of the commits (writes, growths, syncs), each crashed at.
    pub(super) commit_points: usize,
    /// ... of which syncs.
    pub(super) syncs: usize,
    /// Torn writes (half a buffer written, then killed).
    pub(super) torn: usize,
    /// Fault points of the recovery, each crashed at (cleanly and torn).
    pub(super) recovery_points: usize,
    /// Points failed with an I/O error instead (in process).
    pub(super) failed: usize,
    /// Kills that left the header pointing at a recovery area not yet written (zeros),
    /// on which C's next commit would break the file (so C is not asked to).
    pub(super) c_zero_area: usize,
    /// Kills after which C's recovery left the killed commit's new space unreferenced,
    /// so that after C's next commit both checks reject the file (C's flaw; tdb-pure's
    /// recovery of the same file reclaims the space and passes).
    pub(super) c_leftovers_after_commit: usize,
    /// Kills that left the header pointing at an area not yet written (taken out by
    /// tdb-pure's open).
    pub(super) zero_area: usize,
}

/// Run the helper on `job` and require that it killed itself.
pub(super) fn run_dying(job: &[&str], stderr: &Path) {
    let status = helper(job, stderr).status().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{job:?}: the helper did not die at its fault point ({status}): {}",
        std::fs::read_to_string(stderr).unwrap_or_default()
    );
}

/// One transaction of a shape, from its base file, and the fault points of its commit.
struct ShapeRun<'a> {
    shape: &'a str,
    dir: PathBuf,
    stderr: PathBuf,
    /// The file the transaction starts from.
    base: PathBuf,
    /// The copy each run works on.
    work: PathBuf,
    /// The transaction's generation.
    n: u64,
    /// The records before and after it.
    before: State,
    after: State,
    /// Every fault point of its commit, in order.
    points: Vec<FaultPoint>,
    /// The (1-based) positions of the commit's syncs among `points`.
    syncs: Vec<usize>,
    /// Whether every point runs (`TDB_CRASH_ALL_POINTS`), or only a sample of the
    /// hundreds of block writes of "grow".
    all: bool,
}

fn is_block(point: Option<&FaultPoint>) -> bool {
    matches!(point, Some(FaultPoint::Write { len: 4096, .. }))
}

/// Whether the `k`-th (1-based) of `points` runs: all of them, unless there are many
/// block writes, of which every 25th.
fn sampled(points: &[FaultPoint], all: bool, k: usize) -> bool {
    let block_writes = points.iter().filter(|p| is_block(Some(p))).count();
    all || block_writes < 40 || !is_block(points.get(k - 1)) || k.is_multiple_of(25)
}

/// Whether the `k`-th (1-based) of `points` is a write a kill can tear.
fn tearable_at(points: &[FaultPoint], k: usize) -> bool {
    matches!(points.get(k - 1), Some(FaultPoint::Write { len, .. }) if tearable(*len))
}

impl<'a> ShapeRun<'a> {
    /// Build the base file of `shape`, and run its commit once with a hook that records
    /// the fault points.
    fn new(shape: &'a str) -> ShapeRun<'a> {
        let dir = scratch(&format!("points-{shape}"));
        let (base, mut model) = fault_base(&dir, shape);
        let n = model.gen + 1;
        let before = model.state.clone();
        apply(&mut model.state, &shape_ops(shape, n));
        let work = dir.join("work.tdb");
        copy(&base, &work);
        let area_before = recovery_start(&work);
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
                recovery_start(&work),
                area_before,
                "the recovery area did not move"
            );
        }
        if shape == "extend" {
            assert_eq!(
                recovery_start(&work),
                area_before,
                "the recovery area moved"
            );
            let grown =
                std::fs::metadata(&work).unwrap().len() > std::fs::metadata(&base).unwrap().len();
            assert!(grown, "the file did not grow");
        }
        let syncs: Vec<usize> = (1..=points.len())
            .filter(|&k| points[k - 1] == FaultPoint::Sync)
            .collect();
        assert_eq!(syncs.len(), 4, "{shape}: {points:?}");
        let run = ShapeRun {
            shape,
            stderr: dir.join("child.err"),
            dir,
            base,
            work,
            n,
            before,
            after: model.state,
            points,
            syncs,
            all: std::env::var_os("TDB_CRASH_ALL_POINTS").is_some(),
        };
        let r = verify_killed(&run.work, &run.dir, &[n]).unwrap();
        run.expect(r.gen, &r.state);
        run
    }

    /// Generation `gen` must hold the records of the state before or after.
    fn expect(&self, gen: u64, state: &State) {
        let want = if gen == self.n {
            &self.after
        } else {
            &self.before
        };
        assert!(
            state == want,
            "{}: generation {gen} holds other records",
            self.shape
        );
    }

    /// The helper's job: commit the transaction, dying at fault point `k`.
    fn commit_job(&self, k: usize, torn: bool) -> [String; 5] {
        [
            "commit".into(),
            self.work.to_str().unwrap().into(),
            self.shape.into(),
            k.to_string(),
            if torn { "1" } else { "0" }.into(),
        ]
    }

    /// Crash at every point, cleanly and with half of each write, and past the last one;
    /// each file must recover to N-1 or N, and go on working with both engines.
    fn crash_at_every_point(&self, counts: &mut FaultCounts) {
        let (shape, n, points) = (self.shape, self.n, &self.points);
        let mut gens = Vec::new();
        for k in (1..=points.len() + 1).filter(|&k| sampled(points, self.all, k)) {
            for torn in [false, true] {
                if torn && !tearable_at(points, k) {
                    continue;
                }
                copy(&self.base, &self.work);
                let job = self.commit_job(k, torn);
                let job: Vec<&str> = job.iter().map(String::as_str).collect();
                if k <= points.len() {
                    run_dying(&job, &self.stderr);
                } else {
                    let status = helper(&job, &self.stderr).status().unwrap();
                    assert!(status.success(), "{shape}: commit without a fault failed");
                }
                let r = verify_killed(&self.work, &self.dir, &[n - 1, n]).unwrap_or_else(|e| {
                    panic!(
                        "{shape}: killed at point {k} of {} ({:?}, torn {torn}): {e}; files in {}",
                        points.len(),
                        points.get(k - 1),
                        self.dir.display()
                    )
                });
                self.expect(r.gen, &r.state);
                assert!(
                    !points_at_zeros(&self.dir.join("by-pure.tdb")),
                    "{shape}: tdb-pure's open left the pointer to an unwritten area (point {k})"
                );
                counts.zero_area += usize::from(points_at_zeros(&self.work));
                if !torn {
                    gens.push(r.gen);
                } else {
                    counts.torn += 1;
                }
                self.recovered_copies_keep_working(k, torn, counts);
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
        counts.syncs += self.syncs.len();
    }

    /// One more transaction by each engine on the copy that engine recovered.
    fn recovered_copies_keep_working(&self, k: usize, torn: bool, counts: &mut FaultCounts) {
        for (file, engine) in [("by-pure.tdb", Engine::Pure), ("by-c.tdb", Engine::C)] {
            let path = self.dir.join(file);
            if engine == Engine::C && points_at_zeros(&path) {
                // C frees the zeros as an empty recovery area and breaks the file.
                counts.c_zero_area += 1;
                continue;
            }
            let c_left = engine == Engine::C && has_leftovers(&path);
            match keeps_working(&path, engine) {
                Ok(()) => {}
                Err(e)
                    if c_left && (e.starts_with("tdb-pure check") || e.starts_with("C check")) =>
                {
                    counts.c_leftovers_after_commit += 1;
                }
                Err(e) => panic!(
                    "{}: after a kill at point {k} (torn {torn}), {} fails: {e}",
                    self.shape,
                    engine.name()
                ),
            }
        }
    }

    /// Fail every point with an I/O error instead: no panic, no hang, the handle still
    /// answers, and the file holds N-1 or N (N if the commit said so).
    fn fail_at_every_point(&self, counts: &mut FaultCounts) {
        let (shape, n, points) = (self.shape, self.n, &self.points);
        for k in (1..=points.len()).filter(|&k| sampled(points, self.all, k)) {
            copy(&self.base, &self.work);
            let mut db = Db::open(Engine::Pure, &self.work, false).unwrap();
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
            let r = verify_killed(&self.work, &self.dir, allowed).unwrap_or_else(|e| {
                panic!(
                    "{shape}: I/O error at point {k} ({:?}), commit ok {committed}: {e}",
                    points[k - 1]
                )
            });
            self.expect(r.gen, &r.state);
            counts.failed += 1;
        }
    }

    /// Crash the recovery itself: take the file of a kill at the last block write (it
    /// needs recovery), and kill the open that recovers it at each of its points.
    fn crash_the_recovery(&self, counts: &mut FaultCounts) {
        let (shape, work) = (self.shape, &self.work);
        let k_last_write = self.syncs[2] - 1;
        copy(&self.base, work);
        let job = self.commit_job(k_last_write, false);
        let job: Vec<&str> = job.iter().map(String::as_str).collect();
        run_dying(&job, &self.stderr);
        assert!(needs_recovery(work), "{shape}: no recovery pending");
        let crashed = self.dir.join("crashed.tdb");
        copy(work, &crashed);
        let (hook, seen) = recorder();
        drop(Tdb::open_with_fault_hook(work, &rw(false), hook).unwrap());
        let rpoints = seen.lock().unwrap().clone();
        assert!(rpoints.len() >= 4, "{shape}: recovery points {rpoints:?}");
        for j in (1..=rpoints.len()).filter(|&j| sampled(&rpoints, self.all, j)) {
            for torn in [false, true] {
                if torn && !tearable_at(&rpoints, j) {
                    continue;
                }
                copy(&crashed, work);
                let (j_text, torn_text) = (j.to_string(), if torn { "1" } else { "0" });
                let job = ["recover", work.to_str().unwrap(), &j_text, torn_text];
                run_dying(&job, &self.stderr);
                let r = verify_killed(work, &self.dir, &[self.n - 1]).unwrap_or_else(|e| {
                    panic!(
                        "{shape}: recovery killed at point {j} ({:?}, torn {torn}): {e}",
                        rpoints[j - 1]
                    )
                });
                self.expect(r.gen, &r.state);
                counts.recovery_points += 1;
            }
        }
    }
}

/// The header's recovery-area offset, read in host byte order.
fn recovery_start(path: &Path) -> u32 {
    let b = std::fs::read(path).unwrap();
    u32::from_ne_bytes(b[44..48].try_into().unwrap())
}

/// Every fault point of a commit of `shape`, and of the recovery after one.
pub(super) fn fault_points(shape: &str, counts: &mut FaultCounts) {
    let run = ShapeRun::new(shape);
    run.crash_at_every_point(counts);
    run.fail_at_every_point(counts);
    run.crash_the_recovery(counts);
    let _ = std::fs::remove_dir_all(&run.dir);
}

#[test]
fn kill_at_every_fault_point_of_a_commit_and_of_its_recovery() {
    let _serial = serial();
    let mut counts = FaultCounts::default();
    for shape in ["one", "few", "grow", "extend", "fresh"] {
        fault_points(shape, &mut counts);
    }
    println!("fault points exercised: {counts:?}");
}
