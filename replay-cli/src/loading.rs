//! Reading traces and analysing them, with failures as bad input.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use replay_engine::analysis::{self, Analysis};
use replay_engine::backend::{Backend, LockingModel};
use replay_engine::trace::{load_traces, LoadOptions, LoadProgress, Trace};

use crate::args::TraceReading;
use crate::exit::bad_input;
use crate::progress::Progress;

/// Load traces read as `reading` says, with progress on a terminal.
pub fn load(
    paths: &[PathBuf],
    reading: &TraceReading,
    progress: &Arc<Progress>,
) -> Result<Vec<Trace>> {
    let display = Arc::clone(progress);
    let options = LoadOptions {
        flavour: reading.flavour,
        progress: Some(Arc::new(move |p: LoadProgress| {
            display.show("Loading", p.bytes_read / 1024, p.total_bytes / 1024, "KiB");
        })),
        max_line_bytes: reading.max_line_bytes,
    };
    let traces = load_traces(paths, &options).map_err(bad_input);
    progress.clear();
    traces
}

/// Analyse a set just loaded for engines with these locking facts, finding its
/// clear-if-first wipes (see [`analysis::analyse_finding_wipes`]), turning a failure into
/// bad input. The note about wipes found is added to the first trace's warnings and
/// returned, for commands that printed the loader's warnings already.
pub fn analyse_loaded(
    traces: &mut [Trace],
    locking: LockingModel,
) -> Result<(Analysis, Option<String>)> {
    let notes_before = traces.first().map_or(0, |trace| trace.warnings.len());
    let plan = analysis::analyse_finding_wipes(traces, locking).map_err(bad_input)?;
    let note = traces
        .first()
        .and_then(|trace| trace.warnings.get(notes_before))
        .cloned();
    Ok((plan, note))
}

/// Analyse traces for backend `B`, turning a failure into bad input.
pub fn analyse_traces<B: Backend>(traces: &[Trace]) -> Result<Analysis> {
    analysis::analyse(traces, B::LOCKING).map_err(bad_input)
}

/// [`analyse_traces`] for an engine with these locking facts.
pub fn analyse_traces_with(traces: &[Trace], locking: LockingModel) -> Result<Analysis> {
    analysis::analyse(traces, locking).map_err(bad_input)
}

/// The ops in all the traces.
pub fn ops_in(traces: &[Trace]) -> u64 {
    traces.iter().map(|trace| trace.ops.len() as u64).sum()
}

/// `s` when `count` is not one.
pub fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// Whether `path` is an existing file that starts as a trace does: zstd or gzip magic,
/// or a line starting with a digit (a tdb file starts with "TDB file").
pub fn looks_like_trace(path: &Path) -> bool {
    use std::io::Read;
    let mut start = [0u8; 4];
    let Ok(n) = std::fs::File::open(path).and_then(|mut file| file.read(&mut start)) else {
        return false;
    };
    let start = &start[..n];
    start.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || start.starts_with(&[0x1f, 0x8b])
        || start.first().is_some_and(u8::is_ascii_digit)
}
