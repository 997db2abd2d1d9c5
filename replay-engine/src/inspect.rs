//! Looking at a database file with any backend: `dump` in the format of Samba's
//! `tdbdump`, and opening an existing file read-only for `check`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::Path;

use crate::backend::{Backend, OpenOptions, TdbResult, TraverseKind};

/// Open an existing database read-only (no creation, no locking by tdb's rules).
pub fn open_existing<B: Backend>(path: &Path) -> TdbResult<B> {
    B::open(path, &read_only())
}

fn read_only() -> OpenOptions {
    OpenOptions {
        hash_size: 0,
        tdb_flags: 0,
        open_flags: libc::O_RDONLY,
        mode: 0,
    }
}

/// Open the file read-write with engine `B` and close it again: the open rolls back a
/// commit that a crash interrupted.
pub fn open_read_write<B: Backend>(path: &Path) -> Result<(), String> {
    let options = OpenOptions {
        open_flags: libc::O_RDWR,
        ..read_only()
    };
    let db: B = B::open(path, &options)
        .map_err(|error| format!("{}: {} cannot open it: {error}", path.display(), B::label()))?;
    db.close().map_err(|error| {
        format!(
            "{}: {} cannot close it: {error}",
            path.display(),
            B::label()
        )
    })
}

/// Put what a killed commit left past the old end of file, once C's recovery rolled it
/// back, on the freelist (tdb-pure, read-write): the bytes reclaimed.
#[cfg(feature = "pure")]
pub fn reclaim_crash_leftovers(path: &Path) -> Result<u64, String> {
    let options = OpenOptions {
        open_flags: libc::O_RDWR,
        ..read_only()
    };
    crate::backend::pure::reclaim_crash_leftovers(path, &options)
        .map_err(|error| format!("{}: tdb-pure cannot reclaim: {error}", path.display()))
}

/// Whether the file holds a valid recovery area (a commit was interrupted after making
/// it valid): tdb-pure refuses to open such a file read-only. A file tdb-pure cannot read
/// as a tdb at all does not count.
pub fn needs_recovery(path: &Path) -> bool {
    tdb_pure::needs_recovery(path).unwrap_or(false)
}

/// Why a file cannot be looked at as a tdb at all, whichever engine tries.
#[derive(Debug)]
pub enum Unusable {
    /// It cannot be opened or read (it does not exist, say).
    Unreadable(std::io::Error),
    /// It does not start with a tdb header's magic string (or is shorter than a header).
    NotTdb,
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Unreadable(error) if error.kind() == std::io::ErrorKind::NotFound => {
                f.write_str("no such database file")
            }
            Unusable::Unreadable(error) => write!(f, "cannot read it: {error}"),
            Unusable::NotTdb => f.write_str("not a tdb file (short file or bad magic)"),
        }
    }
}

/// What makes the file at `path` no tdb file at all, read through tdb-pure's header
/// module (`None`: it starts as a tdb does; an engine may still refuse it).
#[cfg(feature = "pure")]
pub fn unusable(path: &Path) -> Option<Unusable> {
    use std::io::Read;
    use tdb_pure::header::{Header, HEADER_SIZE};
    let mut raw = Vec::with_capacity(HEADER_SIZE as usize);
    let read = std::fs::File::open(path)
        .and_then(|file| file.take(u64::from(HEADER_SIZE)).read_to_end(&mut raw));
    match read {
        Err(error) => Some(Unusable::Unreadable(error)),
        Ok(_) if !Header::has_magic(&raw) => Some(Unusable::NotTdb),
        Ok(_) => None,
    }
}

/// What an engine's failed check (or refused open) of a file says is wrong, as far as
/// the tool's hints care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckProblem {
    /// A commit was interrupted by a crash: the file needs recovery before a read-only
    /// open.
    InterruptedCommit,
    /// Dead space followed by records (C tdb 1.4.8 misreads it as corruption).
    DeadSpace,
    /// Anything else.
    Other,
}

/// The problem behind a failed check of the file at `path`, whose engine said `text`.
/// An interrupted commit is read from the file itself; dead space only C's own check
/// message tells (the one place that reads an engine's text).
pub fn check_problem(path: &Path, text: &str) -> CheckProblem {
    if needs_recovery(path) {
        CheckProblem::InterruptedCommit
    } else if text.contains("Dead space at") {
        CheckProblem::DeadSpace
    } else {
        CheckProblem::Other
    }
}

/// What tdb-pure's check of the file at `path` skipped as a killed commit's leftovers,
/// described for the user (`None` when there is nothing of the kind).
#[cfg(feature = "pure")]
pub fn crash_leftovers(path: &Path) -> Option<String> {
    crate::backend::pure::crash_leftovers(path, &read_only()).map(|report| report.to_string())
}

/// Every record of the database, by key.
pub fn records<B: Backend>(db: &mut B) -> TdbResult<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut all = BTreeMap::new();
    db.traverse(TraverseKind::Read, &mut |_, key, data| {
        all.insert(key.to_vec(), data.to_vec());
        ControlFlow::Continue(())
    })?;
    Ok(all)
}

/// A file `check`ed by one engine: how many records it holds, or what is wrong with it.
pub fn check_file<B: Backend>(path: &Path) -> Result<u64, String> {
    let mut db: B = open_existing(path)
        .map_err(|error| format!("{}: {} cannot open it: {error}", path.display(), B::label()))?;
    db.check()
        .map_err(|error| format!("{}: not sound to {}: {error}", path.display(), B::label()))?;
    let mut records = 0u64;
    db.traverse(TraverseKind::Read, &mut |_, _, _| {
        records += 1;
        ControlFlow::Continue(())
    })
    .map_err(|error| format!("{}: not sound to {}: {error}", path.display(), B::label()))?;
    Ok(records)
}

/// Every record, in traverse order, formatted as `tdbdump` prints it.
pub fn dump<B: Backend>(db: &mut B) -> TdbResult<String> {
    let mut text = String::new();
    db.traverse(TraverseKind::Read, &mut |_, key, data| {
        text.push_str("{\n");
        let _ = writeln!(text, "key({}) = \"{}\"", key.len(), escape(key));
        let _ = writeln!(text, "data({}) = \"{}\"", data.len(), escape(data));
        text.push_str("}\n");
        ControlFlow::Continue(())
    })?;
    Ok(text)
}

/// tdbdump's escaping: printable ASCII as is, except `"` and `\`; anything else as `\XX`.
fn escape(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for &byte in bytes {
        if (0x20..0x7f).contains(&byte) && byte != b'"' && byte != b'\\' {
            text.push(char::from(byte));
        } else {
            let _ = write!(text, "\\{byte:02X}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn check_problems_come_from_the_file_and_only_dead_space_from_c_text() {
        use super::{check_problem, CheckProblem};
        let dir = tempfile::tempdir().expect("temporary directory");
        let missing = dir.path().join("missing.tdb");
        // Only the file says whether a commit was interrupted, never a message.
        assert_eq!(
            check_problem(&missing, "x: pure cannot open it: needs recovery"),
            CheckProblem::Other
        );
        assert_eq!(
            check_problem(
                &missing,
                "x: not sound to c: corrupt database: Dead space at 1234"
            ),
            CheckProblem::DeadSpace
        );
        assert_eq!(check_problem(&missing, "x: corrupt"), CheckProblem::Other);
    }

    #[cfg(feature = "c")]
    #[test]
    fn a_failed_open_names_the_os_error_once() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let missing = dir.path().join("missing.tdb");
        let Err(error) = super::open_existing::<crate::backend::c::CTdb>(&missing) else {
            panic!("a missing file opened");
        };
        let text = error.to_string();
        assert_eq!(
            text.matches("No such file or directory").count(),
            1,
            "{text}"
        );
        assert!(text.contains("os error 2"), "{text}");
    }

    #[cfg(feature = "pure")]
    #[test]
    fn unusable_tells_a_missing_file_from_a_file_that_is_no_tdb() {
        use super::{unusable, Unusable};
        let dir = tempfile::tempdir().expect("temporary directory");
        let missing = dir.path().join("missing.tdb");
        assert!(matches!(unusable(&missing), Some(Unusable::Unreadable(_))));
        assert_eq!(
            unusable(&missing)
                .map(|problem| problem.to_string())
                .as_deref(),
            Some("no such database file")
        );
        let text = dir.path().join("text.tdb");
        std::fs::write(&text, "not a database\n".repeat(20)).expect("write");
        assert!(matches!(unusable(&text), Some(Unusable::NotTdb)));
        let short = dir.path().join("short.tdb");
        std::fs::write(&short, b"TDB file\n\0").expect("write");
        assert!(matches!(unusable(&short), Some(Unusable::NotTdb)));

        use crate::backend::{pure::PureTdb, Backend, OpenOptions};
        let real = dir.path().join("real.tdb");
        let options = OpenOptions {
            hash_size: 0,
            tdb_flags: 0,
            open_flags: libc::O_RDWR | libc::O_CREAT,
            mode: 0o600,
        };
        let db = <PureTdb as Backend>::open(&real, &options)
            .unwrap_or_else(|error| panic!("cannot create: {error}"));
        Backend::close(db).unwrap_or_else(|error| panic!("cannot close: {error}"));
        assert!(unusable(&real).is_none());
    }

    #[test]
    fn escapes_like_tdbdump() {
        assert_eq!(escape(b"nbt_server\0"), "nbt_server\\00");
        assert_eq!(escape(b"a\"b\\c\x7f~ "), "a\\22b\\5Cc\\7F~ ");
    }
}
