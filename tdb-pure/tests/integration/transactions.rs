//! Transactions: visibility, cancel, nesting, growth, C compatibility of committed files,
//! isolation from other processes, and crash recovery compared with C tdb.

use std::ops::ControlFlow;
use std::path::Path;

use crate::util::*;
use tdb_pure::{code, flags, Error, StoreFlag, Tdb};

/// C's view of a closed file: tdb_check passes, tdbtool agrees, and the contents.
fn c_verify(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut c = c_open(path, 0, 0);
    c.check().unwrap();
    let e = c_entries(&mut c);
    drop(c);
    if let Some((ok, out)) = tool("tdbtool", &[path.to_str().unwrap(), "check"]) {
        assert!(ok && out.contains("integrity is OK"), "{out}");
    }
    sorted(e)
}

fn kv(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
    (k.as_bytes().to_vec(), v.as_bytes().to_vec())
}

#[test]
fn commit_makes_changes_visible_and_c_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.tdb");
    let mut p = open(&path, &rw_create(0, 0));
    p.store(b"k1", b"old", StoreFlag::Insert).unwrap();
    p.transaction_start().unwrap();
    assert!(p.transaction_active());
    p.store(b"k1", b"new", StoreFlag::Replace).unwrap();
    p.store(b"k2", b"two", StoreFlag::Insert).unwrap();
    assert_eq!(p.fetch(b"k1").unwrap(), b"new");
    p.delete(b"k2").unwrap();
    p.store(b"k3", b"three", StoreFlag::Insert).unwrap();
    p.transaction_commit().unwrap();
    assert!(!p.transaction_active());
    assert_eq!(p.fetch(b"k1").unwrap(), b"new");
    assert_eq!(p.fetch(b"k2").unwrap_err().code(), code::NOEXIST);
    p.check().unwrap();
    drop(p);
    assert_eq!(c_verify(&path), vec![kv("k1", "new"), kv("k3", "three")]);
}

#[test]
fn cancel_discards_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.tdb");
    let mut p = open(&path, &rw_create(0, 0));
    p.store(b"k1", b"old", StoreFlag::Insert).unwrap();
    let before = std::fs::read(&path).unwrap();
    p.transaction_start().unwrap();
    for i in 0..200 {
        p.store(format!("x{i}").as_bytes(), &[7u8; 300], StoreFlag::Insert)
            .unwrap();
    }
    p.delete(b"k1").unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "file untouched inside"
    );
    p.transaction_cancel().unwrap();
    assert!(std::fs::read(&path).unwrap() == before, "file changed");
    assert_eq!(p.fetch(b"k1").unwrap(), b"old");
    assert_eq!(p.entries().unwrap().len(), 1);
    // Cancel after prepare removes the recovery magic; the data stays old.
    p.transaction_start().unwrap();
    p.store(b"k1", b"newer", StoreFlag::Replace).unwrap();
    p.transaction_prepare_commit().unwrap();
    p.transaction_cancel().unwrap();
    assert_eq!(p.fetch(b"k1").unwrap(), b"old");
    drop(p);
    assert_eq!(c_verify(&path), vec![kv("k1", "old")]);
    // No transaction: C's -1 without a new error code.
    let mut p = open(&path, &rw_create(0, 0));
    assert!(p.transaction_cancel().is_err());
    assert!(p.transaction_commit().is_err());
}

#[test]
fn nested_transactions_follow_c() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("n.tdb");
    let mut p = open(&path, &rw_create(0, 0));
    p.store(b"k1", b"v0", StoreFlag::Insert).unwrap();

    // Nested commit only decrements: nothing is published until the outer commit.
    p.transaction_start().unwrap();
    p.transaction_start().unwrap();
    p.store(b"k1", b"v1", StoreFlag::Replace).unwrap();
    p.transaction_commit().unwrap();
    assert!(p.transaction_active());
    assert!(c_can(&path, "fetch:k1=v0"));
    p.transaction_commit().unwrap();
    assert!(c_can(&path, "fetch:k1=v1"));

    // A nested cancel dooms the outer commit, which fails with IO and discards all.
    p.transaction_start().unwrap();
    p.store(b"k1", b"v2", StoreFlag::Replace).unwrap();
    p.transaction_start().unwrap();
    p.store(b"k2", b"x", StoreFlag::Replace).unwrap();
    p.transaction_cancel().unwrap();
    assert!(p.transaction_active());
    assert_eq!(p.transaction_commit().unwrap_err().code(), code::IO);
    assert!(!p.transaction_active());
    assert_eq!(p.fetch(b"k1").unwrap(), b"v1");
    assert!(!p.exists(b"k2").unwrap());
    drop(p);

    // DISALLOW_NESTING.
    let mut p = open(&path, &rw_create(0, flags::DISALLOW_NESTING));
    p.transaction_start().unwrap();
    assert_eq!(p.transaction_start().unwrap_err().code(), code::NESTING);
    p.transaction_cancel().unwrap();
    assert!(!p.transaction_active());
}

#[test]
fn start_is_refused_where_c_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("r.tdb");
    let mut p = open(&path, &rw_create(0, 0));
    p.store(b"k1", b"v", StoreFlag::Insert).unwrap();
    p.chainlock(b"k1").unwrap();
    assert_eq!(p.transaction_start().unwrap_err().code(), code::LOCK);
    p.chainunlock(b"k1").unwrap();
    p.lockall_write().unwrap();
    assert_eq!(p.transaction_start().unwrap_err().code(), code::LOCK);
    p.unlockall_write().unwrap();
    let mut r = None;
    p.traverse_read(|t, _, _| {
        r = Some(t.transaction_start().unwrap_err().code());
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(r, Some(code::EINVAL));
    let mut r = None;
    p.traverse(|t, _, _| {
        r = Some(t.transaction_start().unwrap_err().code());
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(r, Some(code::LOCK));
    // A traverse inside a transaction is fine.
    p.transaction_start().unwrap();
    assert_eq!(p.traverse(|_, _, _| ControlFlow::Continue(())).unwrap(), 1);
    p.transaction_commit().unwrap();
    drop(p);
    let mut ro_handle = open(&path, &ro());
    assert_eq!(
        ro_handle.transaction_start().unwrap_err().code(),
        code::EINVAL
    );
    let mut mem = Tdb::open_internal(0, 0).unwrap();
    assert_eq!(mem.transaction_start().unwrap_err().code(), code::EINVAL);
}

#[test]
fn growth_inside_a_transaction_matches_c_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = tmp.path().join("c.tdb");
    let pp = tmp.path().join("p.tdb");
    let mut c = c_open(&cp, 31, 0);
    let mut p = open(&pp, &rw_create(31, 0));
    for round in 0..4u32 {
        c.transaction_start().unwrap();
        p.transaction_start().unwrap();
        let size_before = std::fs::metadata(&pp).unwrap().len();
        for i in 0..150u32 {
            let k = format!("r{round}k{i}");
            let d = vec![(i % 251) as u8; (i * 37 % 3000) as usize + 1];
            c.store(k.as_bytes(), &d, tdb_sys::StoreFlag::Replace)
                .unwrap();
            p.store(k.as_bytes(), &d, StoreFlag::Replace).unwrap();
            if i % 3 == 0 && round > 0 {
                let old = format!("r{}k{i}", round - 1);
                c.delete(old.as_bytes()).unwrap();
                p.delete(old.as_bytes()).unwrap();
            }
        }
        if round == 0 {
            assert!(p.file_size().unwrap() > size_before, "grew inside");
        }
        assert_eq!(
            std::fs::metadata(&pp).unwrap().len(),
            size_before,
            "the real file grows only at commit"
        );
        c.transaction_commit().unwrap();
        p.transaction_commit().unwrap();
        assert!(
            std::fs::read(&cp).unwrap() == std::fs::read(&pp).unwrap(),
            "round {round}: files differ"
        );
    }
    assert_eq!(sorted(c_entries(&mut c)), sorted(p.entries().unwrap()));
    drop(c);
    drop(p);
    c_verify(&pp);
}

#[test]
fn repack_matches_c() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = tmp.path().join("c.tdb");
    let pp = tmp.path().join("p.tdb");
    let mut c = c_open(&cp, 7, 0);
    let mut p = open(&pp, &rw_create(7, 0));
    for i in 0..300u32 {
        let k = format!("k{}", i % 90);
        let d = vec![i as u8; (i * 13 % 700) as usize];
        c.store(k.as_bytes(), &d, tdb_sys::StoreFlag::Replace)
            .unwrap();
        p.store(k.as_bytes(), &d, StoreFlag::Replace).unwrap();
        if i % 4 == 0 {
            let _ = c.delete(format!("k{}", i % 37).as_bytes());
            let _ = p.delete(format!("k{}", i % 37).as_bytes());
        }
    }
    c.repack().unwrap();
    p.repack().unwrap();
    assert!(
        std::fs::read(&cp).unwrap() == std::fs::read(&pp).unwrap(),
        "repacked files differ"
    );
    drop(c);
    drop(p);
    c_verify(&pp);
}

#[test]
fn other_processes_see_old_values_and_cannot_write_until_commit() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("iso.tdb");
    let mut p = open(&path, &rw_create(0, 0));
    p.store(b"k1", b"old", StoreFlag::Insert).unwrap();
    assert!(c_can(&path, "chain:k1"));
    p.transaction_start().unwrap();
    p.store(b"k1", b"new", StoreFlag::Replace).unwrap();
    p.store(b"k2", b"added", StoreFlag::Insert).unwrap();
    assert!(c_can(&path, "fetch:k1=old"), "readers see the old value");
    assert!(c_can(&path, "fetch:k2=-"));
    assert!(
        c_can(&path, "chain_read:k1"),
        "chain read locks still granted"
    );
    assert!(!c_can(&path, "chain:k1"), "writers are excluded");
    assert!(
        !c_can(&path, "transaction"),
        "other transactions are excluded"
    );
    p.transaction_commit().unwrap();
    assert!(c_can(&path, "fetch:k1=new"));
    assert!(c_can(&path, "fetch:k2=added"));
    assert!(c_can(&path, "chain:k1"));
    assert!(c_can(&path, "transaction"));
}

fn recovery_start(image: &[u8]) -> usize {
    u32::from_le_bytes(image[44..48].try_into().unwrap()) as usize
}

/// Where C's and tdb-pure's recoveries of `image` may differ: tdb-pure puts the space
/// the crashed commit had added past the old end of file (`key_len` of the recovery area)
/// on the freelist, as one free record up to the recovery area or the end of the file,
/// and it keeps the header's pointer to an area past that end, which C clears.
/// Returns C's file with those changes made.
fn with_space_reclaimed(image: &[u8], by_c: &[u8]) -> Option<Vec<u8>> {
    let word = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let start = recovery_start(image);
    let old_eof = word(image, start + 8) as usize;
    let end = if start >= old_eof { start } else { by_c.len() };
    let mut out = by_c.to_vec();
    out[44..48].copy_from_slice(&(start as u32).to_le_bytes());
    if end < old_eof + 28 {
        return Some(out);
    }
    let total = (end - old_eof) as u32;
    let head = word(by_c, 168);
    let header = [head, total - 24, 0, 0, 0, 0xd9fe_e666];
    for (i, w) in header.iter().enumerate() {
        out[old_eof + 4 * i..old_eof + 4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    out[end - 4..end].copy_from_slice(&total.to_le_bytes());
    out[168..172].copy_from_slice(&(old_eof as u32).to_le_bytes());
    Some(out)
}

/// Open `image` with C and with tdb-pure (each on its own copy); both must recover to
/// the same bytes (but for the space tdb-pure reclaims) and the same contents.
fn recover_both(tmp: &Path, name: &str, image: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let cp = tmp.join(format!("{name}-c.tdb"));
    let pp = tmp.join(format!("{name}-p.tdb"));
    std::fs::write(&cp, image).unwrap();
    std::fs::write(&pp, image).unwrap();
    drop(c_open(&cp, 0, 0));
    let mut p = open(&pp, &rw_create(0, 0));
    // No tdb_check here: C leaves the space a crashed transaction added beyond the old
    // EOF as it was (unreferenced records), which its own check then reports.
    let pe = sorted(p.entries().unwrap());
    drop(p);
    let a = std::fs::read(&cp).unwrap();
    let b = std::fs::read(&pp).unwrap();
    let reclaimed = with_space_reclaimed(image, &a);
    assert!(
        a == b || reclaimed.is_some_and(|r| r == b),
        "{name}: recovered files differ"
    );
    let rs = recovery_start(&b);
    assert_ne!(rs, 0);
    assert_eq!(&b[rs + 20..rs + 24], &[0, 0, 0, 0], "{name}: magic cleared");
    let mut c = c_open(&pp, 0, 0);
    assert_eq!(sorted(c_entries(&mut c)), pe, "{name}: C reads the same");
    pe
}

fn crash_images(prepared: &[u8], committed: &[u8]) -> Vec<(String, Vec<u8>)> {
    let rs = recovery_start(prepared);
    assert_eq!(
        &prepared[rs + 20..rs + 24],
        &0xF53B_C0E7u32.to_le_bytes(),
        "prepare leaves a valid recovery area"
    );
    // Crash after every block was written but before the magic was cleared.
    let mut all = committed.to_vec();
    all[rs + 20..rs + 24].copy_from_slice(&0xF53B_C0E7u32.to_le_bytes());
    // Crash half-way through the block writes.
    let mut half = prepared.to_vec();
    let cut = rs / 2 / 4096 * 4096;
    half[..cut].copy_from_slice(&committed[..cut]);
    vec![
        ("prepared".into(), prepared.to_vec()),
        ("all-written".into(), all),
        ("half-written".into(), half),
    ]
}

#[test]
fn crash_recovery_is_replayed_identically_by_c_and_pure() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("crash.tdb");
    let mut p = open(&path, &rw_create(0, 0));
    for i in 0..400u32 {
        p.store(
            format!("k{i}").as_bytes(),
            &[i as u8; 60],
            StoreFlag::Insert,
        )
        .unwrap();
    }
    // A first transaction places the recovery area.
    p.transaction_start().unwrap();
    p.store(b"k0", b"first", StoreFlag::Replace).unwrap();
    p.transaction_commit().unwrap();
    let original = sorted(p.entries().unwrap());

    // tdb-pure's recovery area.
    p.transaction_start().unwrap();
    for i in (0..400u32).step_by(3) {
        p.store(format!("k{i}").as_bytes(), &[0xEE; 90], StoreFlag::Replace)
            .unwrap();
    }
    p.delete(b"k1").unwrap();
    p.transaction_prepare_commit().unwrap();
    let prepared = std::fs::read(&path).unwrap();
    p.transaction_commit().unwrap();
    let committed = std::fs::read(&path).unwrap();
    drop(p);
    for (name, image) in crash_images(&prepared, &committed) {
        assert_eq!(
            recover_both(tmp.path(), &format!("pure-{name}"), &image),
            original,
            "{name}"
        );
    }

    // C's recovery area, replayed by tdb-pure.
    let cpath = tmp.path().join("crash-c.tdb");
    std::fs::copy(&path, &cpath).unwrap();
    let mut c = c_open(&cpath, 0, 0);
    let before = sorted(c_entries(&mut c));
    c.transaction_start().unwrap();
    for i in (1..400u32).step_by(5) {
        c.store(
            format!("k{i}").as_bytes(),
            &[0x11; 200],
            tdb_sys::StoreFlag::Replace,
        )
        .unwrap();
    }
    c.transaction_prepare_commit().unwrap();
    let prepared = std::fs::read(&cpath).unwrap();
    c.transaction_commit().unwrap();
    let committed = std::fs::read(&cpath).unwrap();
    drop(c);
    for (name, image) in crash_images(&prepared, &committed) {
        assert_eq!(
            recover_both(tmp.path(), &format!("c-{name}"), &image),
            before,
            "{name}"
        );
    }
}

#[test]
fn open_handles_recover_on_their_first_lock_like_c() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("live.tdb");
    let mut p = open(&path, &rw_create(0, 0));
    for i in 0..100u32 {
        p.store(
            format!("k{i}").as_bytes(),
            &[i as u8; 40],
            StoreFlag::Insert,
        )
        .unwrap();
    }
    p.transaction_start().unwrap();
    p.store(b"k0", b"placed", StoreFlag::Replace).unwrap();
    p.transaction_commit().unwrap();
    let clean = std::fs::read(&path).unwrap();
    p.transaction_start().unwrap();
    for i in 0..100u32 {
        p.store(format!("k{i}").as_bytes(), b"crashed", StoreFlag::Replace)
            .unwrap();
    }
    p.transaction_prepare_commit().unwrap();
    let prepared = std::fs::read(&path).unwrap();
    p.transaction_commit().unwrap();
    let committed = std::fs::read(&path).unwrap();
    drop(p);
    let (_, image) = crash_images(&prepared, &committed).remove(1);

    // Each engine has the clean file open when a "crashed committer" leaves the image.
    let cp = tmp.path().join("live-c.tdb");
    let pp = tmp.path().join("live-p.tdb");
    std::fs::write(&cp, &clean).unwrap();
    std::fs::write(&pp, &clean).unwrap();
    let mut c = c_open(&cp, 0, 0);
    let mut p = open(&pp, &rw_create(0, 0));
    std::fs::write(&cp, &image).unwrap();
    std::fs::write(&pp, &image).unwrap();
    let a = c.fetch(b"k5").unwrap().map(|d| d.as_slice().to_vec());
    let b = p.fetch(b"k5").ok();
    assert_eq!(a, b);
    assert_eq!(
        b.as_deref(),
        Some(&[5u8; 40][..]),
        "old value after recovery"
    );
    drop(c);
    drop(p);
    assert!(
        std::fs::read(&cp).unwrap() == std::fs::read(&pp).unwrap(),
        "recovered files differ"
    );

    // The allrecord lock checks too.
    std::fs::write(&pp, &clean).unwrap();
    let mut p = open(&pp, &rw_create(0, 0));
    std::fs::write(&pp, &image).unwrap();
    p.lockall_write().unwrap();
    p.unlockall_write().unwrap();
    drop(p);
    assert!(
        std::fs::read(&cp).unwrap() == std::fs::read(&pp).unwrap(),
        "recovered files differ"
    );
}

#[test]
fn closing_a_prepared_transaction_cancels_it() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("close.tdb");
    let mut p = open(&path, &rw_create(0, 0));
    p.store(b"k1", b"old", StoreFlag::Insert).unwrap();
    p.transaction_start().unwrap();
    p.store(b"k1", b"new", StoreFlag::Replace).unwrap();
    p.transaction_prepare_commit().unwrap();
    let image = std::fs::read(&path).unwrap();
    let rs = recovery_start(&image);
    assert_eq!(&image[rs + 20..rs + 24], &0xF53B_C0E7u32.to_le_bytes());
    drop(p);
    let image = std::fs::read(&path).unwrap();
    assert_eq!(&image[rs + 20..rs + 24], &[0, 0, 0, 0], "magic cleared");
    assert_eq!(c_verify(&path), vec![kv("k1", "old")]);
}

#[test]
fn reclaiming_leftovers_leaves_a_sound_file_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("sound.tdb");
    let mut db = open(&path, &rw_create(0, 0));
    for round in 0..3u8 {
        db.transaction_start().unwrap();
        for i in 0..200 * (u32::from(round) + 1) {
            db.store(
                format!("k{i}").as_bytes(),
                &[round; 300],
                StoreFlag::Replace,
            )
            .unwrap();
        }
        db.transaction_commit().unwrap();
    }
    // The last commits grew the file: past the recovery area's end-of-file mark lie live
    // records, which are not leftovers.
    let before = std::fs::read(&path).unwrap();
    assert!(!db.check_report().unwrap().has_leftovers());
    assert_eq!(db.reclaim_crash_leftovers().unwrap(), 0);
    assert!(std::fs::read(&path).unwrap() == before, "the file changed");
    drop(db);
    c_verify(&path);
}

#[test]
fn a_file_that_needs_recovery_says_so_and_refuses_read_only_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("r.tdb");
    let copy = tmp.path().join("prepared.tdb");
    let mut p = open(&path, &rw_create(0, 0));
    p.store(b"k1", b"old", StoreFlag::Insert).unwrap();
    assert!(!tdb_pure::needs_recovery(&path).unwrap());
    // A prepared commit has made its recovery area valid: a copy taken now is the file
    // of a commit killed there.
    p.transaction_start().unwrap();
    p.store(b"k1", b"new", StoreFlag::Replace).unwrap();
    p.transaction_prepare_commit().unwrap();
    std::fs::copy(&path, &copy).unwrap();
    p.transaction_cancel().unwrap();
    drop(p);
    assert!(!tdb_pure::needs_recovery(&path).unwrap());
    assert!(tdb_pure::needs_recovery(&copy).unwrap());

    let refused = Tdb::open(&copy, &ro()).unwrap_err();
    assert!(matches!(refused, Error::NeedsRecovery), "{refused:?}");
    assert_eq!(refused.code(), code::CORRUPT);
    assert_eq!(
        refused.to_string(),
        "corrupt database: database needs recovery but is opened read-only"
    );
    // The next read-write open rolls the commit back.
    let mut p = open(&copy, &rw_create(0, 0));
    assert_eq!(p.fetch(b"k1").unwrap(), b"old");
    drop(p);
    assert!(!tdb_pure::needs_recovery(&copy).unwrap());
    let not_a_tdb = tmp.path().join("empty");
    std::fs::write(&not_a_tdb, b"").unwrap();
    assert!(tdb_pure::needs_recovery(&not_a_tdb).is_err());
}
