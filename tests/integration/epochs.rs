//! Clear-if-first epochs: a set recorded across a wipe (a `TDB_CLEAR_IF_FIRST` open made
//! once every other process had closed) replays on C, tdb-pure and both at once to the
//! database the recording left, and `diff` agrees; a set that cannot be split still gets
//! the error naming the ops that conflict.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::{
    check_final_database, diff_agrees, has_mutex_feature, load, load_finding_wipes, records,
    torture_options,
};
use replay_engine::analysis::{self, epochs};
use replay_engine::backend::c::CTdb;
use replay_engine::backend::pure::PureTdb;
use replay_engine::backend::Backend;
use replay_engine::record::Layout;
use replay_engine::replay::{self, ReplayOptions};
use replay_engine::torture::{self, TortureOptions};
use replay_engine::trace::Trace;

/// The handwritten wiped set, in recorded order.
fn fixture() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/epochs");
    ["a", "b", "c", "d"]
        .iter()
        .map(|name| dir.join(format!("{name}.trace")))
        .collect()
}

/// Replay `traces` on `engine` (`c`, `pure` or `mixed`) into `db`, twice; panics on any
/// mismatch.
fn replay_on(engine: &str, db: &Path, traces: &[Trace]) {
    let mut plan = analysis::analyse(traces, CTdb::LOCKING).unwrap_or_else(|e| panic!("{e}"));
    let options = ReplayOptions {
        runs: 2,
        ..ReplayOptions::default()
    };
    let report = match engine {
        "c" => replay::replay::<CTdb>(db, traces, &mut plan, &options),
        "pure" => replay::replay::<PureTdb>(db, traces, &mut plan, &options),
        _ => replay::replay_mixed::<CTdb, PureTdb>(db, traces, &mut plan, &options),
    }
    .unwrap_or_else(|error| panic!("{engine}: {error}"));
    assert_eq!(report.runs.len(), 2, "{engine}");
}

/// Replay `traces` on every engine and through `diff`, and check each final database
/// holds `expected` to both engines.
fn replays_everywhere_to(traces: &[Trace], expected: &BTreeMap<Vec<u8>, Vec<u8>>, dir: &Path) {
    for engine in ["c", "pure", "mixed"] {
        let db = dir.join(format!("replay-{engine}.tdb"));
        replay_on(engine, &db, traces);
        check_final_database(&db);
        assert_eq!(&records::<CTdb>(&db), expected, "{engine}");
        assert_eq!(&records::<PureTdb>(&db), expected, "{engine}");
    }
    let plan = analysis::analyse(traces, CTdb::LOCKING).expect("analyses");
    let report = diff_agrees(traces, &plan, dir, "diff");
    assert!(report.divergence.is_none());
    for engine in ["c", "pure"] {
        let db = dir.join(format!("diff-{engine}.tdb"));
        assert_eq!(&records::<CTdb>(&db), expected, "diff on {engine}");
    }
}

pub fn the_handwritten_wiped_set_replays_to_what_the_wipe_left() {
    let dir = tempfile::tempdir().expect("temp dir");
    let unmarked = load(&fixture());
    assert_eq!(
        epochs::epochs(&unmarked),
        vec![0..4],
        "the loader marks nothing"
    );
    let traces = load_finding_wipes(&fixture());
    assert_eq!(epochs::epochs(&traces), vec![0..2, 2..4]);
    assert!(traces[0]
        .warnings
        .iter()
        .any(|note| note.contains("clear-if-first wipe at") && note.contains("c.trace:1")));
    let expected: BTreeMap<Vec<u8>, Vec<u8>> = [
        (b"k2".to_vec(), b"w".to_vec()),
        (b"y".to_vec(), b"2".to_vec()),
    ]
    .into();
    replays_everywhere_to(&traces, &expected, dir.path());
}

pub fn a_set_that_cannot_be_split_names_the_ops_in_conflict() {
    // The same set with c opening without TDB_CLEAR_IF_FIRST: nothing wiped the
    // database, and one epoch is a circle.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut paths = fixture();
    let text = std::fs::read_to_string(&paths[2]).expect("fixture");
    let unwiped = dir.path().join("c.trace");
    std::fs::write(&unwiped, text.replacen("0x81", "0x80", 1)).expect("write");
    paths[2] = unwiped;
    let mut traces = load(&paths);
    let error = analysis::analyse_finding_wipes(&mut traces, CTdb::LOCKING).expect_err("a circle");
    assert_eq!(epochs::epochs(&traces).len(), 1, "left unmarked");
    assert!(error.is_cycle(), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("a.trace:") && text.contains("c.trace:"),
        "the two traces in conflict are named: {text}"
    );
}

/// Torture `processes` processes on C and tdb-pure alternately, recorded, then restart
/// one with `TDB_CLEAR_IF_FIRST` on `Wiper`; returns the traces (the wiper's last) and
/// the database the recording left.
fn wiped_torture_set<Wiper: Backend>(
    dir: &Path,
    seed: u64,
    mutex: bool,
) -> (Vec<PathBuf>, BTreeMap<Vec<u8>, Vec<u8>>) {
    let record = dir.join(format!("rec-{seed}-{mutex}"));
    std::fs::create_dir_all(&record).expect("record dir");
    let db = dir.join(format!("torture-{seed}-{mutex}.tdb"));
    let layout = if mutex { Layout::Samba } else { Layout::Ccan };
    let options = TortureOptions {
        mutex,
        ..torture_options(3, 300, seed, Some(&record), layout)
    };
    let report = torture::run::<CTdb, PureTdb>(&db, &options).expect("torture runs");
    let restart = torture::restart_wiping::<Wiper>(&db, &options).expect("restart runs");
    torture::verify::<CTdb>(&db, options.hash_size, &[restart.expectations])
        .expect("only the restart's records are left");
    let mut traces = report.traces;
    traces.push(restart.trace.expect("the restart was recorded"));
    (traces, records::<CTdb>(&db))
}

pub fn a_wiped_torture_set_replays_to_the_database_the_recording_left() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut split = 0;
    for seed in 1..=3u64 {
        let (paths, expected) = if seed % 2 == 0 {
            wiped_torture_set::<PureTdb>(dir.path(), seed, false)
        } else {
            wiped_torture_set::<CTdb>(dir.path(), seed, false)
        };
        let traces = load_finding_wipes(&paths);
        let found = epochs::epochs(&traces);
        if found.len() == 1 {
            // The restart's ops happen to fit before the others' too: one epoch is
            // then a valid order, kept as it is; nothing to prove on this seed.
            eprintln!("seed {seed}: the set analyses as one epoch");
            continue;
        }
        split += 1;
        assert_eq!(found, vec![0..3, 3..4], "seed {seed}");
        assert!(epochs::is_wipe_marker(&traces[3]));
        let here = dir.path().join(format!("seed-{seed}"));
        std::fs::create_dir_all(&here).expect("dir");
        replays_everywhere_to(&traces, &expected, &here);
    }
    assert!(split > 0, "no seed gave a set that needs its wipe");
}

pub fn a_wiped_mutex_torture_set_replays_on_a_mutex_file() {
    // Samba opens its mutex databases with TDB_CLEAR_IF_FIRST: every process is a
    // clear-if-first opener at sequence number 0, and only the restart wiped.
    let dir = tempfile::tempdir().expect("temp dir");
    let (paths, expected) = wiped_torture_set::<CTdb>(dir.path(), 11, true);
    let traces = load_finding_wipes(&paths);
    assert_eq!(epochs::epochs(&traces), vec![0..3, 3..4]);
    replays_everywhere_to(&traces, &expected, dir.path());
    for engine in ["c", "pure", "mixed"] {
        let db = dir.path().join(format!("replay-{engine}.tdb"));
        assert!(has_mutex_feature(&db), "{engine}: a mutex file");
    }
}
