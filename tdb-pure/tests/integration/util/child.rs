//! Child processes: a test that needs another process runs this test binary again,
//! running only one helper test (marked `#[ignore = "helper"]`, so that a normal run
//! neither runs nor counts it), with the job in environment variables.

use std::ffi::OsString;
use std::process::{Command, ExitStatus};
use std::sync::{Mutex, MutexGuard};

/// Held by every test that starts another process, so that the binary stays safe if it
/// is ever run with several test threads: a child then never inherits a moment in which
/// another test holds locks or half-written files.
static SERIAL: Mutex<()> = Mutex::new(());

/// Take the lock of the tests that start processes (see [`SERIAL`]); a test that
/// panicked while holding it does not poison the others.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The harness's name of the test `function` in the module whose `module_path!()` is
/// `module_path` (the crate's own name left out).
pub fn test_name(module_path: &str, function: &str) -> String {
    match module_path.split_once("::") {
        Some((_, module)) => format!("{module}::{function}"),
        None => function.to_string(),
    }
}

/// A command that runs this test binary again, running only the helper test `name`
/// (see [`test_name`]) on one thread with its output shown. The caller adds the job's
/// environment and the child's stdio.
pub fn helper_command(name: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    command
}

/// The job of a helper test: the values of `vars`, or `None` when the test was not
/// started as a helper (it then returns at once).
pub fn helper_job<const N: usize>(vars: [&str; N]) -> Option<[OsString; N]> {
    let values: Vec<OsString> = vars.iter().map(std::env::var_os).collect::<Option<_>>()?;
    values.try_into().ok()
}

/// A helper's yes-or-no answer: exit code 0 is yes, 1 is no; anything else fails the
/// test, naming `what` the helper was asked.
pub fn yes_or_no(status: ExitStatus, what: &str) -> bool {
    match status.code() {
        Some(0) => true,
        Some(1) => false,
        other => panic!("the helper failed for {what}: {other:?}"),
    }
}
