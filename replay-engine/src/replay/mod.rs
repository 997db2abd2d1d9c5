//! Running a replay: prepare the database, run every trace (one forked worker process per
//! trace, because fcntl locks belong to a process; in-process for a single trace), time
//! it, and when the workers deadlock, learn a dependency that avoids it and run again
//! from a fresh database.

pub mod database;
pub mod executor;
mod proc_state;
pub mod shared;
mod worker;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::analysis::{Analysis, Dep};
use crate::backend::{Backend, TdbError};
use crate::trace::Trace;
use executor::{ExecError, Executor};
use shared::SharedState;
pub use worker::WorkerOutcome;

/// How to replay.
pub struct ReplayOptions<'p> {
    /// Timed runs wanted (reruns after a deadlock back-off do not count).
    pub runs: usize,
    /// How long every unfinished worker must be blocked with no progress at all before
    /// the run counts as deadlocked.
    pub deadlock_after: Duration,
    /// Give up after this many back-offs.
    pub max_backoffs: usize,
    /// Called now and then with (ops done, ops in all traces) during a run.
    pub progress: Option<&'p dyn Fn(u64, u64)>,
}

impl Default for ReplayOptions<'_> {
    fn default() -> Self {
        ReplayOptions {
            runs: 1,
            deadlock_after: Duration::from_millis(200),
            max_backoffs: 64,
            progress: None,
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
}

/// A deadlock the replay ran into and the dependency it added to avoid it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// `file:line` of the op that waited while holding locks.
    pub waiting_at: String,
    /// `file:line` it waited for.
    pub waiting_for: String,
    /// `file:line` where it now waits instead (the start of the locked region).
    pub now_waits_at: String,
}

/// The outcome of a replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// The timed runs, in order.
    pub runs: Vec<RunReport>,
    /// Deadlocks met and resolved, in order.
    pub backoffs: Vec<Backoff>,
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
    /// Results differed from the traces (`file:line: ...` each).
    Mismatch(Vec<String>),
    /// The workers deadlocked and no back-off could resolve it.
    Deadlock(String),
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
    let mut report = ReplayReport::default();
    let shared = if traces.len() > 1 {
        Some(SharedState::new(traces.len()).map_err(|error| {
            ReplayError::System(format!("cannot map shared memory for the workers: {error}"))
        })?)
    } else {
        None
    };
    while report.runs.len() < options.runs.max(1) {
        database::prepare::<B>(db_path, traces, &analysis.preexisting)
            .map_err(ReplayError::Prepare)?;
        let outcome = match &shared {
            None => run_in_process::<B>(db_path, traces, analysis)?,
            Some(shared) => worker::run_workers::<B>(db_path, traces, analysis, shared, options)?,
        };
        match outcome {
            Attempt::Completed(run) => report.runs.push(run),
            Attempt::Deadlocked(learned) => {
                if report.backoffs.len() >= options.max_backoffs {
                    return Err(ReplayError::Deadlock(format!(
                        "still deadlocking after {} back-offs; the last: {}",
                        report.backoffs.len(),
                        describe_learned(traces, analysis, &learned)
                    )));
                }
                let before = analysis.digest();
                analysis
                    .add_dependencies(&learned.iter().map(|l| l.dep).collect::<Vec<_>>())
                    .map_err(|_| {
                        ReplayError::Deadlock(format!(
                            "the back-off needed to avoid a deadlock would make the traces \
                             wait for each other in a circle: {}",
                            describe_learned(traces, analysis, &learned)
                        ))
                    })?;
                if analysis.digest() == before {
                    return Err(ReplayError::Deadlock(format!(
                        "a back-off that the plan already contained did not prevent it: {}",
                        describe_learned(traces, analysis, &learned)
                    )));
                }
                report
                    .backoffs
                    .extend(learned.iter().map(|l| l.describe(traces)));
            }
        }
    }
    Ok(report)
}

/// The result of one attempt at a run.
enum Attempt {
    Completed(RunReport),
    Deadlocked(Vec<Learned>),
}

/// A dependency learned from a deadlock: `dep` (hoisted to the start of the region the
/// waiter held) instead of the wait at `original_op`.
#[derive(Clone, Copy, Debug)]
struct Learned {
    dep: Dep,
    original_op: u32,
}

impl Learned {
    fn describe(&self, traces: &[Trace]) -> Backoff {
        let at = |file: u32, op: u32| {
            let trace = &traces[file as usize];
            format!("{}:{}", trace.name, trace.ops[op as usize].line)
        };
        Backoff {
            waiting_at: at(self.dep.file, self.original_op),
            waiting_for: at(self.dep.target_file, self.dep.target),
            now_waits_at: at(self.dep.file, self.dep.op),
        }
    }
}

fn describe_learned(traces: &[Trace], _analysis: &Analysis, learned: &[Learned]) -> String {
    learned
        .iter()
        .map(|l| {
            let b = l.describe(traces);
            format!(
                "{} waited for {} while holding locks taken at {}",
                b.waiting_at, b.waiting_for, b.now_waits_at
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A single trace runs in this process: nothing to wait for, and the clock covers only
/// the ops (not the open or the close).
fn run_in_process<B: Backend>(
    db_path: &Path,
    traces: &[Trace],
    analysis: &Analysis,
) -> Result<Attempt, ReplayError> {
    let trace = &traces[0];
    let mut db = B::open(db_path, &database::worker_options(trace)).map_err(|error| {
        ReplayError::Open {
            trace: trace.name.clone(),
            error: error.to_string(),
        }
    })?;
    let mut executor = Executor::new(0, trace, &analysis.groups[0], &[], None);
    let started = Instant::now();
    let result = executor.run(&mut db);
    let elapsed = started.elapsed();
    let closed = db.close();
    match result {
        Ok(()) => {}
        Err(ExecError::Mismatch(message)) => return Err(ReplayError::Mismatch(vec![message])),
        Err(ExecError::Aborted) => {
            return Err(ReplayError::System("the in-process run was aborted".into()))
        }
    }
    closed.map_err(|error| {
        ReplayError::System(format!("{}: closing the database failed: {error}", trace.name))
    })?;
    Ok(Attempt::Completed(RunReport {
        elapsed,
        ops: executor.ops_run,
        tolerated: executor.tolerated,
    }))
}
