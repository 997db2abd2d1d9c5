//! `tdb-replay torture`: a random multi-process workload on one database, on C tdb, on
//! tdb-pure or on both at once, optionally recorded; then the database is checked by
//! both engines, and against what the processes' successful operations imply.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use replay_engine::backend::Backend;
use replay_engine::record::Layout;
use replay_engine::torture::{self, Mix, TortureError, TortureOptions, TortureReport};

use crate::args::{EngineChoice, TortureArgs};
use crate::commands::{claim_scratch, recording, BadInput, CBackend, PureBackend};

pub fn run(args: &TortureArgs) -> Result<()> {
    claim_scratch(&args.tdbfile, args.overwrite)?;
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |since| since.as_secs() % 1_000_000)
    });
    let record = recording(&args.record, &args.tdbfile)?.map(|mut record| {
        // A transient lock refusal is retried, so every recorded line can be replayed.
        record.retry_lock_errors = true;
        if args.mutex {
            // Only Samba's tdb has mutexes, and readers take such traces for Samba's.
            record.layout = Layout::Samba;
        }
        record
    });
    let options = TortureOptions {
        processes: args.procs as usize,
        mix: Mix {
            ops: args.ops,
            keys: args.keys as usize,
            transactions: args.transactions,
            exotic: args.exotic,
            always_transactions: args.kill > 0,
        },
        seed,
        hash_size: args.hash_size,
        record,
        kills: args.kill,
        mutex: args.mutex,
    };
    let engines = match args.backend {
        EngineChoice::C => "C tdb",
        EngineChoice::Pure => "tdb-pure",
        EngineChoice::Mixed => "C tdb and tdb-pure alternately",
    };
    println!(
        "Torturing {} with {} processes on {engines}, {} operations each{}{}{}, seed {seed}",
        args.tdbfile.display(),
        options.processes,
        options.mix.ops,
        if args.transactions {
            ", with transactions"
        } else {
            ""
        },
        if args.exotic {
            ", with key walks, all-record locks and wipes"
        } else {
            ""
        },
        if args.mutex {
            ", robust-mutex locking"
        } else {
            ""
        },
    );
    if args.kill > 0 {
        println!(
            "Killing {} processes at random moments (SIGKILL) and restarting them; every \
             write is in a transaction",
            args.kill
        );
    }
    let outcome = match args.backend {
        EngineChoice::C => torture::run::<CBackend, CBackend>(&args.tdbfile, &options),
        EngineChoice::Pure => torture::run::<PureBackend, PureBackend>(&args.tdbfile, &options),
        EngineChoice::Mixed => torture::run::<CBackend, PureBackend>(&args.tdbfile, &options),
    };
    let report = match outcome {
        Ok(report) => report,
        Err(TortureError::Setup(message)) => return Err(BadInput(message).into()),
        Err(error @ TortureError::Process(_)) => bail!(
            "{error}\nRepeat it with --seed {seed}; the database is kept at {}.",
            args.tdbfile.display()
        ),
    };
    println!(
        "{} processes finished in {:.1} ms{}; every read of a process's own keys matched its \
         own writes",
        options.processes,
        report.elapsed.as_secs_f64() * 1e3,
        if report.kills > 0 {
            format!(" ({} killed and restarted)", report.kills)
        } else {
            String::new()
        }
    );
    verify_with::<CBackend>(args, &report)?;
    verify_with::<PureBackend>(args, &report)?;
    if !report.traces.is_empty() {
        println!("Recorded {} traces:", report.traces.len());
        for path in &report.traces {
            println!("  {}", path.display());
        }
        if let Some(dir) = &args.record.record {
            println!(
                "Replay them with: tdb-replay replay --backend mixed replay.tdb {}/{}.trace.*",
                dir.display(),
                args.tdbfile
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// Check the final database with engine `B` and print what was verified.
fn verify_with<B: Backend>(args: &TortureArgs, report: &TortureReport) -> Result<()> {
    match torture::verify::<B>(&args.tdbfile, args.hash_size, &report.expectations) {
        Ok(verified) => {
            println!(
                "{:<5} check passed; {} records: {} private values exact, {} shared values \
                 among those written{}",
                B::NAME,
                verified.records,
                verified.private_checked,
                verified.shared_checked,
                if report.expectations.iter().any(|e| e.wiped) {
                    " (a wipe made private keys unknown)"
                } else {
                    ""
                }
            );
            match (&verified.tolerated_check, &verified.leftovers) {
                (Some(complaint), Some(leftovers)) => println!(
                    "      (accepted C's check complaint \"{complaint}\": tdb-pure's check \
                     {leftovers}; C's recovery leaves those bytes as they were, no list uses them)"
                ),
                (Some(complaint), None) => println!(
                    "      (accepted C's check complaint \"{complaint}\": the zeros a killed \
                     commit that grew the file leaves at its end, which C's check misreads)"
                ),
                (None, Some(leftovers)) => println!("      (tdb-pure's check {leftovers})"),
                (None, None) => {}
            }
            Ok(())
        }
        Err(violation) => bail!(
            "{violation}\nThe database is kept at {}.",
            args.tdbfile.display()
        ),
    }
}
