//! The back-off cache: what earlier replays of the same plan learned from deadlocks, so
//! the next replay avoids them from its first run instead of detecting each again and
//! rerunning.
//!
//! The file lives beside the scratch database (`.<name>.tdb-replay-backoffs`, see
//! [`path_for`]) and holds one block per plan, keyed by the engines, the number of ops of
//! every trace and the digest of the freshly analysed plan:
//!
//! ```text
//! tdb-replay back-off cache 1
//! key c+c 2 134594:134000 9f3a...
//! attempt
//! learned 1 10465 0 8468 10667
//! attempt
//! learned 0 9493 1 11316 9625
//! end
//! ```
//!
//! Each `attempt` is the dependencies one deadlock taught (waiting trace, op it now waits
//! at, trace and op waited for, op where it waited), replayed through the same back-off
//! rule as at run time, so the plan ends up exactly as after those reruns. A file at that
//! path that does not start with the header line is someone else's: it is neither read
//! nor replaced. Nothing in the file is trusted: ops out of range end the block.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::Learned;
use crate::analysis::{Analysis, Dep};
use crate::trace::Trace;

/// The first line of every cache file.
const HEADER: &str = "tdb-replay back-off cache 1";
/// Plans remembered per file (the oldest go first).
const MAX_BLOCKS: usize = 16;

/// The cache file for scratch database `db`.
pub fn path_for(db: &Path) -> PathBuf {
    let name = db
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    db.with_file_name(format!(".{name}.tdb-replay-backoffs"))
}

/// What identifies a plan in the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    /// The key of `analysis` (freshly analysed, before any back-off) replayed on
    /// `engines`.
    pub fn of(engines: &str, analysis: &Analysis) -> Key {
        let counts: Vec<String> = analysis.op_counts().iter().map(usize::to_string).collect();
        Key(format!(
            "key {engines} {} {} {:016x}",
            counts.len(),
            counts.join(":"),
            analysis.digest()
        ))
    }
}

/// The file's text, if it is a cache file the tool wrote (a missing file reads as empty).
fn read_ours(path: &Path) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.lines().next() == Some(HEADER) => Some(text),
        Ok(_) => None,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Some(String::new()),
        Err(_) => None,
    }
}

/// Blocks of a cache file: (key line, body lines).
fn blocks(text: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in text.lines().skip(1) {
        if line.starts_with("key ") {
            current = Some((line.to_string(), Vec::new()));
        } else if line == "end" {
            blocks.extend(current.take());
        } else if let Some((_, body)) = current.as_mut() {
            body.push(line.to_string());
        }
    }
    blocks
}

/// The attempts cached for `key`, each the dependencies one deadlock taught, in order.
pub(crate) fn read(path: &Path, key: &Key, traces: &[Trace]) -> Vec<Vec<Learned>> {
    let Some(text) = read_ours(path) else {
        return Vec::new();
    };
    let Some((_, body)) = blocks(&text).into_iter().find(|(k, _)| *k == key.0) else {
        return Vec::new();
    };
    let in_range = |file: u32, op: u32| {
        traces
            .get(file as usize)
            .is_some_and(|trace| (op as usize) < trace.ops.len())
    };
    let mut attempts: Vec<Vec<Learned>> = Vec::new();
    for line in body {
        if line == "attempt" {
            attempts.push(Vec::new());
            continue;
        }
        let numbers: Option<Vec<u32>> = line
            .strip_prefix("learned ")
            .map(|rest| rest.split(' ').map(|n| n.parse().ok()).collect())
            .unwrap_or(None);
        let learned = match numbers.as_deref() {
            Some(&[file, op, target_file, target, original_op])
                if in_range(file, op)
                    && in_range(file, original_op)
                    && in_range(target_file, target) =>
            {
                Learned {
                    dep: Dep {
                        file,
                        op,
                        target_file,
                        target,
                    },
                    original_op,
                }
            }
            _ => break,
        };
        match attempts.last_mut() {
            Some(attempt) => attempt.push(learned),
            None => break,
        }
    }
    attempts.retain(|attempt| !attempt.is_empty());
    attempts
}

/// Remember `attempts` for `key`, keeping other plans' blocks. Refuses (quietly: the
/// cache is only a speed-up) to touch a file that is not a cache file.
pub(crate) fn write(path: &Path, key: &Key, attempts: &[Vec<Learned>]) -> std::io::Result<()> {
    let Some(text) = read_ours(path) else {
        return Err(std::io::Error::other(format!(
            "{} is not a tdb-replay back-off cache; left alone",
            path.display()
        )));
    };
    let mut kept: Vec<(String, Vec<String>)> = blocks(&text)
        .into_iter()
        .filter(|(k, _)| *k != key.0)
        .collect();
    let mut body = Vec::new();
    for attempt in attempts {
        body.push("attempt".to_string());
        for l in attempt {
            body.push(format!(
                "learned {} {} {} {} {}",
                l.dep.file, l.dep.op, l.dep.target_file, l.dep.target, l.original_op
            ));
        }
    }
    kept.push((key.0.clone(), body));
    let skip = kept.len().saturating_sub(MAX_BLOCKS);
    let mut out = format!("{HEADER}\n");
    for (k, body) in kept.into_iter().skip(skip) {
        let _ = writeln!(out, "{k}");
        for line in body {
            let _ = writeln!(out, "{line}");
        }
        out.push_str("end\n");
    }
    // Write beside it and rename, so a crash never leaves half a file.
    let staging = path.with_extension("tdb-replay-backoffs-new");
    if read_ours(&staging).is_some_and(|text| !text.is_empty()) {
        std::fs::remove_file(&staging)?;
    }
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&staging)?
        .write_all(out.as_bytes())?;
    std::fs::rename(&staging, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{parse_trace, LoadOptions};

    fn learned(file: u32, op: u32, target_file: u32, target: u32, original_op: u32) -> Learned {
        Learned {
            dep: Dep {
                file,
                op,
                target_file,
                target,
            },
            original_op,
        }
    }

    #[test]
    fn round_trip_keeps_other_plans_and_refuses_foreign_files() {
        let text = "1 tdb_open 7 0x0 0x42\n1 tdb_fetch 1:61 = NULL\n1 tdb_fetch 1:62 = NULL\n\
                    1 tdb_fetch 1:63 = NULL\n1 tdb_close\n";
        let traces = vec![
            parse_trace("a", text.as_bytes(), &LoadOptions::default()).unwrap(),
            parse_trace("b", text.as_bytes(), &LoadOptions::default()).unwrap(),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("x.tdb"));
        assert_eq!(path.file_name().unwrap(), ".x.tdb.tdb-replay-backoffs");
        let (one, two) = (Key("key c+c 1".into()), Key("key c+c 2".into()));
        assert!(read(&path, &one, &traces).is_empty());
        let attempts = vec![vec![learned(0, 1, 1, 2, 2)], vec![learned(1, 0, 0, 1, 1)]];
        write(&path, &one, &attempts).unwrap();
        write(&path, &two, &attempts[..1]).unwrap();
        assert_eq!(read(&path, &one, &traces), attempts);
        assert_eq!(read(&path, &two, &traces), attempts[..1].to_vec());
        // Out-of-range ops are not trusted.
        write(&path, &one, &[vec![learned(0, 1, 1, 99, 2)]]).unwrap();
        assert!(read(&path, &one, &traces).is_empty());
        // Someone else's file at that path is neither read nor replaced.
        std::fs::write(&path, "my notes\n").unwrap();
        assert!(read(&path, &two, &traces).is_empty());
        assert!(write(&path, &two, &attempts).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "my notes\n");
    }
}
