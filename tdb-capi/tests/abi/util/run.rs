//! Running a program on one library, with a time limit, and comparing what two runs
//! printed.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::library::Lib;

/// What a finished (or stopped) run left.
#[derive(Debug)]
pub struct Run {
    /// The exit status; `None` when the time limit stopped it.
    pub status: Option<ExitStatus>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Whether the program was stopped at the time limit.
    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    /// Panics, showing the output, unless the program exited with status 0.
    pub fn assert_ok(&self, what: &str) -> &Self {
        assert!(
            self.status.is_some_and(|s| s.success()),
            "{what}: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Panics unless a run's standard error names exactly `lib`'s file as the libtdb it
/// mapped (the test programs print `mapped: PATH` lines from /proc/self/maps).
pub fn assert_mapped(run: &Run, lib: Lib) {
    let mapped: std::collections::BTreeSet<&str> = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("mapped: "))
        .collect();
    let want = lib.file().to_string_lossy();
    assert!(
        mapped.len() == 1 && mapped.contains(&*want),
        "the run on {} mapped {mapped:?}, not {want}",
        lib.name()
    );
}

/// A command for `program` whose dynamic loader finds only `lib`'s libtdb.so.1.
pub fn on(lib: Lib, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("LD_LIBRARY_PATH", lib.dir());
    cmd
}

/// Runs `cmd` with `input` on its standard input, stopping it (SIGKILL) after `limit`.
pub fn run(cmd: &mut Command, input: &[u8], limit: Duration) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    // A program that stops reading early closes the pipe: the write error is expected.
    let writer = thread::spawn(move || drop(stdin.write_all(&input)));
    let out = reader(child.stdout.take().expect("piped stdout"));
    let err = reader(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    Run {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Whether an installed program exists (tests skip, saying so, when it does not).
pub fn installed(program: &str) -> bool {
    let present = Path::new(program).exists();
    if !present {
        eprintln!("skipped: {program} is not installed (see .ci/run for the packages)");
    }
    present
}

/// Panics with the differing lines unless `debian` and `ours` are the same text.
pub fn assert_same(what: &str, debian: &str, ours: &str) {
    super::diff::assert_same_except(what, debian, ours, &[]);
}

/// Panics unless two files hold the same bytes.
pub fn assert_same_file(what: &str, debian: &Path, ours: &Path) {
    let (d, o) = (read(debian), read(ours));
    if d != o {
        let first = d
            .iter()
            .zip(&o)
            .position(|(a, b)| a != b)
            .unwrap_or(d.len().min(o.len()));
        panic!(
            "{what}: files differ ({} is {} bytes, {} is {} bytes, first difference at byte {first})",
            debian.display(),
            d.len(),
            ours.display(),
            o.len()
        );
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
