//! The supervisor of a multi-process run, as a state machine: [`Supervisor`] holds what it
//! has seen so far (the progress, since when it is aborting, a suspected deadlock, how
//! long to sleep) and reacts to each event of a tick: a worker failed, the ops finished
//! changed (or did not), every worker looks stuck, a suspected deadlock lasted the whole
//! window, nothing moved for the stall limit.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::proc_state::is_blocked;
use super::shared::{monotonic_ns, Activity, SharedState};
use super::worker::{kill_all, reap, Child};
use super::{Learned, ReplayError, ReplayOptions};
use crate::analysis::{Analysis, Dep};
use crate::trace::Trace;

/// How long aborted workers may take to notice before they are killed (a worker blocked
/// inside tdb cannot see the abort flag).
const ABORT_GRACE: Duration = Duration::from_millis(500);
/// How often the progress callback is called.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// No progress for this long, and the deadlock check starts looking.
const QUIET_BEFORE_CHECK: Duration = Duration::from_millis(1);
/// The longest sleep between ticks: while a deadlock is suspected, and otherwise.
const CLOSE_LOOK: Duration = Duration::from_millis(1);
const IDLE_LOOK: Duration = Duration::from_millis(5);

/// What a supervised run ended with.
pub(super) struct Supervision {
    /// When the workers were let go (monotonic ns).
    pub started_ns: u64,
    /// The dependencies learned, if the run was stopped on a deadlock.
    pub deadlock: Option<Vec<Learned>>,
}

/// The ops finished so far and when that last changed.
struct Progress {
    /// Ops finished over all traces at the last tick (`u64::MAX` before the first).
    done: u64,
    /// When `done` last changed.
    changed: Instant,
    /// When the progress callback was last called.
    reported: Instant,
}

/// Every unfinished worker stuck the same way, with the same progress, since `since`.
struct Suspect {
    since: Instant,
    done: u64,
    stuck: Stuck,
}

/// The supervision state of one run.
pub(super) struct Supervisor<'a> {
    traces: &'a [Trace],
    analysis: &'a Analysis,
    shared: &'a SharedState,
    options: &'a ReplayOptions<'a>,
    total_ops: u64,
    progress: Progress,
    /// Since when the workers have been told to abort.
    aborting_since: Option<Instant>,
    /// What a deadlock taught, once one was detected and resolvable.
    deadlock: Option<Vec<Learned>>,
    /// The next sleep between ticks (doubling up to a limit).
    pause: Duration,
    suspect: Option<Suspect>,
}

impl<'a> Supervisor<'a> {
    /// A supervisor for the workers of `traces` running `analysis`.
    pub fn new(
        traces: &'a [Trace],
        analysis: &'a Analysis,
        shared: &'a SharedState,
        options: &'a ReplayOptions<'a>,
    ) -> Supervisor<'a> {
        Supervisor {
            traces,
            analysis,
            shared,
            options,
            total_ops: traces.iter().map(|t| t.ops.len() as u64).sum(),
            progress: Progress {
                done: u64::MAX,
                changed: Instant::now(),
                reported: Instant::now(),
            },
            aborting_since: None,
            deadlock: None,
            pause: Duration::from_micros(100),
            suspect: None,
        }
    }

    /// Start the workers together and watch them until every one has exited.
    pub fn run(mut self, children: &mut [Child]) -> Result<Supervision, ReplayError> {
        if !self.start(children) {
            return Ok(Supervision {
                started_ns: monotonic_ns(),
                deadlock: None,
            });
        }
        let started_ns = monotonic_ns();
        self.shared.go();
        self.progress.changed = Instant::now();
        self.progress.reported = Instant::now();
        loop {
            reap(children);
            if children.iter().all(|child| child.status.is_some()) {
                break;
            }
            self.tick(children)?;
        }
        Ok(Supervision {
            started_ns,
            deadlock: self.deadlock,
        })
    }

    /// The start barrier: wait until every worker has opened the database (or failed).
    /// Whether all are ready; if one has already exited, the others are told to abort.
    fn start(&self, children: &mut [Child]) -> bool {
        loop {
            reap(children);
            let waiting = children.iter().any(|child| {
                child.status.is_none() && self.shared.activity(child.index) == Activity::Starting
            });
            if !waiting {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        if children.iter().any(|child| child.status.is_some()) {
            self.shared.abort();
            return false;
        }
        true
    }

    /// One look at the running workers.
    fn tick(&mut self, children: &mut [Child]) -> Result<(), ReplayError> {
        self.on_failures(children);
        let done = self.on_progress();
        self.on_stuck(children, done);
        self.on_deadlock_window(children)?;
        self.on_stall(children)?;
        self.sleep();
        Ok(())
    }

    /// A worker failed or died: tell the others to abort, and kill those that do not
    /// stop within the grace period.
    fn on_failures(&mut self, children: &mut [Child]) {
        let failed = children.iter().any(|child| {
            child.status.is_some_and(|exit| !exit.success())
                || self.shared.activity(child.index) == Activity::Failed
        });
        if failed && self.aborting_since.is_none() {
            self.abort();
        }
        if self
            .aborting_since
            .is_some_and(|since| since.elapsed() > ABORT_GRACE)
        {
            kill_all(children);
        }
    }

    /// Read the ops finished; note when they change; call the progress callback now and
    /// then. Returns the ops finished.
    fn on_progress(&mut self) -> u64 {
        let done: u64 = (0..self.traces.len())
            .map(|index| u64::from(self.shared.slot(index).progress.load(Ordering::Relaxed)))
            .sum();
        if done != self.progress.done {
            self.progress.done = done;
            self.progress.changed = Instant::now();
        }
        if let Some(progress) = self.options.progress {
            if self.progress.reported.elapsed() > PROGRESS_EVERY {
                progress(done, self.total_ops);
                self.progress.reported = Instant::now();
            }
        }
        done
    }

    /// A deadlock: every unfinished worker waits for another trace or sleeps inside the
    /// engine (on a lock: a worker that is merely slow, or preempted, is runnable, not
    /// asleep), no op finishes, and nothing changes for the whole window. Checked from
    /// the first millisecond without progress, so the window can be short.
    fn on_stuck(&mut self, children: &[Child], done: u64) {
        if self.aborting_since.is_some() || self.progress.changed.elapsed() < QUIET_BEFORE_CHECK {
            self.suspect = None;
            return;
        }
        match deadlocked(self.shared, children) {
            Some(stuck) => {
                let same = self
                    .suspect
                    .as_ref()
                    .is_some_and(|seen| seen.done == done && seen.stuck == stuck);
                if !same {
                    self.suspect = Some(Suspect {
                        since: Instant::now(),
                        done,
                        stuck,
                    });
                }
            }
            None => self.suspect = None,
        }
    }

    /// A suspected deadlock lasted the whole window: learn the dependencies that avoid
    /// it and stop the run, or fail if none can.
    fn on_deadlock_window(&mut self, children: &mut [Child]) -> Result<(), ReplayError> {
        let window = self.options.deadlock_after;
        let confirmed = self.suspect.as_ref().is_some_and(|suspect| {
            suspect.since.elapsed() >= window && self.progress.changed.elapsed() >= window
        });
        if !confirmed {
            return Ok(());
        }
        let Some(Suspect {
            stuck: (blocked, in_engine),
            ..
        }) = self.suspect.take()
        else {
            return Ok(());
        };
        let mut learned = learn(self.analysis, &blocked);
        if learned.is_empty() {
            learned.extend(engine_cycle(self.traces, self.analysis, &in_engine));
        }
        if learned.is_empty() {
            self.shared.abort();
            kill_all(children);
            let message = if blocked.is_empty() {
                format!(
                    "{}; none of them holds a lock region that a back-off could release",
                    describe_positions(self.traces, self.shared, children)
                )
            } else {
                describe_blocked(self.traces, &blocked)
            };
            return Err(ReplayError::Deadlock(message));
        }
        self.deadlock = Some(learned);
        self.abort();
        kill_all(children);
        Ok(())
    }

    /// No trace made progress for the stall limit, although not every worker is stuck.
    fn on_stall(&mut self, children: &mut [Child]) -> Result<(), ReplayError> {
        if self.aborting_since.is_some()
            || self.progress.changed.elapsed() < self.options.stall_after
        {
            return Ok(());
        }
        let where_they_are = describe_positions(self.traces, self.shared, children);
        self.shared.abort();
        kill_all(children);
        Err(ReplayError::Stalled(format!(
            "no trace made progress for {} s; {where_they_are}",
            self.options.stall_after.as_secs()
        )))
    }

    /// Sleep until the next tick, backing off exponentially; look closely while a
    /// deadlock is suspected.
    fn sleep(&mut self) {
        std::thread::sleep(self.pause);
        let longest = if self.suspect.is_some() {
            CLOSE_LOOK
        } else {
            IDLE_LOOK
        };
        self.pause = (self.pause * 2).min(longest);
    }

    fn abort(&mut self) {
        self.shared.abort();
        self.aborting_since = Some(Instant::now());
    }
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
            Activity::WaitingForDependency => {
                let dep = Dep {
                    file: child.index as u32,
                    op: slot.current_op.load(Ordering::SeqCst),
                    target_file: slot.waiting_file.load(Ordering::SeqCst),
                    target: slot.waiting_op.load(Ordering::SeqCst),
                };
                if target_done(shared, &dep) {
                    // What it waits for has finished: it is only not yet scheduled (on a
                    // loaded machine that can take longer than the window), not stuck.
                    return None;
                }
                waiting.push(dep);
            }
            Activity::Running if is_blocked(child.pid) => {
                in_engine.push((child.index as u32, slot.current_op.load(Ordering::SeqCst)));
            }
            _ => return None,
        }
    }
    (!waiting.is_empty() || in_engine.len() >= 2).then_some((waiting, in_engine))
}

/// Whether the op a waiting worker waits for has finished (a target out of range, which
/// a worker never publishes, counts as not finished).
fn target_done(shared: &SharedState, dep: &Dep) -> bool {
    let file = dep.target_file as usize;
    file < shared.slots() && shared.slot(file).progress.load(Ordering::SeqCst) > dep.target
}

/// What [`deadlocked`] found.
type Stuck = (Vec<Dep>, Vec<(u32, u32)>);

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
fn learn(analysis: &Analysis, blocked: &[Dep]) -> Vec<Learned> {
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

fn describe_blocked(traces: &[Trace], blocked: &[Dep]) -> String {
    let waits: Vec<String> = blocked.iter().map(|dep| dep.describe(traces)).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_whose_target_has_finished_is_not_stuck() {
        let shared = SharedState::new(2).expect("shared memory");
        let wait = |target_file, target| Dep {
            file: 0,
            op: 3,
            target_file,
            target,
        };
        shared.finish_op(1, 4);
        assert!(target_done(&shared, &wait(1, 4)));
        assert!(!target_done(&shared, &wait(1, 5)));
        assert!(!target_done(&shared, &wait(0, 0)));
        assert!(!target_done(&shared, &wait(7, 0)), "out of range");
    }
}
