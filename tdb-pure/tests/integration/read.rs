//! Reading Samba's reference files: dump, hash detection, byte orders, refusals, check,
//! and robustness against corrupted copies.

use std::ops::ControlFlow;

use crate::util::*;
use tdb_pure::{code, flags, ByteOrder, Error, HashKind, OpenFlags, Tdb};

#[test]
fn sample_tdb_dumps_exactly_like_tdbdump() {
    let Some(dir) = test_files() else { return };
    let mut tdb = open(&dir.join("sample_tdb.tdb"), &ro());
    let expected = std::fs::read_to_string(dir.join("sample_tdb.txt")).unwrap();
    assert_eq!(tdb.dump(false).unwrap(), expected);
    assert_eq!(tdb.hash_kind(), HashKind::Jenkins);
    tdb.check().unwrap();
    assert_eq!(
        tdb.fetch(b"nbt_server\0").unwrap(),
        b"972.2147483648/1085706313786795392\0"
    );
    assert!(tdb.exists(b"winbind_server\0").unwrap());
    assert!(!tdb.exists(b"nope").unwrap());
    assert_eq!(tdb.error(), code::NOEXIST);
    assert!(matches!(
        tdb.parse_record(b"nope", |d| d.len()),
        Err(Error::NoExist)
    ));
    assert_eq!(
        tdb.parse_record(b"notify-daemon\0", |d| d.len()).unwrap(),
        24
    );
}

#[test]
fn sample_tdb_firstkey_nextkey_and_traverse_order() {
    let Some(dir) = test_files() else { return };
    let mut tdb = open(&dir.join("sample_tdb.tdb"), &ro());
    let mut keys = Vec::new();
    let mut k = tdb.firstkey().unwrap();
    while let Some(key) = k {
        k = tdb.nextkey(&key).unwrap();
        keys.push(key);
    }
    let want: Vec<Vec<u8>> = vec![
        b"nbt_server\0".to_vec(),
        b"winbind_server\0".to_vec(),
        b"notify-daemon\0".to_vec(),
    ];
    assert_eq!(keys, want);
    let mut seen = Vec::new();
    let n = tdb
        .traverse(|_, k, _| {
            seen.push(k.to_vec());
            if seen.len() == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(seen, want[..2]);
    assert!(matches!(tdb.nextkey(b"missing"), Err(Error::NoExist)));
}

#[test]
fn sample_tdb_freelist_size_after_merging_is_4() {
    let Some(dir) = test_files() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let path = copy_of(&dir, "sample_tdb.tdb", &tmp);
    let mut tdb = open(&path, &rw_create(0, 0));
    assert_eq!(tdb.freelist_size().unwrap(), 4);
    tdb.check().unwrap();
}

#[test]
fn jenkins_and_old_files_in_both_byte_orders() {
    let Some(dir) = test_files() else { return };
    let cases = [
        ("jenkins-le-hash.tdb", HashKind::Jenkins, ByteOrder::Little),
        ("jenkins-be-hash.tdb", HashKind::Jenkins, ByteOrder::Big),
        ("old-nohash-le.tdb", HashKind::Old, ByteOrder::Little),
        ("old-nohash-be.tdb", HashKind::Old, ByteOrder::Big),
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (name, hash, order) in cases {
        for tdb_flags in [0, flags::INCOMPATIBLE_HASH] {
            let mut tdb = open(&dir.join(name), &OpenFlags { tdb_flags, ..ro() });
            assert_eq!(tdb.hash_kind(), hash, "{name}");
            assert_eq!(tdb.byte_order(), order, "{name}");
            assert_eq!(tdb.hash_size(), 131);
            assert_eq!(tdb.flags() & flags::BIGENDIAN != 0, order == ByteOrder::Big);
            tdb.check().unwrap();
            assert_eq!(tdb.firstkey().unwrap(), None);
            assert_eq!(tdb.dump(false).unwrap(), "");
        }
        // Writable copies: store, read back, still sound.
        let path = copy_of(&dir, name, &tmp);
        let mut tdb = open(&path, &rw_create(0, 0));
        tdb.store(b"key", b"value", tdb_pure::StoreFlag::Insert)
            .unwrap();
        assert_eq!(tdb.fetch(b"key").unwrap(), b"value");
        tdb.check().unwrap();
        drop(tdb);
        if let Some((ok, out)) = tool("tdbtool", &[path.to_str().unwrap(), "check"]) {
            assert!(ok && out.contains("integrity is OK"), "{name}: {out}");
        }
        if let Some((ok, out)) = tool("tdbdump", &[path.to_str().unwrap()]) {
            assert!(ok, "{out}");
            assert_eq!(out, "{\nkey(3) = \"key\"\ndata(5) = \"value\"\n}\n");
        }
    }
}

#[test]
fn rwlock_files_are_refused() {
    let Some(dir) = test_files() else { return };
    for name in ["rwlock-le.tdb", "rwlock-be.tdb"] {
        match Tdb::open(dir.join(name), &ro()) {
            Err(Error::Unsupported(msg)) => assert!(msg.contains("rwlock"), "{msg}"),
            other => panic!("{name}: expected refusal, got {other:?}"),
        }
    }
}

/// Random byte flips and truncations of valid files must give errors, never panics or
/// hangs.
#[test]
fn corrupted_copies_never_panic_or_hang() {
    let Some(dir) = test_files() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let orig = std::fs::read(dir.join("sample_tdb.tdb")).unwrap();
    let path = tmp.path().join("fuzz.tdb");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..2000 {
        let mut bytes = orig.clone();
        match rng.below(4) {
            0 => {
                let n = 1 + rng.below(8);
                for _ in 0..n {
                    let i = rng.below(bytes.len() as u64) as usize;
                    bytes[i] ^= 1 << rng.below(8);
                }
            }
            1 => {
                // Corrupt a word in the record area or the heads.
                let i = (168 + rng.below((bytes.len() - 172) as u64)) as usize & !3;
                let v = rng.next() as u32;
                bytes[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            2 => bytes.truncate(rng.below(bytes.len() as u64) as usize),
            _ => {
                // Point a head or next word at another aligned offset (cycles).
                let i = (168 + 4 * rng.below(132)) as usize;
                let v = (696 + 4 * rng.below(((bytes.len() - 696) / 4) as u64)) as u32;
                bytes[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let Ok(mut tdb) = Tdb::open(&path, &rw_create(0, 0)) else {
            continue;
        };
        let _ = tdb.check();
        let _ = tdb.dump(false);
        let _ = tdb.fetch(b"nbt_server\0");
        let mut k = tdb.firstkey().ok().flatten();
        let mut steps = 0;
        while let Some(key) = k {
            steps += 1;
            assert!(steps < 100, "round {round}: nextkey loops");
            k = tdb.nextkey(&key).ok().flatten();
        }
        let _ = tdb.store(b"x", b"too long for any hole", tdb_pure::StoreFlag::Insert);
        let _ = tdb.delete(b"winbind_server\0");
        let _ = tdb.traverse(|t, k, _| {
            let _ = t.delete(k);
            ControlFlow::Continue(())
        });
        let _ = tdb.freelist_size();
        let _ = tdb.check();
    }
}

/// A hand-made circular chain (like Samba's circular_chain.tdb): lookups, traverse,
/// firstkey/nextkey and check report corruption instead of hanging.
#[test]
fn circular_chain_is_detected_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("circ.tdb");
    let mut offs = Vec::new();
    {
        let mut t = open(&path, &rw_create(1, 0));
        for k in [b"a", b"c", b"e"] {
            t.store(k, b"b", tdb_pure::StoreFlag::Insert).unwrap();
        }
        t.check().unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let mut cur = u32::from_le_bytes(bytes[172..176].try_into().unwrap());
    while cur != 0 {
        offs.push(cur);
        let at = cur as usize;
        cur = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    }
    assert_eq!(offs.len(), 3);
    // The last record points back to the second: head -> r0 -> r1 -> r2 -> r1 ...
    let last = offs[2] as usize;
    bytes[last..last + 4].copy_from_slice(&offs[1].to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();

    let mut t = open(&path, &ro());
    assert!(matches!(t.exists(b"x"), Err(Error::Corrupt(_))));
    assert_eq!(t.error(), code::CORRUPT);
    assert!(matches!(
        t.traverse(|_, _, _| ControlFlow::Continue(())),
        Err(Error::Corrupt(_))
    ));
    assert!(matches!(t.check(), Err(Error::Corrupt(_))));
    drop(t);
    let mut t = open(&path, &rw_create(0, 0));
    let mut k = t.firstkey().ok().flatten();
    let mut n = 0;
    while let Some(key) = k {
        n += 1;
        assert!(n < 1000);
        k = t.nextkey(&key).ok().flatten();
    }
    // Must return (C prepends the record and succeeds); it must not hang.
    let _ = t.store(b"x", b"too long", tdb_pure::StoreFlag::Insert);
}

/// A free record the freelist doesn't link (found by the fuzzer): every expansion merges
/// into it and the freelist never sees the space. C grows the file until it would pass
/// 4 GiB (in a transaction, memory) and fails with OOM; tdb-pure fails with OOM after two
/// expansions.
#[test]
fn space_lost_by_the_freelist_does_not_grow_the_file_forever() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lost.tdb");
    {
        let mut t = open(&path, &rw_create(1, 0));
        t.store(b"a", &[7u8; 100], tdb_pure::StoreFlag::Insert)
            .unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    // Unlink every free record, and make the file's last record a free one.
    bytes[168..172].copy_from_slice(&0u32.to_le_bytes());
    let last_size = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap()) as usize;
    let last = bytes.len() - last_size;
    const TDB_FREE_MAGIC: u32 = 0xd9fee666;
    bytes[last + 20..last + 24].copy_from_slice(&TDB_FREE_MAGIC.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let before = bytes.len() as u64;

    for in_transaction in [true, false] {
        let mut t = open(&path, &rw_create(0, flags::NOSYNC));
        if in_transaction {
            t.transaction_start().unwrap();
        }
        let r = t.store(b"big", &[1u8; 10_000], tdb_pure::StoreFlag::Insert);
        assert!(matches!(r, Err(Error::Oom(_))), "{r:?}");
        drop(t);
        let after = std::fs::metadata(&path).unwrap().len();
        assert!(after < before + 10_000_000, "grew from {before} to {after}");
    }
}
