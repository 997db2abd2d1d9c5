//! The engines the commands run on, and the checks that need both of them.

use std::path::Path;

use anyhow::{bail, Result};
use replay_engine::backend::engines::EngineVisitor;
use replay_engine::backend::runtime::Engine;
use replay_engine::backend::Backend;
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

/// Checks the file with every engine of a run (each distinct one once) and returns the
/// line that reports it sound to all, with each one's record count.
pub fn sound_to_every(engines: &[Engine], path: &Path) -> Result<String> {
    let mut counts: Vec<String> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut first = None;
    for engine in engines {
        if seen.contains(&engine.label()) {
            continue;
        }
        seen.push(engine.label());
        let records = engine
            .visit::<0, _>(CheckFile(path))
            .map_err(anyhow::Error::msg)?;
        if *first.get_or_insert(records) != records {
            bail!(
                "{}: {} counts {records} records, {} {}",
                path.display(),
                engine.label(),
                engines[0].label(),
                first.unwrap_or_default()
            );
        }
        counts.push(format!("{records} to {}", engine.label()));
    }
    Ok(format!(
        "Final database: sound to every engine ({}).",
        counts.join(", ")
    ))
}

/// [`inspect::check_file`] as an engine visitor.
pub struct CheckFile<'a>(pub &'a Path);

impl EngineVisitor for CheckFile<'_> {
    type Output = std::result::Result<u64, String>;

    fn visit<B: Backend>(self) -> Self::Output {
        inspect::check_file::<B>(self.0)
    }
}
