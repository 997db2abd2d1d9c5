//! The engines the commands run on, and the checks that need both of them.

use std::path::Path;

use anyhow::{bail, Result};
use replay_engine::inspect;

/// The C backend.
pub type CBackend = replay_engine::backend::c::CTdb;
/// The pure-Rust backend.
pub type PureBackend = replay_engine::backend::pure::PureTdb;

/// The records C tdb and tdb-pure count in the file, once both found it sound and they
/// agree.
pub fn sound_to_both(path: &Path) -> Result<(u64, u64)> {
    let c = inspect::check_file::<CBackend>(path).map_err(anyhow::Error::msg)?;
    let pure = inspect::check_file::<PureBackend>(path).map_err(anyhow::Error::msg)?;
    if c != pure {
        bail!(
            "{}: C tdb counts {c} records, tdb-pure {pure}",
            path.display()
        );
    }
    Ok((c, pure))
}

/// The line that reports a file [`sound_to_both`] engines.
pub fn sound_to_both_line((c, pure): (u64, u64)) -> String {
    format!("Final database: sound to both engines ({c} records to C, {pure} to tdb-pure).")
}
