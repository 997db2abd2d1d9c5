//! The directory a recording writes to: made ready before a recording (the tool's own
//! traces of an earlier recording of the same database are removed; anyone else's are
//! refused, never mixed in), and a staging area per attempt, so that a replay run that
//! deadlocked and was restarted leaves no half traces behind.

use std::path::{Path, PathBuf};

use crate::scratch::{self, ScratchError};

/// The trace files of database `db_name` in `dir` (`<db_name>.trace.<pid>`).
pub fn traces_of(dir: &Path, db_name: &str) -> Result<Vec<PathBuf>, ScratchError> {
    let prefix = format!("{db_name}.trace.");
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(ScratchError::Io(dir.to_owned(), error)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| ScratchError::Io(dir.to_owned(), error))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix(&prefix) {
            if !pid.is_empty() && pid.bytes().all(|byte| byte.is_ascii_digit()) {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Make `dir` ready to record database `db_name`: create it, and remove the traces of it
/// that tdb-replay recorded there before. A trace of it that the tool did not write is
/// refused (it would be mixed into the new set).
pub fn prepare(dir: &Path, db_name: &str) -> Result<(), ScratchError> {
    std::fs::create_dir_all(dir).map_err(|error| ScratchError::Io(dir.to_owned(), error))?;
    let old = traces_of(dir, db_name)?;
    for path in &old {
        scratch::check_replaceable(path)?;
    }
    for path in &old {
        scratch::remove(path)?;
    }
    Ok(())
}

/// A staging directory for one attempt of a recorded run, inside `dir`.
pub fn staging(dir: &Path) -> Result<PathBuf, ScratchError> {
    let staging = dir.join(format!(".tdb-replay-recording.{}", std::process::id()));
    discard(&staging)?;
    std::fs::create_dir_all(&staging).map_err(|error| ScratchError::Io(staging.clone(), error))?;
    Ok(staging)
}

/// Move every trace recorded in `staging` to `dir` and remove `staging`; returns the
/// traces' new paths.
pub fn keep(staging: &Path, dir: &Path) -> Result<Vec<PathBuf>, ScratchError> {
    let mut kept = Vec::new();
    for path in all_traces(staging)? {
        let to = dir.join(path.file_name().unwrap_or_default());
        scratch::rename(&path, &to)?;
        kept.push(to);
    }
    discard(staging)?;
    kept.sort();
    Ok(kept)
}

/// Remove `staging` and the traces in it.
pub fn discard(staging: &Path) -> Result<(), ScratchError> {
    if !staging.exists() {
        return Ok(());
    }
    for path in all_traces(staging)? {
        scratch::remove(&path)?;
    }
    std::fs::remove_dir(staging).map_err(|error| ScratchError::Io(staging.to_owned(), error))
}

/// Every trace file (ours, by their markers) in `dir`.
fn all_traces(dir: &Path) -> Result<Vec<PathBuf>, ScratchError> {
    let entries =
        std::fs::read_dir(dir).map_err(|error| ScratchError::Io(dir.to_owned(), error))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| ScratchError::Io(dir.to_owned(), error))?;
        let path = entry.path();
        if path.is_file() && scratch::is_ours(&path) {
            found.push(path);
        }
    }
    Ok(found)
}
