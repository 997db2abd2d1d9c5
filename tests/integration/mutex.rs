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
use replay_engine::trace::{creating_open, load_traces, FlavourChoice, LoadOptions, Trace};

/// A recorded mutex set: its trace files, their traces and their plan.
struct MutexSet {
    paths: Vec<PathBuf>,
    traces: Vec<Trace>,
    plan: Analysis,
}

/// Record a 3-process mutex torture run (C, tdb-pure, C) into `dir`; the set, if the
/// analysis can order it (see generated.rs for the rare case it cannot).
fn recorded_mutex_set(dir: &Path, seed: u64) -> Option<MutexSet> {
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
    let traces = load(&paths);
    for trace in &traces {
        let wanted = tdb_flags::MUTEX_LOCKING | tdb_flags::CLEAR_IF_FIRST;
        assert_eq!(trace.open.tdb_flags & wanted, wanted, "{}", trace.name);
    }
    let plan = analyse_unless_known_gap(&traces)?;
    Some(MutexSet {
        paths,
        traces,
        plan,
    })
}

/// Load trace files, telling the layout from their lines.
fn load(paths: &[PathBuf]) -> Vec<Trace> {
    let options = LoadOptions {
        flavour: FlavourChoice::Auto,
        ..Default::default()
    };
    load_traces(paths, &options).unwrap_or_else(|error| panic!("{error}"))
}

/// Replay `traces` twice on `engine` ("c", "pure" or "mixed") into `db`, every result
/// matching.
fn replay_on(engine: &str, db: &Path, traces: &[Trace], locking: Locking) {
    let ops: u64 = traces.iter().map(|trace| trace.ops.len() as u64).sum();
    let mut plan = analysis::analyse(traces, CTdb::LOCKING).expect("analysed before");
    let options = ReplayOptions {
        runs: 2,
        locking,
        ..ReplayOptions::default()
    };
    let report = match engine {
        "c" => replay::replay::<CTdb>(db, traces, &mut plan, &options),
        "pure" => replay::replay::<PureTdb>(db, traces, &mut plan, &options),
        _ => replay::replay_mixed::<CTdb, PureTdb>(db, traces, &mut plan, &options),
    }
    .unwrap_or_else(|error| panic!("{engine} {locking:?}: {error}"));
    assert_eq!(report.runs.len(), 2);
    assert!(
        report.runs.iter().all(|run| run.ops >= ops),
        "{engine}: every op ran"
    );
}

pub fn a_mutex_torture_set_replays_with_mutexes_on_every_engine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let MutexSet { traces, plan, .. } = [61, 161, 261]
        .into_iter()
        .find_map(|seed| recorded_mutex_set(dir.path(), seed))
        .expect("an analysable recording in three");
    let mut finals = Vec::new();
    for (engine, locking) in [
        ("c", Locking::Recorded),
        ("pure", Locking::Recorded),
        ("mixed", Locking::Recorded),
        ("c", Locking::Fcntl),
        ("mixed", Locking::Fcntl),
    ] {
        let db = dir.path().join(format!("replay-{engine}-{locking:?}.tdb"));
        replay_on(engine, &db, &traces, locking);
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

/// The last sequence number a set's traces saw.
fn last_seqnum(traces: &[Trace]) -> u32 {
    traces
        .iter()
        .flat_map(|trace| {
            let ops = trace.ops.iter().map(|op| op.seqnum);
            ops.chain([trace.open.seqnum]).chain(trace.close_seqnum)
        })
        .max()
        .unwrap_or(0)
}

/// Samba's `tdbtorture` writes a trace for its parent's final check too: an unlocked
/// (`TDB_NOLOCK`) open with another hash size, made after every child finished, but with
/// the lowest pid, so a shell glob names it first. Added to a recorded mutex set, it must
/// neither create the replay's database nor turn it into a plain fcntl file: the set
/// still replays on a mutex file, on every engine, to the records it leaves without the
/// check.
pub fn a_late_unlocked_check_named_first_keeps_a_recorded_mutex_set_on_mutexes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let set = [62, 162, 262]
        .into_iter()
        .find_map(|seed| recorded_mutex_set(dir.path(), seed))
        .expect("an analysable recording in three");
    let last = last_seqnum(&set.traces);
    let db_name = set.paths[0]
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.split(".trace.").next())
        .expect("a recorded trace name");
    // pid 1 sorts before every recorded pid.
    let check = dir.path().join(format!("{db_name}.trace.1"));
    std::fs::write(
        &check,
        format!("{last} tdb_open 2 0x4 0x2\n{last} tdb_close\n"),
    )
    .expect("write the check trace");
    let mut paths = vec![check];
    paths.extend(set.paths.iter().cloned());
    let traces = load(&paths);
    assert_eq!(
        traces[0].open.tdb_flags,
        tdb_flags::NOLOCK,
        "the check is first"
    );
    let creator = creating_open(&traces).expect("a creating open");
    assert_ne!(creator, 0, "the late check does not create the file");
    assert!(
        traces[0]
            .warnings
            .iter()
            .any(|warning| warning.contains("disagree on the file's shape")),
        "the disagreement is reported: {:?}",
        traces[0].warnings
    );
    let without_check = {
        let db = dir.path().join("without-check.tdb");
        replay_on("c", &db, &set.traces, Locking::Recorded);
        records::<CTdb>(&db)
    };
    assert!(!without_check.is_empty());
    for engine in ["c", "pure", "mixed"] {
        let db = dir.path().join(format!("with-check-{engine}.tdb"));
        replay_on(engine, &db, &traces, Locking::Recorded);
        assert!(has_mutex_feature(&db), "{engine}: still a mutex file");
        let header = tdb_pure::header::Header::read_file(&db).expect("a tdb header");
        assert_eq!(
            header.hash_size, set.traces[0].open.hash_size,
            "{engine}: the recorded creator's hash size"
        );
        check_final_database(&db);
        assert_eq!(records::<CTdb>(&db), without_check, "{engine}");
        assert_eq!(records::<PureTdb>(&db), without_check, "{engine}");
    }
}
