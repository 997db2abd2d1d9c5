//! Cross-checks against Samba's C tdb (through tdb-sys): identical new files, identical
//! files and results after random operation sequences, and each side reading the other.

use std::ops::ControlFlow;

use crate::util::*;
use tdb_pure::{code, flags, StoreFlag, Tdb};

fn c_flag(f: StoreFlag) -> tdb_sys::StoreFlag {
    match f {
        StoreFlag::Default => tdb_sys::StoreFlag::Default,
        StoreFlag::Replace => tdb_sys::StoreFlag::Replace,
        StoreFlag::Insert => tdb_sys::StoreFlag::Insert,
        StoreFlag::Modify => tdb_sys::StoreFlag::Modify,
    }
}

fn c_result<T>(r: tdb_sys::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.code().code(),
    }
}

fn p_result<T>(r: tdb_pure::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.code(),
    }
}

#[test]
fn new_files_are_byte_identical_to_c() {
    let tmp = tempfile::tempdir().unwrap();
    for hash_size in [0, 1, 2, 7, 131, 10007] {
        for tdb_flags in [
            0,
            flags::INCOMPATIBLE_HASH,
            flags::CONVERT,
            flags::CONVERT | flags::INCOMPATIBLE_HASH,
        ] {
            let cp = tmp.path().join(format!("c-{hash_size}-{tdb_flags}.tdb"));
            let pp = tmp.path().join(format!("p-{hash_size}-{tdb_flags}.tdb"));
            drop(c_open(&cp, hash_size, tdb_flags));
            drop(open(&pp, &rw_create(hash_size, tdb_flags)));
            assert_eq!(
                std::fs::read(&cp).unwrap(),
                std::fs::read(&pp).unwrap(),
                "hash_size {hash_size} flags {tdb_flags}"
            );
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Store(Vec<u8>, Vec<u8>, StoreFlag),
    Delete(Vec<u8>),
    Append(Vec<u8>, Vec<u8>),
    Fetch(Vec<u8>),
    TraverseDelete(u64),
    Wipe,
    TxStart,
    TxPrepare,
    TxCommit,
    TxCancel,
    Repack,
}

/// `random_ops` with transaction calls (start, prepare, commit, cancel, repack) mixed in.
fn random_ops_tx(rng: &mut Rng, n: usize, keys: u64) -> Vec<Op> {
    let mut out = Vec::with_capacity(n);
    for op in random_ops(rng, n, keys) {
        match rng.below(200) {
            0..=5 => out.push(Op::TxStart),
            6..=9 => out.push(Op::TxCommit),
            10 | 11 => out.push(Op::TxCancel),
            12 => out.push(Op::TxPrepare),
            13 => out.push(Op::Repack),
            _ => {}
        }
        out.push(op);
    }
    out
}

fn random_ops(rng: &mut Rng, n: usize, keys: u64) -> Vec<Op> {
    (0..n)
        .map(|_| {
            let key = format!("key{}", rng.below(keys)).into_bytes();
            let len = match rng.below(10) {
                0 => 0,
                1..=6 => rng.below(40),
                7 | 8 => rng.below(400),
                _ => rng.below(5000),
            } as usize;
            let data: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            match rng.below(100) {
                0..=39 => Op::Store(key, data, StoreFlag::Replace),
                40..=49 => Op::Store(key, data, StoreFlag::Insert),
                50..=59 => Op::Store(key, data, StoreFlag::Modify),
                60..=74 => Op::Delete(key),
                75..=86 => Op::Append(key, data),
                87..=96 => Op::Fetch(key),
                97 | 98 => Op::TraverseDelete(rng.below(4)),
                _ => Op::Wipe,
            }
        })
        .collect()
}

fn run_both(seed: u64, hash_size: u32, tdb_flags: u32, n: usize, keys: u64) {
    run_both_ops(seed, hash_size, tdb_flags, n, keys, false);
}

fn run_both_ops(seed: u64, hash_size: u32, tdb_flags: u32, n: usize, keys: u64, tx: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let cp = tmp.path().join("c.tdb");
    let pp = tmp.path().join("p.tdb");
    let mut c = c_open(&cp, hash_size, tdb_flags);
    let mut p = open(&pp, &rw_create(hash_size, tdb_flags));
    let mut rng = Rng(seed);
    let ops = if tx {
        random_ops_tx(&mut rng, n, keys)
    } else {
        random_ops(&mut rng, n, keys)
    };
    let n = ops.len();
    for (i, op) in ops.into_iter().enumerate() {
        if std::env::var_os("TRACE_OPS").is_some() {
            eprintln!(
                "{i}: {} ecode {}",
                format!("{op:?}").chars().take(60).collect::<String>(),
                p.error()
            );
        }
        if std::env::var("DEBUG_OP").ok() == Some(i.to_string()) {
            eprintln!("seed {seed} ecode: C {:?} P {}", c.error(), p.error());
            if let Op::Store(k, _, _) = &op {
                eprintln!(
                    "before: C fetch {:?} P fetch {:?}",
                    c.fetch(k).map(|d| d.map(|d| d.as_slice().to_vec())),
                    p.fetch(k)
                );
            }
        }
        let (rc, rp) = match &op {
            Op::Store(k, d, f) => (
                c_result(c.store(k, d, c_flag(*f))),
                p_result(p.store(k, d, *f)),
            ),
            Op::Delete(k) => (c_result(c.delete(k)), p_result(p.delete(k))),
            Op::Append(k, d) => (c_result(c.append(k, d)), p_result(p.append(k, d))),
            Op::Fetch(k) => {
                let a = c.fetch(k).unwrap().map(|d| d.as_slice().to_vec());
                let b = p.fetch(k).ok();
                assert_eq!(a, b, "seed {seed} op {i}: fetch differs");
                (0, 0)
            }
            Op::TraverseDelete(m) => {
                let m = *m + 1;
                let mut n = 0u64;
                let a = c.traverse(|t, k, _| {
                    n += 1;
                    if n.is_multiple_of(m) {
                        let _ = t.delete(k);
                    }
                    ControlFlow::Continue(())
                });
                let mut n2 = 0u64;
                let b = p.traverse(|t, k, _| {
                    n2 += 1;
                    if n2.is_multiple_of(m) {
                        let _ = t.delete(k);
                    }
                    ControlFlow::Continue(())
                });
                assert_eq!(a.ok(), b.ok(), "seed {seed} op {i}: traverse count");
                (0, 0)
            }
            Op::Wipe => (c_result(c.wipe_all()), p_result(p.wipe_all())),
            Op::TxStart => (
                c_result(c.transaction_start()),
                p_result(p.transaction_start()),
            ),
            Op::TxPrepare => (
                c_result(c.transaction_prepare_commit()),
                p_result(p.transaction_prepare_commit()),
            ),
            Op::TxCommit => (
                c_result(c.transaction_commit()),
                p_result(p.transaction_commit()),
            ),
            Op::TxCancel => (
                c_result(c.transaction_cancel()),
                p_result(p.transaction_cancel()),
            ),
            Op::Repack => (c_result(c.repack()), p_result(p.repack())),
        };
        assert_eq!(
            c.transaction_active(),
            p.transaction_active(),
            "seed {seed} op {i}: transaction state"
        );
        if std::env::var_os("TRACE_OPS").is_some() {
            let mut a = Vec::new();
            c.traverse_read(|_, k, d| {
                a.push((k.to_vec(), d.to_vec()));
                ControlFlow::Continue(())
            })
            .unwrap();
            let b = p.entries().unwrap();
            if a != b {
                eprintln!("C {a:?}\nP {b:?}");
            }
            assert_eq!(a, b, "seed {seed} op {i}: contents differ");
        }
        assert_eq!(rc, rp, "seed {seed} op {i} {op:?}: C {rc} vs pure {rp}");
        // Debugging aid: CHECK_EVERY_OP=1 checks both files after every operation outside
        // a transaction (on both handles: a check also refreshes C's stale map_size).
        if std::env::var_os("CHECK_EVERY_OP").is_some() && !p.transaction_active() {
            let (pc, cc) = (p.check(), c.check());
            let c_dead_space_bug = pc.is_ok() && format!("{cc:?}").contains("Dead space at");
            if (pc.is_err() || cc.is_err()) && !c_dead_space_bug {
                panic!(
                    "seed {seed} op {i} {}: check fails: pure {pc:?} C {cc:?}",
                    format!("{op:?}").chars().take(50).collect::<String>()
                );
            }
        }
        if rp == tdb_pure::code::OOM {
            // Space merged into a free record the freelist lost (a wipe_all right after a
            // commit that grew the file works on C's stale map_size and orphans the free
            // record at the end): C grew towards 4 GiB before failing, tdb-pure failed at
            // once (see allocate_from_freelist). Same result; the states differ from here.
            eprintln!("seed {seed} op {i}: both out of space; this seed ends here");
            return;
        }
        if std::env::var_os("DEBUG_ECODE").is_some() {
            let ce = c.error().map_or(0, |e| e.code());
            if ce != p.error() {
                eprintln!("seed {seed} op {i} {op:?}: ecode C {ce} P {}", p.error());
            }
        }
        assert_eq!(
            c.get_seqnum() as u32,
            p.get_seqnum().unwrap(),
            "seed {seed} op {i}: seqnum"
        );
        if i % 50 == 0 || i + 1 == n || std::env::var_os("TRACE_OPS").is_some() {
            let a = std::fs::read(&cp).unwrap();
            let b = std::fs::read(&pp).unwrap();
            if a != b {
                let _ = std::fs::write(std::env::temp_dir().join("cmp-c.tdb"), &a);
                let _ = std::fs::write(std::env::temp_dir().join("cmp-p.tdb"), &b);
                let at = a.iter().zip(&b).position(|(x, y)| x != y);
                panic!(
                    "seed {seed} op {i} {op:?}: files differ (sizes {} / {}, first diff at {at:?})",
                    a.len(),
                    b.len()
                );
            }
        }
    }
    while c.transaction_active() {
        let rc = c_result(c.transaction_commit());
        let rp = p_result(p.transaction_commit());
        assert_eq!(rc, rp, "seed {seed}: final commit");
    }
    assert!(!p.transaction_active());
    assert!(
        std::fs::read(&cp).unwrap() == std::fs::read(&pp).unwrap(),
        "seed {seed}: files differ after the final commit"
    );
    // Both checks must agree. They can both fail: a wipe right after a commit that grew
    // the file uses C's stale map_size and leaves the grown tail out of the freelist.
    if let Some(keep) = std::env::var_os("TDB_PURE_KEEP_FINAL") {
        let _ = std::fs::copy(&pp, keep);
    }
    let pc = p.check();
    let cc = c.check();
    // C's tdb_dead_space (1.4.8, and Samba's master) re-reads the first byte of the
    // region instead of walking it, so any dead space swallows everything up to the end
    // of the file, and the records after it then "do not match" the hash chains.
    // tdb-pure scans dead space byte by byte: the one disagreement allowed.
    let c_dead_space_bug = pc.is_ok() && format!("{cc:?}").contains("Dead space at");
    assert!(
        pc.is_ok() == cc.is_ok() || c_dead_space_bug,
        "seed {seed}: checks disagree: pure {pc:?}, C {cc:?}"
    );
    drop(c);
    drop(p);
    if cc.is_ok() {
        if let Some((ok, out)) = tool("tdbtool", &[pp.to_str().unwrap(), "check"]) {
            assert!(ok && out.contains("integrity is OK"), "{out}");
        }
    }
}

#[test]
fn random_ops_give_identical_files_and_results() {
    for seed in 1..=12u64 {
        run_both(seed * 7919, 7, 0, 600, 40);
    }
    run_both(42, 131, flags::INCOMPATIBLE_HASH | flags::SEQNUM, 600, 200);
    run_both(43, 1, flags::SEQNUM, 300, 20);
}

#[test]
fn random_ops_with_transactions_give_identical_files_and_results() {
    for seed in 1..=10u64 {
        run_both_ops(seed * 104_729, 7, flags::NOSYNC, 500, 40, true);
    }
    run_both_ops(5, 131, flags::SEQNUM, 400, 100, true);
    run_both_ops(6, 13, flags::CONVERT | flags::NOSYNC, 400, 60, true);
    run_both_ops(7, 3, flags::VOLATILE | flags::NOSYNC, 400, 30, true);
    // Dead space (a wipe after a commit that grew the file) followed by records: C's
    // check fails on it, tdb-pure's passes (see run_both_ops).
    run_both_ops(
        2490 * 2_654_435_761,
        1,
        flags::NOSYNC | flags::VOLATILE,
        800,
        30,
        true,
    );
    // A longer soak on demand: TDB_PURE_TX_SEEDS=N runs seeds 1..=N, =A..B seeds A..=B.
    let seeds = std::env::var("TDB_PURE_TX_SEEDS").unwrap_or_default();
    let (first, last): (u64, u64) = match seeds.split_once("..") {
        Some((a, b)) => (a.parse().unwrap_or(1), b.parse().unwrap_or(0)),
        None => (1, seeds.parse().unwrap_or(0)),
    };
    for seed in first..=last {
        let hash_size = [1, 3, 7, 31, 131][(seed % 5) as usize];
        let tdb_flags = [
            flags::NOSYNC,
            flags::NOSYNC | flags::SEQNUM,
            flags::NOSYNC | flags::VOLATILE,
            flags::NOSYNC | flags::CONVERT,
        ][(seed % 4) as usize];
        run_both_ops(
            seed * 2_654_435_761,
            hash_size,
            tdb_flags,
            800,
            20 + seed % 80,
            true,
        );
    }
}

#[test]
fn volatile_and_converted_files_match_c() {
    run_both(77, 3, flags::VOLATILE | flags::SEQNUM, 500, 30);
    run_both(78, 13, flags::CONVERT, 400, 50);
}

#[test]
fn c_reads_what_pure_wrote_and_back() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.tdb");
    {
        let mut p = open(&path, &rw_create(17, 0));
        for i in 0..300u32 {
            p.store(
                format!("k{i}").as_bytes(),
                &vec![i as u8; i as usize],
                StoreFlag::Insert,
            )
            .unwrap();
        }
        for i in (0..300u32).step_by(3) {
            p.delete(format!("k{i}").as_bytes()).unwrap();
        }
    }
    {
        let mut c = c_open(&path, 0, 0);
        c.check().unwrap();
        for i in 0..300u32 {
            let got = c
                .fetch(format!("k{i}").as_bytes())
                .unwrap()
                .map(|d| d.as_slice().to_vec());
            let want = (i % 3 != 0).then(|| vec![i as u8; i as usize]);
            assert_eq!(got, want, "k{i}");
        }
        for i in 0..50u32 {
            c.store(
                format!("c{i}").as_bytes(),
                b"from C",
                tdb_sys::StoreFlag::Insert,
            )
            .unwrap();
        }
    }
    let mut p = open(&path, &rw_create(0, 0));
    p.check().unwrap();
    assert_eq!(p.fetch(b"c7").unwrap(), b"from C");
    assert_eq!(p.entries().unwrap().len(), 200 + 50);
    assert!(matches!(p.fetch(b"k3"), Err(tdb_pure::Error::NoExist)));
    assert_eq!(p.error(), code::NOEXIST);
    let _ = Tdb::open_internal(0, 0).unwrap();
}

/// A robust-mutex file made by C: tdb-pure reads it read-only (and writes it with
/// TDB_NOLOCK) through the offset past the mutex area, exactly as C sees it, and refuses
/// locked access without `TDB_MUTEX_LOCKING`, as C does.
#[test]
fn robust_mutex_files_open_without_locking_and_need_the_flag_for_locking() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("mutex.tdb");
    let mut expected = Vec::new();
    {
        let mut c = c_open(&path, 131, flags::MUTEX_LOCKING | flags::NOSYNC);
        for i in 0..200u32 {
            let key = format!("key{i}");
            let data = vec![i as u8; (i % 50) as usize];
            c.store(key.as_bytes(), &data, tdb_sys::StoreFlag::Insert)
                .unwrap();
        }
        c.transaction_start().unwrap();
        for i in (0..200u32).step_by(3) {
            c.delete(format!("key{i}").as_bytes()).unwrap();
        }
        c.transaction_commit().unwrap();
        c.traverse_read(|_, k, d| {
            expected.push((k.to_vec(), d.to_vec()));
            ControlFlow::Continue(())
        })
        .unwrap();
    }
    let header = std::fs::read(&path).unwrap();
    let mutex_size = u32::from_le_bytes(header[64..68].try_into().unwrap());
    assert!(mutex_size >= 4096, "C made no mutex area ({mutex_size})");

    for tdb_flags in [0, flags::NOMMAP] {
        let read_only = tdb_pure::OpenFlags { tdb_flags, ..ro() };
        let mut p = open(&path, &read_only);
        assert_eq!(p.entries().unwrap(), expected);
        assert_eq!(p.fetch(b"key1").unwrap(), vec![1u8]);
        p.check().unwrap();
    }

    // Locked access needs the flag, as in C (tests/mutex.rs covers it with the flag).
    let locked = Tdb::open(&path, &rw_create(0, 0));
    match locked {
        Err(e @ tdb_pure::Error::Einval(_)) => {
            assert!(e.to_string().contains("TDB_MUTEX_LOCKING"), "{e}")
        }
        other => panic!("locked open of a mutex file without the flag: {other:?}"),
    }

    {
        let mut p = open(&path, &rw_create(0, flags::NOLOCK));
        p.store(
            b"from pure",
            b"written past the mutex area",
            StoreFlag::Insert,
        )
        .unwrap();
        p.delete(b"key1").unwrap();
    }
    let mut c = c_open(&path, 0, flags::MUTEX_LOCKING);
    c.check().unwrap();
    assert_eq!(
        c.fetch(b"from pure").unwrap().as_deref(),
        Some(&b"written past the mutex area"[..])
    );
    assert!(c.fetch(b"key1").unwrap().is_none());
}
