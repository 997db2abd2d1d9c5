//! Loading traces: files (compressed or not) to [`Trace`]s.
//!
//! Each file is read by two threads: one reads and decompresses into line-aligned chunks
//! of about [`CHUNK`] bytes, the other parses them; at most [`QUEUE`] chunks wait between
//! the two, so memory stays bounded whatever the file size. Several files are loaded in
//! parallel, as many at a time as there are cores. Every thread is scoped: none outlives
//! the call (the caller forks worker processes afterwards).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use super::error::LoadError;
pub use super::input::DEFAULT_MAX_LINE_BYTES;
use super::input::{decompress, open_path, Chunk, Compression, LineChunks};
use super::model::Trace;
use super::parse::{Builder, FlavourChoice};

/// Text per chunk handed from the reading thread to the parsing thread.
const CHUNK: usize = 256 * 1024;
/// Chunks that may wait between the two.
const QUEUE: usize = 4;
/// Raw bytes read between two progress reports of one file.
const PROGRESS_STEP: u64 = 1 << 20;

/// How far a load has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadProgress {
    /// Bytes read from the files so far (compressed bytes, for compressed files).
    pub bytes_read: u64,
    /// Size of all the files together.
    pub total_bytes: u64,
    /// Files completely parsed.
    pub files_done: usize,
    /// Files being loaded.
    pub files_total: usize,
}

/// A progress callback; it may be called from several threads at once.
pub type ProgressFn = Arc<dyn Fn(LoadProgress) + Send + Sync>;

/// How to load traces.
#[derive(Clone)]
pub struct LoadOptions {
    /// Which writer to assume (auto-detected per file by default).
    pub flavour: FlavourChoice,
    /// Called as files are read (about every MiB of file per file, and as each file
    /// completes), so a front end can show progress on long loads.
    pub progress: Option<ProgressFn>,
    /// The longest line accepted, in bytes (LF not counted), after decompression: a
    /// longer one is an error at its `file:line`, never a growing allocation.
    /// [`DEFAULT_MAX_LINE_BYTES`] (1 GiB) by default.
    pub max_line_bytes: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            flavour: FlavourChoice::default(),
            progress: None,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

impl fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadOptions")
            .field("flavour", &self.flavour)
            .field("progress", &self.progress.as_ref().map(|_| "Fn"))
            .field("max_line_bytes", &self.max_line_bytes)
            .finish()
    }
}

/// Shared progress counters of one load.
struct Progress<'a> {
    callback: Option<&'a ProgressFn>,
    bytes_read: AtomicU64,
    total_bytes: u64,
    files_done: AtomicUsize,
    files_total: usize,
}

impl Progress<'_> {
    fn report(&self, read_now: u64, done_now: usize) {
        let Some(callback) = self.callback else {
            return;
        };
        let bytes_read = self.bytes_read.fetch_add(read_now, Ordering::Relaxed) + read_now;
        let files_done = self.files_done.fetch_add(done_now, Ordering::Relaxed) + done_now;
        callback(LoadProgress {
            bytes_read,
            total_bytes: self.total_bytes,
            files_done,
            files_total: self.files_total,
        });
    }
}

/// Loads every file of `paths` (plain, zstd or gzip, told apart by their first bytes),
/// several at a time, and returns their traces in the order given. The first file (in
/// that order) that fails to load gives the error.
pub fn load_traces(paths: &[PathBuf], opts: &LoadOptions) -> Result<Vec<Trace>, LoadError> {
    let loaded = load_each(paths, opts)?;
    // tdb creates the trace file, then writes its tdb_open line: a process killed in
    // between leaves a file without one. It did nothing, so in a set it is left out,
    // with a note.
    let mut traces = Vec::with_capacity(loaded.len());
    let mut left_out = Vec::new();
    for result in loaded {
        match result {
            Ok(trace) => traces.push(trace),
            Err(LoadError::Unopened { file }) if paths.len() > 1 => left_out.push(format!(
                "{file}: no tdb_open line (its process died before writing it): left out"
            )),
            Err(error) => return Err(error),
        }
    }
    if traces.is_empty() && !paths.is_empty() {
        return Err(LoadError::Unopened {
            file: paths
                .first()
                .map(|path| path.display().to_string())
                .unwrap_or_default(),
        });
    }
    super::interrupted::settle(&mut traces);
    // Set-wide notes go with the first trace.
    left_out.extend(super::opens::shape_disagreement(&traces));
    if let Some(first) = traces.first_mut() {
        first.warnings.extend(left_out);
    }
    Ok(traces)
}

/// Every file's outcome, in order; stops at the first error other than an unopened file.
fn load_each(
    paths: &[PathBuf],
    opts: &LoadOptions,
) -> Result<Vec<Result<Trace, LoadError>>, LoadError> {
    let mut total_bytes = 0;
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        total_bytes += meta.len();
    }
    let progress = Progress {
        callback: opts.progress.as_ref(),
        bytes_read: AtomicU64::new(0),
        total_bytes,
        files_done: AtomicUsize::new(0),
        files_total: paths.len(),
    };
    let workers = thread::available_parallelism()
        .map_or(1, usize::from)
        .min(paths.len());
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let mut slots: Vec<Option<Result<Trace, LoadError>>> = paths.iter().map(|_| None).collect();
    thread::scope(|s| {
        let worker = || {
            let mut loaded = Vec::new();
            while !failed.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = paths.get(i) else { break };
                let result = load_file(path, opts, &progress);
                if matches!(&result, Err(error) if !matches!(error, LoadError::Unopened { .. })) {
                    failed.store(true, Ordering::Relaxed);
                }
                loaded.push((i, result));
            }
            loaded
        };
        let handles: Vec<_> = (0..workers).map(|_| s.spawn(worker)).collect();
        for handle in handles {
            let loaded = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (i, result) in loaded {
                slots[i] = Some(result);
            }
        }
    });
    // Files are taken in order, so an error comes before any file left untried.
    let mut outcomes = Vec::with_capacity(paths.len());
    for slot in slots {
        match slot {
            Some(Err(error)) if !matches!(error, LoadError::Unopened { .. }) => return Err(error),
            Some(outcome) => outcomes.push(outcome),
            None => break,
        }
    }
    Ok(outcomes)
}

/// Loads one file (see [`load_traces`]).
pub fn load_trace(path: &Path, opts: &LoadOptions) -> Result<Trace, LoadError> {
    let total_bytes = std::fs::metadata(path)
        .map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?
        .len();
    let progress = Progress {
        callback: opts.progress.as_ref(),
        bytes_read: AtomicU64::new(0),
        total_bytes,
        files_done: AtomicUsize::new(0),
        files_total: 1,
    };
    load_file(path, opts, &progress)
}

/// Parses a trace held in memory, plain or compressed (told apart by its first bytes);
/// `name` is used in messages. Runs on the calling thread.
pub fn parse_trace(name: &str, bytes: &[u8], opts: &LoadOptions) -> Result<Trace, LoadError> {
    let new_builder = || Builder::new(name).with_max_line(opts.max_line_bytes);
    if Compression::sniff(bytes) == Compression::Plain {
        let mut builder = new_builder();
        let consumed = builder.feed(bytes)?;
        return builder.finish(&bytes[consumed..], opts.flavour);
    }
    let io_error = |source| LoadError::Io {
        path: PathBuf::from(name),
        source,
    };
    let source = decompress(bytes).map_err(io_error)?;
    let mut chunks = LineChunks::new(source, CHUNK, opts.max_line_bytes);
    let mut builder = new_builder();
    loop {
        match chunks.next_chunk().map_err(io_error)? {
            Some(Chunk::Lines { buf, len }) => {
                builder.feed(&buf[..len])?;
                chunks.recycle(buf);
            }
            Some(Chunk::End(rest)) => return builder.finish(&rest, opts.flavour),
            Some(unreadable) => return Err(builder.unreadable_next_line(&unreadable)),
            None => return builder.finish(&[], opts.flavour),
        }
    }
}

/// Loads one file with a reading thread and a parsing (the calling) thread.
fn load_file(path: &Path, opts: &LoadOptions, progress: &Progress) -> Result<Trace, LoadError> {
    let name = path.display().to_string();
    let (flavour, max_line) = (opts.flavour, opts.max_line_bytes);
    let io_error = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let mut pending = 0;
    let on_read = move |n: u64| {
        pending += n;
        if pending >= PROGRESS_STEP || n == 0 {
            progress.report(pending, 0);
            pending = 0;
        }
    };
    let src = open_path(path, on_read).map_err(io_error)?;
    let trace = thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<io::Result<Chunk>>(QUEUE);
        let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
        s.spawn(move || {
            let mut chunks = LineChunks::new(src, CHUNK, max_line);
            loop {
                while let Ok(buf) = back_rx.try_recv() {
                    chunks.recycle(buf);
                }
                let chunk = chunks.next_chunk();
                let last = !matches!(chunk, Ok(Some(Chunk::Lines { .. })));
                let Some(chunk) = chunk.transpose() else {
                    return;
                };
                // A failed send means the parser gave up: stop reading.
                if tx.send(chunk).is_err() || last {
                    return;
                }
            }
        });
        let mut builder = Builder::new(&name).with_max_line(max_line);
        for chunk in rx {
            match chunk.map_err(io_error)? {
                Chunk::Lines { buf, len } => {
                    builder.feed(&buf[..len])?;
                    // The reader may have finished already; then the buffer just goes.
                    let _ = back_tx.send(buf);
                }
                Chunk::End(rest) => return builder.finish(&rest, flavour),
                unreadable => return Err(builder.unreadable_next_line(&unreadable)),
            }
        }
        Err(io_error(io::Error::other(
            "the reading thread stopped early",
        )))
    })?;
    progress.report(0, 1);
    Ok(trace)
}

#[cfg(test)]
mod tests;
