//! The timed workloads of `microbench`, each checking its results, run on one freshly
//! filled database.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use replay_engine::backend::{
    tdb_flags, Backend, ChainLockOp, OpenOptions, StoreFlag, TdbResult, TraverseKind,
};
use replay_engine::scratch;

use crate::exit::bad_input;

/// Length of every record's data.
pub const DATA_LEN: usize = 100;

/// The operations measured, in the order printed.
pub const WORKLOADS: [&str; 8] = [
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
pub type Figures = [Duration; WORKLOADS.len()];

/// Stores in the big transaction.
const BIG_TRANSACTION: usize = 1000;

/// Run every workload once on a fresh database of `records` records at `path` (a
/// robust-mutex file if `mutex`), `ops` operations each (the small transactions a tenth
/// as many, the big ones a thousandth).
pub fn measure<B: Backend>(
    path: &Path,
    records: usize,
    hash_size: u32,
    ops: usize,
    mutex: bool,
) -> Result<Figures> {
    let mut db = filled::<B>(path, records, hash_size, mutex)?;
    let mut timer = Workloads {
        db: &mut db,
        order: shuffled(records),
        records,
        ops,
    };
    let figures = [
        timer.fetch()?,
        timer.replace()?,
        timer.insert()?,
        timer.delete()?,
        timer.traverse()?,
        timer.chainlock()?,
        timer.small_transactions()?,
        timer.big_transactions()?,
    ];
    ok("check", B::label(), db.check())?;
    ok("close", B::label(), db.close())?;
    scratch::remove(path)?;
    Ok(figures)
}

/// A new database at `path` holding `records` records.
fn filled<B: Backend>(path: &Path, records: usize, hash_size: u32, mutex: bool) -> Result<B> {
    scratch::replace(path).map_err(bad_input)?;
    let options = OpenOptions {
        hash_size,
        tdb_flags: if mutex {
            tdb_flags::NOSYNC | tdb_flags::MUTEX_LOCKING
        } else {
            tdb_flags::NOSYNC
        },
        open_flags: libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
        mode: 0o600,
    };
    let mut db = ok("open", B::label(), B::open(path, &options))?;
    scratch::mark(path)?;
    for i in 0..records {
        ok(
            "store",
            B::label(),
            db.store(&key("key", i), &data(i, 0), StoreFlag::Insert),
        )?;
    }
    Ok(db)
}

/// The workloads on one database.
struct Workloads<'a, B> {
    db: &'a mut B,
    /// A fixed pseudo-random order of the records.
    order: Vec<usize>,
    records: usize,
    ops: usize,
}

impl<B: Backend> Workloads<'_, B> {
    fn fetch(&mut self) -> Result<Duration> {
        let (db, order, ops) = (&mut *self.db, &self.order, self.ops);
        per_op(ops, || {
            for n in 0..ops {
                let k = key("key", pick(order, n));
                let len = ok(
                    "fetch",
                    B::label(),
                    db.fetch_with(&k, |d| d.map(<[u8]>::len)),
                )?;
                if len != Some(DATA_LEN) {
                    bail!("{}: fetch of an existing key returned {len:?}", B::label());
                }
            }
            Ok(())
        })
    }

    fn replace(&mut self) -> Result<Duration> {
        let (db, order, ops) = (&mut *self.db, &self.order, self.ops);
        per_op(ops, || {
            for n in 0..ops {
                let i = pick(order, n);
                let d = data(i, (n % 251) as u8 + 1);
                let stored = db.store(&key("key", i), &d, StoreFlag::Replace);
                ok("store", B::label(), stored)?;
            }
            Ok(())
        })
    }

    fn insert(&mut self) -> Result<Duration> {
        let (db, ops) = (&mut *self.db, self.ops);
        per_op(ops, || {
            for n in 0..ops {
                let stored = db.store(&key("new", n), &data(n, 7), StoreFlag::Insert);
                ok("store", B::label(), stored)?;
            }
            Ok(())
        })
    }

    fn delete(&mut self) -> Result<Duration> {
        let (db, ops) = (&mut *self.db, self.ops);
        per_op(ops, || {
            for n in 0..ops {
                ok("delete", B::label(), db.delete(&key("new", n)))?;
            }
            Ok(())
        })
    }

    fn traverse(&mut self) -> Result<Duration> {
        let db = &mut *self.db;
        let records = self.records;
        let walks = self.ops.div_ceil(records.max(1)).max(1);
        per_op(walks * records.max(1), || {
            for _ in 0..walks {
                let mut seen = 0usize;
                let walked = db.traverse(TraverseKind::Read, &mut |_, _, d| {
                    seen += usize::from(d.len() == DATA_LEN);
                    ControlFlow::Continue(())
                });
                ok("traverse", B::label(), walked)?;
                if seen != records {
                    bail!("{}: traverse saw {seen} of {records} records", B::label());
                }
            }
            Ok(())
        })
    }

    fn chainlock(&mut self) -> Result<Duration> {
        let (db, order, ops) = (&mut *self.db, &self.order, self.ops);
        per_op(ops, || {
            for n in 0..ops {
                let k = key("key", pick(order, n));
                ok("chainlock", B::label(), db.chainlock(&k, ChainLockOp::Lock))?;
                ok(
                    "chainunlock",
                    B::label(),
                    db.chainlock(&k, ChainLockOp::Unlock),
                )?;
            }
            Ok(())
        })
    }

    fn small_transactions(&mut self) -> Result<Duration> {
        let (db, order, ops) = (&mut *self.db, &self.order, self.ops);
        let count = (ops / 10).max(1);
        per_op(count, || {
            for n in 0..count {
                let i = pick(order, n);
                ok("transaction_start", B::label(), db.transaction_start())?;
                let stored = db.store(&key("key", i), &data(i, 3), StoreFlag::Replace);
                ok("store", B::label(), stored)?;
                ok("transaction_commit", B::label(), db.transaction_commit())?;
            }
            Ok(())
        })
    }

    fn big_transactions(&mut self) -> Result<Duration> {
        let (db, order, ops) = (&mut *self.db, &self.order, self.ops);
        let count = (ops / BIG_TRANSACTION).max(1);
        per_op(count, || {
            for round in 0..count {
                ok("transaction_start", B::label(), db.transaction_start())?;
                for n in 0..BIG_TRANSACTION {
                    let i = pick(order, round * BIG_TRANSACTION + n);
                    let d = data(i, 4 + (round % 2) as u8);
                    let stored = db.store(&key("key", i), &d, StoreFlag::Replace);
                    ok("store", B::label(), stored)?;
                }
                ok("transaction_commit", B::label(), db.transaction_commit())?;
            }
            Ok(())
        })
    }
}

/// The record the `n`th op touches, in the fixed order.
fn pick(order: &[usize], n: usize) -> usize {
    order[n % order.len().max(1)]
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
fn ok<T>(what: &str, backend: &str, r: TdbResult<T>) -> Result<T> {
    r.map_err(|e| anyhow::anyhow!("{backend}: {what} failed: {e}"))
}

/// Time `work` and divide by the number of operations it did.
fn per_op(ops: usize, work: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let started = Instant::now();
    work()?;
    Ok(started.elapsed() / u32::try_from(ops.max(1)).unwrap_or(u32::MAX))
}
