//! What to record, read once from the environment at the first `tdb_open`:
//! `TDB_CAPTURE_DIR` (where; unset or empty: record nothing), `TDB_CAPTURE_LAYOUT`
//! (`samba`, the default, or `ccan`) and `TDB_CAPTURE_DB` (a shell wildcard pattern on
//! the database's file name; unset: every database). The environment is read then and
//! never again, so a program changing it later does not change the recording.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use replay_engine::record::Layout;

/// The directory variable.
pub const DIR_VAR: &str = "TDB_CAPTURE_DIR";
/// The layout variable.
pub const LAYOUT_VAR: &str = "TDB_CAPTURE_LAYOUT";
/// The database pattern variable.
pub const DB_VAR: &str = "TDB_CAPTURE_DB";

/// Where and how to record.
pub struct Config {
    /// The directory the trace files go to.
    pub dir: PathBuf,
    /// The line layout.
    pub layout: Layout,
    /// Which databases (by file name); `None`: all.
    pub pattern: Option<glob::Pattern>,
}

impl Config {
    /// Whether the database opened as `name` is recorded.
    pub fn records(&self, name: &Path) -> bool {
        let file_name = name.file_name().unwrap_or(name.as_os_str());
        match &self.pattern {
            None => true,
            Some(pattern) => pattern.matches(&file_name.to_string_lossy()),
        }
    }
}

static CONFIG: OnceLock<Option<Config>> = OnceLock::new();

/// The process id, kept current across `fork` by an atfork handler (getpid is a system
/// call; this is one load).
static PID: AtomicU32 = AtomicU32::new(0);

/// The recording settings, or `None` when this process records nothing.
pub fn get() -> Option<&'static Config> {
    CONFIG
        .get_or_init(|| {
            PID.store(std::process::id(), Ordering::Relaxed);
            // SAFETY: registers a handler that only stores an integer; it runs in the
            // child of every fork().
            unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
            from_env()
        })
        .as_ref()
}

/// This process's id.
pub fn pid() -> u32 {
    PID.load(Ordering::Relaxed)
}

extern "C" fn after_fork_in_child() {
    PID.store(std::process::id(), Ordering::Relaxed);
}

/// The settings the environment asks for.
fn from_env() -> Option<Config> {
    let dir = std::env::var_os(DIR_VAR).filter(|dir| !dir.is_empty())?;
    let layout = match std::env::var_os(LAYOUT_VAR).as_deref().map(OsStr::as_bytes) {
        Some(b"ccan") => Layout::Ccan,
        Some(b"samba") | Some(b"") | None => Layout::Samba,
        Some(other) => {
            warn(&format!(
                "{LAYOUT_VAR}={} is neither samba nor ccan; recording in samba's layout",
                String::from_utf8_lossy(other)
            ));
            Layout::Samba
        }
    };
    let pattern = match std::env::var(DB_VAR) {
        Ok(text) if !text.is_empty() => match glob::Pattern::new(&text) {
            Ok(pattern) => Some(pattern),
            Err(error) => {
                warn(&format!(
                    "{DB_VAR}={text} is not a pattern ({error}); recording nothing"
                ));
                return None;
            }
        },
        _ => None,
    };
    Some(Config {
        dir: PathBuf::from(dir),
        layout,
        pattern,
    })
}

/// A warning on the program's stderr (only at opens and on errors, never per call).
pub fn warn(text: &str) {
    eprintln!("tdb-capture: {text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pattern: Option<&str>) -> Config {
        Config {
            dir: PathBuf::from("/tmp"),
            layout: Layout::Samba,
            pattern: pattern.map(|text| glob::Pattern::new(text).unwrap()),
        }
    }

    #[test]
    fn the_pattern_matches_the_databases_file_name() {
        assert!(config(None).records(Path::new("/var/lib/samba/locking.tdb")));
        let tdbs = config(Some("*.tdb"));
        assert!(tdbs.records(Path::new("/var/lib/samba/locking.tdb")));
        assert!(tdbs.records(Path::new("relative.tdb")));
        assert!(!tdbs.records(Path::new("/var/lib/samba/sam.ldb")));
        let one = config(Some("lock?ng.tdb"));
        assert!(one.records(Path::new("/x/locking.tdb")));
        assert!(!one.records(Path::new("/locking.tdb/other.tdb")));
    }
}
