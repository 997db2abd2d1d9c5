//! Random kills.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Child;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::child::helper;
use super::engine::Engine;
use super::verify::{
    copy, has_leftovers, needs_recovery, points_at_zeros, scratch, verify_killed, Recovered,
    LEFTOVERS, ORPHANED,
};
use super::workload::Model;
use crate::util::{serial, Rng};

/// Where a kill landed, from the last line the child logged.
#[derive(Default, Debug)]
pub(super) struct Landings {
    /// Before `open` returned: process start-up, open, or the recovery open runs.
    pub(super) starting: usize,
    /// ... of which on a file that needed recovery.
    pub(super) starting_in_recovery: usize,
    /// Between transactions.
    pub(super) between: usize,
    /// Building a transaction (`transaction_start` and the operations).
    pub(super) in_transaction: usize,
    /// Inside `transaction_commit`, which then turned out rolled back (state N−1) ...
    pub(super) commit_rolled_back: usize,
    /// ... or complete (state N).
    pub(super) commit_completed: usize,
    /// Kills after which the file held a valid recovery area.
    pub(super) needing_recovery: usize,
    /// Kills after which C's check failed in its dead-space blind spot.
    pub(super) c_check_blind: usize,
    /// Kills after which C's recovery left the killed commit's new space unreferenced.
    pub(super) c_leftovers: usize,
    /// Kills that left the header pointing at a recovery area not yet written.
    pub(super) zero_area: usize,
    /// Transactions committed in all.
    pub(super) commits: u64,
}

pub(super) fn kills_wanted() -> usize {
    std::env::var("TDB_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
}

/// Wait until `log` holds a line starting with `what`.
pub(super) fn wait_for_line(log: &Path, what: &str, child: &mut Child, stderr: &Path) {
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

pub(super) fn random_kills(engine: Engine, kills: usize, seed: u64) -> Landings {
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
        let needs = needs_recovery(&db);
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
        base_needs_recovery = needs_recovery(&db);
        base = gen;
    }
    let _ = std::fs::remove_dir_all(&dir);
    land
}

pub(super) fn report(engine: Engine, kills: usize, land: &Landings) {
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
    let _serial = serial();
    let kills = kills_wanted();
    let land = random_kills(Engine::C, kills, 0xC0FF_EE01);
    report(Engine::C, kills, &land);
    assert!(land.commits > 0);
}

#[test]
fn random_kills_of_tdb_pure() {
    let _serial = serial();
    let kills = kills_wanted();
    let land = random_kills(Engine::Pure, kills, 0x00DD_BA11);
    report(Engine::Pure, kills, &land);
    assert!(land.commits > 0);
}
