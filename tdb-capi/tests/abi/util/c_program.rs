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

/// The same program built with AddressSanitizer and UBSan (its heap checks cover the
/// buffers our library hands out and the caller frees), or `None` when this gcc has no
/// sanitizer runtime.
pub fn abi_check_asan() -> Option<&'static Path> {
    static PROGRAM: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    let built = PROGRAM.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let program = dir.path().join("abi_check_asan");
        let flags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"];
        try_gcc(&program, &sources(), &["-O1", flags[0], flags[1]]).ok()?;
        Some((dir, program))
    });
    built.as_ref().map(|(_, p)| p.as_path())
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
    if let Err(e) = try_gcc(program, sources, &[optimise]) {
        panic!("compiling {} failed:\n{e}", program.display());
    }
}

/// [`gcc`] with extra flags, returning gcc's complaint instead of panicking.
fn try_gcc(program: &Path, sources: &[PathBuf], flags: &[&str]) -> Result<(), String> {
    let include = workspace_root().join("vendor/libtdb/usr/include");
    assert!(
        include.join("tdb.h").exists(),
        "{} is missing: run `make vendor` first",
        include.display()
    );
    let output = Command::new("gcc")
        .args(flags)
        .args(["-g", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(program)
        .arg("-I")
        .arg(&include)
        .args(sources)
        .arg("-L")
        .arg(Lib::Debian.dir())
        .arg("-ltdb")
        .output()
        .expect("running gcc (apt-get install gcc)");
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}
