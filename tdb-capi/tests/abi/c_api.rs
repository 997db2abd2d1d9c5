//! The C test program (testdata/c) on both libraries: every exported function, the
//! error paths, and a hostile file whose lists loop.

use std::time::Duration;

use crate::known;
use crate::util::c_program::{abi_check, abi_check_asan, sources};
use crate::util::{assert_mapped, assert_same_except, debian_present, on, run, Lib, Run};

fn run_api(lib: Lib) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut cmd = on(lib, abi_check());
    cmd.arg("api").arg(dir.path());
    let out = run(&mut cmd, b"", Duration::from_secs(30));
    out.assert_ok(&format!("abi_check api on {}", lib.name()));
    assert_mapped(&out, lib);
    (out, dir)
}

/// Every call's result, error code and string, log call, callback effect and resulting
/// file (size and hash of its bytes) must be the same on both libraries. The files are
/// all written deterministically by C tdb (no times, pids or uninitialised padding);
/// only the robust-mutex file is not hashed, its mutex area holding pthread state.
#[test]
fn every_export_behaves_as_debians() {
    if !debian_present() {
        return;
    }
    let (debian, _d) = run_api(Lib::Debian);
    let (ours, _o) = run_api(Lib::Ours);
    assert!(debian.stdout.ends_with("== done\n"), "{}", debian.stdout);
    assert_same_except("abi_check api", &debian.stdout, &ours.stdout, known::API);
}

/// The whole `api` run on ours under AddressSanitizer, UBSan and LeakSanitizer: no heap
/// misuse (every buffer ours returns is the caller's to `free`) and not a byte leaked,
/// with the same output as Debian's plain run. (Debian's own library leaks in
/// `tdb_rescue`, so only ours is held to no leaks.)
#[test]
fn every_export_is_clean_under_sanitizers() {
    if !debian_present() {
        return;
    }
    let Some(program) = abi_check_asan() else {
        eprintln!("skipped: gcc cannot build with -fsanitize=address,undefined here");
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let asan = |leaks: bool| {
        let mut cmd = on(Lib::Ours, program);
        cmd.arg("api").arg(dir.path());
        cmd.env("ASAN_OPTIONS", format!("detect_leaks={}", u8::from(leaks)));
        cmd.env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
        run(&mut cmd, b"", Duration::from_secs(120))
    };
    let mut ours = asan(true);
    if ours
        .stderr
        .contains("LeakSanitizer has encountered a fatal error")
    {
        eprintln!("note: LeakSanitizer cannot run here (ptrace refused); checking without it");
        ours = asan(false);
    }
    assert!(!ours.stderr.contains("Sanitizer"), "{}", ours.stderr);
    ours.assert_ok("abi_check api on ours under the sanitizers");
    let (debian, _d) = run_api(Lib::Debian);
    assert_same_except(
        "abi_check api under the sanitizers",
        &debian.stdout,
        &ours.stdout,
        known::API,
    );
}

/// The C program calls every function Debian's library exports (and reads `tdb_null`).
#[test]
fn the_c_program_calls_every_export() {
    let text: String = sources()
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("source"))
        .collect();
    let names = [
        "tdb_add_flags",
        "tdb_append",
        "tdb_chainlock",
        "tdb_chainlock_mark",
        "tdb_chainlock_nonblock",
        "tdb_chainlock_read",
        "tdb_chainlock_read_nonblock",
        "tdb_chainlock_unmark",
        "tdb_chainunlock",
        "tdb_chainunlock_read",
        "tdb_check",
        "tdb_close",
        "tdb_delete",
        "tdb_dump_all",
        "tdb_enable_seqnum",
        "tdb_error",
        "tdb_errorstr",
        "tdb_exists",
        "tdb_fd",
        "tdb_fetch",
        "tdb_firstkey",
        "tdb_freelist_size",
        "tdb_get_flags",
        "tdb_get_logging_private",
        "tdb_get_seqnum",
        "tdb_hash_size",
        "tdb_increment_seqnum_nonblock",
        "tdb_jenkins_hash",
        "tdb_lock_nonblock",
        "tdb_lockall",
        "tdb_lockall_mark",
        "tdb_lockall_nonblock",
        "tdb_lockall_read",
        "tdb_lockall_read_nonblock",
        "tdb_lockall_unmark",
        "tdb_log_fn",
        "tdb_logging_function",
        "tdb_map_size",
        "tdb_name",
        "tdb_nextkey",
        "tdb_open",
        "tdb_open_ex",
        "tdb_parse_record",
        "tdb_printfreelist",
        "tdb_remove_flags",
        "tdb_reopen",
        "tdb_reopen_all",
        "tdb_repack",
        "tdb_rescue",
        "tdb_runtime_check_for_robust_mutexes",
        "tdb_set_logging_function",
        "tdb_set_max_dead",
        "tdb_setalarm_sigptr",
        "tdb_store",
        "tdb_storev",
        "tdb_summary",
        "tdb_transaction_active",
        "tdb_transaction_cancel",
        "tdb_transaction_commit",
        "tdb_transaction_prepare_commit",
        "tdb_transaction_start",
        "tdb_transaction_start_nonblock",
        "tdb_transaction_write_lock_mark",
        "tdb_transaction_write_lock_unmark",
        "tdb_traverse",
        "tdb_traverse_chain",
        "tdb_traverse_key_chain",
        "tdb_traverse_read",
        "tdb_unlock",
        "tdb_unlockall",
        "tdb_unlockall_read",
        "tdb_validate_freelist",
        "tdb_wipe_all",
    ];
    assert_eq!(names.len(), 73);
    let uncalled: Vec<_> = names
        .iter()
        .filter(|n| !text.contains(&format!("{n}(")))
        .collect();
    assert!(
        uncalled.is_empty(),
        "the C test program never calls {uncalled:?}"
    );
    assert!(
        text.contains("tdb_null.dptr"),
        "the C test program never reads tdb_null"
    );
}

fn run_circular(lib: Lib, limit: Duration) -> Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut cmd = on(lib, abi_check());
    cmd.arg("circular").arg(dir.path());
    run(&mut cmd, b"", limit)
}

/// A chain and the freelist made to point at themselves. C tdb 1.4.8 detects the
/// looping hash chain (check, fetch and traverse fail with CORRUPT), but follows the
/// looping freelist for ever (`tdb_freelist_size`, and a store no free block fits):
/// Debian's run is stopped at its time limit, and must agree with ours up to there.
/// Ours must finish, refusing the loop with CORRUPT.
#[test]
fn looping_lists_are_errors_where_c_hangs() {
    if !debian_present() {
        return;
    }
    // C's run is stopped after 3 s; ours gets 30 s to finish on a busy machine.
    let debian = run_circular(Lib::Debian, Duration::from_secs(3));
    let ours = run_circular(Lib::Ours, Duration::from_secs(30));
    let agreed = debian.stdout.lines().count();
    let ours_head: String = ours
        .stdout
        .lines()
        .take(agreed)
        .map(|l| format!("{l}\n"))
        .collect();
    assert_same_except(
        "circular lists, before C hangs",
        &debian.stdout,
        &ours_head,
        known::CIRCULAR,
    );
    if Lib::Ours.file() == Lib::Debian.file() {
        eprintln!("note: Debian's library stands in for ours; skipping ours' own checks");
        return;
    }
    assert!(
        !ours.timed_out(),
        "ours hung on a looping list:\n{}",
        ours.stdout
    );
    ours.assert_ok("abi_check circular on ours");
    for op in ["freelist_size", "store a record no free block fits"] {
        let line = ours
            .stdout
            .lines()
            .find(|l| l.starts_with(op))
            .unwrap_or_default();
        assert!(
            line.contains("rc=-1 err=CORRUPT"),
            "ours, {op}: {line:?}\n{}",
            ours.stdout
        );
    }
}
