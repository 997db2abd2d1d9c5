//! The C test program (testdata/c): compiled once against the vendored `tdb.h` and
//! linked dynamically against Debian's libtdb.so.1 (so it carries Debian's symbol
//! versions), then run on either library through `LD_LIBRARY_PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::library::{testdata, workspace_root, Lib};

/// The compiled `abi_check` program.
pub fn abi_check() -> &'static Path {
    static PROGRAM: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &PROGRAM.get_or_init(compile).1
}

/// The C sources of the test program.
pub fn sources() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata().join("c"))
        .expect("testdata/c")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    files.sort();
    files
}

fn compile() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let program = dir.path().join("abi_check");
    gcc(&program, &sources(), "-O1");
    (dir, program)
}

/// Compiles `sources` into `program` against the vendored `tdb.h`, linked dynamically
/// against Debian's libtdb.so.1 (warnings are errors).
pub fn gcc(program: &Path, sources: &[PathBuf], optimise: &str) {
    let include = workspace_root().join("vendor/libtdb/usr/include");
    assert!(
        include.join("tdb.h").exists(),
        "{} is missing: run `make vendor` first",
        include.display()
    );
    let output = Command::new("gcc")
        .args([optimise, "-g", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(program)
        .arg("-I")
        .arg(&include)
        .args(sources)
        .arg("-L")
        .arg(Lib::Debian.dir())
        .arg("-ltdb")
        .output()
        .expect("running gcc (apt-get install gcc)");
    assert!(
        output.status.success(),
        "compiling {} failed:\n{}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}
