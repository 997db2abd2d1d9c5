//! Loading a libtdb at run time: Debian's libtdb.so.1 works through the same handle, and
//! what is not a libtdb is refused with a reason.

use std::path::Path;

use tempfile::TempDir;

use crate::{Api, OpenOptions, StoreFlag, Tdb};

const DEBIAN_LIBTDB: &str = "/usr/lib/x86_64-linux-gnu/libtdb.so.1";
const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";

/// Debian's library, or `None` (with a note) where libtdb1 is not installed.
fn debian() -> Option<&'static Api> {
    if !Path::new(DEBIAN_LIBTDB).exists() {
        eprintln!("skipped: {DEBIAN_LIBTDB} is absent (apt-get install libtdb1)");
        return None;
    }
    Some(Api::load(Path::new(DEBIAN_LIBTDB)).expect("Debian's libtdb loads"))
}

#[test]
fn debian_libtdb_writes_a_file_the_static_build_reads() {
    let Some(api) = debian() else { return };
    assert!(!api.is_builtin());
    assert_eq!(api.origin(), DEBIAN_LIBTDB);
    assert!(api.missing_optional().is_empty(), "{api:?}");
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("loaded.tdb");
    let mut loaded = Tdb::open_with_api(api, &path, &OpenOptions::default()).expect("open");
    assert!(std::ptr::eq(loaded.api(), api));
    loaded.store(b"k", b"v", StoreFlag::Insert).expect("store");
    loaded.close().expect("close");
    let mut builtin = Tdb::open(&path, &OpenOptions::default()).expect("reopen");
    assert!(builtin.api().is_builtin());
    assert_eq!(
        builtin.fetch(b"k").expect("fetch").as_deref(),
        Some(&b"v"[..])
    );
}

#[test]
fn what_is_not_a_libtdb_is_refused_with_its_reason() {
    let dir = TempDir::new().expect("tempdir");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a library\n").expect("write");
    let reason = |path: &Path| Api::load(path).expect_err("refused").reason().to_string();
    assert!(reason(&dir.path().join("absent.so")).starts_with("cannot be read"));
    assert!(reason(&text).contains("not an ELF file"));
    assert!(reason(dir.path()).contains("not a file"));
    if Path::new(LIBC).exists() {
        assert_eq!(
            reason(Path::new(LIBC)),
            "not a libtdb: it has no tdb_open_ex"
        );
    }
    if Path::new("/bin/true").exists() {
        // A position-independent program is ELF type DYN too: dlopen refuses it.
        assert!(reason(Path::new("/bin/true")).starts_with("cannot be loaded"));
    }
}
