//! Scratch databases: files the tool creates, replaces at will and never confuses with a
//! user's own.
//!
//! Every command that creates a database goes through [`replace`] and [`mark`]. A path
//! the tool may replace is one that does not exist, or whose file tdb-replay created
//! itself: when it creates a scratch file it writes a hidden marker beside it
//! (`.<name>.tdb-replay`) holding the new file's device and inode numbers and birth time.
//! A file that has been replaced by something else since is no longer the tool's.
//! [`adopt`] lets a user who passes `--overwrite` hand an existing file over.

use std::fmt;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The first line of every marker.
const MARKER_HEADER: &str = "tdb-replay scratch database";

/// A path the tool will not replace.
#[derive(Debug)]
pub enum ScratchError {
    /// The file exists and tdb-replay did not create it.
    NotOurs(PathBuf),
    /// The file system refused something.
    Io(PathBuf, io::Error),
}

impl fmt::Display for ScratchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScratchError::NotOurs(path) => write!(
                f,
                "{} already exists and tdb-replay did not create it, so it is left alone: \
                 give a path that does not exist yet, or pass --overwrite to let the tool \
                 replace it",
                path.display()
            ),
            ScratchError::Io(path, error) => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for ScratchError {}

/// Where the marker of `path` lives.
fn marker_of(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tdb-replay"))
}

/// The identity a marker records: device, inode and, where the file system keeps it, the
/// birth time (so a new file that reuses a deleted scratch file's inode is not ours).
fn identity(meta: &std::fs::Metadata) -> String {
    let born = meta
        .created()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_nanos());
    format!("{} {} {born}", meta.dev(), meta.ino())
}

/// Whether the file at `path` is one tdb-replay created (a missing file is not).
pub fn is_ours(path: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    match std::fs::read_to_string(marker_of(path)) {
        Ok(text) => {
            let mut lines = text.lines();
            lines.next() == Some(MARKER_HEADER) && lines.next() == Some(&identity(&meta))
        }
        Err(_) => false,
    }
}

/// Check that `path` may be created or replaced: it does not exist, or it is ours.
pub fn check_replaceable(path: &Path) -> Result<(), ScratchError> {
    match std::fs::symlink_metadata(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(ScratchError::Io(path.to_owned(), error)),
        Ok(_) if is_ours(path) => Ok(()),
        Ok(_) => Err(ScratchError::NotOurs(path.to_owned())),
    }
}

/// Make way for a new scratch file at `path`: remove the old one if it is ours, refuse if
/// it is not.
pub fn replace(path: &Path) -> Result<(), ScratchError> {
    check_replaceable(path)?;
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(ScratchError::Io(path.to_owned(), error)),
    }
}

/// Record that the file now at `path` was created by tdb-replay.
pub fn mark(path: &Path) -> Result<(), ScratchError> {
    let io_error = |error| ScratchError::Io(path.to_owned(), error);
    let meta = std::fs::symlink_metadata(path).map_err(io_error)?;
    let marker = marker_of(path);
    // A marker path holding something else is someone's file too (an empty one is a
    // marker whose writer was killed before it wrote).
    if let Ok(text) = std::fs::read_to_string(&marker) {
        if !text.is_empty() && !text.starts_with(MARKER_HEADER) {
            return Err(ScratchError::NotOurs(marker));
        }
    } else if marker.exists() {
        return Err(ScratchError::NotOurs(marker));
    }
    std::fs::write(&marker, format!("{MARKER_HEADER}\n{}\n", identity(&meta)))
        .map_err(|error| ScratchError::Io(marker, error))
}

/// Delete the scratch file at `path` and its marker, if the file is ours (a file that is
/// not ours is left alone, and so is its marker).
pub fn remove(path: &Path) -> Result<(), ScratchError> {
    if !is_ours(path) {
        return Ok(());
    }
    std::fs::remove_file(path).map_err(|error| ScratchError::Io(path.to_owned(), error))?;
    let marker = marker_of(path);
    std::fs::remove_file(&marker).map_err(|error| ScratchError::Io(marker, error))
}

/// Move the scratch file at `from` (ours) to `to` (which must be free), marker and all.
pub fn rename(from: &Path, to: &Path) -> Result<(), ScratchError> {
    if !is_ours(from) {
        return Err(ScratchError::NotOurs(from.to_owned()));
    }
    check_replaceable(to)?;
    std::fs::rename(from, to).map_err(|error| ScratchError::Io(to.to_owned(), error))?;
    let _ = std::fs::remove_file(marker_of(from));
    mark(to)
}

/// `--overwrite`: the user hands the existing file at `path` (if any) over to the tool.
pub fn adopt(path: &Path) -> Result<(), ScratchError> {
    if std::fs::symlink_metadata(path).is_ok() {
        mark(path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_file_is_refused_and_ours_is_replaceable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("important.tdb");
        check_replaceable(&path).expect("a missing path is free");
        std::fs::write(&path, b"precious").unwrap();
        let refused = replace(&path).unwrap_err();
        assert!(matches!(refused, ScratchError::NotOurs(_)));
        assert!(refused.to_string().contains("--overwrite"));
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");

        adopt(&path).unwrap();
        replace(&path).expect("handed over");
        assert!(!path.exists());

        std::fs::write(&path, b"ours").unwrap();
        mark(&path).unwrap();
        assert!(is_ours(&path));
        // Replaced behind our back by another file: not ours any more.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(dir.path().join("other"), b"x").unwrap();
        std::fs::write(&path, b"theirs").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        if meta.created().is_ok() {
            assert!(
                !is_ours(&path),
                "a new file is not ours, even in a reused inode"
            );
            assert!(replace(&path).is_err());
        }
    }

    #[test]
    fn a_foreign_marker_path_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.tdb");
        std::fs::write(&path, b"data").unwrap();
        std::fs::write(marker_of(&path), b"someone's notes").unwrap();
        assert!(matches!(mark(&path), Err(ScratchError::NotOurs(_))));
        assert_eq!(std::fs::read(marker_of(&path)).unwrap(), b"someone's notes");
    }
}
