//! Loads trace files and prints what they hold and how long the load took:
//! `cargo run --release -p replay-engine --no-default-features --example load -- FILE...`
//! (`--flavour ccan|samba|auto` may come first).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use replay_engine::trace::{load_traces, FlavourChoice, LoadOptions};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = LoadOptions::default();
    if args.first().map(String::as_str) == Some("--flavour") && args.len() >= 2 {
        match args[1].parse::<FlavourChoice>() {
            Ok(flavour) => opts.flavour = flavour,
            Err(err) => {
                eprintln!("{err}");
                return ExitCode::from(2);
            }
        }
        args.drain(..2);
    }
    let paths: Vec<PathBuf> = args.into_iter().map(PathBuf::from).collect();
    let start = Instant::now();
    let traces = match load_traces(&paths, &opts) {
        Ok(traces) => traces,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let elapsed = start.elapsed();
    for trace in &traces {
        for warning in &trace.warnings {
            eprintln!("warning: {warning}");
        }
        println!(
            "{}: {} ops, {} arena bytes, {:?}, closed: {}",
            trace.name,
            trace.ops.len(),
            trace.arena.len(),
            trace.flavour,
            trace.closed
        );
    }
    println!(
        "loaded {} files in {:.3} s",
        traces.len(),
        elapsed.as_secs_f64()
    );
    ExitCode::SUCCESS
}
