//! Forked workers, one per trace: start them together, let the [`Supervisor`] watch them,
//! and turn what each reports (a [`WorkerMessage`]) into the run's outcome.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::executor::{ExecError, Executor};
use super::latency;
use super::message::{WorkerMessage, MAX_NOTES};
use super::shared::{Activity, SharedState};
use super::supervisor::Supervisor;
use super::{database, Attempt, ReplayError, ReplayOptions, RunReport};
use crate::analysis::Analysis;
use crate::backend::engines::{EngineVisitor, Engines};
use crate::backend::Backend;
use crate::process::{self, Exit};
use crate::record::RecordOptions;
use crate::trace::Trace;

/// A worker process as the supervisor knows it.
pub(super) struct Child {
    /// Its process id.
    pub pid: i32,
    /// The trace it runs.
    pub index: usize,
    /// The read end of its pipe.
    pub pipe: std::io::PipeReader,
    /// How it exited, once reaped.
    pub status: Option<Exit>,
}

/// Fork a worker per trace (the trace at position `k` on engine `k % E::count()`), run
/// them together, and supervise.
pub(super) fn run_workers<E: Engines>(
    db_path: &Path,
    traces: &[Trace],
    analysis: &Analysis,
    shared: &SharedState,
    options: &ReplayOptions<'_>,
    record_to: Option<&RecordOptions>,
) -> Result<Attempt, ReplayError> {
    shared.reset();
    // Held until the workers are reaped: no worker is tdb's "first" opener.
    let _active = database::ActiveGuard::take(db_path).map_err(|error| {
        ReplayError::System(format!(
            "cannot lock {} for the run: {error}",
            db_path.display()
        ))
    })?;
    let setup = Setup {
        db_path,
        traces,
        analysis,
        shared,
        options,
        record_to,
    };
    let mut children = spawn_workers::<E>(&setup)?;
    let result = Supervisor::new(traces, analysis, shared, options).run(&mut children);
    kill_all(&mut children);
    let messages: Vec<Option<WorkerMessage>> = children
        .iter_mut()
        .map(|child| WorkerMessage::receive(&mut child.pipe))
        .collect();
    let supervision = result?;
    if let Some(learned) = supervision.deadlock {
        return Ok(Attempt::Deadlocked(learned));
    }
    let (ops, tolerated) = outcome(traces, &children, messages)?;
    let finished = (0..traces.len())
        .map(|index| shared.slot(index).finished_ns.load(Ordering::SeqCst))
        .max()
        .unwrap_or(supervision.started_ns);
    let mut latencies = Vec::new();
    if options.latency {
        for index in 0..traces.len() {
            let backend = E::label(index);
            latency::merge_into(&mut latencies, backend, &shared.latencies(index).load());
        }
    }
    Ok(Attempt::Completed(RunReport {
        elapsed: Duration::from_nanos(finished.saturating_sub(supervision.started_ns)),
        ops,
        tolerated,
        latencies,
    }))
}

/// What every worker of a run is given.
struct Setup<'a> {
    db_path: &'a Path,
    traces: &'a [Trace],
    analysis: &'a Analysis,
    shared: &'a SharedState,
    options: &'a ReplayOptions<'a>,
    record_to: Option<&'a RecordOptions>,
}

/// Fork one worker per trace; on failure, kill those already started.
fn spawn_workers<E: Engines>(setup: &Setup<'_>) -> Result<Vec<Child>, ReplayError> {
    let traces = setup.traces;
    let mut children: Vec<Child> = Vec::with_capacity(traces.len());
    for index in 0..traces.len() {
        let (reader, writer) = std::io::pipe()
            .map_err(|error| ReplayError::System(format!("cannot create a pipe: {error}")))?;
        // Loading threads were scoped and joined and the CLI starts none, so this process
        // is single-threaded, as spawn requires.
        // The parent's copy of `writer` is dropped with the closure, so the parent's read
        // sees end-of-file once the worker exits.
        // The engine is chosen in the worker: a `lib:` engine sets its slot there.
        let spawned = process::spawn(|| {
            E::visit(
                index,
                Worker {
                    setup,
                    index,
                    pipe: writer,
                },
            )
        });
        match spawned {
            Ok(pid) => children.push(Child {
                pid,
                index,
                pipe: reader,
                status: None,
            }),
            Err(error) => {
                kill_all(&mut children);
                return Err(ReplayError::System(format!(
                    "cannot fork a worker: {error}"
                )));
            }
        }
    }
    Ok(children)
}

/// The ops and tolerated differences of a run every worker finished, or why it failed:
/// the first worker that could not open the database, else every mismatch, else the
/// first worker that failed otherwise or died.
fn outcome(
    traces: &[Trace],
    children: &[Child],
    messages: Vec<Option<WorkerMessage>>,
) -> Result<(u64, Vec<String>), ReplayError> {
    for (child, message) in children.iter().zip(&messages) {
        if let Some(WorkerMessage::OpenFailed(error)) = message {
            return Err(ReplayError::Open {
                trace: traces[child.index].name.clone(),
                error: error.clone(),
            });
        }
    }
    let mismatches: Vec<_> = messages
        .iter()
        .filter_map(|message| match message {
            Some(WorkerMessage::Mismatch(mismatch)) => Some(mismatch.clone()),
            _ => None,
        })
        .collect();
    if !mismatches.is_empty() {
        return Err(ReplayError::Mismatch(mismatches));
    }
    let mut ops = 0;
    let mut tolerated = Vec::new();
    for (child, message) in children.iter().zip(messages) {
        let status = child.status;
        match message {
            Some(WorkerMessage::Finished {
                ops: n,
                tolerated: notes,
            }) if status.is_some_and(Exit::success) => {
                ops += n;
                tolerated.extend(notes);
            }
            Some(WorkerMessage::CloseFailed(message) | WorkerMessage::Panicked(message)) => {
                return Err(ReplayError::System(message))
            }
            Some(WorkerMessage::Aborted) => {
                return Err(ReplayError::System(format!(
                    "the worker for {} was aborted",
                    traces[child.index].name
                )))
            }
            _ => {
                return Err(ReplayError::System(format!(
                    "the worker for {} {}",
                    traces[child.index].name,
                    describe_status(status)
                )))
            }
        }
    }
    Ok((ops, tolerated))
}

/// [`worker_main`] with one engine's backend.
struct Worker<'a> {
    setup: &'a Setup<'a>,
    index: usize,
    pipe: std::io::PipeWriter,
}

impl EngineVisitor for Worker<'_> {
    type Output = i32;

    fn visit<B: Backend>(self) -> i32 {
        worker_main::<B>(self.setup, self.index, self.pipe)
    }
}

/// The body of a worker process: run the trace, send the supervisor a [`WorkerMessage`].
/// Exits 0 once the message is sent, 1 if it could not be.
fn worker_main<B: Backend>(setup: &Setup<'_>, index: usize, mut pipe: std::io::PipeWriter) -> i32 {
    let trace = &setup.traces[index];
    let run = catch_unwind(AssertUnwindSafe(|| run_trace::<B>(setup, index)));
    let message = run.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".to_string());
        WorkerMessage::Panicked(format!(
            "{}: internal error in the replay worker: {}",
            trace.name,
            one_line(&what)
        ))
    });
    let failed = !matches!(
        message,
        WorkerMessage::Finished { .. } | WorkerMessage::Aborted
    );
    if failed {
        setup.shared.set_activity(index, Activity::Failed);
    }
    match message.send(&mut pipe) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// Open the database, wait for the start, run the trace and close the database.
fn run_trace<B: Backend>(setup: &Setup<'_>, index: usize) -> WorkerMessage {
    let Setup {
        db_path,
        traces,
        analysis,
        shared,
        options,
        record_to,
    } = *setup;
    let trace = &traces[index];
    let open_options = database::worker_options(trace, options.locking);
    let mut db = match B::open_recorded(db_path, &open_options, record_to) {
        Ok(db) => db,
        Err(error) => return WorkerMessage::OpenFailed(one_line(&error.to_string())),
    };
    shared.set_activity(index, Activity::Ready);
    if !shared.wait_for_start() {
        return WorkerMessage::Aborted;
    }
    shared.set_activity(index, Activity::Running);
    let deps = analysis.deps_of(index);
    let mut executor = Executor::new(index, trace, &analysis.groups[index], deps, Some(shared))
        .with_timing(options.latency);
    let result = executor.run(&mut db);
    if result.is_ok() && options.latency {
        shared.latencies(index).store(&executor.take_latencies());
    }
    match result {
        Ok(()) => match db.close() {
            Ok(()) => WorkerMessage::Finished {
                ops: executor.ops_run,
                tolerated: executor
                    .tolerated
                    .iter()
                    .take(MAX_NOTES)
                    .map(|note| one_line(note))
                    .collect(),
            },
            Err(error) => WorkerMessage::CloseFailed(one_line(&format!(
                "{}: closing the database failed: {error}",
                trace.name
            ))),
        },
        Err(ExecError::Mismatch(mismatch)) => {
            shared.set_activity(index, Activity::Failed);
            WorkerMessage::Mismatch(*mismatch)
        }
        Err(ExecError::Aborted) => WorkerMessage::Aborted,
    }
}

/// Messages are for people reading one line per failure.
fn one_line(text: &str) -> String {
    text.replace('\n', " ")
}

/// Collect exit statuses without blocking.
pub(super) fn reap(children: &mut [Child]) {
    for child in children.iter_mut().filter(|child| child.status.is_none()) {
        if let Ok(Some(exit)) = process::wait(child.pid, false) {
            child.status = Some(exit);
        }
    }
}

/// Kill and reap every worker still running.
pub(super) fn kill_all(children: &mut [Child]) {
    for child in children.iter().filter(|child| child.status.is_none()) {
        process::kill(child.pid);
    }
    for child in children.iter_mut().filter(|child| child.status.is_none()) {
        child.status = Some(
            process::wait(child.pid, true)
                .ok()
                .flatten()
                .unwrap_or(Exit::Signal(9)),
        );
    }
}

fn describe_status(status: Option<Exit>) -> String {
    status.map_or_else(|| "did not exit".to_string(), |exit| exit.to_string())
}
