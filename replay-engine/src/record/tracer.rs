//! The trace file of one recorded handle: where it is, how its lines are laid out, and
//! the little state tdb's own tracing keeps (transaction depth, for Samba's untraced
//! nested starts).
//!
//! Every line is formatted into a buffer and written with one `write(2)`, as C tdb does:
//! a process killed mid-run leaves at most its last line torn, never a line cut in the
//! middle of the file. A failed write stops the tracing of that handle (C does the same),
//! with a warning on stderr.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::trace::writer::TraceWriter;

/// Which tdb's trace layout to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Layout {
    /// ccan tdb (2010-2012): `tdb_append K appended = result`; nested transaction starts
    /// are traced (the open line allows nesting, as tdb 1.4 does by default).
    #[default]
    Ccan,
    /// Samba tdb: `tdb_append K previous = appended`; nested starts are not traced,
    /// their commits and cancels are.
    Samba,
}

/// Where and how to record.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// Directory for the trace files (`<db name>.trace.<pid>`, as tdb names them).
    pub dir: PathBuf,
    /// The layout of the lines.
    pub layout: Layout,
    /// Run a store, delete or append again (up to 100 times, 50 µs apart) while it fails
    /// with a lock error, and record only its final outcome. The kernel's deadlock
    /// detection can refuse a lock that a later attempt gets; a workload generator sets
    /// this so its traces hold no such transient failure, which no replay could
    /// reproduce.
    pub retry_lock_errors: bool,
}

/// The trace file name tdb uses for database `db` in process `pid`.
pub fn trace_file_name(db: &Path, pid: u32) -> String {
    let name = db
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tdb".to_string());
    format!("{name}.trace.{pid}")
}

/// One open trace file.
pub(crate) struct Tracer {
    path: PathBuf,
    file: File,
    lines: TraceWriter<Vec<u8>>,
    pub(crate) layout: Layout,
    pub(crate) retry_lock_errors: bool,
    /// Transaction levels open on the handle (traced or not).
    pub(crate) depth: u32,
    /// Read traverses under way on the handle (a write traverse inside one is traced,
    /// and runs, as a read traverse).
    pub(crate) read_traverses: u32,
}

impl Tracer {
    /// Create the trace file for database `db` in `options.dir`, exclusively, mode 0600.
    pub(crate) fn create(db: &Path, options: &RecordOptions) -> io::Result<Tracer> {
        let path = options.dir.join(trace_file_name(db, std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("cannot create the trace file {}: {error}", path.display()),
                )
            })?;
        crate::scratch::mark(&path).map_err(io::Error::other)?;
        Ok(Tracer {
            path,
            file,
            lines: TraceWriter::new(Vec::with_capacity(256)),
            layout: options.layout,
            retry_lock_errors: options.retry_lock_errors,
            depth: 0,
            read_traverses: 0,
        })
    }

    /// The trace file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Format one line with `write` and write it out in one call. An error means the
    /// tracing of this handle is over.
    pub(crate) fn line(
        &mut self,
        write: impl FnOnce(&mut TraceWriter<Vec<u8>>) -> io::Result<()>,
    ) -> io::Result<()> {
        self.lines.get_mut().clear();
        write(&mut self.lines)?;
        self.file.write_all(self.lines.get_mut())
    }
}
