//! Debian's libtdb.so.1 (libtdb1, the same tdb 1.4.8) as a run-time engine: every corpus
//! set and a self-recorded set replay on it with every result matched, its lock step
//! with the static build agrees byte for byte, and with the static build and tdb-pure it
//! takes turns on one file. Skipped, saying so, where the library is absent.

use std::path::Path;

use crate::util::{analyse, check_final_database, corpus, files_in, load, recorded_set};
use replay_engine::backend::c::CTdb;
use replay_engine::backend::engines::Engines;
use replay_engine::backend::loaded::Loaded;
use replay_engine::backend::runtime::{self, Engine, EngineSpec, Roster};
use replay_engine::backend::Backend;
use replay_engine::diff;
use replay_engine::replay::{self, ReplayOptions};
use replay_engine::trace::Trace;

const DEBIAN_LIBTDB: &str = "/usr/lib/x86_64-linux-gnu/libtdb.so.1";

/// Debian's library as an engine, or `None` after saying the test is skipped.
fn debian(test: &str) -> Option<Engine> {
    if !Path::new(DEBIAN_LIBTDB).exists() {
        eprintln!("{test}: skipped ({DEBIAN_LIBTDB} is absent; apt-get install libtdb1)");
        return None;
    }
    let spec = EngineSpec::Lib {
        path: DEBIAN_LIBTDB.into(),
        name: Some("debian".into()),
    };
    Some(Engine::resolve(&spec).expect("Debian's libtdb loads"))
}

/// Replays `traces` on the roster `engines` into `db`, every result matched, and checks
/// the file with C and Samba's tdbtool.
fn replays_on(engines: &[Engine], traces: &[Trace], db: &Path, what: &str) {
    runtime::install(engines.to_vec());
    let mut plan = analyse(traces);
    let report = replay::replay_engines::<Roster>(db, traces, &mut plan, &ReplayOptions::default())
        .unwrap_or_else(|error| panic!("{what} on {}: {error}", Roster::key()));
    let ops: u64 = traces.iter().map(|t| t.ops.len() as u64).sum();
    assert!(
        report.runs[0].ops >= ops / 2,
        "{what}: only {} of {ops} ops ran",
        report.runs[0].ops
    );
    check_final_database(db);
}

pub fn every_corpus_set_replays_on_debian_libtdb() {
    let test = "every_corpus_set_replays_on_debian_libtdb";
    let (Some(corpus), Some(lib)) = (corpus(test), debian(test)) else {
        return;
    };
    let scratch = tempfile::tempdir().expect("temp dir");
    let mut sets: Vec<_> = files_in(&corpus.join("ldb"))
        .into_iter()
        .map(|p| vec![p])
        .collect();
    for entry in std::fs::read_dir(corpus.join("torture")).expect("torture sets") {
        let set = entry.expect("directory entry").path();
        if set.is_dir() {
            sets.push(files_in(&set));
        }
    }
    assert!(sets.len() > 1, "no corpus under {}", corpus.display());
    for set in sets {
        let traces = load(&set);
        let db = scratch.path().join("lib.tdb");
        replays_on(&[lib], &traces, &db, &set[0].display().to_string());
    }
}

pub fn a_recorded_set_replays_on_debian_libtdb_and_diffs_byte_identical() {
    let test = "a_recorded_set_replays_on_debian_libtdb_and_diffs_byte_identical";
    let Some(lib) = debian(test) else {
        return;
    };
    let scratch = tempfile::tempdir().expect("temp dir");
    let (traces, plan) = recorded_set::<CTdb>(scratch.path(), "engines", 17);
    replays_on(
        &[lib],
        &traces,
        &scratch.path().join("lib.tdb"),
        "the recorded set",
    );
    // Three engines in turn on one file: trace k on c, lib:debian, pure.
    let three = [Engine::C, lib, Engine::Pure];
    replays_on(
        &three,
        &traces,
        &scratch.path().join("three.tdb"),
        "c,lib,pure",
    );

    let Engine::Lib(library) = lib else {
        unreachable!("a lib: spec resolves to a library");
    };
    runtime::install(vec![lib]);
    replay_engine::backend::loaded::set_slot(1, library);
    let (a, b) = (scratch.path().join("c.tdb"), scratch.path().join("lib.tdb"));
    let report = diff::diff::<CTdb, Loaded<1>>(&traces, &plan, &a, &b, None)
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(report.divergence.is_none(), "{:?}", report.divergence);
    assert!(
        report.identical_files,
        "the same tdb version writes the same bytes"
    );
    assert_eq!(Loaded::<1>::label(), "lib:debian");
}

pub fn the_corpus_torture_sets_take_turns_on_three_engines() {
    let test = "the_corpus_torture_sets_take_turns_on_three_engines";
    let (Some(corpus), Some(lib)) = (corpus(test), debian(test)) else {
        return;
    };
    let scratch = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(corpus.join("torture")).expect("torture sets") {
        let set = entry.expect("directory entry").path();
        if set.is_dir() {
            let traces = load(&files_in(&set));
            let db = scratch.path().join("three.tdb");
            replays_on(
                &[Engine::C, lib, Engine::Pure],
                &traces,
                &db,
                &set.display().to_string(),
            );
        }
    }
}
