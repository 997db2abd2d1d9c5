//! The ABI benchmark (issue 16, "Speed"): the same single operations through the C ABI
//! on Debian's libtdb.so.1 and on ours (testdata/bench/abi_bench.c, one binary linked
//! against Debian's, run on each through `LD_LIBRARY_PATH`), and on tdb-pure called
//! from Rust (examples/abi_bench_pure.rs, the same operations in `pure.rs`, also a
//! single-threaded process of its own), in one run: rounds interleaved, each starting
//! with another side, the best round reported.
//!
//! `make capi-bench` runs the full benchmark (an ignored test, so `cargo test` only
//! runs the small smoke test below):
//! `cargo test --release -p tdb-capi --test abi_bench -- --ignored --nocapture`.
//! `TDB_CAPI_BENCH_RECORDS` (10000), `TDB_CAPI_BENCH_HASH_SIZE` (10007) and
//! `TDB_CAPI_BENCH_ROUNDS` (11) change its size.

#[allow(dead_code, unused_imports)] // shared with the `abi` tests, which use all of it
#[path = "../abi/util/mod.rs"]
mod util;

mod table;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use util::{debian_present, on, run, testdata, Lib};

/// Compiles the C benchmark against the vendored header and Debian's library.
fn compile(dir: &Path) -> PathBuf {
    let program = dir.join("abi_bench");
    util::c_program::gcc(&program, &[testdata().join("bench/abi_bench.c")], "-O2");
    program
}

/// Builds the Rust side (examples/abi_bench_pure.rs) into this test's target directory
/// (cargo holds no lock while tests run).
fn pure_program() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("<target>/<profile>/deps/<test>");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "-p",
            "tdb-capi",
            "--example",
            "abi_bench_pure",
        ])
        .env("CARGO_TARGET_DIR", target)
        .status()
        .expect("running cargo");
    assert!(
        status.success(),
        "building examples/abi_bench_pure.rs failed"
    );
    target.join("release/examples/abi_bench_pure")
}

/// One run of a benchmark program on `lib`: (op, nanoseconds per op).
fn run_side(lib: Lib, program: &Path, file: &Path, size: (usize, u32)) -> Vec<(String, f64)> {
    let mut cmd = on(lib, program);
    cmd.arg(file)
        .arg(size.0.to_string())
        .arg(size.1.to_string());
    let out = run(&mut cmd, b"", Duration::from_secs(300));
    out.assert_ok(&format!("{} on {}", program.display(), lib.name()));
    let parse = |l: &str| -> Option<(String, f64)> {
        let (op, ns) = l.split_once(' ')?;
        Some((op.to_string(), ns.parse().ok()?))
    };
    out.stdout
        .lines()
        .map(|l| parse(l).unwrap_or_else(|| panic!("{} printed {l:?}", program.display())))
        .collect()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `rounds` interleaved rounds of the three sides on databases of `size`
/// (records, hash size).
fn measure(size: (usize, u32), rounds: usize) -> table::Samples {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let c = compile(dir.path());
    let pure = pure_program();
    let file = dir.path().join("bench.tdb");
    let sides = [
        ("debian", Lib::Debian, &c),
        ("ours", Lib::Ours, &c),
        ("pure", Lib::Ours, &pure),
    ];
    let mut samples = table::Samples::default();
    for round in 0..rounds {
        for i in 0..sides.len() {
            let (name, lib, program) = sides[(i + round) % sides.len()];
            samples.add(name, run_side(lib, program, &file, size));
        }
    }
    samples
}

/// The benchmark's operations run and check their results on both libraries and on
/// tdb-pure (a small size; this is not a timing).
#[test]
fn bench_operations_run_everywhere() {
    if !debian_present() {
        return;
    }
    let samples = measure((1000, 131), 1);
    assert_eq!(
        samples.ops(),
        table::OPS,
        "every side reports every operation"
    );
}

/// The full benchmark: prints the table that docs/BENCHMARKS.md shows.
#[test]
#[ignore = "a benchmark: run with `make capi-bench`"]
fn abi_bench() {
    if !debian_present() {
        return;
    }
    let records = env_or("TDB_CAPI_BENCH_RECORDS", 10000);
    let hash_size = env_or("TDB_CAPI_BENCH_HASH_SIZE", 10007);
    let rounds = env_or("TDB_CAPI_BENCH_ROUNDS", 11);
    let samples = measure((records, hash_size), rounds);
    println!(
        "\n{records} records of 100 bytes, hash size {hash_size}, TDB_NOSYNC, fastest batch \
         of the best of {rounds} interleaved rounds;\nours = {}\n",
        Lib::Ours.file().display()
    );
    println!("{}", samples.render());
}
