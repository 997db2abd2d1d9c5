//! The benchmark's operations on tdb-pure called from Rust: the same keys, sizes, flags
//! batches and order as testdata/bench/abi_bench.c (the fastest batch counts), so the difference to our library through
//! the C ABI is the ABI layer's cost.

use std::ops::{ControlFlow, Range};
use std::path::Path;
use std::time::Instant;

use tdb_pure::{flags, OpenFlags, StoreFlag, Tdb};

const DATA_LEN: usize = 100;

/// The keys as the C program makes them (`key%08ld`), made before any timing.
type Keys = [[u8; 11]];

fn make_keys(records: usize) -> Vec<[u8; 11]> {
    (0..records)
        .map(|i| {
            format!("key{i:08}")
                .into_bytes()
                .try_into()
                .expect("11 bytes")
        })
        .collect()
}

const BATCH: usize = 1000;

fn key(keys: &Keys, i: usize) -> &[u8] {
    &keys[i % keys.len()]
}

fn store(db: &mut Tdb, keys: &Keys, range: Range<usize>, fill: u8) {
    let data = [fill; DATA_LEN];
    for i in range {
        db.store(key(keys, i), &data, StoreFlag::Replace)
            .expect("store");
    }
}

fn fetch(db: &mut Tdb, keys: &Keys, range: Range<usize>) {
    for i in range {
        let data = db.fetch(key(keys, i)).expect("fetch");
        assert_eq!(data.len(), DATA_LEN);
    }
}

fn traverse(db: &mut Tdb, records: usize) {
    let mut bytes = 0;
    let n = db
        .traverse(|_, _, data| {
            bytes += data.len();
            ControlFlow::Continue(())
        })
        .expect("traverse");
    assert_eq!((n as usize, bytes), (records, records * DATA_LEN));
}

fn chainlock(db: &mut Tdb, keys: &Keys, range: Range<usize>) {
    for i in range {
        db.chainlock(key(keys, i)).expect("chainlock");
        db.chainunlock(key(keys, i)).expect("chainunlock");
    }
}

/// Transactions number `range` of `stores` stores each.
fn transactions(db: &mut Tdb, keys: &Keys, range: Range<usize>, stores: usize) {
    let data = [b't'; DATA_LEN];
    for t in range {
        db.transaction_start().expect("transaction_start");
        for s in 0..stores {
            db.store(key(keys, t * stores + s), &data, StoreFlag::Replace)
                .expect("store in transaction");
        }
        db.transaction_commit().expect("transaction_commit");
    }
}

fn delete(db: &mut Tdb, keys: &Keys, range: Range<usize>) {
    for i in range {
        db.delete(key(keys, i)).expect("delete");
    }
}

/// Runs `op` over `0..total` in batches of `batch` units and records the fastest
/// batch's nanoseconds per unit under `name` (as the C program's `timed`).
fn timed(
    figures: &mut Vec<(String, f64)>,
    name: &str,
    total: usize,
    batch: usize,
    mut op: impl FnMut(Range<usize>),
) {
    let mut best = f64::INFINITY;
    for from in (0..total).step_by(batch) {
        let to = (from + batch).min(total);
        let start = Instant::now();
        op(from..to);
        best = best.min(start.elapsed().as_nanos() as f64 / (to - from) as f64);
    }
    figures.push((name.to_string(), best));
}

/// Runs every operation once on a new file; returns (op, nanoseconds per op) as the C
/// program prints them, in its order.
pub fn run(path: &Path, records: usize, hash_size: u32) -> Vec<(String, f64)> {
    let options = OpenFlags {
        hash_size,
        tdb_flags: flags::NOSYNC,
        open_flags: libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC,
        mode: 0o600,
    };
    let db = &mut Tdb::open(path, &options).expect("tdb-pure opens the bench file");
    let keys = &make_keys(records);
    let mut figures = Vec::new();
    let f = &mut figures;
    store(db, keys, 0..records, b'a');
    timed(f, "fetch", records, BATCH, |r| fetch(db, keys, r));
    timed(f, "store", records, BATCH, |r| store(db, keys, r, b'b'));
    timed(f, "traverse", 5 * records, records, |_| {
        traverse(db, records)
    });
    timed(f, "chainlock", records, BATCH, |r| chainlock(db, keys, r));
    timed(f, "tx1", 1000, 100, |r| transactions(db, keys, r, 1));
    timed(f, "tx1000", 10, 1, |r| transactions(db, keys, r, 1000));
    timed(f, "delete", records, BATCH, |r| delete(db, keys, r));
    figures
}
