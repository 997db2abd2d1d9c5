//! Recording and torture: a torture run on C tdb, on tdb-pure and on both at once leaves
//! exactly what its operations imply; the traces it records (in ccan's layout and in
//! Samba's) replay on every engine and the engines agree on them in lock step; a replay
//! recorded with `--record` replays again to the same database; and a broken engine
//! does not get through a torture run.

use std::path::{Path, PathBuf};

use crate::util::faulty::{inject, Fault, Faulty};
use crate::util::{
    analyse_unless_known_gap, check_final_database, diff_agrees, records, torture_options,
};
use replay_engine::analysis::{self, Analysis};
use replay_engine::backend::c::CTdb;
use replay_engine::backend::pure::PureTdb;
use replay_engine::backend::Backend;
use replay_engine::record::{self, Layout, RecordOptions};
use replay_engine::replay::{self, ReplayOptions};
use replay_engine::torture;
use replay_engine::trace::{load_traces, FlavourChoice, LoadOptions, Trace};

/// Torture `db` with `Even`/`Odd` processes, recording into `dir`, and verify the result
/// with both engines and Samba's tdbtool; returns the traces.
fn tortured<Even: Backend, Odd: Backend>(
    dir: &Path,
    name: &str,
    seed: u64,
    layout: Layout,
) -> Vec<PathBuf> {
    let db = dir.join(format!("{name}.tdb"));
    record::dir::prepare(dir, &format!("{name}.tdb")).expect("record dir");
    let options = torture_options(4, 500, seed, Some(dir), layout);
    let report = torture::run::<Even, Odd>(&db, &options).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.traces.len(), 4, "one trace per process");
    for expect in &report.expectations {
        assert!(!expect.private.is_empty(), "every process keeps some keys");
    }
    let by_c = torture::verify::<CTdb>(&db, 5, &report.expectations)
        .unwrap_or_else(|violation| panic!("{violation}"));
    let by_pure = torture::verify::<PureTdb>(&db, 5, &report.expectations)
        .unwrap_or_else(|violation| panic!("{violation}"));
    assert_eq!(by_c, by_pure, "both engines read the same database");
    assert!(by_c.private_checked > 0);
    check_final_database(&db);
    report.traces
}

/// Load and analyse; `None` in the known analysis gap (see generated.rs).
fn plan_for(paths: &[PathBuf], flavour: FlavourChoice) -> Option<(Vec<Trace>, Analysis)> {
    let options = LoadOptions {
        flavour,
        ..Default::default()
    };
    let traces = load_traces(paths, &options).unwrap_or_else(|error| panic!("{error}"));
    let plan = analyse_unless_known_gap(&traces)?;
    Some((traces, plan))
}

/// The traces replay with every result matching on C, on tdb-pure and mixed, and the
/// engines agree on them in lock step, byte for byte.
fn replays_everywhere(dir: &Path, traces: &[Trace], plan: &Analysis) {
    let ops: u64 = traces.iter().map(|trace| trace.ops.len() as u64).sum();
    let mut finals = Vec::new();
    for engine in ["c", "pure", "mixed"] {
        let db = dir.join(format!("replay-{engine}.tdb"));
        let mut plan = analysis::analyse(traces, CTdb::LOCKING).expect("analysed before");
        let options = ReplayOptions::default();
        let report = match engine {
            "c" => replay::replay::<CTdb>(&db, traces, &mut plan, &options),
            "pure" => replay::replay::<PureTdb>(&db, traces, &mut plan, &options),
            _ => replay::replay_mixed::<CTdb, PureTdb>(&db, traces, &mut plan, &options),
        }
        .unwrap_or_else(|error| panic!("{engine}: {error}"));
        assert!(report.runs[0].ops >= ops, "{engine}: every op ran");
        check_final_database(&db);
        finals.push(records::<PureTdb>(&db));
    }
    assert!(!finals[0].is_empty());
    let report = diff_agrees(traces, plan, dir, "diff");
    assert!(report.identical_files);
    assert_eq!(report.ops, ops);
}

pub fn torture_on_each_engine_leaves_what_its_operations_imply_and_its_traces_replay() {
    let dir = tempfile::tempdir().expect("temp dir");
    tortured::<CTdb, CTdb>(dir.path(), "on-c", 41, Layout::Ccan);
    tortured::<PureTdb, PureTdb>(dir.path(), "on-pure", 42, Layout::Ccan);
    // Recorded on both engines at once, in each layout: every engine replays them.
    for (name, layout, flavour) in [
        ("mixed-ccan", Layout::Ccan, FlavourChoice::Ccan),
        ("mixed-samba", Layout::Samba, FlavourChoice::Samba),
    ] {
        let mut replayed = false;
        for seed in [43, 143, 243] {
            let paths = tortured::<CTdb, PureTdb>(dir.path(), name, seed, layout);
            if let Some((traces, plan)) = plan_for(&paths, flavour) {
                replays_everywhere(dir.path(), &traces, &plan);
                replayed = true;
                break;
            }
        }
        assert!(replayed, "{name}: no analysable recording in three");
    }
}

pub fn a_recorded_replay_replays_to_the_same_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut original = None;
    for seed in [51, 151, 251] {
        let paths = tortured::<CTdb, CTdb>(dir.path(), "original", seed, Layout::Ccan);
        if let Some(found) = plan_for(&paths, FlavourChoice::Auto) {
            original = Some(found);
            break;
        }
    }
    let (traces, mut plan) = original.expect("an analysable recording in three");
    let rec_dir = dir.path().join("rec");
    for layout in [Layout::Ccan, Layout::Samba] {
        record::dir::prepare(&rec_dir, "first.tdb").expect("record dir");
        let first = dir.path().join("first.tdb");
        let options = ReplayOptions {
            runs: 2,
            record: Some(RecordOptions {
                dir: rec_dir.clone(),
                layout,
                retry_lock_errors: false,
            }),
            ..ReplayOptions::default()
        };
        let report = replay::replay_mixed::<CTdb, PureTdb>(&first, &traces, &mut plan, &options)
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(report.runs.len(), 2);
        assert_eq!(report.recorded.len(), traces.len(), "one trace per worker");
        // No staging directory or half trace is left behind.
        let left: Vec<_> = std::fs::read_dir(&rec_dir)
            .expect("read")
            .map(|entry| entry.expect("entry").file_name())
            .filter(|name| !name.to_string_lossy().starts_with(".first.tdb.trace."))
            .collect();
        assert_eq!(left.len(), traces.len(), "{left:?}");

        let flavour = match layout {
            Layout::Ccan => FlavourChoice::Ccan,
            Layout::Samba => FlavourChoice::Samba,
        };
        let Some((again, again_plan)) = plan_for(&report.recorded, flavour) else {
            continue;
        };
        let second = dir.path().join("second.tdb");
        let mut second_plan = analysis::analyse(&again, PureTdb::LOCKING).expect("analysable");
        replay::replay::<PureTdb>(&second, &again, &mut second_plan, &ReplayOptions::default())
            .unwrap_or_else(|error| panic!("the recorded replay: {error}"));
        assert_eq!(
            records::<CTdb>(&first),
            records::<CTdb>(&second),
            "the recording of a replay replays to the same records"
        );
        let report = diff_agrees(&again, &again_plan, dir.path(), "d");
        assert!(report.divergence.is_none(), "{:?}", report.divergence);
    }
}

pub fn torture_catches_a_broken_engine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("broken.tdb");
    // Every process's n-th store writes a wrong first byte: a later read of that key, or
    // the final check, must see it (unless a later write of that key hides it, which
    // depends on how the processes interleave: so twelve n are tried, and a third must be
    // caught; under load 2 to 5 of 5 were).
    let options = torture_options(4, 500, 61, None, Layout::Ccan);
    let mut caught = 0;
    for n in (10..=120).step_by(10) {
        inject(Fault::NthStoredByte(n));
        let outcome = torture::run::<Faulty<PureTdb>, Faulty<PureTdb>>(&db, &options);
        inject(Fault::None);
        caught += usize::from(match outcome {
            Err(error) => {
                assert!(error.to_string().contains("process"), "{error}");
                true
            }
            Ok(report) => torture::verify::<CTdb>(&db, 5, &report.expectations).is_err(),
        });
    }
    let caught = caught >= 4;
    assert!(caught, "a store of wrong bytes went unnoticed");

    // The same engine unbroken passes.
    let report = torture::run::<Faulty<PureTdb>, Faulty<PureTdb>>(&db, &options)
        .unwrap_or_else(|error| panic!("{error}"));
    torture::verify::<CTdb>(&db, 5, &report.expectations)
        .unwrap_or_else(|violation| panic!("{violation}"));
}
