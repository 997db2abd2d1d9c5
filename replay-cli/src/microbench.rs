//! `tdb-replay microbench`: single operations on C tdb and tdb-pure, side by side in the
//! same run, at a few database sizes. Every workload checks its results, so a backend
//! that fails an operation is reported instead of being timed doing nothing.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use replay_engine::backend::{
    tdb_flags, Backend, ChainLockOp, OpenOptions, StoreFlag, TraverseKind,
};

use replay_engine::scratch;

use crate::args::{BenchBackends, MicrobenchArgs};
use crate::commands::{BadInput, CBackend, PureBackend};
use crate::output::Out;
use serde::Serialize;

/// Length of every record's data.
const DATA_LEN: usize = 100;

/// The operations measured, in the order printed.
const WORKLOADS: [&str; 8] = [
    "fetch",
    "store (replace)",
    "store (new key)",
    "delete",
    "traverse (per record)",
    "chainlock round trip",
    "transaction of 1 store",
    "transaction of 1000 stores",
];

/// Time per operation of each workload, in `WORKLOADS` order.
type Figures = [Duration; WORKLOADS.len()];

/// The workloads shown again under robust-mutex locking (indexes into `WORKLOADS`): the
/// keyed operations, whose cost is mostly the chain lock.
const MUTEX_ROWS: [usize; 5] = [0, 1, 2, 3, 5];

pub fn run(args: &MicrobenchArgs) -> Result<()> {
    if args.records.contains(&0) {
        return Err(
            BadInput("--records: every database size must be at least 1 record".into()).into(),
        );
    }
    match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            run_in(args, dir)
        }
        None => {
            let temporary = tempfile::Builder::new()
                .prefix("tdb-microbench.")
                .tempdir()
                .context("cannot create a temporary directory")?;
            run_in(args, temporary.path())
        }
    }
}

/// The JSON document of `microbench --json` (fields documented in the README).
#[derive(Serialize)]
struct MicrobenchJson {
    command: &'static str,
    hash_size: u32,
    data_bytes: usize,
    runs: u32,
    ops: usize,
    rows: Vec<RowJson>,
    /// The keyed operations again on robust-mutex files.
    mutex_rows: Vec<MutexRowJson>,
}

#[derive(Serialize)]
struct MutexRowJson {
    records: usize,
    operation: &'static str,
    c_mutex_ns: Option<f64>,
    pure_mutex_ns: Option<f64>,
    pure_over_c: Option<f64>,
    c_mutex_over_fcntl: Option<f64>,
    pure_mutex_over_fcntl: Option<f64>,
}

#[derive(Serialize)]
struct RowJson {
    records: usize,
    operation: &'static str,
    c_ns: Option<f64>,
    pure_ns: Option<f64>,
    pure_over_c: Option<f64>,
}

fn run_in(args: &MicrobenchArgs, dir: &Path) -> Result<()> {
    let out = Out::new(args.json, false);
    let mut doc = MicrobenchJson {
        command: "microbench",
        hash_size: if args.hash_size == 0 {
            131
        } else {
            args.hash_size
        },
        data_bytes: DATA_LEN,
        runs: args.runs.max(1),
        ops: args.ops.max(1),
        rows: Vec::new(),
        mutex_rows: Vec::new(),
    };
    let hash = if args.hash_size == 0 {
        "131 (default)".to_string()
    } else {
        args.hash_size.to_string()
    };
    out.line(format!(
        "hash size {hash}, {DATA_LEN}-byte data, TDB_NOSYNC; best of {} runs; ns per operation",
        args.runs.max(1)
    ));
    out.line(format!(
        "{:>8}  {:<28}{:>12}{:>12}{:>9}",
        "records", "operation", "c", "pure", "pure/c"
    ));
    let mut mutex_tables = Vec::new();
    for &records in &args.records {
        let mut c = [Duration::MAX; WORKLOADS.len()];
        let mut pure = [Duration::MAX; WORKLOADS.len()];
        let mut c_mutex = [Duration::MAX; WORKLOADS.len()];
        let mut pure_mutex = [Duration::MAX; WORKLOADS.len()];
        let with_c = args.backend != BenchBackends::Pure;
        let with_pure = args.backend != BenchBackends::C;
        for _ in 0..args.runs.max(1) {
            // Alternate so neither backend nor locking always runs on a warmer machine.
            if with_c {
                keep_best(&mut c, &measure::<CBackend>(dir, records, args, false)?);
            }
            if with_pure {
                keep_best(
                    &mut pure,
                    &measure::<PureBackend>(dir, records, args, false)?,
                );
            }
            if with_c {
                keep_best(
                    &mut c_mutex,
                    &measure::<CBackend>(dir, records, args, true)?,
                );
            }
            if with_pure {
                let run = measure::<PureBackend>(dir, records, args, true)?;
                keep_best(&mut pure_mutex, &run);
            }
        }
        mutex_tables.push((records, c, pure, c_mutex, pure_mutex));
        for (i, name) in WORKLOADS.iter().enumerate() {
            let column = |d: Duration, on: bool| {
                if on {
                    format!("{:.0}", nanos(d))
                } else {
                    "-".to_string()
                }
            };
            let pure_over_c = (with_c && with_pure).then(|| nanos(pure[i]) / nanos(c[i]).max(1e-3));
            let ratio = pure_over_c.map_or("-".to_string(), |r| format!("{r:.3}"));
            out.line(format!(
                "{records:>8}  {name:<28}{:>12}{:>12}{ratio:>9}",
                column(c[i], with_c),
                column(pure[i], with_pure),
            ));
            doc.rows.push(RowJson {
                records,
                operation: name,
                c_ns: with_c.then(|| nanos(c[i])),
                pure_ns: with_pure.then(|| nanos(pure[i])),
                pure_over_c,
            });
        }
    }
    out.line(
        "\nrobust-mutex locking (TDB_MUTEX_LOCKING; chain locks are mutexes in the file), \
         against the fcntl figures above"
            .to_string(),
    );
    out.line(format!(
        "{:>8}  {:<28}{:>12}{:>12}{:>9}{:>13}{:>13}",
        "records", "operation", "c mutex", "pure mutex", "pure/c", "c mtx/fcntl", "pure mtx/fc"
    ));
    let with_c = args.backend != BenchBackends::Pure;
    let with_pure = args.backend != BenchBackends::C;
    let ratio = |a: Duration, b: Duration, on: bool| on.then(|| nanos(a) / nanos(b).max(1e-3));
    let shown = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.3}"));
    let column = |d: Duration, on: bool| {
        if on {
            format!("{:.0}", nanos(d))
        } else {
            "-".to_string()
        }
    };
    for (records, c, pure, c_mutex, pure_mutex) in mutex_tables {
        for i in MUTEX_ROWS {
            let row = MutexRowJson {
                records,
                operation: WORKLOADS[i],
                c_mutex_ns: with_c.then(|| nanos(c_mutex[i])),
                pure_mutex_ns: with_pure.then(|| nanos(pure_mutex[i])),
                pure_over_c: ratio(pure_mutex[i], c_mutex[i], with_c && with_pure),
                c_mutex_over_fcntl: ratio(c_mutex[i], c[i], with_c),
                pure_mutex_over_fcntl: ratio(pure_mutex[i], pure[i], with_pure),
            };
            out.line(format!(
                "{records:>8}  {:<28}{:>12}{:>12}{:>9}{:>13}{:>13}",
                WORKLOADS[i],
                column(c_mutex[i], with_c),
                column(pure_mutex[i], with_pure),
                shown(row.pure_over_c),
                shown(row.c_mutex_over_fcntl),
                shown(row.pure_mutex_over_fcntl),
            ));
            doc.mutex_rows.push(row);
        }
    }
    out.document(&doc)
}

fn nanos(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

fn keep_best(best: &mut Figures, run: &Figures) {
    for (b, r) in best.iter_mut().zip(run) {
        *b = (*b).min(*r);
    }
}

fn key(prefix: &str, i: usize) -> Vec<u8> {
    format!("{prefix}-{i:08}").into_bytes()
}

fn data(i: usize, round: u8) -> Vec<u8> {
    let mut d = vec![round; DATA_LEN];
    d[..8].copy_from_slice(&(i as u64).to_le_bytes());
    d
}

/// A fixed pseudo-random order over `0..n` (the same for both backends).
fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}

/// Fail unless a backend call succeeded: a benchmark must not time failures.
fn ok<T>(what: &str, backend: &str, r: replay_engine::backend::TdbResult<T>) -> Result<T> {
    r.map_err(|e| anyhow::anyhow!("{backend}: {what} failed: {e}"))
}

/// Run every workload once on a fresh database of `records` records, a robust-mutex
/// file if `mutex`.
fn measure<B: Backend>(
    dir: &Path,
    records: usize,
    args: &MicrobenchArgs,
    mutex: bool,
) -> Result<Figures> {
    let locking = if mutex { "mutex" } else { "fcntl" };
    let path: PathBuf = dir.join(format!("{}-{locking}-{records}.tdb", B::NAME));
    scratch::replace(&path).map_err(|error| BadInput(error.to_string()))?;
    let options = OpenOptions {
        hash_size: args.hash_size,
        tdb_flags: if mutex {
            tdb_flags::NOSYNC | tdb_flags::MUTEX_LOCKING
        } else {
            tdb_flags::NOSYNC
        },
        open_flags: libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
        mode: 0o600,
    };
    let mut db = ok("open", B::NAME, B::open(&path, &options))?;
    scratch::mark(&path)?;
    for i in 0..records {
        ok(
            "store",
            B::NAME,
            db.store(&key("key", i), &data(i, 0), StoreFlag::Insert),
        )?;
    }
    let order = shuffled(records);
    let ops = args.ops.max(1);
    let pick = |n: usize| order[n % records.max(1)];
    let mut figures = [Duration::ZERO; WORKLOADS.len()];

    figures[0] = per_op(ops, || {
        for n in 0..ops {
            let i = pick(n);
            let len = ok(
                "fetch",
                B::NAME,
                db.fetch_with(&key("key", i), |d| d.map(<[u8]>::len)),
            )?;
            if len != Some(DATA_LEN) {
                bail!("{}: fetch of an existing key returned {len:?}", B::NAME);
            }
        }
        Ok(())
    })?;
    figures[1] = per_op(ops, || {
        for n in 0..ops {
            let i = pick(n);
            let d = data(i, (n % 251) as u8 + 1);
            ok(
                "store",
                B::NAME,
                db.store(&key("key", i), &d, StoreFlag::Replace),
            )?;
        }
        Ok(())
    })?;
    figures[2] = per_op(ops, || {
        for n in 0..ops {
            ok(
                "store",
                B::NAME,
                db.store(&key("new", n), &data(n, 7), StoreFlag::Insert),
            )?;
        }
        Ok(())
    })?;
    figures[3] = per_op(ops, || {
        for n in 0..ops {
            ok("delete", B::NAME, db.delete(&key("new", n)))?;
        }
        Ok(())
    })?;
    let walks = ops.div_ceil(records.max(1)).max(1);
    figures[4] = per_op(walks * records.max(1), || {
        for _ in 0..walks {
            let mut seen = 0usize;
            ok(
                "traverse",
                B::NAME,
                db.traverse(TraverseKind::Read, &mut |_, _, d| {
                    seen += usize::from(d.len() == DATA_LEN);
                    ControlFlow::Continue(())
                }),
            )?;
            if seen != records {
                bail!("{}: traverse saw {seen} of {records} records", B::NAME);
            }
        }
        Ok(())
    })?;
    figures[5] = per_op(ops, || {
        for n in 0..ops {
            let k = key("key", pick(n));
            ok("chainlock", B::NAME, db.chainlock(&k, ChainLockOp::Lock))?;
            ok(
                "chainunlock",
                B::NAME,
                db.chainlock(&k, ChainLockOp::Unlock),
            )?;
        }
        Ok(())
    })?;
    let small = (ops / 10).max(1);
    figures[6] = per_op(small, || {
        for n in 0..small {
            let i = pick(n);
            ok("transaction_start", B::NAME, db.transaction_start())?;
            ok(
                "store",
                B::NAME,
                db.store(&key("key", i), &data(i, 3), StoreFlag::Replace),
            )?;
            ok("transaction_commit", B::NAME, db.transaction_commit())?;
        }
        Ok(())
    })?;
    let big = (ops / 1000).max(1);
    figures[7] = per_op(big, || {
        for round in 0..big {
            ok("transaction_start", B::NAME, db.transaction_start())?;
            for n in 0..1000 {
                let i = pick(round * 1000 + n);
                let d = data(i, 4 + (round % 2) as u8);
                ok(
                    "store",
                    B::NAME,
                    db.store(&key("key", i), &d, StoreFlag::Replace),
                )?;
            }
            ok("transaction_commit", B::NAME, db.transaction_commit())?;
        }
        Ok(())
    })?;
    ok("check", B::NAME, db.check())?;
    ok("close", B::NAME, db.close())?;
    scratch::remove(&path)?;
    Ok(figures)
}

/// Time `work` and divide by the number of operations it did.
fn per_op(ops: usize, work: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let started = Instant::now();
    work()?;
    Ok(started.elapsed() / u32::try_from(ops.max(1)).unwrap_or(u32::MAX))
}
