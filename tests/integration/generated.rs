//! Traces the project records itself: a concurrent torture workload in three processes
//! (real seqnums, real races), and a single process using every op family, replayed on
//! C tdb; the final files must pass C's checks.

use crate::util::{analyse, check_final_database, load, record_analysable, replay_c};
use replay_engine::backend::c::CTdb;
use replay_engine::generate::{generate, GenerateOptions};
use replay_engine::replay::{self, ReplayOptions};

pub fn generated_concurrent_sets_replay_on_c() {
    let dir = tempfile::tempdir().expect("temp dir");
    for seed in [11, 12] {
        let options = GenerateOptions {
            seed,
            ..GenerateOptions::default()
        };
        let name = format!("set{seed}");
        let (traces, mut plan) = record_analysable::<CTdb>(dir.path(), &name, &options);
        assert_eq!(traces.len(), 3);
        assert!(traces.iter().all(|t| t.closed && t.ops.len() > options.ops));
        let db = dir.path().join(format!("{name}-replay.tdb"));
        let report = replay_c(&db, &traces, &mut plan, 2);
        assert_eq!(report.runs.len(), 2);
        check_final_database(&db);
    }
}

pub fn single_process_with_every_op_family_replays_exactly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = GenerateOptions {
        processes: 1,
        ops: 1500,
        seed: 5,
        exotic: true,
        ..GenerateOptions::default()
    };
    let paths = generate::<CTdb>(dir.path(), "solo", &options).expect("workload runs");
    let traces = load(&paths);
    let names: std::collections::HashSet<&str> = traces[0].ops.iter().map(|op| op.name()).collect();
    for name in [
        "tdb_fetch",
        "tdb_store",
        "tdb_delete",
        "tdb_append",
        "tdb_exists",
        "tdb_parse_record",
        "tdb_transaction_start",
        "tdb_transaction_cancel",
        "tdb_traverse_start",
        "tdb_traverse_read_start",
        "traverse",
        "tdb_chainlock",
        "tdb_chainlock_nonblock",
        "tdb_firstkey",
        "tdb_nextkey",
        "tdb_lockall_read",
        "tdb_wipe_all",
    ] {
        assert!(names.contains(name), "the workload never used {name}");
    }
    let mut plan = analyse(&traces);
    let db = dir.path().join("solo-replay.tdb");
    let report = replay::replay::<CTdb>(&db, &traces, &mut plan, &ReplayOptions::default())
        .unwrap_or_else(|error| panic!("{error}"));
    // Alone, nothing differs from the recording, not even key order.
    assert!(
        report.runs[0].tolerated.is_empty(),
        "{:?}",
        report.runs[0].tolerated
    );
    check_final_database(&db);
}
