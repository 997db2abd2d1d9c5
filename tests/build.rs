//! Finds the tests of the `integration` binary, so that no list of them is kept by hand.
//!
//! That binary runs its tests on the main thread with its own harness (see
//! `integration/main.rs` for why), so libtest's `#[test]` cannot collect them. Instead,
//! every `pub fn NAME() {` at the start of a line of a module file directly under
//! `integration/` (not `main.rs`, not `util/`) is a test; this script writes the table
//! of them, `(module::NAME, module::NAME)` in file and line order, to
//! `$OUT_DIR/tests.rs`, which `main.rs` includes.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("integration");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut modules: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/integration exists")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .filter(|path| path.file_stem().is_some_and(|stem| stem != "main"))
        .collect();
    modules.sort();
    let mut table = String::from(
        "/// Every test of this binary, found in the sources by `build.rs`.\n\
         const TESTS: &[(&str, fn())] = &[\n",
    );
    for path in &modules {
        let module = path.file_stem().expect("a file").to_string_lossy();
        let source = std::fs::read_to_string(path).expect("readable module");
        for name in source.lines().filter_map(test_name) {
            writeln!(table, "    (\"{module}::{name}\", {module}::{name}),").expect("to a string");
        }
    }
    table.push_str("];\n");
    let out = Path::new(&std::env::var_os("OUT_DIR").expect("set by cargo")).join("tests.rs");
    std::fs::write(out, table).expect("writable OUT_DIR");
}

/// `NAME` of a line `pub fn NAME() {`.
fn test_name(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("pub fn ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    (rest[end..].trim_end() == "() {").then(|| &rest[..end])
}
