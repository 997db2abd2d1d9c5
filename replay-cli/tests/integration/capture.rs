//! `tdb-replay capture`: unmodified programs (Debian's python3-tdb, tdbtool, tdbrestore)
//! run with the interposer preloaded; their traces replay on every engine with every
//! result matched, `diff` agrees, and the database a replay leaves holds the records the
//! program left. Tests that need a Debian program skip, saying so, where it is missing
//! (CI installs them all).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::util::{arg, assert_says, succeeds, tdb_replay, tdb_replay_with_env, text};

/// The workload the python tests run (see its docstring).
const WORKLOAD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/capture/workload.py");
/// Debian's python, the one python3-tdb is installed for.
const PYTHON: &str = "/usr/bin/python3";

/// Build the interposer library beside the binary (`cargo test` builds no cdylib), once;
/// with replay-cli, so that the engine's features are the workspace's and the build
/// reuses what `cargo test` compiled.
fn library_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "-p",
                "tdb-capture",
                "-p",
                "replay-cli",
                "--manifest-path",
                manifest,
            ])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building tdb-capture failed");
    });
}

/// Whether `program` can run here; prints why a test skips when not.
fn available(program: &str, probe: &[&str]) -> bool {
    let ran = Command::new(program).args(probe).output();
    let ok = ran.is_ok_and(|output| output.status.success());
    if !ok {
        eprintln!("skipped: {program} {probe:?} does not run here (CI installs it)");
    }
    ok
}

fn python_tdb_available() -> bool {
    available(PYTHON, &["-c", "import tdb"])
}

/// `tdb-replay capture --dir DIR EXTRA -- COMMAND`, which must succeed; its output.
fn capture(dir: &Path, extra: &[&str], command: &[&str]) -> String {
    capture_with_env(dir, extra, command, &[])
}

/// [`capture`] with extra environment variables for the program.
fn capture_with_env(
    dir: &Path,
    extra: &[&str],
    command: &[&str],
    env: &[(&str, &OsStr)],
) -> String {
    library_built();
    let mut args = vec!["capture", "--dir", arg(dir)];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(command);
    let output = tdb_replay_with_env(&args, env);
    let out = text(&output);
    assert!(output.status.success(), "{args:?}:\n{out}");
    out
}

/// tdb-pure's drop-in `libtdb.so.1` (crate tdb-capi), built once; its directory.
fn tdb_pure_libtdb() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let status = Command::new("sh")
                .arg(root.join("tdb-capi/build-so.sh"))
                .env("CARGO", env!("CARGO"))
                .status()
                .expect("sh runs");
            assert!(status.success(), "building tdb-pure's libtdb.so.1 failed");
            let dir = root.join("target/release").canonicalize().unwrap();
            assert!(dir.join("libtdb.so.1").is_file());
            dir
        })
        .clone()
}

/// The trace files of database `db` in `dir`.
fn traces_of(dir: &Path, db: &str) -> Vec<String> {
    let prefix = format!("{db}.trace.");
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .expect("the capture directory exists")
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
        .map(|entry| entry.path().to_string_lossy().into_owned())
        .collect();
    found.sort();
    found
}

/// The records of the database at `path`, as `tdb-replay dump` prints them, as a set
/// (the order of a dump follows the file's layout, which a replay need not reproduce).
fn records(path: &Path) -> BTreeSet<String> {
    let out = succeeds(&["dump", arg(path)]);
    out.split("}\n")
        .map(str::trim)
        .filter(|block| !block.is_empty())
        .map(str::to_string)
        .collect()
}

/// Replay `traces` (written in `layout`) on every engine into `work`, as capture says
/// to, requiring every result matched and the database left to hold `expected`'s
/// records; then `diff`, which must agree.
fn replays_everywhere(work: &Path, traces: &[String], layout: &str, expected: &Path) {
    assert!(!traces.is_empty(), "no traces of {}", expected.display());
    let name = expected.file_name().unwrap().to_string_lossy().into_owned();
    for backend in ["c", "pure", "mixed"] {
        let replayed = work.join(format!("{name}.{backend}"));
        let mut args = vec!["replay", "--flavour", layout, "--backend", backend];
        args.push(arg(&replayed));
        args.extend(traces.iter().map(String::as_str));
        let out = succeeds(&args);
        assert_says(&out, &["all results matched"]);
        assert_eq!(
            records(&replayed),
            records(expected),
            "{backend}: the replayed {name} differs from the program's"
        );
    }
    let mut args = vec!["diff", "--flavour", layout];
    args.extend(traces.iter().map(String::as_str));
    assert_says(&succeeds(&args), &["The engines agree"]);
}

/// Lines of the traces whose op (the second word) is `op`.
fn count_op(traces: &[String], op: &str) -> usize {
    traces
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .map(|text| {
            text.lines()
                .filter(|line| line.split(' ').nth(1) == Some(op))
                .count()
        })
        .sum()
}

/// The python workload under capture in `layout`: forked and exec'd workers, two
/// databases, every replay matches.
fn python_workload(layout: &str, env: &[(&str, &OsStr)]) {
    let work = tempfile::tempdir().unwrap();
    let traces = work.path().join("traces");
    let out = capture_with_env(
        &traces,
        &["--layout", layout],
        &[PYTHON, WORKLOAD, arg(work.path()), "3", "160"],
        env,
    );
    assert_says(
        &out,
        &["of 2 databases", "a.tdb: 5 processes", "b.tdb: 5 processes"],
    );
    assert_says(&out, &["tdb-replay replay --flavour", layout]);
    for db in ["a.tdb", "b.tdb"] {
        let files = traces_of(&traces, db);
        assert_eq!(files.len(), 5, "one trace per process of {db}");
        for file in &files {
            let mode = std::fs::metadata(file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        replays_everywhere(work.path(), &files, layout, &work.path().join(db));
    }
    let b = traces_of(&traces, "b.tdb");
    let a = traces_of(&traces, "a.tdb");
    // The calls inside a traverse callback are traced in place; chain locks, appends,
    // transactions committed and cancelled, key walks, all-record locks are all there.
    let text = std::fs::read_to_string(&b[0]).unwrap();
    let deleting = text
        .lines()
        .skip_while(|line| !line.ends_with(" tdb_traverse_start"));
    assert!(
        deleting
            .take_while(|line| !line.contains("tdb_traverse_end"))
            .any(|line| line.contains(" tdb_delete ")),
        "a delete inside the traverse callback is traced in place:\n{text}"
    );
    for (traces, op) in [
        (&b, "tdb_chainlock"),
        (&b, "tdb_chainunlock"),
        (&b, "traverse"),
        (&a, "tdb_append"),
        (&a, "tdb_storev"),
        (&a, "tdb_transaction_cancel"),
        (&a, "tdb_transaction_commit"),
        (&a, "tdb_transaction_prepare_commit"),
        (&a, "tdb_nextkey"),
        (&a, "tdb_lockall"),
    ] {
        assert!(count_op(traces, op) > 0, "no {op} line");
    }
    // One call, one line: every file starts with its open and ends with its close.
    for file in a.iter().chain(&b) {
        let text = std::fs::read_to_string(file).unwrap();
        assert_eq!(
            count_op(std::slice::from_ref(file), "tdb_open"),
            1,
            "{file}"
        );
        assert!(text.ends_with(" tdb_close\n"), "{file}");
    }
}

/// Debian's python3-tdb, in Samba's layout (the library's default).
#[test]
fn capture_python_workload_replays_everywhere() {
    if python_tdb_available() {
        python_workload("samba", &[]);
    }
}

/// The same workload in ccan's layout.
#[test]
fn capture_python_workload_in_ccan_layout_replays_everywhere() {
    if python_tdb_available() {
        python_workload("ccan", &[]);
    }
}

/// The same workload over tdb-pure's `libtdb.so.1`, which python3-tdb then loads (through
/// `LD_LIBRARY_PATH`): the interposer wraps it as it wraps Debian's, and the traces
/// replay on every engine.
#[test]
fn capture_python_workload_over_tdb_pures_libtdb_replays_everywhere() {
    if !python_tdb_available() {
        return;
    }
    let dir = tdb_pure_libtdb();
    let maps = "import tdb; print(open('/proc/self/maps').read())";
    let probe = Command::new(PYTHON)
        .args(["-c", maps])
        .env("LD_LIBRARY_PATH", &dir)
        .output()
        .expect("python runs");
    let loaded = String::from_utf8_lossy(&probe.stdout);
    let ours = dir.join("libtdb.so.1");
    assert!(
        loaded.contains(arg(&ours)),
        "python3-tdb did not load {}",
        ours.display()
    );
    python_workload("samba", &[("LD_LIBRARY_PATH", dir.as_os_str())]);
}

/// Debian's tdbrestore and tdbtool (its command line and its interactive commands:
/// transactions, key walks, repack, check) under capture.
#[test]
fn capture_tdbtool_and_tdbrestore_replay_everywhere() {
    if !available("sh", &["-c", "command -v tdbrestore && command -v tdbtool"]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dump = work.path().join("in.dump");
    std::fs::write(
        &dump,
        "{\nkey(3) = \"abc\"\ndata(5) = \"hello\"\n}\n{\nkey(1) = \"x\"\ndata(0) = \"\"\n}\n",
    )
    .unwrap();
    let script = "tdbrestore r.tdb < in.dump && tdbtool r.tdb store k2 v2 && \
                  tdbtool r.tdb delete abc && printf 'transaction_start\\nstore t1 one\\n\
                  store t2 two\\ntransaction_commit\\ntransaction_start\\nstore t3 three\\n\
                  transaction_cancel\\nfirst\\nnext\\nrepack\\ncheck\\nquit\\n' | tdbtool r.tdb \
                  && tdbtool r.tdb keys";
    let traces = work.path().join("traces");
    let in_work = format!("cd '{}' && {script}", arg(work.path()));
    let out = capture(&traces, &[], &["sh", "-c", &in_work]);
    assert_says(&out, &["r.tdb: 5 processes"]);
    let files = traces_of(&traces, "r.tdb");
    assert_eq!(count_op(&files, "tdb_transaction_cancel"), 1);
    assert_eq!(count_op(&files, "tdb_repack"), 1);
    replays_everywhere(work.path(), &files, "samba", &work.path().join("r.tdb"));
}

/// A program that does not use tdb runs unchanged; capture says nothing was recorded.
#[test]
fn capture_of_a_program_without_tdb_records_nothing() {
    let work = tempfile::tempdir().unwrap();
    let traces = work.path().join("traces");
    let out = capture(&traces, &[], &["sh", "-c", "echo unchanged"]);
    assert_says(&out, &["unchanged", "nothing was recorded"]);
    assert_eq!(std::fs::read_dir(&traces).unwrap().count(), 0);
}

/// `--db` records only the matching databases.
#[test]
fn capture_db_pattern_limits_the_recording() {
    if !python_tdb_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let traces = work.path().join("traces");
    let out = capture(
        &traces,
        &["--db", "b.*"],
        &[PYTHON, WORKLOAD, arg(work.path()), "1", "16"],
    );
    assert_says(&out, &["of 1 database", "b.tdb: 3 processes"]);
    assert!(traces_of(&traces, "a.tdb").is_empty(), "{out}");
}

/// A program's failure is passed on (exit 1), its traces still listed; a program that
/// cannot run is bad input.
#[test]
fn capture_reports_a_failing_program() {
    library_built();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("traces");
    let failed = tdb_replay(&["capture", "--dir", arg(&dir), "--", "sh", "-c", "exit 3"]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert_says(&text(&failed), &["exit status: 3"]);
    let missing = tdb_replay(&["capture", "--dir", arg(&dir), "--", "/no/such/program"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert_says(&text(&missing), &["cannot run /no/such/program"]);
}

/// `--print-env` prints the two lines a program started elsewhere needs, with the
/// library's and the directory's absolute paths.
#[test]
fn capture_print_env_names_the_library_and_directory() {
    library_built();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("traces");
    let out = succeeds(&["capture", "--print-env", "--dir", arg(&dir)]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let library = PathBuf::from(
        lines[0]
            .strip_prefix("LD_PRELOAD=")
            .expect("LD_PRELOAD line"),
    );
    assert!(library.is_absolute() && library.is_file(), "{out}");
    let shown = lines[1]
        .strip_prefix("TDB_CAPTURE_DIR=")
        .expect("TDB_CAPTURE_DIR line");
    assert_eq!(Path::new(shown), dir.canonicalize().unwrap());
}
