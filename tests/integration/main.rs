//! Workspace integration tests: whole replays on the C backend, of the project's own
//! traces (always) and of the recorded corpus (when `TDB_REPLAY_CORPUS` is set).
//!
//! The replay forks one worker process per trace, and fork is only safe from a
//! single-threaded process, so this binary has its own harness that runs every test on
//! the main thread, one after the other. `cargo test -p integration-tests -- NAME` runs
//! the tests whose names contain NAME.

mod corpus;
mod deadlock;
mod differential;
mod generated;
mod handwritten;
mod killed;
mod mutex;
mod recording;
mod shrink;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::Instant;

/// Every test, by name.
const TESTS: &[(&str, fn())] = &[
    (
        "handwritten::handwritten_set_has_the_expected_dependencies",
        handwritten::handwritten_set_has_the_expected_dependencies,
    ),
    (
        "handwritten::handwritten_set_replays_and_leaves_a_sound_file",
        handwritten::handwritten_set_replays_and_leaves_a_sound_file,
    ),
    (
        "handwritten::a_missing_record_fails_at_its_line",
        handwritten::a_missing_record_fails_at_its_line,
    ),
    (
        "handwritten::a_samba_trace_with_nested_transactions_replays",
        handwritten::a_samba_trace_with_nested_transactions_replays,
    ),
    (
        "generated::generated_concurrent_sets_replay_on_c",
        generated::generated_concurrent_sets_replay_on_c,
    ),
    (
        "generated::single_process_with_every_op_family_replays_exactly",
        generated::single_process_with_every_op_family_replays_exactly,
    ),
    (
        "differential::diff_and_mixed_agree_on_sets_recorded_on_each_engine",
        differential::diff_and_mixed_agree_on_sets_recorded_on_each_engine,
    ),
    (
        "differential::diff_reports_a_changed_result_at_its_line",
        differential::diff_reports_a_changed_result_at_its_line,
    ),
    (
        "differential::diff_reports_a_changed_stored_byte_where_it_is_read",
        differential::diff_reports_a_changed_stored_byte_where_it_is_read,
    ),
    (
        "recording::torture_on_each_engine_leaves_what_its_operations_imply_and_its_traces_replay",
        recording::torture_on_each_engine_leaves_what_its_operations_imply_and_its_traces_replay,
    ),
    (
        "recording::a_recorded_replay_replays_to_the_same_database",
        recording::a_recorded_replay_replays_to_the_same_database,
    ),
    (
        "recording::torture_catches_a_broken_engine",
        recording::torture_catches_a_broken_engine,
    ),
    (
        "killed::a_killed_torture_set_replays_as_the_recovery_left_it",
        killed::a_killed_torture_set_replays_as_the_recovery_left_it,
    ),
    (
        "killed::torture_with_kills_on_both_engines_leaves_what_the_commits_imply",
        killed::torture_with_kills_on_both_engines_leaves_what_the_commits_imply,
    ),
    (
        "mutex::a_mutex_torture_set_replays_with_mutexes_on_every_engine",
        mutex::a_mutex_torture_set_replays_with_mutexes_on_every_engine,
    ),
    (
        "shrink::shrink_minimises_a_set_that_diverges_on_a_broken_engine",
        shrink::shrink_minimises_a_set_that_diverges_on_a_broken_engine,
    ),
    (
        "deadlock::a_lock_deadlock_is_detected_and_backed_off",
        deadlock::a_lock_deadlock_is_detected_and_backed_off,
    ),
    (
        "deadlock::a_stalled_run_is_aborted_with_positions",
        deadlock::a_stalled_run_is_aborted_with_positions,
    ),
    (
        "corpus::every_torture_set_replays_three_times_on_c",
        corpus::every_torture_set_replays_three_times_on_c,
    ),
    (
        "corpus::every_ldb_trace_replays_on_c",
        corpus::every_ldb_trace_replays_on_c,
    ),
    (
        "corpus::every_trace_set_replays_on_pure_like_c",
        corpus::every_trace_set_replays_on_pure_like_c,
    ),
    (
        "corpus::diff_agrees_on_every_trace_set",
        corpus::diff_agrees_on_every_trace_set,
    ),
    (
        "corpus::every_torture_set_replays_three_times_mixed",
        corpus::every_torture_set_replays_three_times_mixed,
    ),
    (
        "corpus::users_ldb_needs_the_records_the_original_found",
        corpus::users_ldb_needs_the_records_the_original_found,
    ),
];

fn main() -> ExitCode {
    // Arguments starting with '-' are libtest options cargo may pass; ignore them.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected: Vec<&(&str, fn())> = TESTS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", selected.len());
    let started = Instant::now();
    let mut failed = Vec::new();
    for (name, test) in selected.iter().copied() {
        let outcome = catch_unwind(AssertUnwindSafe(test));
        println!(
            "test {name} ... {}",
            if outcome.is_ok() { "ok" } else { "FAILED" }
        );
        if outcome.is_err() {
            failed.push(*name);
        }
    }
    let passed = selected.len() - failed.len();
    println!(
        "\ntest result: {}. {passed} passed; {} failed; finished in {:.2}s\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    for name in &failed {
        println!("failed: {name}");
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
