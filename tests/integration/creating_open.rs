//! The open that created the file in the recording shapes the replay's database, not the
//! first trace given: a late `TDB_NOLOCK` check trace (as Samba's `tdbtorture` parent
//! writes, lowest pid, so first in a glob) must not turn a mutex set into an fcntl
//! replay, on any engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::{check_final_database, handwritten, has_mutex_feature, records};
use replay_engine::analysis;
use replay_engine::backend::c::CTdb;
use replay_engine::backend::pure::PureTdb;
use replay_engine::backend::Backend;
use replay_engine::replay::{self, ReplayOptions};
use replay_engine::trace::{creating_open, load_traces, FlavourChoice, LoadOptions, Trace};

/// The handwritten set opened with robust mutexes, and a late check trace named to sort
/// first that opens the finished database without locking, with another hash size, and
/// reads what the set left.
fn mutex_set_with_a_late_check(dir: &Path) -> Vec<PathBuf> {
    let mut paths = vec![dir.join("0-check.trace")];
    std::fs::write(
        &paths[0],
        "6 tdb_open 2 0x4 0x2\n6 tdb_fetch 1:6b = 2:6869\n6 tdb_fetch 3:6c6f67 = 2:6162\n\
         6 tdb_close\n",
    )
    .expect("write the check trace");
    for fixture in handwritten() {
        let text = std::fs::read_to_string(&fixture).expect("fixture");
        let mutex = text.replacen("tdb_open 7 0x1 0x42", "tdb_open 7 0x1801 0x42", 1);
        assert_ne!(mutex, text, "{} opens as expected", fixture.display());
        let path = dir.join(fixture.file_name().expect("a file"));
        std::fs::write(&path, mutex).expect("write");
        paths.push(path);
    }
    paths
}

/// Load as ccan wrote them (the fixture's appends are ccan's).
fn load_ccan(paths: &[PathBuf]) -> Vec<Trace> {
    let options = LoadOptions {
        flavour: FlavourChoice::Ccan,
        ..LoadOptions::default()
    };
    load_traces(paths, &options).unwrap_or_else(|error| panic!("{error}"))
}

/// The hash size in the file's header.
fn hash_size(db: &Path) -> u32 {
    tdb_pure::header::Header::read_file(db)
        .expect("a tdb header")
        .hash_size
}

pub fn the_first_open_recorded_creates_the_file_whatever_the_argument_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let traces = load_ccan(&mutex_set_with_a_late_check(dir.path()));
    // b.trace opened first (seqnum 0); the check opened last although given first.
    assert_eq!(creating_open(&traces), Some(2));
    let warning = traces[0]
        .warnings
        .iter()
        .find(|warning| warning.contains("disagree on the file's shape"))
        .expect("the disagreement is reported");
    assert!(
        warning.contains("b.trace:1 created it (hash size 7, flags 0x1801)"),
        "{warning}"
    );
    let expected: BTreeMap<Vec<u8>, Vec<u8>> = [
        (b"k".to_vec(), b"hi".to_vec()),
        (b"log".to_vec(), b"ab".to_vec()),
    ]
    .into();
    for engine in ["c", "pure", "mixed"] {
        let db = dir.path().join(format!("{engine}.tdb"));
        let mut plan = analysis::analyse(&traces, CTdb::LOCKING).expect("analyses");
        let options = ReplayOptions {
            runs: 2,
            ..ReplayOptions::default()
        };
        let report = match engine {
            "c" => replay::replay::<CTdb>(&db, &traces, &mut plan, &options),
            "pure" => replay::replay::<PureTdb>(&db, &traces, &mut plan, &options),
            _ => replay::replay_mixed::<CTdb, PureTdb>(&db, &traces, &mut plan, &options),
        }
        .unwrap_or_else(|error| panic!("{engine}: {error}"));
        assert_eq!(report.runs.len(), 2, "{engine}");
        assert!(
            has_mutex_feature(&db),
            "{engine}: a mutex file, as b.trace made it"
        );
        assert_eq!(hash_size(&db), 7, "{engine}: b.trace's hash size");
        check_final_database(&db);
        assert_eq!(records::<CTdb>(&db), expected, "{engine}");
        assert_eq!(records::<PureTdb>(&db), expected, "{engine}");
    }
}
