//! The benchmark's operations on tdb-pure called from Rust: the same keys, sizes, flags
//! and order as testdata/bench/abi_bench.c, so the difference to our library through
//! the C ABI is the ABI layer's cost.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use tdb_pure::{flags, OpenFlags, StoreFlag, Tdb};

const DATA_LEN: usize = 100;

/// A key formatted as the C program formats it (`key%08ld`), without allocating.
struct Key([u8; 32], usize);

impl Key {
    fn of(i: usize) -> Key {
        let mut buf = [0u8; 32];
        let mut cursor = &mut buf[..];
        write!(cursor, "key{i:08}").expect("a key fits");
        let len = 32 - cursor.len();
        Key(buf, len)
    }

    fn bytes(&self) -> &[u8] {
        &self.0[..self.1]
    }
}

fn store_all(db: &mut Tdb, records: usize, fill: u8) {
    let data = [fill; DATA_LEN];
    for i in 0..records {
        db.store(Key::of(i).bytes(), &data, StoreFlag::Replace)
            .expect("store");
    }
}

fn fetch_all(db: &mut Tdb, records: usize) {
    for i in 0..records {
        let data = db.fetch(Key::of(i).bytes()).expect("fetch");
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

fn chainlock_all(db: &mut Tdb, records: usize) {
    for i in 0..records {
        let key = Key::of(i);
        db.chainlock(key.bytes()).expect("chainlock");
        db.chainunlock(key.bytes()).expect("chainunlock");
    }
}

fn transactions(db: &mut Tdb, records: usize, count: usize, stores: usize) {
    let data = [b't'; DATA_LEN];
    for t in 0..count {
        db.transaction_start().expect("transaction_start");
        for s in 0..stores {
            let key = Key::of((t * stores + s) % records);
            db.store(key.bytes(), &data, StoreFlag::Replace)
                .expect("store in transaction");
        }
        db.transaction_commit().expect("transaction_commit");
    }
}

fn delete_all(db: &mut Tdb, records: usize) {
    for i in 0..records {
        db.delete(Key::of(i).bytes()).expect("delete");
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
    let mut figures = Vec::new();
    let f = &mut figures;
    store_all(db, records, b'a');
    timed(f, "fetch", records, || fetch_all(db, records));
    timed(f, "store", records, || store_all(db, records, b'b'));
    timed(f, "traverse", records * 5, || {
        (0..5).for_each(|_| traverse_all(db, records))
    });
    timed(f, "chainlock", records, || chainlock_all(db, records));
    timed(f, "tx1", tx1, || transactions(db, records, tx1, 1));
    timed(f, "tx1000", tx1000, || {
        transactions(db, records, tx1000, 1000)
    });
    timed(f, "delete", records, || delete_all(db, records));
    figures
}
