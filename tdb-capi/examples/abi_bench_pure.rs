//! The ABI benchmark's Rust side: the operations of testdata/bench/abi_bench.c on
//! tdb-pure called from Rust, in a process of its own (single-threaded, like the C
//! program), printing the same `op nanoseconds` lines. Run by
//! tdb-capi/tests/abi_bench (`make capi-bench`).
//!
//! Usage: abi_bench_pure FILE RECORDS HASH_SIZE

#[path = "../tests/abi_bench/pure.rs"]
mod pure;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [file, records, hash_size] => records
            .parse()
            .ok()
            .zip(hash_size.parse().ok())
            .map(|(r, h)| (file, r, h)),
        _ => None,
    };
    let Some((file, records, hash_size)) =
        parsed.filter(|(_, r, _)| (1000..100_000_000).contains(r))
    else {
        eprintln!("usage: abi_bench_pure FILE RECORDS HASH_SIZE (RECORDS in 1000..1e8)");
        return ExitCode::from(2);
    };
    for (op, ns) in pure::run(std::path::Path::new(file), records, hash_size) {
        println!("{op} {ns:.1}");
    }
    ExitCode::SUCCESS
}
