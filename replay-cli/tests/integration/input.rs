//! Bad input, as every command meets it: a malformed line is reported at its `file:line`,
//! an impossible trace is refused before anything runs, a missing file is named; all exit
//! with status 2.

use std::path::Path;
use std::process::Command;

use crate::util::{arg, assert_says, exits_with, succeeds, write};

/// Writes `content` as `dir/name` and requires `command` on it to exit 2 at `name:line:`.
fn bad_at_line(command: &[&str], name: &str, content: &str, line: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = write(dir.path(), name, content);
    let mut args = command.to_vec();
    args.push(&trace);
    let out = exits_with(2, &args);
    assert_says(&out, &[&format!("{trace}:{line}:")]);
}

#[test]
fn a_malformed_line_is_reported_with_file_and_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("x.tdb");
    bad_at_line(
        &["replay", arg(&db)],
        "bad.trace",
        "1 tdb_open 0 0x0 0x42\n1 tdb_fetch 1:6b\n",
        2,
    );
}

#[test]
fn a_huge_length_field_is_an_error_not_an_allocation() {
    bad_at_line(
        &["analyse"],
        "huge.trace",
        "1 tdb_open 0 0x0 0x42\n1 tdb_fetch 4294967296:00 = NULL\n",
        2,
    );
}

#[test]
fn diff_of_a_malformed_trace_is_bad_input() {
    bad_at_line(
        &["diff"],
        "bad.trace",
        "1 tdb_open 7 0x0 0x42\n2 tdb_store 1:61 zz 0x1 = 0\n2 tdb_close\n",
        2,
    );
}

#[test]
fn shrink_of_a_malformed_trace_is_bad_input_at_its_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    bad_at_line(
        &["shrink", "--out", arg(&out)],
        "bad.trace",
        "1 tdb_open 7 0x0 0x42\n2 tdb_fetch 1:61 = 2:6\n2 tdb_close\n",
        2,
    );
}

#[test]
fn an_inconsistent_trace_is_refused_before_replay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = write(
        dir.path(),
        "inconsistent.trace",
        "1 tdb_open 0 0x0 0x42\n2 tdb_store 1:6b 1:01 0x1 = 0\n2 tdb_fetch 1:6b = 1:02\n",
    );
    let db = dir.path().join("x.tdb");
    let out = exits_with(2, &["replay", arg(&db), &trace]);
    assert_says(&out, &["cannot order"]);
}

#[test]
fn a_missing_file_says_which() {
    let out = exits_with(2, &["analyse", "/nonexistent/trace"]);
    assert_says(&out, &["/nonexistent/trace"]);
}

/// Python, which starts the measured command for [`run_measuring_memory`] and reports
/// its peak memory (`RUSAGE_CHILDREN`, in KiB) on its last stdout line.
const MEASURE: &str = "import resource, subprocess, sys\n\
    run = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n\
    sys.stderr.buffer.write(run.stderr)\n\
    print(run.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n";

/// Runs `tdb-replay ARGS` and returns its exit code, what it printed on stderr and its
/// peak resident memory in bytes.
///
/// Linux carries a process's peak memory across `exec`: a child started by this test
/// process reports at least this process's own peak (which other tests and the inputs'
/// compression raised), not the tool's. So the tool is started by a small process of its
/// own, `/usr/bin/python3`, which reports its child's peak; where Python is missing, this
/// process's `wait4` figure is used, an upper bound.
fn run_measuring_memory(args: &[&str]) -> (Option<i32>, String, u64) {
    let binary = env!("CARGO_BIN_EXE_tdb-replay");
    if Path::new("/usr/bin/python3").exists() {
        let out = Command::new("/usr/bin/python3")
            .args(["-c", MEASURE, binary])
            .args(args)
            .output()
            .expect("python3 runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut fields = stdout.split_whitespace();
        let code: i32 = fields
            .next()
            .and_then(|f| f.parse().ok())
            .expect("exit code");
        let kib: u64 = fields
            .next()
            .and_then(|f| f.parse().ok())
            .expect("peak KiB");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        return ((code >= 0).then_some(code), stderr, kib * 1024);
    }
    run_measuring_memory_by_wait4(binary, args)
}

/// [`run_measuring_memory`] with this process's `wait4`: the child's peak, or this
/// process's if that was higher.
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which also reports its peak memory"
)]
fn run_measuring_memory_by_wait4(binary: &str, args: &[&str]) -> (Option<i32>, String, u64) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let mut child = Command::new(binary)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)
        .expect("stderr reads");
    let mut status = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all-zero is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: `pid` is our own child, not yet waited for; both pointers are valid.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = std::process::ExitStatus::from_raw(status).code();
    (code, stderr, usage.ru_maxrss as u64 * 1024)
}

/// Endless or huge binary input is refused at once with exit 2, in bounded memory.
#[test]
fn zeros_plain_or_compressed_are_refused_at_once_in_bounded_memory() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let zeros = vec![0u8; 10 << 20];
    let zst = dir.path().join("zeros.zst");
    std::fs::write(&zst, zstd::encode_all(&zeros[..], 19).expect("zstd")).expect("write");
    let gz = dir.path().join("zeros.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&zeros).expect("gzip");
    std::fs::write(&gz, encoder.finish().expect("gzip")).expect("write");
    let db = dir.path().join("x.tdb");
    for input in ["/dev/zero", arg(&zst), arg(&gz)] {
        for command in [vec!["replay", arg(&db), input], vec!["diff", input]] {
            let (code, stderr, peak) = run_measuring_memory(&command);
            assert_eq!(code, Some(2), "{command:?}: {stderr}");
            assert!(
                stderr.contains(&format!("{input}:1: binary data: a NUL byte")),
                "{command:?}: {stderr}"
            );
            assert!(peak < 100 << 20, "{command:?}: peak RSS {peak} bytes");
        }
    }
    assert!(!db.exists(), "no database is made for unusable input");
}

/// A line longer than --max-line-bytes is an error at its line, never a growing buffer.
#[test]
fn an_endless_line_stops_at_the_line_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let long = format!("1 tdb_open 0 0x0 0x42\n{}", "7".repeat(5000));
    let trace = write(dir.path(), "long.trace", &long);
    let out = exits_with(2, &["analyse", "--max-line-bytes", "4096", &trace]);
    assert_says(
        &out,
        &[&format!("{trace}:2: a line of more than 4096 bytes")],
    );
    // The default limit reads it, and it is a torn last line, reported with its size.
    let out = succeeds(&["analyse", &trace]);
    assert_says(
        &out,
        &[&format!(
            "{trace}:2: dropped the torn last line (5000 bytes, no newline"
        )],
    );
}
