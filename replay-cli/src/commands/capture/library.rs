//! Where the interposer library is: `$TDB_CAPTURE_LIBRARY`, or beside the `tdb-replay`
//! binary (`cargo build --release` builds both into `target/release`).

use std::path::PathBuf;

use anyhow::Result;

use crate::exit::bad_input;

/// The library's file name.
pub const FILE_NAME: &str = "libtdb_capture.so";
/// The variable that overrides where the library is.
const LIBRARY_VAR: &str = "TDB_CAPTURE_LIBRARY";

/// The library's absolute path, or what to do when it is missing.
pub fn find() -> Result<PathBuf> {
    let path = match std::env::var_os(LIBRARY_VAR).filter(|value| !value.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => {
            let exe = std::env::current_exe().map_err(|error| {
                bad_input(format!("cannot find the tdb-replay binary: {error}"))
            })?;
            exe.parent().unwrap_or(&exe).join(FILE_NAME)
        }
    };
    if !path.is_file() {
        return Err(bad_input(format!(
            "the capture library {} is missing: build it with `cargo build --release -p \
             tdb-capture` (it goes beside tdb-replay), or name it in ${LIBRARY_VAR}",
            path.display()
        )));
    }
    std::fs::canonicalize(&path).map_err(|error| bad_input(format!("{}: {error}", path.display())))
}
