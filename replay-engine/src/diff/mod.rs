//! Differential replay: the same ops, in the same order, on two engines, compared call by
//! call.
//!
//! One process interleaves the traces in one order the dependencies allow ([`schedule`]),
//! cutting them only between whole lock-holding regions ([`units`]), and runs every unit
//! on a handle of each engine, each on its own file ([`run`]). After every unit it compares
//! what each call gave on both ([`outcome`]): return values, tdb error kinds, the bytes
//! fetched, every record a traverse visited and how many. At the end it compares both
//! databases record by record and runs both engines' `check`. The first difference stops
//! the run and is reported with its `file:line` and the ops on that key before it.
//!
//! The two engines run at the same time: the second on a thread of its own, a few
//! batches of steps ahead, sending what each step gave (`second.rs`); the calling thread
//! runs the first and compares step by step, so the first difference is found exactly
//! where it would be one engine after the other. At the end, each engine reads and
//! checks its own final database on a thread of its own.
//!
//! Nothing here is checked against the trace: the engines are each other's oracle.

pub mod outcome;
pub mod run;
pub mod schedule;
mod second;
pub mod units;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::panic::resume_unwind;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::analysis::{describe_key, Analysis};
use crate::backend::{Backend, OpenOptions, TdbError};
use crate::inspect;
use crate::replay::database;
use crate::trace::{OpKind, Span, Trace};
use outcome::{Given, Outcomes, Step};
use run::Runner;
use schedule::Order;
use second::{Feed, Gone};

/// What a differential run found.
#[derive(Debug, Clone)]
pub struct DiffReport {
    /// Ops run on each engine.
    pub ops: u64,
    /// Units the interleaving ran.
    pub units: u64,
    /// Dependencies the interleaving could not honour (see [`schedule`]).
    pub overridden_deps: u64,
    /// Records in the final databases (of the first engine when they differ).
    pub records: usize,
    /// Whether the two final files are byte for byte the same. After a divergence the
    /// second engine's file may hold a few more steps than the first's (it runs ahead).
    pub identical_files: bool,
    /// From the first unit to the final check.
    pub elapsed: Duration,
    /// The part of `elapsed` spent in lock step: from the first unit to the last op's
    /// comparison (the rest closes both databases and compares and checks them).
    pub lock_step: Duration,
    /// The first difference, if any.
    pub divergence: Option<Divergence>,
}

/// Where a difference showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DivergenceKind {
    /// A call gave different results.
    Result,
    /// The final databases hold different records.
    FinalRecords,
    /// One engine's `check` rejected its final file.
    Check,
}

/// The first difference between the engines.
#[derive(Debug, Clone)]
pub struct Divergence {
    /// What differed.
    pub kind: DivergenceKind,
    /// `file:line` of the op (or `final database`).
    pub location: String,
    /// The op's trace name (`tdb_fetch`, ...), or what was compared.
    pub op: String,
    /// The first engine's name and result.
    pub first: (&'static str, String),
    /// The second engine's name and result.
    pub second: (&'static str, String),
    /// The key the op was on, if any.
    pub key: Option<Vec<u8>>,
    /// The ops on that key that ran before, oldest first, as `file:line: op`.
    pub history: Vec<String>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {} gave {}, {} gave {}",
            self.location, self.op, self.first.0, self.first.1, self.second.0, self.second.1
        )?;
        if let Some(key) = self.key.as_deref().map(describe_key) {
            if self.history.is_empty() {
                write!(f, "\n  no earlier op on key {key}")?;
            } else {
                write!(f, "\n  earlier ops on key {key}:")?;
                for line in &self.history {
                    write!(f, "\n    {line}")?;
                }
            }
        }
        Ok(())
    }
}

impl Divergence {
    /// What a shrinker must keep to call a smaller set "failing the same way": the kind
    /// of difference and the op it showed at.
    pub fn signature(&self) -> (DivergenceKind, String) {
        (self.kind.clone(), self.op.clone())
    }
}

/// Why a differential run could not be made.
#[derive(Debug)]
pub enum DiffError {
    /// An engine could not prepare or open its database.
    Setup(String),
}

impl fmt::Display for DiffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiffError::Setup(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for DiffError {}

/// At most this many earlier ops on the key are shown with a divergence.
const HISTORY: usize = 8;

/// Run `traces`, interleaved, on engine `A` at `path_a` and engine `B` at `path_b` (both
/// created afresh with the records `analysis` found must pre-exist) and compare them.
/// `progress` gets (ops run, ops in all traces) now and then.
///
/// Engine `B` runs on a thread of its own (`second.rs`), ahead of the comparison by up to
/// a few batches of steps; the calling thread runs engine `A` and compares. The first
/// difference is still the first op whose results differ, and `A` stops right there;
/// `B` may have run a little further. Every thread is joined before this returns (the
/// caller may fork worker processes afterwards).
pub fn diff<A: Backend, B: Backend>(
    traces: &[Trace],
    analysis: &Analysis,
    path_a: &Path,
    path_b: &Path,
    progress: Option<&dyn Fn(u64, u64)>,
) -> Result<DiffReport, DiffError> {
    let locking = database::Locking::Recorded;
    database::prepare::<A>(path_a, traces, &analysis.preexisting, locking)
        .map_err(|error| setup_error(A::label(), path_a, error))?;
    database::prepare::<B>(path_b, traces, &analysis.preexisting, locking)
        .map_err(|error| setup_error(B::label(), path_b, error))?;
    let options = traces
        .first()
        .map(|trace| database::in_process_options(trace, locking))
        .ok_or_else(|| DiffError::Setup("no traces to compare".into()))?;
    let walk = Walk {
        traces,
        analysis,
        order: Order::new(traces, analysis),
        options,
    };
    let (first, closed_b) = run_both::<A, B>(&walk, path_a, path_b, progress)?;
    let First {
        mut report,
        executed,
        started,
        closed: closed_a,
    } = first;
    report.overridden_deps = walk.order.overridden;
    if report.divergence.is_none() && (closed_a.is_err() || closed_b.is_err()) {
        let verdict = |closed: &Result<(), TdbError>| match closed {
            Ok(()) => "0".to_string(),
            Err(error) => format!("-1 ({error})"),
        };
        report.divergence = Some(final_divergence::<A, B>(
            DivergenceKind::Result,
            "tdb_close",
            verdict(&closed_a),
            verdict(&closed_b),
        ));
    }
    report.identical_files = same_files(path_a, path_b).unwrap_or(false);
    if report.divergence.is_none() {
        let compared = compare_final::<A, B>(path_a, path_b, report.identical_files);
        report.divergence = match compared {
            Ok(records) => {
                report.records = records;
                None
            }
            Err(mut divergence) => {
                if let Some(key) = divergence.key.clone() {
                    let after_all = (traces.len(), 0);
                    divergence.history = history(traces, &executed, after_all, &key);
                }
                Some(*divergence)
            }
        };
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Engine `B` at `path_b` on a thread of its own, engine `A` at `path_a` on this one,
/// compared step by step; gives what this thread found and how `B`'s handle closed.
/// The thread is joined before this returns, whatever happens (its panic is passed on).
fn run_both<A: Backend, B: Backend>(
    walk: &Walk<'_>,
    path_a: &Path,
    path_b: &Path,
    progress: Option<&dyn Fn(u64, u64)>,
) -> Result<(First, Result<(), TdbError>), DiffError> {
    let stop = AtomicBool::new(false);
    let (first, second) = thread::scope(|scope| {
        let (mut feed, source) = second::channel();
        let stop = &stop;
        let second = scope.spawn(move || second::run::<B>(walk, path_b, source, stop));
        let first = run_first::<A, B>(walk, path_a, &mut feed, progress);
        // Whatever happened, the second engine stops: it must not wait for a listener.
        stop.store(true, Ordering::Relaxed);
        drop(feed);
        let second = second.join().unwrap_or_else(|panic| resume_unwind(panic));
        (first, second)
    });
    match first {
        Ok(first) => {
            let closed_b = second.expect("the second engine opened, as the first heard");
            Ok((first, closed_b))
        }
        Err(Stopped::Setup(error)) => Err(error),
        Err(Stopped::SecondSetup(error)) => Err(setup_error(B::label(), path_b, error)),
        Err(Stopped::Gone) => unreachable!("the second engine's thread ended without panicking"),
    }
}

/// What both engines walk: the traces, their analysis, the order of their units, and the
/// options to open a handle with. Only read, so both threads share it.
struct Walk<'a> {
    traces: &'a [Trace],
    analysis: &'a Analysis,
    order: Order,
    options: OpenOptions,
}

impl<'a> Walk<'a> {
    /// Runs the ops of trace `index`.
    fn runner(&self, index: usize) -> Runner<'a> {
        Runner {
            trace: &self.traces[index],
            groups: &self.analysis.groups[index],
        }
    }
}

/// The setup error of engine `name` at `path`.
fn setup_error(name: &str, path: &Path, error: TdbError) -> DiffError {
    DiffError::Setup(format!("{name}: cannot create {}: {error}", path.display()))
}

/// Why the comparing thread stopped before the end.
enum Stopped {
    /// The first engine's handle did not open.
    Setup(DiffError),
    /// The second engine's handle did not open.
    SecondSetup(TdbError),
    /// The second engine's thread ended early (it panicked).
    Gone,
}

/// What the comparing thread did: the report so far (ops, units, the divergence, the
/// lock step), the units run, when the lock step started, and how the first engine's
/// handle closed after it.
struct First {
    report: DiffReport,
    executed: Vec<(usize, u32, u32)>,
    started: Instant,
    closed: Result<(), TdbError>,
}

/// The comparing thread: open engine `A` at `path`, wait for the second engine's handle,
/// run the lock step against `feed`, then close `A`'s handle.
fn run_first<A: Backend, B: Backend>(
    walk: &Walk<'_>,
    path: &Path,
    feed: &mut Feed,
    progress: Option<&dyn Fn(u64, u64)>,
) -> Result<First, Stopped> {
    let mut db = A::open(path, &walk.options)
        .map_err(|error| Stopped::Setup(setup_error(A::label(), path, error)))?;
    if let Err(error) = feed.opened().map_err(|_| Stopped::Gone)? {
        return Err(Stopped::SecondSetup(error));
    }
    let started = Instant::now();
    let mut report = DiffReport {
        ops: 0,
        units: 0,
        overridden_deps: 0,
        records: 0,
        identical_files: false,
        elapsed: Duration::ZERO,
        lock_step: Duration::ZERO,
        divergence: None,
    };
    let mut executed = Vec::with_capacity(walk.order.units.len());
    lock_step::<A, B>(walk, &mut db, feed, progress, &mut report, &mut executed)
        .map_err(|_| Stopped::Gone)?;
    report.lock_step = started.elapsed();
    Ok(First {
        report,
        executed,
        started,
        closed: db.close(),
    })
}

/// Every unit in the walk's order on `db`, each step compared with what the second
/// engine's step gave, until the first difference; counts ops and units into `report`
/// and the units run into `executed`.
fn lock_step<A: Backend, B: Backend>(
    walk: &Walk<'_>,
    db: &mut A,
    feed: &mut Feed,
    progress: Option<&dyn Fn(u64, u64)>,
    report: &mut DiffReport,
    executed: &mut Vec<(usize, u32, u32)>,
) -> Result<(), Gone> {
    let traces = walk.traces;
    let total: u64 = traces.iter().map(|trace| trace.ops.len() as u64).sum();
    let mut out = Outcomes::default();
    let mut next_progress = 0u64;
    for &(index, unit) in &walk.order.units {
        let runner = walk.runner(index);
        // Lock step: each op (a traverse with its callback's ops as one) on both
        // engines, compared before the next.
        let mut at = unit.start as usize;
        while at <= unit.end as usize && report.divergence.is_none() {
            out.clear();
            let next = runner.step(db, at, &mut out);
            let theirs = feed.next_step()?;
            if let Some(mut divergence) =
                first_difference::<A, B>(traces, index, out.given(), theirs)
            {
                if let Some(key) = divergence.key.clone() {
                    let last_run = (next - 1).min(unit.end as usize) as u32;
                    executed.push((index, unit.start, last_run));
                    divergence.history = history(traces, executed, (index, at as u32), &key);
                    executed.pop();
                }
                report.divergence = Some(divergence);
            }
            at = next;
        }
        executed.push((index, unit.start, unit.end));
        report.units += 1;
        report.ops += u64::from(unit.end - unit.start + 1);
        if report.divergence.is_some() {
            break;
        }
        if let Some(progress) = progress {
            if report.ops >= next_progress {
                progress(report.ops, total);
                next_progress = report.ops + 4096;
            }
        }
    }
    Ok(())
}

/// The first outcome of a step that differs between the two engines.
fn first_difference<A: Backend, B: Backend>(
    traces: &[Trace],
    index: usize,
    a: Given<'_>,
    b: Given<'_>,
) -> Option<Divergence> {
    let trace = &traces[index];
    let at = (0..a.steps.len().max(b.steps.len())).find(|&i| {
        match (a.steps.get(i), b.steps.get(i)) {
            (Some(step_a), Some(step_b)) => !a.outcomes.same(step_a, b.outcomes, step_b),
            _ => true,
        }
    })?;
    let step_a = a.steps.get(at);
    let step_b = b.steps.get(at);
    let describe = |out: &Outcomes, step: Option<&Step>| match step {
        Some(step) => out.describe(step.outcome),
        None => "nothing more".to_string(),
    };
    let op = step_a.or(step_b).map_or(0, |step| step.op) as usize;
    let key = op_key(&trace.ops[op].kind).map(|key| trace.bytes(key).to_vec());
    let divergence = Divergence {
        kind: DivergenceKind::Result,
        location: trace.location(op as u32),
        op: trace.ops[op].name().to_string(),
        first: (A::label(), describe(a.outcomes, step_a)),
        second: (
            B::label(),
            describe(b.outcomes, step_b)
                + &first_byte_difference(a.outcomes, step_a, b.outcomes, step_b),
        ),
        key,
        history: Vec::new(),
    };
    Some(divergence)
}

/// For two records that differ beyond what a message shows: ` (differs from byte N)`.
fn first_byte_difference(
    out_a: &Outcomes,
    step_a: Option<&Step>,
    out_b: &Outcomes,
    step_b: Option<&Step>,
) -> String {
    use outcome::Outcome::Record;
    let (Some(a), Some(b)) = (step_a, step_b) else {
        return String::new();
    };
    let (Record(Ok(Some(a))), Record(Ok(Some(b)))) = (a.outcome, b.outcome) else {
        return String::new();
    };
    let (a, b) = (out_a.bytes(a), out_b.bytes(b));
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(at) if at >= 32 => format!(" (differs from byte {at})"),
        _ => String::new(),
    }
}

/// The ops on `key` that ran before op `before` (which starts the last of `executed`, or
/// is past them all), oldest first, at most [`HISTORY`].
fn history(
    traces: &[Trace],
    executed: &[(usize, u32, u32)],
    before: (usize, u32),
    key: &[u8],
) -> Vec<String> {
    let mut found = Vec::new();
    'units: for &(index, start, end) in executed.iter().rev() {
        let trace = &traces[index];
        for op in (start..=end).rev() {
            if (index, op) >= before && index == before.0 {
                continue;
            }
            let on_key =
                op_key(&trace.ops[op as usize].kind).is_some_and(|span| trace.bytes(span) == key);
            if on_key {
                found.push(format!(
                    "{}: {}",
                    trace.location(op),
                    trace.ops[op as usize].name()
                ));
                if found.len() == HISTORY {
                    break 'units;
                }
            }
        }
    }
    found.reverse();
    found
}

/// The key an op works on, if it works on one (for a traverse entry, the record's key).
fn op_key(kind: &OpKind) -> Option<Span> {
    match *kind {
        OpKind::TraverseEntry {
            record: Some((key, _)),
        } => Some(key),
        _ => kind.key(),
    }
}

/// Both final files, opened afresh: record by record (unless the files are identical
/// anyway), then both engines' `check`. Gives the number of records, or the difference
/// and the key it is on. Each engine reads its own file on a thread of its own.
fn compare_final<A: Backend, B: Backend>(
    path_a: &Path,
    path_b: &Path,
    identical_files: bool,
) -> Result<usize, Box<Divergence>> {
    let checked = |kind, what: &str, a: String, b: String| {
        Err(Box::new(final_divergence::<A, B>(kind, what, a, b)))
    };
    let ((records_a, checked_a), (records_b, checked_b)) = both(
        || final_state::<A>(path_a, !identical_files),
        || final_state::<B>(path_b, !identical_files),
    );
    if let (Some(records_a), Some(records_b)) = (records_a, records_b) {
        let (records_a, records_b) = match (records_a, records_b) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => {
                let verdict = |r: Result<Records, String>| r.err().unwrap_or("sound".into());
                return checked(
                    DivergenceKind::Check,
                    "traverse of the final database",
                    verdict(a),
                    verdict(b),
                );
            }
        };
        if let Some(divergence) = first_record_difference::<A, B>(&records_a, &records_b) {
            return Err(Box::new(divergence));
        }
    }
    match (checked_a, checked_b) {
        (Ok(a), Ok(b)) if a == b => Ok(a as usize),
        (a, b) => {
            let verdict = |r: Result<u64, String>| match r {
                Ok(records) => format!("sound, {records} records"),
                Err(error) => error,
            };
            checked(DivergenceKind::Check, "tdb_check", verdict(a), verdict(b))
        }
    }
}

/// Whether the files at `a` and `b` hold the same bytes, read a chunk at a time.
fn same_files(a: &Path, b: &Path) -> std::io::Result<bool> {
    const CHUNK: usize = 256 * 1024;
    let (mut file_a, mut file_b) = (File::open(a)?, File::open(b)?);
    if file_a.metadata()?.len() != file_b.metadata()?.len() {
        return Ok(false);
    }
    let (mut chunk_a, mut chunk_b) = (vec![0; CHUNK], vec![0; CHUNK]);
    loop {
        let read = fill(&mut file_a, &mut chunk_a)?;
        if read != fill(&mut file_b, &mut chunk_b)? || chunk_a[..read] != chunk_b[..read] {
            return Ok(false);
        }
        if read < CHUNK {
            return Ok(true);
        }
    }
}

/// Read into `buf` until it is full or the file ends; gives the bytes read.
fn fill(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// What engine `B` makes of its final file: every record (if `with_records`), then its
/// `check`. The check runs even when the records already differ: it only reads the file,
/// and running it at once keeps both engines busy.
fn final_state<B: Backend>(
    path: &Path,
    with_records: bool,
) -> (Option<Result<Records, String>>, Result<u64, String>) {
    let records = with_records.then(|| open_records::<B>(path));
    (records, inspect::check_file::<B>(path))
}

/// `a` on this thread and `b` on another, at the same time; `b`'s panic is passed on.
fn both<RA, RB: Send>(a: impl FnOnce() -> RA, b: impl FnOnce() -> RB + Send) -> (RA, RB) {
    thread::scope(|scope| {
        let b = scope.spawn(b);
        let a = a();
        (a, b.join().unwrap_or_else(|panic| resume_unwind(panic)))
    })
}

fn open_records<B: Backend>(path: &Path) -> Result<Records, String> {
    let mut db: B = inspect::open_existing(path)
        .map_err(|error| format!("{}: cannot open: {error}", path.display()))?;
    inspect::records(&mut db).map_err(|error| format!("not sound: {error}"))
}

type Records = BTreeMap<Vec<u8>, Vec<u8>>;

fn first_record_difference<A: Backend, B: Backend>(a: &Records, b: &Records) -> Option<Divergence> {
    let keys = a.keys().chain(b.keys());
    let key = keys.filter(|key| a.get(*key) != b.get(*key)).min()?.clone();
    let show = |value: Option<&Vec<u8>>| match value {
        Some(data) => outcome::show(data),
        None => "no record".to_string(),
    };
    let mut divergence = final_divergence::<A, B>(
        DivergenceKind::FinalRecords,
        "the final record",
        show(a.get(&key)),
        show(b.get(&key)),
    );
    divergence.key = Some(key);
    Some(divergence)
}

fn final_divergence<A: Backend, B: Backend>(
    kind: DivergenceKind,
    op: &str,
    first: String,
    second: String,
) -> Divergence {
    Divergence {
        kind,
        location: "final database".to_string(),
        op: op.to_string(),
        first: (A::label(), first),
        second: (B::label(), second),
        key: None,
        history: Vec::new(),
    }
}
