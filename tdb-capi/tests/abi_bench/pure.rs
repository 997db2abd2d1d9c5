//! The benchmark's operations on tdb-pure called from Rust: the same keys, sizes, flags
//! and order as testdata/bench/abi_bench.c, so the difference to our library through
//! the C ABI is the ABI layer's cost.

use std::ops::ControlFlow;
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

fn store_all(db: &mut Tdb, keys: &Keys, fill: u8) {
    let data = [fill; DATA_LEN];
    for key in keys {
        db.store(key, &data, StoreFlag::Replace).expect("store");
    }
}

fn fetch_all(db: &mut Tdb, keys: &Keys) {
    for key in keys {
        let data = db.fetch(key).expect("fetch");
        assert_eq!(data.len(), DATA_LEN);
    }
}

fn traverse_all(db: &mut Tdb, records: usize) {
    let mut bytes = 0;
    let n = db
        .traverse(|_, _, data| {
            bytes += data.len();
            ControlFlow::Continue(())
        })
        .expect("traverse");
    assert_eq!((n as usize, bytes), (records, records * DATA_LEN));
}

fn chainlock_all(db: &mut Tdb, keys: &Keys) {
    for key in keys {
        db.chainlock(key).expect("chainlock");
        db.chainunlock(key).expect("chainunlock");
    }
}

fn transactions(db: &mut Tdb, keys: &Keys, count: usize, stores: usize) {
    let data = [b't'; DATA_LEN];
    for t in 0..count {
        db.transaction_start().expect("transaction_start");
        for s in 0..stores {
            let key = &keys[(t * stores + s) % keys.len()];
            db.store(key, &data, StoreFlag::Replace)
                .expect("store in transaction");
        }
        db.transaction_commit().expect("transaction_commit");
    }
}

fn delete_all(db: &mut Tdb, keys: &Keys) {
    for key in keys {
        db.delete(key).expect("delete");
    }
}

/// Times `op` and records its nanoseconds per unit under `name`.
fn timed(figures: &mut Vec<(String, f64)>, name: &str, units: usize, op: impl FnOnce()) {
    let start = Instant::now();
    op();
    figures.push((
        name.to_string(),
        start.elapsed().as_nanos() as f64 / units as f64,
    ));
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
    let (tx1, tx1000) = (1000, 10);
    let keys = &make_keys(records);
    let mut figures = Vec::new();
    let f = &mut figures;
    store_all(db, keys, b'a');
    timed(f, "fetch", records, || fetch_all(db, keys));
    timed(f, "store", records, || store_all(db, keys, b'b'));
    timed(f, "traverse", records * 5, || {
        (0..5).for_each(|_| traverse_all(db, records))
    });
    timed(f, "chainlock", records, || chainlock_all(db, keys));
    timed(f, "tx1", tx1, || transactions(db, keys, tx1, 1));
    timed(f, "tx1000", tx1000, || transactions(db, keys, tx1000, 1000));
    timed(f, "delete", records, || delete_all(db, keys));
    figures
}
