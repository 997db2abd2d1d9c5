//! What every CLI test needs: running `tdb-replay` as a user does, the handwritten
//! fixture, scratch files, and reading the output (text and JSON).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

/// Runs `tdb-replay ARGS` and returns what it did.
pub fn tdb_replay(args: &[&str]) -> Output {
    tdb_replay_with_env(args, &[])
}

/// Runs `tdb-replay ARGS` with extra environment variables.
///
/// The tests run in parallel, but at most one of them at a time runs a multi-process
/// workload (see [`runs_processes`]): the replay's deadlock detection counts a worker
/// that sleeps for 20 ms as stuck, and two such workloads on a small machine can starve
/// each other's workers that long.
pub fn tdb_replay_with_env(args: &[&str], env: &[(&str, &OsStr)]) -> Output {
    static ONE_WORKLOAD_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = runs_processes(args).then(|| {
        ONE_WORKLOAD_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    });
    Command::new(env!("CARGO_BIN_EXE_tdb-replay"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

/// Whether `tdb-replay ARGS` runs processes concurrently on one database: a replay
/// (`bench` and `shrink --backend` replay too), `torture` and the commands built on it,
/// or `diff --concurrent`.
fn runs_processes(args: &[&str]) -> bool {
    let command = args.first().copied().unwrap_or_default();
    [
        "replay", "bench", "shrink", "torture", "generate", "example",
    ]
    .contains(&command)
        || args.contains(&"--concurrent")
}

/// Everything a run printed: stdout, then stderr.
pub fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// Runs `tdb-replay ARGS`, requires exit status 0 and returns everything it printed.
pub fn succeeds(args: &[&str]) -> String {
    let output = tdb_replay(args);
    let out = text(&output);
    assert!(output.status.success(), "{args:?}:\n{out}");
    out
}

/// Runs `tdb-replay ARGS`, requires exit status `code` and returns everything it printed.
pub fn exits_with(code: i32, args: &[&str]) -> String {
    let output = tdb_replay(args);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(code), "{args:?}:\n{out}");
    out
}

/// Requires `out` to contain every one of `needles`.
pub fn assert_says(out: &str, needles: &[&str]) {
    for needle in needles {
        assert!(out.contains(needle), "{needle:?} not in:\n{out}");
    }
}

/// Whether a command's output reports the analysis's one known gap, a dependency
/// circle in some self-recorded sets (README, known limits). The CLI only shows it as
/// text, which is what a user sees, so it is recognised here, in one place.
pub fn reports_known_analysis_gap(out: &str) -> bool {
    out.contains("circle")
}

/// A file of the handwritten two-process fixture (`a.trace` or `b.trace`).
pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/handwritten")
        .join(name)
        .display()
        .to_string()
}

/// The handwritten fixture's two traces, `a.trace` and `b.trace`.
pub fn fixture_set() -> [&'static str; 2] {
    static SET: OnceLock<[String; 2]> = OnceLock::new();
    let set = SET.get_or_init(|| [fixture("a.trace"), fixture("b.trace")]);
    [&set[0], &set[1]]
}

/// `args` followed by the handwritten fixture's two traces.
pub fn on_fixture<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(fixture_set());
    all
}

/// `path` as the `&str` an argument list takes.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Writes `content` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write file");
    path.display().to_string()
}

/// The files in `dir` whose names start with `prefix`, sorted.
pub fn files_starting_with(dir: &Path, prefix: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with(prefix))
        })
        .map(|path| path.display().to_string())
        .collect();
    files.sort();
    files
}

/// Samba's test files, if this machine has them (`TDB_PURE_TEST_FILES`, or `shared/`
/// beside the checkout).
pub fn tdb_files() -> Option<PathBuf> {
    let dir = std::env::var_os("TDB_PURE_TEST_FILES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/tdb-files"));
    if dir.join("sample_tdb.tdb").exists() {
        Some(dir)
    } else {
        eprintln!("Samba's test tdb files not found: skipped");
        None
    }
}

/// Record a concurrent set with `tdb-replay generate` (three processes); returns the
/// trace paths. Known gap: about one heavily stalled recording in a hundred ends in a
/// dependency cycle, so `usable` may ask for another seed (at most two).
pub fn generated_set(dir: &Path, mut usable: impl FnMut(&[String]) -> bool) -> Vec<String> {
    for seed in 1..=3u32 {
        let traces = dir.join(format!("set{seed}"));
        let seed = seed.to_string();
        let output = tdb_replay(&[
            "generate",
            "--processes",
            "3",
            "--ops",
            "150",
            "--seed",
            &seed,
            "--dir",
            arg(&traces),
        ]);
        assert!(output.status.success(), "{}", text(&output));
        let paths: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(paths.len(), 3, "{}", text(&output));
        if usable(&paths) {
            return paths;
        }
    }
    panic!("three recordings in a row ended in a dependency cycle");
}

/// The first figure after `label` at the start of a line of `out`.
pub fn figure(out: &str, label: &str) -> f64 {
    let line = out
        .lines()
        .find(|line| line.starts_with(label))
        .unwrap_or_else(|| panic!("missing {label:?} in:\n{out}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|figure| figure.parse().ok())
        .unwrap_or_else(|| panic!("no figure in {line:?}"))
}

/// The path of the `Database: PATH` line a command prints when it picked the path.
pub fn database_printed(out: &str) -> PathBuf {
    let line = out
        .lines()
        .find(|line| line.starts_with("Database: "))
        .unwrap_or_else(|| panic!("no database path printed: {out}"));
    PathBuf::from(line.trim_start_matches("Database: "))
}

/// Runs a `--json` command, requires success, and returns the JSON document on stdout
/// (the whole of stdout) and the human report on stderr.
pub fn json_run(args: &[&str]) -> (Value, String) {
    let output = tdb_replay(args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let value: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|error| panic!("stdout is not one JSON document ({error}):\n{stdout}"));
    (value, stderr)
}

/// The number after `label` in `text` (up to the next space or `;`/`,`).
pub fn after(text: &str, label: &str) -> f64 {
    let at = text
        .find(label)
        .unwrap_or_else(|| panic!("{label:?} not in:\n{text}"));
    let rest = text[at + label.len()..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end]
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in:\n{text}"))
}

/// Requires a JSON figure and the human report's (printed to `decimals` places) to be
/// the same number.
pub fn close(json: f64, human: f64, decimals: i32) {
    let unit = 10f64.powi(-decimals);
    assert!(
        (json - human).abs() <= unit / 2.0 + 1e-9,
        "JSON {json} vs human {human}"
    );
}
