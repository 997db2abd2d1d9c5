//! Traces the project records itself: a concurrent torture workload in three processes
//! (real seqnums, real races), and a single process using every op family, replayed on
//! C tdb; the final files must pass C's checks.

use integration_tests::{analyse, check_final_database, load, replay_c};
use replay_engine::backend::c::CTdb;
use replay_engine::generate::{generate, GenerateOptions};
use replay_engine::replay::{self, ReplayOptions};

/// Record a workload and analyse it. Known gap: about one heavily stalled set in a
/// hundred (a process descheduled for hundreds of other processes' ops) still ends in a
/// dependency cycle; record again then, at most twice, saying so.
fn record_until_analysable(
    dir: &std::path::Path,
    name: &str,
    options: &GenerateOptions,
) -> (
    Vec<replay_engine::trace::Trace>,
    replay_engine::analysis::Analysis,
) {
    let mut retries = 2;
    loop {
        let paths = generate::<CTdb>(dir, name, options).expect("workload runs");
        assert_eq!(paths.len(), 3);
        let traces = load(&paths);
        assert!(traces.iter().all(|t| t.closed && t.ops.len() > options.ops));
        let locking = <CTdb as replay_engine::backend::Backend>::LOCKING;
        match replay_engine::analysis::analyse(&traces, locking) {
            Ok(plan) => return (traces, plan),
            Err(error) if error.message.contains("circle") && retries > 0 => {
                retries -= 1;
                eprintln!("{name}: known analysis gap, recording again: {error}");
            }
            Err(error) => panic!("{error}"),
        }
    }
}

pub fn generated_concurrent_sets_replay_on_c() {
    let dir = tempfile::tempdir().expect("temp dir");
    for seed in [11, 12] {
        let options = GenerateOptions {
            seed,
            ..GenerateOptions::default()
        };
        let name = format!("set{seed}");
        let (traces, mut plan) = record_until_analysable(dir.path(), &name, &options);
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
