//! Robust-mutex locking end to end: a torture workload the project records itself with
//! `TDB_MUTEX_LOCKING | TDB_CLEAR_IF_FIRST` (C tdb and tdb-pure processes at once)
//! replays as recorded on C, on tdb-pure and mixed, every result matching; each final
//! file keeps the mutex feature and passes C's check; the engines agree in lock step;
//! and `--locking fcntl` replays the same set on a plain file to the same records.

use std::path::{Path, PathBuf};

use crate::util::{
    analyse_unless_known_gap, check_final_database, diff_agrees, has_mutex_feature, records,
    torture_options,
};
use replay_engine::analysis::{self, Analysis};
use replay_engine::backend::c::CTdb;
use replay_engine::backend::pure::PureTdb;
use replay_engine::backend::{tdb_flags, Backend};
use replay_engine::record::{self, Layout};
use replay_engine::replay::database::Locking;
use replay_engine::replay::{self, ReplayOptions};
use replay_engine::torture::{self, TortureOptions};
use replay_engine::trace::{load_traces, FlavourChoice, LoadOptions, Trace};

/// Record a 3-process mutex torture run (C, tdb-pure, C) into `dir`; the traces, if the
/// analysis can order them (see generated.rs for the rare case it cannot).
fn recorded_mutex_set(dir: &Path, seed: u64) -> Option<(Vec<Trace>, Analysis)> {
    let name = format!("mutex{seed}.tdb");
    let db = dir.join(&name);
    record::dir::prepare(dir, &name).expect("record dir");
    let options = TortureOptions {
        mutex: true,
        ..torture_options(3, 300, seed, Some(dir), Layout::Samba)
    };
    let report =
        torture::run::<CTdb, PureTdb>(&db, &options).unwrap_or_else(|error| panic!("{error}"));
    assert!(has_mutex_feature(&db), "the tortured file is a mutex file");
    let by_c = torture::verify::<CTdb>(&db, 5, &report.expectations)
        .unwrap_or_else(|violation| panic!("{violation}"));
    let by_pure = torture::verify::<PureTdb>(&db, 5, &report.expectations)
        .unwrap_or_else(|violation| panic!("{violation}"));
    assert_eq!(by_c, by_pure);
    check_final_database(&db);
    let paths: Vec<PathBuf> = report.traces;
    assert_eq!(paths.len(), 3);
    let traces = load_traces(
        &paths,
        &LoadOptions {
            flavour: FlavourChoice::Auto,
            ..Default::default()
        },
    )
    .unwrap_or_else(|error| panic!("{error}"));
    for trace in &traces {
        let wanted = tdb_flags::MUTEX_LOCKING | tdb_flags::CLEAR_IF_FIRST;
        assert_eq!(trace.open.tdb_flags & wanted, wanted, "{}", trace.name);
    }
    let plan = analyse_unless_known_gap(&traces)?;
    Some((traces, plan))
}

pub fn a_mutex_torture_set_replays_with_mutexes_on_every_engine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (traces, plan) = [61, 161, 261]
        .into_iter()
        .find_map(|seed| recorded_mutex_set(dir.path(), seed))
        .expect("an analysable recording in three");
    let ops: u64 = traces.iter().map(|trace| trace.ops.len() as u64).sum();
    let mut finals = Vec::new();
    for (engine, locking) in [
        ("c", Locking::Recorded),
        ("pure", Locking::Recorded),
        ("mixed", Locking::Recorded),
        ("c", Locking::Fcntl),
        ("mixed", Locking::Fcntl),
    ] {
        let db = dir.path().join(format!("replay-{engine}-{locking:?}.tdb"));
        let mut plan = analysis::analyse(&traces, CTdb::LOCKING).expect("analysed before");
        let options = ReplayOptions {
            runs: 2,
            locking,
            ..ReplayOptions::default()
        };
        let report = match engine {
            "c" => replay::replay::<CTdb>(&db, &traces, &mut plan, &options),
            "pure" => replay::replay::<PureTdb>(&db, &traces, &mut plan, &options),
            _ => replay::replay_mixed::<CTdb, PureTdb>(&db, &traces, &mut plan, &options),
        }
        .unwrap_or_else(|error| panic!("{engine} {locking:?}: {error}"));
        assert_eq!(report.runs.len(), 2);
        assert!(
            report.runs.iter().all(|run| run.ops >= ops),
            "{engine}: every op ran"
        );
        assert_eq!(
            has_mutex_feature(&db),
            locking == Locking::Recorded,
            "{engine} {locking:?}: the file's mutex feature"
        );
        check_final_database(&db);
        let by_c = records::<CTdb>(&db);
        assert_eq!(
            by_c,
            records::<PureTdb>(&db),
            "{engine}: both engines read it alike"
        );
        finals.push(by_c);
    }
    assert!(!finals[0].is_empty());
    assert!(
        finals.windows(2).all(|pair| pair[0] == pair[1]),
        "every replay leaves the same records"
    );
    // In lock step, on two mutex files: the same results and byte-identical files.
    let report = diff_agrees(&traces, &plan, dir.path(), "diff");
    assert!(report.identical_files);
    assert!(has_mutex_feature(&dir.path().join("diff-pure.tdb")));
}
