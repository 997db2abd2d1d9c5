//! Checking a killed file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use tdb_pure::Tdb;

use super::engine::{rw, Db, Engine};
use super::workload::{gen_of, State};

/// Whether the file holds a valid recovery area (a commit was interrupted after its
/// recovery data was made valid and before it was invalidated again); a file a kill left
/// without a whole header does not.
pub(super) fn needs_recovery(path: &Path) -> bool {
    tdb_pure::needs_recovery(path).unwrap_or(false)
}

/// Whether the header points at a recovery area whose header is still all zeros: a
/// commit was killed between writing the area's offset and the area. C tdb's next commit
/// takes the zeros for an empty area and frees it, making a free record of length 0:
/// the file is corrupt from then on (tdb-pure ignores such an area, and its read-write
/// open takes the pointer out).
pub(super) fn points_at_zeros(path: &Path) -> bool {
    let b = std::fs::read(path).unwrap();
    let start = u32::from_ne_bytes(b[44..48].try_into().unwrap()) as usize;
    start != 0
        && b.get(start..start + 24)
            .is_some_and(|h| h.iter().all(|&x| x == 0))
}

pub(super) fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {from:?} -> {to:?}: {e}"));
}

/// Whether a failed C `tdb_check` is C's dead-space blind spot: its scan of a run of
/// zeros re-reads the run's first byte instead of walking it, so the run always seems to
/// reach the end of the file, and the records or the recovery area after it are missed
/// ("Dead space at A-EOF (of EOF)", then "Hashes do not match records" or "Expected a
/// recovery area"). Only accepted where tdb-pure's check, which walks the run, passes.
pub(super) fn c_dead_space_blind_spot(message: &str) -> bool {
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
pub(super) static ORPHANED: AtomicUsize = AtomicUsize::new(0);

/// Files whose C check failed on what a killed commit left past the old end of file,
/// skipped (and reported) by tdb-pure's check (see [`check_both`]).
pub(super) static LEFTOVERS: AtomicUsize = AtomicUsize::new(0);

/// Whether tdb-pure's check of the closed file at `path` skipped a killed commit's
/// leftovers past the old end of file: C's recovery leaves them (tdb-pure's reclaims
/// them), and once a later commit has moved the recovery area's end-of-file mark past
/// them, neither engine's check can tell them from corruption.
pub(super) fn has_leftovers(path: &Path) -> bool {
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
pub(super) fn check_both(path: &Path) -> Result<bool, String> {
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
pub(super) fn recover_with(
    first: Engine,
    killed: &Path,
    copy_to: &Path,
) -> Result<(State, bool), String> {
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
pub(super) struct Recovered {
    pub(super) gen: u64,
    pub(super) state: State,
    /// C's check failed in its dead-space blind spot.
    pub(super) c_check_blind: bool,
}

/// Recover copies of `killed` with each engine (`<dir>/by-pure.tdb`, `<dir>/by-c.tdb`);
/// both must give the same state, whose generation must be in `allowed`.
pub(super) fn verify_killed(
    killed: &Path,
    dir: &Path,
    allowed: &[u64],
) -> Result<Recovered, String> {
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
pub(super) fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("crash-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
