//! The recorded corpus: every torture set (its files replayed together, three runs so a
//! lucky pass cannot hide a flaky one) and every LDB trace, on C tdb, each final database
//! checked by C's tdb_check and Samba's tdbtool.

use crate::util::{analyse, check_final_database, corpus, files_in, load, replay_c, tdbdump};
use replay_engine::backend::c::CTdb;
use replay_engine::backend::pure::PureTdb;

pub fn every_torture_set_replays_three_times_on_c() {
    let Some(corpus) = corpus("every_torture_set_replays_three_times_on_c") else {
        return;
    };
    let scratch = tempfile::tempdir().expect("temp dir");
    let sets = torture_sets(&corpus);
    assert!(
        !sets.is_empty(),
        "no torture sets under {}",
        corpus.display()
    );
    for set in sets {
        let traces = load(&files_in(&set));
        let mut plan = analyse(&traces);
        let db = scratch.path().join("torture.tdb");
        let report = replay_c(&db, &traces, &mut plan, 3);
        assert_eq!(report.runs.len(), 3, "{}", set.display());
        let ops: u64 = traces.iter().map(|t| t.ops.len() as u64).sum();
        for run in &report.runs {
            assert!(
                run.ops >= ops / 2,
                "{}: only {} of {ops} ops ran",
                set.display(),
                run.ops
            );
        }
        eprintln!(
            "{}: 3 runs matched, {} back-offs, best {:?}",
            set.display(),
            report.backoffs.len(),
            report.runs.iter().map(|r| r.elapsed).min()
        );
        check_final_database(&db);
    }
}

pub fn every_ldb_trace_replays_on_c() {
    let Some(corpus) = corpus("every_ldb_trace_replays_on_c") else {
        return;
    };
    let scratch = tempfile::tempdir().expect("temp dir");
    let traces = files_in(&corpus.join("ldb"));
    assert!(
        !traces.is_empty(),
        "no ldb traces under {}",
        corpus.display()
    );
    for path in traces {
        let loaded = load(std::slice::from_ref(&path));
        let mut plan = analyse(&loaded);
        let db = scratch.path().join("ldb.tdb");
        let report = replay_c(&db, &loaded, &mut plan, 2);
        assert_eq!(report.runs.len(), 2);
        assert!(report.backoffs.is_empty(), "a single trace never waits");
        assert_eq!(
            report.runs[0].ops,
            loaded[0].ops.len() as u64,
            "{}",
            path.display()
        );
        check_final_database(&db);
    }
}

pub fn users_ldb_needs_the_records_the_original_found() {
    let Some(corpus) = corpus("users_ldb_needs_the_records_the_original_found") else {
        return;
    };
    let traces = load(&[corpus.join("ldb/users.ldb.trace.19774.zst")]);
    assert_eq!(traces[0].ops.len(), 88_838);
    let plan = analyse(&traces);
    // The original tool reported 23 pre-existing records for users.ldb.
    assert_eq!(plan.preexisting.len(), 23);
}

/// The corpus's torture sets (`torture/N-torture/`), sorted.
fn torture_sets(corpus: &std::path::Path) -> Vec<std::path::PathBuf> {
    let dir = corpus.join("torture");
    let mut sets: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_dir())
        .collect();
    sets.sort();
    sets
}

/// Every torture set and every LDB trace replays on tdb-pure too, with every result
/// matching, and leaves a file that C checks and that holds exactly the records the C
/// backend's run leaves (as a set: traverse order follows insertion order, which differs
/// between any two concurrent runs).
pub fn every_trace_set_replays_on_pure_like_c() {
    let Some(corpus) = corpus("every_trace_set_replays_on_pure_like_c") else {
        return;
    };
    let scratch = tempfile::tempdir().expect("temp dir");
    // Each set with the number of runs the C tests give it: torture sets 3, LDB traces 2.
    let mut sets: Vec<(Vec<std::path::PathBuf>, usize)> = torture_sets(&corpus)
        .into_iter()
        .map(|dir| (files_in(&dir), 3))
        .collect();
    sets.extend(
        files_in(&corpus.join("ldb"))
            .into_iter()
            .map(|trace| (vec![trace], 2)),
    );
    for (set, runs) in sets {
        let name = set[0].display().to_string();
        let traces = load(&set);
        let mut plan = analyse(&traces);
        let c_db = scratch.path().join("c.tdb");
        replay_c(&c_db, &traces, &mut plan, 1);
        let pure_db = scratch.path().join("pure.tdb");
        let options = replay_engine::replay::ReplayOptions {
            runs,
            ..replay_engine::replay::ReplayOptions::default()
        };
        let report = replay_engine::replay::replay::<replay_engine::backend::pure::PureTdb>(
            &pure_db, &traces, &mut plan, &options,
        )
        .unwrap_or_else(|error| panic!("{name} on tdb-pure: {error}"));
        assert_eq!(report.runs.len(), runs, "{name}");
        let ops: u64 = traces.iter().map(|t| t.ops.len() as u64).sum();
        for run in &report.runs {
            assert!(
                run.ops >= ops / 2,
                "{name}: only {} of {ops} ops ran",
                run.ops
            );
        }
        eprintln!(
            "{name} on tdb-pure: {runs} runs matched, {} back-offs, best {:?}",
            report.backoffs.len(),
            report.runs.iter().map(|r| r.elapsed).min()
        );
        check_final_database(&pure_db);
        if let (Some(c_dump), Some(pure_dump)) = (tdbdump(&c_db), tdbdump(&pure_db)) {
            assert_eq!(
                records(&c_dump),
                records(&pure_dump),
                "{name}: final records differ"
            );
        }
    }
}

/// A tdbdump output as its sorted records.
fn records(dump: &str) -> Vec<&str> {
    let mut records: Vec<&str> = dump.split("}\n").filter(|r| !r.is_empty()).collect();
    records.sort_unstable();
    records
}

/// Every trace set of the corpus: the torture sets (their files together) and each LDB
/// trace alone.
fn every_set(corpus: &std::path::Path) -> Vec<Vec<std::path::PathBuf>> {
    let sets = torture_sets(corpus);
    let mut all: Vec<Vec<std::path::PathBuf>> = sets.iter().map(|set| files_in(set)).collect();
    all.extend(
        files_in(&corpus.join("ldb"))
            .into_iter()
            .map(|path| vec![path]),
    );
    all
}

pub fn diff_agrees_on_every_trace_set() {
    let Some(corpus) = corpus("diff_agrees_on_every_trace_set") else {
        return;
    };
    let scratch = tempfile::tempdir().expect("temp dir");
    let sets = every_set(&corpus);
    assert!(
        sets.len() >= 6,
        "the corpus has torture sets and ldb traces"
    );
    for set in sets {
        let traces = load(&set);
        let plan = analyse(&traces);
        let report = replay_engine::diff::diff::<CTdb, PureTdb>(
            &traces,
            &plan,
            &scratch.path().join("c.tdb"),
            &scratch.path().join("pure.tdb"),
            None,
        )
        .unwrap_or_else(|error| panic!("{}: {error}", set[0].display()));
        if let Some(divergence) = report.divergence {
            panic!("{}: the engines diverge: {divergence}", set[0].display());
        }
        let ops: u64 = traces.iter().map(|t| t.ops.len() as u64).sum();
        assert_eq!(report.ops, ops, "{}", set[0].display());
        eprintln!(
            "{}: {} ops agree, {} records, identical files: {}, {:?}",
            set[0].display(),
            report.ops,
            report.records,
            report.identical_files,
            report.elapsed
        );
        check_final_database(&scratch.path().join("c.tdb"));
        check_final_database(&scratch.path().join("pure.tdb"));
    }
}

pub fn every_torture_set_replays_three_times_mixed() {
    let Some(corpus) = corpus("every_torture_set_replays_three_times_mixed") else {
        return;
    };
    let scratch = tempfile::tempdir().expect("temp dir");
    let sets = torture_sets(&corpus);
    for set in sets {
        let traces = load(&files_in(&set));
        let mut plan = analyse(&traces);
        let db = scratch.path().join("mixed.tdb");
        let options = replay_engine::replay::ReplayOptions {
            runs: 3,
            ..Default::default()
        };
        let report =
            replay_engine::replay::replay_mixed::<CTdb, PureTdb>(&db, &traces, &mut plan, &options)
                .unwrap_or_else(|error| panic!("{}: {error}", set.display()));
        assert_eq!(report.runs.len(), 3, "{}", set.display());
        let ops: u64 = traces.iter().map(|t| t.ops.len() as u64).sum();
        assert!(report.runs.iter().all(|run| run.ops >= ops / 2));
        eprintln!(
            "{}: 3 mixed runs matched, {} back-offs, best {:?}",
            set.display(),
            report.backoffs.len(),
            report.runs.iter().map(|r| r.elapsed).min()
        );
        check_final_database(&db);
        let mut pure: PureTdb = replay_engine::inspect::open_existing(&db).expect("opens");
        replay_engine::backend::Backend::check(&mut pure)
            .unwrap_or_else(|error| panic!("{}: tdb-pure: {error}", set.display()));
    }
}
