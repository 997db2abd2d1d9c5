//! Forked workers, one per trace, and the supervisor loop that starts them together,
//! watches them for deadlocks and failures, and collects what they report.

use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::executor::{ExecError, Executor};
use super::latency;
use super::proc_state::is_blocked;
use super::shared::{monotonic_ns, Activity, SharedState};
use super::{database, Attempt, Learned, ReplayError, ReplayOptions, RunReport};
use crate::analysis::{Analysis, Dep};
use crate::backend::{Backend, OpenOptions, TdbResult};
use crate::process::{self, Exit};
use crate::record::RecordOptions;
use crate::trace::Trace;

/// What one worker reported through its pipe.
#[derive(Debug, Default, Clone)]
pub struct WorkerOutcome {
    /// Ops run.
    pub ops: u64,
    /// Tolerated differences.
    pub tolerated: Vec<String>,
    /// Why it failed, if it did.
    pub failure: Option<String>,
    /// It could not open the database.
    pub open_error: Option<String>,
}

/// At most this many tolerated-difference notes travel back per worker (the pipe's
/// buffer must hold the whole report, since it is read after the worker exits).
const MAX_NOTES: usize = 64;

struct Child {
    pid: i32,
    index: usize,
    pipe: std::io::PipeReader,
    status: Option<Exit>,
}

/// Fork a worker per trace (on `Even` for traces at even positions, `Odd` for the
/// others), run them together, and supervise.
pub(super) fn run_workers<Even: Backend, Odd: Backend>(
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
    let mut children: Vec<Child> = Vec::with_capacity(traces.len());
    for (index, trace) in traces.iter().enumerate() {
        let (reader, writer) = std::io::pipe()
            .map_err(|error| ReplayError::System(format!("cannot create a pipe: {error}")))?;
        // Loading threads were scoped and joined and the CLI starts none, so this process
        // is single-threaded, as spawn requires.
        // The parent's copy of `writer` is dropped with the closure, so the parent's read
        // sees end-of-file once the worker exits.
        let spawned = if index % 2 == 0 {
            process::spawn(|| {
                let open = |o: &_| Even::open_recorded(db_path, o, record_to);
                worker_main::<Even>(index, &open, trace, analysis, shared, options, writer)
            })
        } else {
            process::spawn(|| {
                let open = |o: &_| Odd::open_recorded(db_path, o, record_to);
                worker_main::<Odd>(index, &open, trace, analysis, shared, options, writer)
            })
        };
        let pid = match spawned {
            Ok(pid) => pid,
            Err(error) => {
                kill_all(&mut children);
                return Err(ReplayError::System(format!(
                    "cannot fork a worker: {error}"
                )));
            }
        };
        children.push(Child {
            pid,
            index,
            pipe: reader,
            status: None,
        });
    }

    let result = supervise(traces, analysis, shared, options, &mut children);
    kill_all(&mut children);
    let reports: Vec<WorkerOutcome> = children.iter_mut().map(read_report).collect();
    let supervision = result?;

    if let Some(learned) = supervision.deadlock {
        return Ok(Attempt::Deadlocked(learned));
    }
    if let Some((child, report)) = children
        .iter()
        .zip(&reports)
        .find(|(_, report)| report.open_error.is_some())
    {
        return Err(ReplayError::Open {
            trace: traces[child.index].name.clone(),
            error: report.open_error.clone().unwrap_or_default(),
        });
    }
    let failures: Vec<String> = reports.iter().filter_map(|r| r.failure.clone()).collect();
    if !failures.is_empty() {
        return Err(ReplayError::Mismatch(failures));
    }
    if let Some(child) = children
        .iter()
        .find(|child| !child.status.is_some_and(Exit::success))
    {
        return Err(ReplayError::System(format!(
            "the worker for {} {}",
            traces[child.index].name,
            describe_status(child.status)
        )));
    }
    let finished = (0..traces.len())
        .map(|index| shared.slot(index).finished_ns.load(Ordering::SeqCst))
        .max()
        .unwrap_or(supervision.started_ns);
    let mut latencies = Vec::new();
    if options.latency {
        for index in 0..traces.len() {
            let backend = if index % 2 == 0 {
                Even::NAME
            } else {
                Odd::NAME
            };
            latency::merge_into(&mut latencies, backend, &shared.latencies(index).load());
        }
    }
    Ok(Attempt::Completed(RunReport {
        elapsed: Duration::from_nanos(finished.saturating_sub(supervision.started_ns)),
        ops: reports.iter().map(|r| r.ops).sum(),
        tolerated: reports.into_iter().flat_map(|r| r.tolerated).collect(),
        latencies,
    }))
}

/// The body of a worker process; returns its exit code.
fn worker_main<B: Backend>(
    index: usize,
    open: &dyn Fn(&OpenOptions) -> TdbResult<B>,
    trace: &Trace,
    analysis: &Analysis,
    shared: &SharedState,
    options: &ReplayOptions<'_>,
    mut pipe: std::io::PipeWriter,
) -> i32 {
    let mut report = String::new();
    let run = catch_unwind(AssertUnwindSafe(|| -> (i32, String) {
        let mut db = match open(&database::worker_options(trace, options.locking)) {
            Ok(db) => db,
            Err(error) => {
                shared.set_activity(index, Activity::Failed);
                return (2, format!("open {}\n", one_line(&error.to_string())));
            }
        };
        shared.set_activity(index, Activity::Ready);
        if !shared.wait_for_start() {
            return (3, String::new());
        }
        shared.set_activity(index, Activity::Running);
        let deps = analysis.deps_of(index);
        let mut executor = Executor::new(index, trace, &analysis.groups[index], deps, Some(shared))
            .with_timing(options.latency);
        let result = executor.run(&mut db);
        if result.is_ok() && options.latency {
            shared.latencies(index).store(&executor.take_latencies());
        }
        let mut text = format!("ops {}\n", executor.ops_run);
        for note in executor.tolerated.iter().take(MAX_NOTES) {
            text.push_str(&format!("note {}\n", one_line(note)));
        }
        let code = match result {
            Ok(()) => match db.close() {
                Ok(()) => 0,
                Err(error) => {
                    let message = format!("{}: closing the database failed: {error}", trace.name);
                    text.push_str(&format!("fail {}\n", one_line(&message)));
                    1
                }
            },
            Err(ExecError::Mismatch(mismatch)) => {
                shared.set_activity(index, Activity::Failed);
                text.push_str(&format!("fail {}\n", one_line(&mismatch.to_string())));
                1
            }
            Err(ExecError::Aborted) => 3,
        };
        (code, text)
    }));
    let code = match run {
        Ok((code, text)) => {
            report.push_str(&text);
            code
        }
        Err(panic) => {
            shared.set_activity(index, Activity::Failed);
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            report.push_str(&format!(
                "fail {}: internal error in the replay worker: {}\n",
                trace.name,
                one_line(&what)
            ));
            101
        }
    };
    let _ = pipe.write_all(report.as_bytes());
    code
}

fn one_line(text: &str) -> String {
    text.replace('\n', " ")
}

/// Read what a finished worker wrote.
fn read_report(child: &mut Child) -> WorkerOutcome {
    let mut text = String::new();
    let _ = child.pipe.read_to_string(&mut text);
    let mut outcome = WorkerOutcome::default();
    for line in text.lines() {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        match tag {
            "ops" => outcome.ops = rest.parse().unwrap_or(0),
            "note" => outcome.tolerated.push(rest.to_string()),
            "fail" => outcome.failure = Some(rest.to_string()),
            "open" => outcome.open_error = Some(rest.to_string()),
            _ => {}
        }
    }
    outcome
}

struct Supervision {
    started_ns: u64,
    deadlock: Option<Vec<Learned>>,
}

/// Start the workers together and watch them until every one has exited.
fn supervise(
    traces: &[Trace],
    analysis: &Analysis,
    shared: &SharedState,
    options: &ReplayOptions<'_>,
    children: &mut [Child],
) -> Result<Supervision, ReplayError> {
    // Start barrier: everyone has opened the database (or failed).
    loop {
        reap(children);
        let waiting = (0..children.len()).any(|index| {
            children[index].status.is_none() && shared.activity(index) == Activity::Starting
        });
        if !waiting {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    if children.iter().any(|child| child.status.is_some()) {
        shared.abort();
        return Ok(Supervision {
            started_ns: monotonic_ns(),
            deadlock: None,
        });
    }
    let started_ns = monotonic_ns();
    shared.go();

    let total_ops: u64 = traces.iter().map(|t| t.ops.len() as u64).sum();
    let mut last_total = u64::MAX;
    let mut last_change = Instant::now();
    let mut last_report = Instant::now();
    let mut aborting_since: Option<Instant> = None;
    let mut deadlock = None;
    let mut pause = Duration::from_micros(100);
    // Since when every unfinished worker has been stuck the same way, with no progress.
    let mut suspect: Option<(Instant, u64, Stuck)> = None;
    loop {
        reap(children);
        if children.iter().all(|child| child.status.is_some()) {
            break;
        }
        let failed = children.iter().any(|child| {
            child.status.is_some_and(|exit| !exit.success())
                || shared.activity(child.index) == Activity::Failed
        });
        if failed && aborting_since.is_none() {
            shared.abort();
            aborting_since = Some(Instant::now());
        }
        if let Some(since) = aborting_since {
            // Workers blocked inside tdb cannot see the abort flag.
            if since.elapsed() > Duration::from_millis(500) {
                kill_all(children);
            }
        }

        let done: u64 = (0..children.len())
            .map(|index| u64::from(shared.slot(index).progress.load(Ordering::Relaxed)))
            .sum();
        if done != last_total {
            last_total = done;
            last_change = Instant::now();
        }
        if let Some(progress) = options.progress {
            if last_report.elapsed() > Duration::from_millis(250) {
                progress(done, total_ops);
                last_report = Instant::now();
            }
        }
        // A deadlock: every unfinished worker waits for another trace or sleeps inside
        // the engine (on a lock: a worker that is merely slow, or preempted, is
        // runnable, not asleep), no op finishes, and nothing changes for the whole
        // window. Checked from the first millisecond without progress, so the window
        // can be short.
        if aborting_since.is_none() && last_change.elapsed() >= Duration::from_millis(1) {
            match deadlocked(shared, children) {
                Some(stuck) => {
                    let same = suspect
                        .as_ref()
                        .is_some_and(|(_, total, seen)| *total == done && *seen == stuck);
                    if !same {
                        suspect = Some((Instant::now(), done, stuck));
                    }
                }
                None => suspect = None,
            }
        } else {
            suspect = None;
        }
        if let Some((since, _, stuck)) = &suspect {
            if since.elapsed() >= options.deadlock_after
                && last_change.elapsed() >= options.deadlock_after
            {
                let (blocked, in_engine) = stuck.clone();
                suspect = None;
                let mut learned = learn(analysis, &blocked);
                if learned.is_empty() {
                    learned.extend(engine_cycle(traces, analysis, &in_engine));
                }
                if learned.is_empty() {
                    shared.abort();
                    kill_all(children);
                    let message = if blocked.is_empty() {
                        format!(
                            "{}; none of them holds a lock region that a back-off could \
                             release",
                            describe_positions(traces, shared, children)
                        )
                    } else {
                        describe_blocked(traces, &blocked)
                    };
                    return Err(ReplayError::Deadlock(message));
                }
                deadlock = Some(learned);
                shared.abort();
                kill_all(children);
                aborting_since = Some(Instant::now());
            }
        }
        if aborting_since.is_none() && last_change.elapsed() >= options.stall_after {
            let where_they_are = describe_positions(traces, shared, children);
            shared.abort();
            kill_all(children);
            return Err(ReplayError::Stalled(format!(
                "no trace made progress for {} s; {where_they_are}",
                options.stall_after.as_secs()
            )));
        }
        std::thread::sleep(pause);
        // Look closely while a deadlock is suspected.
        let longest = if suspect.is_some() {
            Duration::from_millis(1)
        } else {
            Duration::from_millis(5)
        };
        pause = (pause * 2).min(longest);
    }
    Ok(Supervision {
        started_ns,
        deadlock,
    })
}

/// A worker waiting for another trace's op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Blocked {
    file: u32,
    op: u32,
    target_file: u32,
    target: u32,
}

/// If every unfinished worker is stuck (waiting for a dependency, or asleep inside tdb on
/// a lock), and at least one waits for a dependency or two are asleep inside tdb: the
/// workers waiting for dependencies, and the `(file, op)` of those asleep inside tdb.
/// Two asleep inside tdb may be waiting for each other's locks in a circle the traces
/// never recorded (with robust mutexes a read traverse's record lock and a committing
/// transaction can: the committer waits for the record lock, the traverse's callback for
/// the allrecord mutex); see [`engine_cycle`].
fn deadlocked(shared: &SharedState, children: &[Child]) -> Option<Stuck> {
    let mut waiting = Vec::new();
    let mut in_engine = Vec::new();
    for child in children.iter().filter(|child| child.status.is_none()) {
        let slot = shared.slot(child.index);
        match shared.activity(child.index) {
            Activity::Done | Activity::Failed => {}
            Activity::WaitingForDependency => waiting.push(Blocked {
                file: child.index as u32,
                op: slot.current_op.load(Ordering::SeqCst),
                target_file: slot.waiting_file.load(Ordering::SeqCst),
                target: slot.waiting_op.load(Ordering::SeqCst),
            }),
            Activity::Running if is_blocked(child.pid) => {
                in_engine.push((child.index as u32, slot.current_op.load(Ordering::SeqCst)));
            }
            _ => return None,
        }
    }
    (!waiting.is_empty() || in_engine.len() >= 2).then_some((waiting, in_engine))
}

/// What [`deadlocked`] found.
type Stuck = (Vec<Blocked>, Vec<(u32, u32)>);

/// For workers `(file, op)` asleep in tdb on each other's locks: make one of them wait,
/// before the lock-holding region it is in (or before its op, if it holds none), for the
/// end of the region another one is in. The one to wait is one whose current op the
/// recording ran after the other's region had ended (so the recorded results still hold);
/// failing that, the first pair.
fn engine_cycle(traces: &[Trace], analysis: &Analysis, stuck: &[(u32, u32)]) -> Option<Learned> {
    let seqnum = |file: u32, op: u32| traces[file as usize].ops[op as usize].seqnum;
    let mut candidates = Vec::new();
    for &(a, a_op) in stuck {
        let wait_at = analysis.groups[a as usize]
            .outermost_held(a_op)
            .unwrap_or(a_op);
        for &(b, b_op) in stuck.iter().filter(|(b, _)| *b != a) {
            let Some(region) = analysis.groups[b as usize].outermost_held(b_op) else {
                continue;
            };
            let end = analysis.groups[b as usize].end_of(region);
            let ordered = seqnum(b, end) <= seqnum(a, a_op);
            candidates.push((
                !ordered,
                Learned {
                    dep: Dep {
                        file: a,
                        op: wait_at,
                        target_file: b,
                        target: end,
                    },
                    original_op: a_op,
                },
            ));
        }
    }
    candidates.sort_by_key(|(unordered, _)| *unordered);
    candidates.into_iter().next().map(|(_, learned)| learned)
}

/// For each worker that waits while holding a locked region, a dependency that makes it
/// wait before entering the region instead.
fn learn(analysis: &Analysis, blocked: &[Blocked]) -> Vec<Learned> {
    blocked
        .iter()
        .filter_map(|b| {
            let region = analysis.groups[b.file as usize].outermost_held(b.op)?;
            Some(Learned {
                dep: Dep {
                    file: b.file,
                    op: region,
                    target_file: b.target_file,
                    target: b.target,
                },
                original_op: b.op,
            })
        })
        .collect()
}

fn describe_blocked(traces: &[Trace], blocked: &[Blocked]) -> String {
    let at = |file: u32, op: u32| traces[file as usize].location(op);
    let waits: Vec<String> = blocked
        .iter()
        .map(|b| {
            format!(
                "{} waits for {}",
                at(b.file, b.op),
                at(b.target_file, b.target)
            )
        })
        .collect();
    format!(
        "{}, and the traces they wait for are blocked inside tdb; none of the waiting ops \
         holds a lock region that a back-off could release",
        waits.join(", ")
    )
}

/// Where every unfinished worker is, for a stall report.
fn describe_positions(traces: &[Trace], shared: &SharedState, children: &[Child]) -> String {
    let positions: Vec<String> = children
        .iter()
        .filter(|child| child.status.is_none())
        .map(|child| {
            let op = shared.slot(child.index).current_op.load(Ordering::SeqCst);
            let doing = match shared.activity(child.index) {
                Activity::WaitingForDependency => "waiting for another trace",
                Activity::Running => "inside the engine",
                _ => "starting",
            };
            format!("{} {doing}", traces[child.index].location(op))
        })
        .collect();
    positions.join(", ")
}

/// Collect exit statuses without blocking.
fn reap(children: &mut [Child]) {
    for child in children.iter_mut().filter(|child| child.status.is_none()) {
        if let Ok(Some(exit)) = process::wait(child.pid, false) {
            child.status = Some(exit);
        }
    }
}

/// Kill and reap every worker still running.
fn kill_all(children: &mut [Child]) {
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
