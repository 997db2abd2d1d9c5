//! Engines chosen at run time (`lib:PATH`): Debian's libtdb.so.1 replays, diffs and
//! takes turns with the built-in engines; bad libraries are refused with exit 2; the A/B
//! bench tells a slowed engine from an identical one. Skipped, with the reason printed,
//! where Debian's libtdb1 or a C compiler is absent (CI installs both).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{
    arg, assert_says, exits_with, fixture_set, json_run, succeeds, tdb_replay, text,
};

const DEBIAN_LIBTDB: &str = "/usr/lib/x86_64-linux-gnu/libtdb.so.1";
const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";

/// `lib:` + Debian's library (named `NAME` when given), or `None` with a note.
fn debian(name: Option<&str>) -> Option<String> {
    if !Path::new(DEBIAN_LIBTDB).exists() {
        eprintln!("skipped: {DEBIAN_LIBTDB} is absent (apt-get install libtdb1)");
        return None;
    }
    Some(match name {
        Some(name) => format!("lib:{DEBIAN_LIBTDB}={name}"),
        None => format!("lib:{DEBIAN_LIBTDB}"),
    })
}

/// Compiles `source` into the shared library `dir/name` (linked with `link`), or `None`
/// with a note when there is no C compiler.
fn compile(dir: &Path, name: &str, source: &str, link: &[&str]) -> Option<PathBuf> {
    let c_file = dir.join(format!("{name}.c"));
    std::fs::write(&c_file, source).expect("write the C source");
    let library = dir.join(name);
    let output = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&library)
        .arg(&c_file)
        .args(link)
        .output();
    match output {
        Ok(output) if output.status.success() => Some(library),
        Ok(output) => panic!("cc failed: {}", String::from_utf8_lossy(&output.stderr)),
        Err(error) => {
            eprintln!("skipped: no C compiler ({error})");
            None
        }
    }
}

/// A single trace of `ops` operations recorded by `generate` (one process).
fn single_trace(dir: &Path, ops: &str) -> String {
    let out = dir.join("single");
    let output = tdb_replay(&[
        "generate",
        "--processes",
        "1",
        "--ops",
        ops,
        "--dir",
        arg(&out),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let trace = String::from_utf8_lossy(&output.stdout);
    trace.lines().next().expect("a trace path").to_string()
}

#[test]
fn debian_libtdb_replays_and_agrees_with_c_byte_for_byte() {
    let Some(lib) = debian(Some("debian")) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("lib.tdb");
    let [a, b] = fixture_set();
    let out = succeeds(&["replay", "--engines", &lib, arg(&db), a, b]);
    assert_says(&out, &["all results matched", "Latency on lib:debian"]);
    let out = succeeds(&["check", "--backend", &lib, arg(&db)]);
    assert_says(&out, &["sound (lib:debian backend)"]);

    let engines = format!("c,{lib}");
    let diff_dir = dir.path().join("diff");
    let (json, human) = json_run(&[
        "diff",
        "--engines",
        &engines,
        "--json",
        "--dir",
        arg(&diff_dir),
        a,
        b,
    ]);
    assert_eq!(json["verdict"], "agree", "{human}");
    assert_eq!(json["identical_files"], true, "{human}");
    assert_says(&human, &["on c and lib:debian"]);
}

#[test]
fn three_engines_take_turns_on_one_file() {
    let Some(lib) = debian(None) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let engines = format!("c,{lib},pure");
    let db = dir.path().join("torture.tdb");
    let out = succeeds(&[
        "torture",
        "--engines",
        &engines,
        "--procs",
        "3",
        "--ops",
        "200",
        "--seed",
        "7",
        "--record",
        arg(&dir.path().join("traces")),
        arg(&db),
    ]);
    assert_says(&out, &["in turn", "sound to every engine"]);
    // The recorded set replays on the three engines too, one trace each.
    let traces: Vec<String> = out
        .lines()
        .map(str::trim)
        .filter(|line| line.contains(".trace."))
        .filter(|line| !line.starts_with("Replay"))
        .map(str::to_owned)
        .collect();
    assert_eq!(traces.len(), 3, "{out}");
    let replayed = dir.path().join("replayed.tdb");
    let mut args = vec!["replay", "--engines", &engines, arg(&replayed)];
    args.extend(traces.iter().map(String::as_str));
    let out = succeeds(&args);
    assert_says(
        &out,
        &["all results matched", "sound to every engine", "to pure)"],
    );
}

#[test]
fn bad_libraries_exit_2_naming_what_is_wrong() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text_file = dir.path().join("notes.so");
    std::fs::write(&text_file, "not a library\n").expect("write");
    let trace = fixture_set()[0];
    let refused = |lib: &str| {
        let engine = format!("lib:{lib}");
        let out = exits_with(2, &["replay", "--engines", &engine, trace]);
        let last = out.lines().last().unwrap_or_default().to_string();
        assert!(last.contains(lib), "{out}");
        last
    };
    assert_says(
        &refused(arg(&text_file)),
        &["not a shared library (not an ELF file)"],
    );
    assert_says(&refused("/no/such/libtdb.so"), &["cannot be read"]);
    if Path::new(LIBC).exists() {
        assert_says(&refused(LIBC), &["not a libtdb: it has no tdb_open_ex"]);
    }
    // Every function a replay needs but tdb_transaction_start, as stubs.
    let stubs: String = tdb_sys::REQUIRED_SYMBOLS
        .iter()
        .filter(|name| **name != "tdb_transaction_start")
        .map(|name| format!("void {name}(void) {{}}\n"))
        .collect();
    if let Some(library) = compile(dir.path(), "libnotx.so", &stubs, &[]) {
        assert_says(
            &refused(arg(&library)),
            &["lacks tdb_transaction_start, which every replay needs"],
        );
    }
    let out = exits_with(2, &["replay", "--engines", "lib:", trace]);
    assert_says(&out, &["names no library"]);
    let out = exits_with(2, &["diff", "--engines", "c", trace]);
    assert_says(&out, &["diff compares two engines, not 1"]);
}

/// Wraps Debian's tdb_store with a 200 µs sleep (dlsym(RTLD_NEXT) finds the real one).
const SLOW_STORE: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <time.h>
typedef struct { unsigned char *dptr; size_t dsize; } TDB_DATA;
struct tdb_context;
typedef int (*store_fn)(struct tdb_context *, TDB_DATA, TDB_DATA, int);
int tdb_store(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, int flag)
{
	static store_fn next;
	struct timespec pause = { 0, 200000 };
	if (next == NULL)
		next = (store_fn)dlsym(RTLD_NEXT, "tdb_store");
	nanosleep(&pause, NULL);
	return next(tdb, key, data, flag);
}
"#;

/// `bench --engines ENGINES --json -n RUNS TRACE`: the first comparison.
fn ab_bench(engines: &str, runs: &str, trace: &str, db: &Path) -> Value {
    let (json, _) = json_run(&[
        "bench",
        "--engines",
        engines,
        "-n",
        runs,
        "--json",
        "--overwrite",
        "--tdbfile",
        arg(db),
        trace,
    ]);
    json["comparisons"][0].clone()
}

#[test]
fn a_slowed_engine_is_reported_slower() {
    let Some(debian) = debian(Some("debian")) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(slow) = compile(
        dir.path(),
        "libslow.so",
        SLOW_STORE,
        &["-Wl,--no-as-needed", DEBIAN_LIBTDB, "-ldl"],
    ) else {
        return;
    };
    let trace = single_trace(dir.path(), "300");
    let engines = format!("{debian},lib:{}=slow", slow.display());
    let report = dir.path().join("ab.html");
    let db = dir.path().join("ab.tdb");
    let (json, human) = json_run(&[
        "bench",
        "--engines",
        &engines,
        "-n",
        "6",
        "--json",
        "--report",
        arg(&report),
        "--tdbfile",
        arg(&db),
        &trace,
    ]);
    let comparison = &json["comparisons"][0];
    assert_eq!(comparison["baseline"], "lib:debian", "{human}");
    assert_eq!(comparison["engine"], "lib:slow", "{human}");
    assert_eq!(comparison["verdict"], "slower", "{human}");
    assert!(
        comparison["ci_low"].as_f64().expect("ci_low") > 1.0,
        "{human}"
    );
    let store = comparison["ops"]
        .as_array()
        .expect("per-op comparisons")
        .iter()
        .find(|op| op["op"] == "tdb_store")
        .unwrap_or_else(|| panic!("no tdb_store comparison: {human}"));
    assert_eq!(store["verdict"], "slower", "{human}");
    assert_says(
        &human,
        &["A/B: lib:slow is", "slower than lib:debian (95% CI"],
    );
    assert_eq!(
        json["engines"][1]["replay_ms"].as_array().map(Vec::len),
        Some(6)
    );
    // The report: one SVG per plot, each naming both engines; never over a file.
    let html = std::fs::read_to_string(&report).expect("the report");
    let svgs: Vec<&str> = html.split("<svg").skip(1).collect();
    assert_eq!(svgs.len(), 3, "one SVG per plot");
    for svg in svgs {
        assert_says(svg, &["lib:debian", "lib:slow"]);
    }
    let out = exits_with(
        2,
        &[
            "bench",
            "--engines",
            &engines,
            "-n",
            "1",
            "--report",
            arg(&report),
            "--tdbfile",
            arg(&db),
            &trace,
        ],
    );
    assert_says(&out, &["the file exists; pass --overwrite"]);
}

#[test]
fn identical_engines_show_no_significant_difference() {
    let Some(lib) = debian(None) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = single_trace(dir.path(), "60");
    let engines = format!("{lib}=a,{lib}=b");
    let db = dir.path().join("ab.tdb");
    let benches = 20;
    let alike = (0..benches)
        .filter(|_| ab_bench(&engines, "6", &trace, &db)["verdict"] == "no_significant_difference")
        .count();
    assert!(
        alike >= 18,
        "only {alike} of {benches} benches saw no difference"
    );
}
