//! Writes a report from synthetic samples, to see what `bench --report` draws:
//! `cargo run --release -p ab-report --example demo_report -- report.html`.

use std::process::ExitCode;

#[path = "../tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: demo_report OUTPUT.html");
        return ExitCode::from(2);
    };
    let (engines, comparisons) = common::bench(["c", "lib:patched", "pure"]);
    for c in &comparisons {
        println!("{}", c.replay);
    }
    let title = "tdb-replay bench (synthetic samples)";
    let html = ab_report::render_html(title, &engines, &comparisons);
    if let Err(error) = std::fs::write(&path, html) {
        eprintln!("cannot write {path}: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
