//! The files a command reads or creates: database files checked before they are opened,
//! scratch databases claimed before they are replaced, fresh paths for databases the
//! user did not name, and recording directories made ready.

use std::path::{Path, PathBuf};

use anyhow::Result;
use replay_engine::inspect;
use replay_engine::record::{self, Layout, RecordOptions};
use replay_engine::scratch;

use crate::exit::bad_input;

/// Where and how a run is recorded (`--record DIR [--layout L]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recording {
    /// The directory for the traces.
    pub dir: PathBuf,
    /// The trace layout.
    pub layout: Layout,
}

/// Make sure the scratch database `path` may be created or replaced: it does not exist,
/// or tdb-replay created it, or the user passed `--overwrite` (which hands it over).
pub fn claim_scratch(path: &Path, overwrite: bool) -> Result<()> {
    let claimed = if overwrite {
        scratch::adopt(path)
    } else {
        scratch::check_replaceable(path)
    };
    claimed.map_err(bad_input)
}

/// A path for a database the user did not name: `name` in a new directory under the
/// system's temporary directory (kept, like every scratch database), announced on
/// stderr.
pub fn fresh_database(name: &str) -> Result<PathBuf> {
    let dir = tempfile::Builder::new()
        .prefix("tdb-replay-")
        .tempdir()
        .map_err(|error| anyhow::anyhow!("cannot create a temporary directory: {error}"))?
        .keep();
    let path = dir.join(name);
    eprintln!("Database: {}", path.display());
    Ok(path)
}

/// The database file a command is to read: it must exist and be a tdb file (bad input
/// otherwise), whatever an engine would then make of it.
pub fn existing_database(path: &Path) -> Result<PathBuf> {
    match inspect::unusable(path) {
        Some(problem) => Err(bad_input(format!("{}: {problem}", path.display()))),
        None => Ok(path.to_path_buf()),
    }
}

/// The engine's recording options for `recording`, with its directory made ready for the
/// traces of database `db` (the tool's earlier traces of it removed, anyone else's
/// refused).
pub fn prepare_recording(
    recording: Option<&Recording>,
    db: &Path,
) -> Result<Option<RecordOptions>> {
    let Some(recording) = recording else {
        return Ok(None);
    };
    let name = db
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    record::dir::prepare(&recording.dir, &name)
        .map_err(|error| bad_input(format!("--record {}: {error}", recording.dir.display())))?;
    Ok(Some(RecordOptions {
        dir: recording.dir.clone(),
        layout: recording.layout,
        retry_lock_errors: false,
    }))
}
