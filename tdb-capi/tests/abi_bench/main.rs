//! The ABI benchmark (issue 16, "Speed"): the same single operations through the C ABI
//! on Debian's libtdb.so.1 and on ours (testdata/bench/abi_bench.c, one binary linked
//! against Debian's, run on each through `LD_LIBRARY_PATH`), and on tdb-pure called
//! from Rust (`pure`), in one run, rounds interleaved (each starting with another
//! side), medians reported.
//!
//! `make capi-bench` runs the full benchmark (an ignored test, so `cargo test` only
//! runs the small smoke test below):
//! `cargo test --release -p tdb-capi --test abi_bench -- --ignored --nocapture`.
//! `TDB_CAPI_BENCH_RECORDS` (10000), `TDB_CAPI_BENCH_HASH_SIZE` (10007) and
//! `TDB_CAPI_BENCH_ROUNDS` (11) change its size.

#[allow(dead_code, unused_imports)] // shared with the `abi` tests, which use all of it
#[path = "../abi/util/mod.rs"]
mod util;

mod pure;
mod table;

use std::path::{Path, PathBuf};
use std::time::Duration;

use util::{debian_present, on, run, testdata, Lib};

/// Compiles the C benchmark against the vendored header and Debian's library.
fn compile(dir: &Path) -> PathBuf {
    let program = dir.join("abi_bench");
    util::c_program::gcc(&program, &[testdata().join("bench/abi_bench.c")], "-O2");
    program
}

/// One run of the C benchmark on `lib`: (op, nanoseconds per op).
fn run_c(
    lib: Lib,
    program: &Path,
    file: &Path,
    records: usize,
    hash_size: u32,
) -> Vec<(String, f64)> {
    let mut cmd = on(lib, program);
    cmd.arg(file)
        .arg(records.to_string())
        .arg(hash_size.to_string());
    let out = run(&mut cmd, b"", Duration::from_secs(300));
    out.assert_ok(&format!("abi_bench on {}", lib.name()));
    out.stdout
        .lines()
        .map(|l| {
            let (op, ns) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("abi_bench printed {l:?}"));
            (
                op.to_string(),
                ns.parse()
                    .unwrap_or_else(|_| panic!("abi_bench printed {l:?}")),
            )
        })
        .collect()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `rounds` interleaved rounds of the three sides.
fn measure(records: usize, hash_size: u32, rounds: usize) -> table::Samples {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let program = compile(dir.path());
    let file = dir.path().join("bench.tdb");
    let mut samples = table::Samples::default();
    for _ in 0..rounds {
        samples.add(
            "debian",
            run_c(Lib::Debian, &program, &file, records, hash_size),
        );
        samples.add(
            "ours",
            run_c(Lib::Ours, &program, &file, records, hash_size),
        );
        samples.add("pure", pure::run(&file, records, hash_size));
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
    let samples = measure(1000, 131, 1);
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
    let samples = measure(records, hash_size, rounds);
    println!(
        "\n{records} records of 100 bytes, hash size {hash_size}, TDB_NOSYNC, median of {rounds} interleaved rounds;\n\
         ours = {}\n",
        Lib::Ours.file().display()
    );
    println!("{}", samples.render());
}
