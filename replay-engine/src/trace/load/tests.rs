//! Loading tests: compressed and plain input, several files, progress, errors, and the
//! real corpus (when `TDB_REPLAY_CORPUS` points at it).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::*;
use crate::trace::{Flavour, OpKind};

/// A trace of `n` stores and fetches, long enough to span several chunks.
fn big_trace(n: usize, closed: bool) -> Vec<u8> {
    let mut text = b"100 tdb_open 131 0x80 0x42\n".to_vec();
    for i in 0..n {
        let key = format!("key{i}");
        let data = format!("{}-{i}", "value".repeat(i % 50));
        let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        writeln!(
            text,
            "{} tdb_store {}:{} {}:{} 0x1 = 0",
            100 + i,
            key.len(),
            hex(&key),
            data.len(),
            hex(&data)
        )
        .unwrap();
        writeln!(
            text,
            "{} tdb_fetch {}:{} = {}:{}",
            100 + i,
            key.len(),
            hex(&key).to_uppercase(),
            data.len(),
            hex(&data)
        )
        .unwrap();
    }
    if closed {
        text.extend_from_slice(b"999 tdb_close\n");
    }
    text
}

fn zstd_bytes(text: &[u8]) -> Vec<u8> {
    zstd::encode_all(text, 3).unwrap()
}

fn gzip_bytes(text: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(text).unwrap();
    enc.finish().unwrap()
}

/// Asserts two traces hold the same thing (names aside).
fn assert_same(a: &Trace, b: &Trace) {
    assert_eq!(a.open, b.open);
    assert_eq!(a.ops, b.ops);
    assert!(a.arena == b.arena, "arenas differ");
    assert_eq!(a.closed, b.closed);
    assert_eq!(a.flavour, b.flavour);
    let strip = |t: &Trace| -> Vec<String> {
        t.warnings
            .iter()
            .map(|w| w.replacen(&t.name, "", 1))
            .collect()
    };
    assert_eq!(strip(a), strip(b));
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn zstd_gzip_and_plain_give_identical_traces() {
    let dir = tempfile::tempdir().unwrap();
    let opts = LoadOptions::default();
    for closed in [true, false] {
        let text = big_trace(3000, closed);
        assert!(
            text.len() > 3 * CHUNK,
            "the text should span several chunks"
        );
        let plain = parse_trace("plain", &text, &opts).unwrap();
        assert_eq!(plain.ops.len(), 6000);
        assert_eq!(plain.closed, closed);
        // Names say nothing about the format: the bytes do.
        let paths = [
            write(dir.path(), "a.trace", &text),
            write(dir.path(), "b.trace", &zstd_bytes(&text)),
            write(dir.path(), "c.trace.gz", &zstd_bytes(&text)),
            write(dir.path(), "d.zst", &gzip_bytes(&text)),
        ];
        let traces = load_traces(&paths, &opts).unwrap();
        assert_eq!(traces.len(), 4);
        for (trace, path) in traces.iter().zip(&paths) {
            assert_eq!(trace.name, path.display().to_string());
            assert_same(trace, &plain);
        }
        // In memory, compressed bytes work too.
        assert_same(
            &parse_trace("z", &zstd_bytes(&text), &opts).unwrap(),
            &plain,
        );
        assert_same(
            &parse_trace("g", &gzip_bytes(&text), &opts).unwrap(),
            &plain,
        );
    }
}

#[test]
fn torn_and_long_lines_across_chunk_boundaries() {
    // One line far longer than a chunk, then a torn last line.
    let mut text = b"1 tdb_open 0 0x0 0x2\n".to_vec();
    let len = CHUNK * 3 + 17;
    let hex: String = (0..len).map(|i| format!("{:02x}", i % 251)).collect();
    writeln!(text, "2 tdb_store 1:6b {len}:{hex} 0 = 0").unwrap();
    text.extend_from_slice(b"3 tdb_fetch 1:6b = 3:6162");
    let dir = tempfile::tempdir().unwrap();
    let opts = LoadOptions::default();
    let plain = parse_trace("t", &text, &opts).unwrap();
    let OpKind::Store { data, .. } = plain.ops[0].kind else {
        panic!()
    };
    let data = plain.rec(data).unwrap();
    assert_eq!(data.len(), len);
    assert!(data
        .iter()
        .enumerate()
        .all(|(i, &b)| usize::from(b) == i % 251));
    assert_eq!(plain.ops.len(), 1);
    assert_eq!(plain.warnings.len(), 2, "{:?}", plain.warnings);
    let paths = [
        write(dir.path(), "p", &text),
        write(dir.path(), "z", &zstd_bytes(&text)),
    ];
    for trace in load_traces(&paths, &opts).unwrap() {
        assert_same(&trace, &plain);
    }
}

#[test]
fn flavour_option_reaches_every_file() {
    let text = b"1 tdb_open 0 0x0 0x2\n1 tdb_append 1:6b 1:61 = 1:62\n1 tdb_close\n";
    let dir = tempfile::tempdir().unwrap();
    let paths = [write(dir.path(), "1", text), write(dir.path(), "2", text)];
    for (choice, want) in [
        (FlavourChoice::Auto, Flavour::Samba),
        (FlavourChoice::Ccan, Flavour::Ccan),
        (FlavourChoice::Samba, Flavour::Samba),
    ] {
        let opts = LoadOptions {
            flavour: choice,
            ..Default::default()
        };
        for trace in load_traces(&paths, &opts).unwrap() {
            assert_eq!(trace.flavour, want);
        }
    }
    assert_eq!("samba".parse(), Ok(FlavourChoice::Samba));
    assert_eq!("ccan".parse(), Ok(FlavourChoice::Ccan));
    assert_eq!("auto".parse(), Ok(FlavourChoice::Auto));
    assert!("Samba".parse::<FlavourChoice>().is_err());
}

#[test]
fn the_first_failing_file_in_order_gives_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good", &zstd_bytes(&big_trace(100, true)));
    let bad = write(dir.path(), "bad", b"1 tdb_open 0 0 0\n1 tdb_fetch 1:61\n");
    let also_bad = write(dir.path(), "also_bad", b"1 tdb_open 0 0 0\n1 x\n");
    let paths = [good.clone(), bad.clone(), also_bad, good.clone()];
    let err = load_traces(&paths, &LoadOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2: expected <key> = <data> after tdb_fetch, found \"1:61\"",
            bad.display()
        )
    );
    let LoadError::Parse { file, line, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (file.as_str(), *line),
        (bad.display().to_string().as_str(), 2)
    );

    let missing = dir.path().join("missing");
    let err = load_traces(&[good.clone(), missing.clone()], &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }));
    assert!(err
        .to_string()
        .starts_with(&format!("{}: ", missing.display())));
    assert!(load_trace(&good, &LoadOptions::default()).is_ok());
    assert!(load_traces(&[], &LoadOptions::default())
        .unwrap()
        .is_empty());
}

#[test]
fn corrupt_compressed_input_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = zstd_bytes(&big_trace(2000, true));
    let n = bytes.len();
    bytes.truncate(n / 2);
    let path = write(dir.path(), "cut.zst", &bytes);
    let err = load_trace(&path, &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }), "{err}");
    let mut bytes = gzip_bytes(&big_trace(2000, true));
    for b in &mut bytes[40..200] {
        *b ^= 0x55;
    }
    let path = write(dir.path(), "bad.gz", &bytes);
    assert!(load_trace(&path, &LoadOptions::default()).is_err());
    // Binary garbage that is not compressed is a parse error, not a panic.
    let garbage: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = write(dir.path(), "garbage", &garbage);
    let err = load_trace(&path, &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, LoadError::Parse { line: 1, .. }), "{err}");
}

#[test]
fn progress_reaches_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let text = big_trace(5000, true);
    let paths = [
        write(dir.path(), "a", &text),
        write(dir.path(), "b", &zstd_bytes(&text)),
        write(dir.path(), "c", &gzip_bytes(&text)),
    ];
    let seen: Arc<Mutex<Vec<LoadProgress>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let opts = LoadOptions {
        flavour: FlavourChoice::Auto,
        progress: Some(Arc::new(move |p| sink.lock().unwrap().push(p))),
        ..Default::default()
    };
    load_traces(&paths, &opts).unwrap();
    let seen = seen.lock().unwrap();
    let total: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(seen.len() >= 3);
    assert!(seen
        .iter()
        .all(|p| p.total_bytes == total && p.files_total == 3));
    let max_read = seen.iter().map(|p| p.bytes_read).max().unwrap();
    let max_done = seen.iter().map(|p| p.files_done).max().unwrap();
    assert_eq!((max_read, max_done), (total, 3));
}

/// Counts the lines of a (possibly compressed) file, streaming.
fn count_lines(path: &Path) -> u64 {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut src = super::super::input::decompress(file).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0;
    loop {
        let n = src.read(&mut buf).unwrap();
        if n == 0 {
            return lines;
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}

/// Parses every file of the corpus at `$TDB_REPLAY_CORPUS` (with `torture/` and `ldb/`)
/// and checks op counts against line counts.
#[test]
fn corpus_parses() {
    let Some(root) = std::env::var_os("TDB_REPLAY_CORPUS") else {
        eprintln!("note: TDB_REPLAY_CORPUS is not set; skipping the corpus test");
        return;
    };
    let root = PathBuf::from(root);
    let mut sets: Vec<Vec<PathBuf>> = Vec::new();
    let list = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    for set in list(&root.join("torture")) {
        sets.push(list(&set));
    }
    for file in list(&root.join("ldb")) {
        sets.push(vec![file]);
    }
    let mut files = 0;
    let mut users_seen = false;
    for set in &sets {
        let traces = load_traces(set, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("corpus file fails to load: {e}"));
        for (trace, path) in traces.iter().zip(set) {
            files += 1;
            assert!(trace.closed, "{}", trace.name);
            assert!(trace.warnings.is_empty(), "{:?}", trace.warnings);
            assert_eq!(trace.flavour, Flavour::Ccan, "{}", trace.name);
            let implied = trace
                .ops
                .iter()
                .filter(|op| matches!(op.kind, OpKind::TransactionCancel { implied: true }))
                .count() as u64;
            let traced = trace.ops.len() as u64 - implied;
            // Every line but tdb_open and tdb_close is an op.
            assert_eq!(traced, count_lines(path) - 2, "{}", trace.name);
            let name = path.file_name().unwrap().to_string_lossy();
            if name.starts_with("users.ldb") {
                users_seen = true;
                assert_eq!(traced, 88838);
                assert_eq!(implied, 0);
            }
            if name.starts_with("4-torture.1") {
                // Closed with a transaction open (ccan 2009 cancelled it untraced).
                assert_eq!(implied, 1);
                assert_eq!(
                    trace.ops.last().unwrap().kind,
                    OpKind::TransactionCancel { implied: true }
                );
            }
        }
    }
    assert!(files > 0, "no corpus files under {}", root.display());
    eprintln!("corpus: {files} files parsed (users.ldb seen: {users_seen})");
}
