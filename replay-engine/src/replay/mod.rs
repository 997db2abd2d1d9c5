//! Running a replay: prepare the database, run every trace (one forked worker process per
//! trace, because fcntl locks belong to a process; in-process for a single trace), time
//! it, and when the workers deadlock, learn a dependency that avoids it and run again
//! from a fresh database.

pub mod backoff_cache;
pub mod clock;
pub mod database;
pub mod executor;
pub mod latency;
pub mod message;
pub mod mismatch;
mod predict;
mod proc_state;
pub mod shared;
mod supervisor;
mod worker;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::analysis::{Analysis, Dep};
use crate::backend::engines::{EngineVisitor, Engines, Pair};
use crate::backend::{Backend, TdbError};
use crate::record::{self, RecordOptions, Recording};
use crate::trace::Trace;
use executor::{ExecError, Executor};
pub use message::WorkerMessage;
use mismatch::Mismatch;
use shared::SharedState;

/// The default deadlock window, in milliseconds: how long every unfinished worker must
/// stay stuck the same way (waiting for another trace, or asleep on a lock inside the
/// engine) with no op finishing.
pub const DEFAULT_DEADLOCK_AFTER_MS: u64 = 20;

/// How to replay.
pub struct ReplayOptions<'p> {
    /// Timed runs wanted (reruns after a deadlock back-off do not count).
    pub runs: usize,
    /// How long every unfinished worker must be blocked with no progress at all before
    /// the run counts as deadlocked.
    pub deadlock_after: Duration,
    /// Give up after this many back-offs.
    pub max_backoffs: usize,
    /// Abort a run in which no trace has made any progress for this long although not
    /// every worker is blocked (a worker spinning inside the engine, say).
    pub stall_after: Duration,
    /// Called now and then with (ops done, ops in all traces) during a run.
    pub progress: Option<&'p dyn Fn(u64, u64)>,
    /// Record what the first completed run does, as tdb's own traces, one per worker
    /// (see [`crate::record`]); the directory must have been made ready with
    /// [`crate::record::dir::prepare`].
    pub record: Option<RecordOptions>,
    /// Time every op (per-op latency histograms in each [`RunReport`]).
    pub latency: bool,
    /// A file of back-offs learned by earlier replays of the same plan (see
    /// [`backoff_cache`]): read before the first run, so known deadlocks are avoided from
    /// the start, and updated when a run learns new ones. Only a file the tool wrote
    /// itself is read or replaced.
    pub backoff_cache: Option<PathBuf>,
    /// Before the first run, make a trace that would wait for another while holding the
    /// transaction lock (inside a traverse or a transaction) wait before taking it
    /// instead, whenever the trace it waits for takes the transaction lock on its way to
    /// the op waited for, or waits for a third trace that does: the lock-order inversion
    /// most deadlocks of the corpus come from. Where waiting earlier would be circular, the
    /// traverse stops before the record instead (see [`Resolution::StopTraverseBefore`]).
    pub predict: bool,
    /// Robust mutexes where the traces opened with them, or fcntl locks only.
    pub locking: database::Locking,
}

impl Default for ReplayOptions<'_> {
    fn default() -> Self {
        ReplayOptions {
            runs: 1,
            deadlock_after: Duration::from_millis(DEFAULT_DEADLOCK_AFTER_MS),
            max_backoffs: 64,
            stall_after: Duration::from_secs(120),
            progress: None,
            record: None,
            latency: true,
            backoff_cache: None,
            predict: true,
            locking: database::Locking::Recorded,
        }
    }
}

/// One timed run.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// From the start signal to the last op of the last trace.
    pub elapsed: Duration,
    /// Ops run (traverse entries included).
    pub ops: u64,
    /// Results that differed where tdb allows it, as `file:line: ...`.
    pub tolerated: Vec<String>,
    /// Per-op latencies, one set per backend (empty when not timing).
    pub latencies: Vec<latency::BackendLatencies>,
}

/// A deadlock the replay ran into and what it changed to avoid it next time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// `file:line` of the op that waited while holding locks.
    pub waiting_at: String,
    /// `file:line` it waited for.
    pub waiting_for: String,
    /// What the replay does differently from now on.
    pub resolution: Resolution,
}

/// How a deadlock is avoided in later runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The waiting trace now waits at this `file:line` (the start of the region whose
    /// locks it held), before taking the locks.
    WaitBefore(String),
    /// The traverse stops walking before this `file:line` entry; the ops from there on
    /// run after the walk, as the original tool did.
    StopTraverseBefore(String),
}

impl std::fmt::Display for Backoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} waited for {} while holding locks; ",
            self.waiting_at, self.waiting_for
        )?;
        match &self.resolution {
            Resolution::WaitBefore(at) => write!(f, "it now waits at {at}"),
            Resolution::StopTraverseBefore(at) => {
                write!(f, "its traverse now stops before {at}")
            }
        }
    }
}

/// The outcome of a replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// The timed runs, in order.
    pub runs: Vec<RunReport>,
    /// Deadlocks met and resolved, in order.
    pub backoffs: Vec<Backoff>,
    /// Back-offs known from the back-off cache and applied before the first run.
    pub known_backoffs: Vec<Backoff>,
    /// Back-offs predicted from the plan and applied before the first run (see
    /// [`ReplayOptions::predict`]).
    pub predicted_backoffs: Vec<Backoff>,
    /// Attempts abandoned on a deadlock and run again.
    pub reruns: usize,
    /// Time spent on those attempts: preparing, running until the deadlock was detected,
    /// stopping the workers.
    pub rerun_time: Duration,
    /// The trace files recorded (see [`ReplayOptions::record`]), sorted.
    pub recorded: Vec<std::path::PathBuf>,
}

/// Why a replay failed.
#[derive(Debug)]
pub enum ReplayError {
    /// The scratch database could not be prepared.
    Prepare(TdbError),
    /// A worker could not open the database.
    Open {
        /// The trace.
        trace: String,
        /// What the backend said.
        error: String,
    },
    /// Results differed from the traces: one [`Mismatch`] per trace that stopped on
    /// one (its `Display` gives the `file:line: ...` line people read).
    Mismatch(Vec<Mismatch>),
    /// The workers deadlocked and no back-off could resolve it.
    Deadlock(String),
    /// No trace made progress for the stall limit.
    Stalled(String),
    /// A worker died or the operating system refused something.
    System(String),
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Prepare(error) => {
                write!(f, "cannot prepare the scratch database: {error}")
            }
            ReplayError::Open { trace, error } => {
                write!(f, "{trace}: cannot open the database: {error}")
            }
            ReplayError::Mismatch(messages) => {
                write!(f, "the replay did not match the trace")?;
                for message in messages {
                    write!(f, "\n  {message}")?;
                }
                Ok(())
            }
            ReplayError::Deadlock(message) => write!(f, "deadlock: {message}"),
            ReplayError::Stalled(message) => write!(f, "stalled: {message}"),
            ReplayError::System(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ReplayError {}

/// Replay `traces` on database `db_path` with backend `B`, `options.runs` times.
/// Dependencies learned from deadlocks are added to `analysis`, so later replays with the
/// same plan start with them.
pub fn replay<B: Backend>(
    db_path: &Path,
    traces: &[Trace],
    analysis: &mut Analysis,
    options: &ReplayOptions<'_>,
) -> Result<ReplayReport, ReplayError> {
    replay_mixed::<B, B>(db_path, traces, analysis, options)
}

/// Replay with two engines on one file at once: the traces at even positions (the first,
/// the third, ...) run in `Even` worker processes, the others in `Odd` ones. With C tdb
/// and tdb-pure this proves their lock protocols compatible: a lock one engine misses
/// lets two processes into one chain, and the results or the final `check` show it. The
/// scratch database is prepared by `Even`, and a single trace runs on `Even` alone.
pub fn replay_mixed<Even: Backend, Odd: Backend>(
    db_path: &Path,
    traces: &[Trace],
    analysis: &mut Analysis,
    options: &ReplayOptions<'_>,
) -> Result<ReplayReport, ReplayError> {
    replay_engines::<Pair<Even, Odd>>(db_path, traces, analysis, options)
}

/// Replay with any number of engines on one file at once (`--engines A,B,C`): the
/// trace at position `k` runs in a worker process of engine `k % E::count()`. The
/// scratch database is prepared by the first engine, and a single trace runs on the
/// first engine alone.
pub fn replay_engines<E: Engines>(
    db_path: &Path,
    traces: &[Trace],
    analysis: &mut Analysis,
    options: &ReplayOptions<'_>,
) -> Result<ReplayReport, ReplayError> {
    if options.record.is_some() {
        replay_runs::<Recorded<E>>(db_path, traces, analysis, options)
    } else {
        replay_runs::<E>(db_path, traces, analysis, options)
    }
}

/// The runs of [`replay_engines`]; the first completed one is recorded when asked.
fn replay_runs<E: Engines>(
    db_path: &Path,
    traces: &[Trace],
    analysis: &mut Analysis,
    options: &ReplayOptions<'_>,
) -> Result<ReplayReport, ReplayError> {
    let mut report = ReplayReport::default();
    let cache_key = options.backoff_cache.as_ref().map(|path| {
        let key = backoff_cache::Key::of(&E::key(), analysis);
        (path, key)
    });
    if options.predict && traces.len() > 1 {
        report.predicted_backoffs = predict::predict_backoffs(traces, analysis);
    }
    let mut attempts: Vec<Vec<Learned>> = Vec::new();
    if let Some((path, key)) = &cache_key {
        report.known_backoffs = apply_known_backoffs(path, key, traces, analysis, &mut attempts);
    }
    let shared = if traces.len() > 1 {
        Some(SharedState::new(traces.len()).map_err(|error| {
            ReplayError::System(format!("cannot map shared memory for the workers: {error}"))
        })?)
    } else {
        None
    };
    if options.latency {
        // Calibrate the op clock here, once, for the workers forked below to inherit.
        clock::OpClock::get();
    }
    while report.runs.len() < options.runs.max(1) {
        let attempt_started = Instant::now();
        E::visit(
            0,
            Prepare {
                db_path,
                traces,
                analysis,
                locking: options.locking,
            },
        )
        .map_err(ReplayError::Prepare)?;
        // Each attempt records into a staging directory of its own; only a completed
        // run's traces are kept.
        let staging = match &options.record {
            Some(recording) if report.runs.is_empty() => Some((
                record::dir::staging(&recording.dir).map_err(recording_failed)?,
                recording,
            )),
            _ => None,
        };
        let record_to = staging.as_ref().map(|(staging, recording)| RecordOptions {
            dir: staging.clone(),
            ..(*recording).clone()
        });
        let outcome = match &shared {
            None => E::visit(
                0,
                InProcess {
                    db_path,
                    traces,
                    analysis,
                    record_to: record_to.as_ref(),
                    timing: options.latency,
                    locking: options.locking,
                },
            ),
            Some(shared) => worker::run_workers::<E>(
                db_path,
                traces,
                analysis,
                shared,
                options,
                record_to.as_ref(),
            ),
        };
        if let Some((staging, recording)) = &staging {
            match &outcome {
                Ok(Attempt::Completed(_)) => {
                    report.recorded =
                        record::dir::keep(staging, &recording.dir).map_err(recording_failed)?;
                }
                _ => record::dir::discard(staging).map_err(recording_failed)?,
            }
        }
        match outcome? {
            Attempt::Completed(run) => report.runs.push(run),
            Attempt::Deadlocked(learned) => {
                report.reruns += 1;
                report.rerun_time += attempt_started.elapsed();
                if report.backoffs.len() >= options.max_backoffs {
                    return Err(ReplayError::Deadlock(format!(
                        "still deadlocking after {} back-offs (raise --max-backoffs to allow \
                         more); the last: {}",
                        report.backoffs.len(),
                        report
                            .backoffs
                            .last()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    )));
                }
                let backoffs = apply_backoff(traces, analysis, &learned)?;
                report.backoffs.extend(backoffs);
                attempts.push(learned);
            }
        }
    }
    if let Some((path, key)) = &cache_key {
        if !report.backoffs.is_empty() {
            // A cache that cannot be written only costs the next replay its reruns.
            let _ = backoff_cache::write(path, key, &attempts);
        }
    }
    Ok(report)
}

/// Apply the back-offs the cache at `path` knows for this plan, in the order they were
/// learned, until one no longer applies; each applied attempt's lessons go to `attempts`.
fn apply_known_backoffs(
    path: &Path,
    key: &backoff_cache::Key,
    traces: &[Trace],
    analysis: &mut Analysis,
    attempts: &mut Vec<Vec<Learned>>,
) -> Vec<Backoff> {
    let mut known = Vec::new();
    for learned in backoff_cache::read(path, key, traces) {
        match apply_backoff(traces, analysis, &learned) {
            Ok(backoffs) => {
                known.extend(backoffs);
                attempts.push(learned);
            }
            Err(_) => break,
        }
    }
    known
}

/// The result of one attempt at a run.
enum Attempt {
    Completed(RunReport),
    Deadlocked(Vec<Learned>),
}

/// A dependency learned from a deadlock: `dep` (hoisted to the start of the region the
/// waiter held) instead of the wait at `original_op`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Learned {
    dep: Dep,
    original_op: u32,
}

impl Learned {
    fn at(traces: &[Trace], file: u32, op: u32) -> String {
        traces[file as usize].location(op)
    }

    fn backoff(&self, traces: &[Trace], resolution: Resolution) -> Backoff {
        Backoff {
            waiting_at: Self::at(traces, self.dep.file, self.original_op),
            waiting_for: Self::at(traces, self.dep.target_file, self.dep.target),
            resolution,
        }
    }
}

/// Change the plan so the deadlock cannot recur: make the waiters wait before taking
/// their locks; where that would make the traces wait for each other in a circle, stop
/// the traverse that held the locks early instead.
fn apply_backoff(
    traces: &[Trace],
    analysis: &mut Analysis,
    learned: &[Learned],
) -> Result<Vec<Backoff>, ReplayError> {
    let before = analysis.digest();
    let deps: Vec<Dep> = learned.iter().map(|l| l.dep).collect();
    if analysis.add_dependencies(&deps).is_ok() && analysis.digest() != before {
        return Ok(learned
            .iter()
            .map(|l| {
                let at = Learned::at(traces, l.dep.file, l.dep.op);
                l.backoff(traces, Resolution::WaitBefore(at))
            })
            .collect());
    }
    let mut backoffs = Vec::new();
    for l in learned {
        let file = l.dep.file as usize;
        if let Some(entry) =
            analysis.groups[file].stop_traverse_before(&traces[file], l.original_op)
        {
            let at = Learned::at(traces, l.dep.file, entry);
            backoffs.push(l.backoff(traces, Resolution::StopTraverseBefore(at)));
        }
    }
    if backoffs.is_empty() {
        let described: Vec<String> = learned
            .iter()
            .map(|l| {
                format!(
                    "{} waited for {} while holding locks taken at {}",
                    Learned::at(traces, l.dep.file, l.original_op),
                    Learned::at(traces, l.dep.target_file, l.dep.target),
                    Learned::at(traces, l.dep.file, l.dep.op)
                )
            })
            .collect();
        return Err(ReplayError::Deadlock(format!(
            "{}; waiting before those locks would make the traces wait for each other in a \
             circle, and no traverse can be cut short to release them",
            described.join("; ")
        )));
    }
    Ok(backoffs)
}

fn recording_failed(error: crate::scratch::ScratchError) -> ReplayError {
    ReplayError::System(format!("recording: {error}"))
}

/// A single trace runs in this process: nothing to wait for, and the clock covers only
/// the ops (not the open or the close).
fn run_in_process<B: Backend>(
    db_path: &Path,
    traces: &[Trace],
    analysis: &Analysis,
    record_to: Option<&RecordOptions>,
    timing: bool,
    locking: database::Locking,
) -> Result<Attempt, ReplayError> {
    let trace = &traces[0];
    let options = database::in_process_options(trace, locking);
    let mut db =
        B::open_recorded(db_path, &options, record_to).map_err(|error| ReplayError::Open {
            trace: trace.name.clone(),
            error: error.to_string(),
        })?;
    let mut executor = Executor::new(0, trace, &analysis.groups[0], &[], None).with_timing(timing);
    let started = Instant::now();
    let result = executor.run(&mut db);
    let elapsed = started.elapsed();
    let latencies = executor.take_latencies();
    let closed = db.close();
    match result {
        Ok(()) => {}
        Err(ExecError::Mismatch(mismatch)) => return Err(ReplayError::Mismatch(vec![*mismatch])),
        Err(ExecError::Aborted) => {
            return Err(ReplayError::System("the in-process run was aborted".into()))
        }
    }
    closed.map_err(|error| {
        ReplayError::System(format!(
            "{}: closing the database failed: {error}",
            trace.name
        ))
    })?;
    Ok(Attempt::Completed(RunReport {
        elapsed,
        ops: executor.ops_run,
        tolerated: executor.tolerated,
        latencies: if timing {
            vec![latency::BackendLatencies {
                backend: B::label(),
                latencies,
            }]
        } else {
            Vec::new()
        },
    }))
}

/// [`database::prepare`] with the first engine's backend.
struct Prepare<'a> {
    db_path: &'a Path,
    traces: &'a [Trace],
    analysis: &'a Analysis,
    locking: database::Locking,
}

impl EngineVisitor for Prepare<'_> {
    type Output = Result<(), TdbError>;

    fn visit<B: Backend>(self) -> Self::Output {
        database::prepare::<B>(
            self.db_path,
            self.traces,
            &self.analysis.preexisting,
            self.locking,
        )
    }
}

/// [`run_in_process`] with the first engine's backend.
struct InProcess<'a> {
    db_path: &'a Path,
    traces: &'a [Trace],
    analysis: &'a Analysis,
    record_to: Option<&'a RecordOptions>,
    timing: bool,
    locking: database::Locking,
}

impl EngineVisitor for InProcess<'_> {
    type Output = Result<Attempt, ReplayError>;

    fn visit<B: Backend>(self) -> Self::Output {
        run_in_process::<B>(
            self.db_path,
            self.traces,
            self.analysis,
            self.record_to,
            self.timing,
            self.locking,
        )
    }
}

/// `E` with every backend wrapped in [`Recording`] (the `--record` runs).
struct Recorded<E>(std::marker::PhantomData<E>);

impl<E: Engines> Engines for Recorded<E> {
    fn count() -> usize {
        E::count()
    }

    fn label(position: usize) -> &'static str {
        E::label(position)
    }

    fn locking(position: usize) -> crate::backend::LockingModel {
        E::locking(position)
    }

    fn visit<V: EngineVisitor>(position: usize, visitor: V) -> V::Output {
        E::visit(position, RecordingVisitor(visitor))
    }
}

/// Passes `Recording<B>` on to the visitor it wraps.
struct RecordingVisitor<V>(V);

impl<V: EngineVisitor> EngineVisitor for RecordingVisitor<V> {
    type Output = V::Output;

    fn visit<B: Backend>(self) -> V::Output {
        self.0.visit::<Recording<B>>()
    }
}
