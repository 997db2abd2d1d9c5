//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use tdb_pure::{flags, OpenFlags, Tdb};

mod c_probe;
mod child;

pub use c_probe::c_can;
pub use child::{helper_command, helper_job, serial, test_name};

/// The directory of reference tdb files, or None (tests then print "skipped").
pub fn test_files() -> Option<PathBuf> {
    let dir = match std::env::var_os("TDB_PURE_TEST_FILES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/tdb-files"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: no test files directory");
        None
    }
}

/// Copy a reference file into a temp dir (the originals are read-only).
pub fn copy_of(dir: &Path, name: &str, tmp: &tempfile::TempDir) -> PathBuf {
    let dst = tmp.path().join(name);
    std::fs::copy(dir.join(name), &dst).unwrap();
    let mut perm = std::fs::metadata(&dst).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(&dst, perm).unwrap();
    dst
}

pub fn ro() -> OpenFlags {
    OpenFlags {
        hash_size: 0,
        tdb_flags: flags::DEFAULT,
        open_flags: libc::O_RDONLY,
        mode: 0,
    }
}

pub fn rw_create(hash_size: u32, tdb_flags: u32) -> OpenFlags {
    OpenFlags {
        hash_size,
        tdb_flags,
        open_flags: libc::O_RDWR | libc::O_CREAT,
        mode: 0o600,
    }
}

pub fn open(path: &Path, o: &OpenFlags) -> Tdb {
    Tdb::open(path, o).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// Run a Samba tool; None (with a note) if it is not installed.
pub fn tool(name: &str, args: &[&str]) -> Option<(bool, String)> {
    match Command::new(name).args(args).output() {
        Ok(out) => {
            let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&out.stderr));
            Some((out.status.success(), s))
        }
        Err(_) => {
            println!("skipped: {name} not installed");
            None
        }
    }
}

/// Deterministic xorshift generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Open (creating if needed) `path` with C tdb, for cross-checks.
pub fn c_open(path: &Path, hash_size: u32, tdb_flags: u32) -> tdb_sys::Tdb {
    tdb_sys::Tdb::open(
        path,
        &tdb_sys::OpenOptions {
            hash_size,
            tdb_flags,
            open_flags: libc::O_RDWR | libc::O_CREAT,
            mode: 0o600,
        },
    )
    .unwrap()
}

/// Every record C reads, in traverse order.
pub fn c_entries(c: &mut tdb_sys::Tdb) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    c.traverse_read(|_, k, d| {
        out.push((k.to_vec(), d.to_vec()));
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    out
}

/// Records in key order.
pub fn sorted(mut v: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<(Vec<u8>, Vec<u8>)> {
    v.sort();
    v
}
