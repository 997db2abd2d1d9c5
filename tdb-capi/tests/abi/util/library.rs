//! The two libraries every test runs on: Debian's `libtdb.so.1` and ours
//! (`target/release/libtdb.so.1`, brought up to date by the capi step). Each gets a
//! directory of its own holding only a `libtdb.so.1` (and `libtdb.so`, for linking)
//! symlink, so `LD_LIBRARY_PATH` picks exactly one library per run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Debian's library, the reference (package `libtdb1`).
pub const DEBIAN_LIBTDB: &str = "/usr/lib/x86_64-linux-gnu/libtdb.so.1";

/// One of the two libraries under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lib {
    /// Debian's libtdb 1.4.8.
    Debian,
    /// Ours: tdb-pure behind the C ABI.
    Ours,
}

impl Lib {
    /// Both libraries, Debian's first.
    pub const BOTH: [Lib; 2] = [Lib::Debian, Lib::Ours];

    /// A short name for messages and file names.
    pub fn name(self) -> &'static str {
        match self {
            Lib::Debian => "debian",
            Lib::Ours => "ours",
        }
    }

    /// The library file itself (symlinks resolved).
    pub fn file(self) -> &'static Path {
        static DEBIAN: OnceLock<PathBuf> = OnceLock::new();
        static OURS: OnceLock<PathBuf> = OnceLock::new();
        match self {
            Lib::Debian => DEBIAN.get_or_init(|| canonical(Path::new(DEBIAN_LIBTDB))),
            Lib::Ours => OURS.get_or_init(|| canonical(&our_library())),
        }
    }

    /// The directory to put in `LD_LIBRARY_PATH` (and `-L`) for this library.
    pub fn dir(self) -> &'static Path {
        static DIRS: OnceLock<[tempfile::TempDir; 2]> = OnceLock::new();
        let dirs = DIRS.get_or_init(|| Lib::BOTH.map(link_dir));
        dirs[self as usize].path()
    }
}

/// Whether Debian's library is installed (tests skip, saying so, when it is not).
pub fn debian_present() -> bool {
    let present = Path::new(DEBIAN_LIBTDB).exists();
    if !present {
        eprintln!("skipped: {DEBIAN_LIBTDB} is missing (apt-get install libtdb1)");
    }
    present
}

/// The workspace's root directory.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tdb-capi lives in the workspace")
}

/// This crate's test data directory.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn link_dir(lib: Lib) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("libtdb-{}-", lib.name()))
        .tempdir()
        .expect("a temporary directory");
    for name in ["libtdb.so.1", "libtdb.so"] {
        std::os::unix::fs::symlink(lib.file(), dir.path().join(name)).expect("a symlink");
    }
    dir
}

/// The target directory this test binary was built into (`<target>/<profile>/deps/..`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("<target>/<profile>/deps");
    let profile = deps.parent().expect("<target>/<profile>");
    profile.parent().expect("<target>").to_path_buf()
}

/// Our library: `$TDB_CAPI_LIB` if set, else `<target>/release/libtdb.so.1`, brought up
/// to date by the capi step (`tdb-capi/build-so.sh`: a cargo build of tdb-capi, which
/// is a no-op after this test's own build, and the link) once per test process. Cargo
/// holds no lock while tests run, so the nested build cannot deadlock.
fn our_library() -> PathBuf {
    if let Some(path) = std::env::var_os("TDB_CAPI_LIB") {
        return PathBuf::from(path);
    }
    let target = target_dir();
    let so = target.join("release/libtdb.so.1");
    let status = Command::new(workspace_root().join("tdb-capi/build-so.sh"))
        .current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", &target)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("running tdb-capi/build-so.sh");
    assert!(
        status.success(),
        "tdb-capi/build-so.sh failed; run `make capi` to see why"
    );
    assert!(
        so.exists(),
        "{} is missing after the capi build step",
        so.display()
    );
    so
}
