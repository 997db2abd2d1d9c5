//! What a capture left: the trace files that appeared in the directory during the run,
//! grouped per database, and the command that replays each group.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::args::LayoutArg;
use crate::exit::bad_input;

/// The trace files (`<db>.trace.<pid>`) in `dir`, by file name.
pub fn traces_in(dir: &Path) -> Result<BTreeSet<OsString>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| bad_input(format!("cannot read {}: {error}", dir.display())))?;
    let mut names = BTreeSet::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if database_of(&name.to_string_lossy()).is_some() {
            names.insert(name);
        }
    }
    Ok(names)
}

/// The trace files in `dir` not among `before`, grouped by database name.
pub fn new_traces(
    dir: &Path,
    before: &BTreeSet<OsString>,
) -> Result<BTreeMap<String, Vec<PathBuf>>> {
    let mut groups: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for name in traces_in(dir)?.difference(before) {
        let text = name.to_string_lossy();
        if let Some(db) = database_of(&text) {
            groups
                .entry(db.to_string())
                .or_default()
                .push(dir.join(name));
        }
    }
    for files in groups.values_mut() {
        files.sort_by_key(|path| pid_of(path));
    }
    Ok(groups)
}

/// The database of a trace file name `<db>.trace.<pid>`.
fn database_of(name: &str) -> Option<&str> {
    let (db, pid) = name.rsplit_once(".trace.")?;
    (!db.is_empty() && !pid.is_empty() && pid.bytes().all(|byte| byte.is_ascii_digit()))
        .then_some(db)
}

fn pid_of(path: &Path) -> u64 {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    name.rsplit_once(".trace.")
        .and_then(|(_, pid)| pid.parse().ok())
        .unwrap_or(0)
}

/// Say what was captured and how to replay it (or that nothing was).
pub fn print(
    dir: &Path,
    groups: &BTreeMap<String, Vec<PathBuf>>,
    layout: LayoutArg,
    command: &[OsString],
) {
    if groups.is_empty() {
        let program = command.first().map(|name| name.to_string_lossy());
        println!(
            "nothing was recorded: {} made no tdb call on a recorded database (it does not \
             use libtdb.so.1, links tdb statically, or --db matched none of its databases)",
            program.unwrap_or_default()
        );
        return;
    }
    let files: usize = groups.values().map(Vec::len).sum();
    println!(
        "captured {files} trace file{} of {} database{} in {}:",
        plural(files),
        groups.len(),
        plural(groups.len()),
        dir.display()
    );
    for (db, traces) in groups {
        println!(
            "  {db}: {} process{}",
            traces.len(),
            if traces.len() == 1 { "" } else { "es" }
        );
    }
    let flavour = match layout {
        LayoutArg::Ccan => "ccan",
        LayoutArg::Samba => "samba",
    };
    println!("replay them with:");
    for traces in groups.values() {
        let paths: Vec<String> = traces.iter().map(|path| quoted(path)).collect();
        println!(
            "  tdb-replay replay --flavour {flavour} {}",
            paths.join(" ")
        );
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// `path` as a shell word: as it is when it holds only safe characters, else in single
/// quotes.
fn quoted(path: &Path) -> String {
    let text = path.to_string_lossy();
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_names_give_their_database() {
        assert_eq!(database_of("a.tdb.trace.123"), Some("a.tdb"));
        assert_eq!(database_of("x.trace.y.trace.9"), Some("x.trace.y"));
        assert_eq!(database_of("a.tdb.trace."), None);
        assert_eq!(database_of("a.tdb.trace.12x"), None);
        assert_eq!(database_of(".trace.1"), None);
        assert_eq!(database_of("a.tdb"), None);
    }

    #[test]
    fn paths_are_quoted_only_when_needed() {
        assert_eq!(
            quoted(Path::new("/tmp/a.tdb.trace.1")),
            "/tmp/a.tdb.trace.1"
        );
        assert_eq!(quoted(Path::new("/tmp/my dir/a")), "'/tmp/my dir/a'");
        assert_eq!(quoted(Path::new("/tmp/it's")), r"'/tmp/it'\''s'");
    }
}
