//! Running one trace's ops against a backend, in order: wait for dependencies, call the
//! backend, check the result against what the trace recorded, publish progress.
//!
//! The calls themselves are made by the shared [`Dispatcher`]; the executor is its
//! [`Hook`]: it waits and times around each op and turns every result that differs from
//! the trace into a [`Mismatch`] (or a tolerated note where tdb allows the difference).
//!
//! The same code runs in a forked worker (with [`SharedState`] for waiting and progress)
//! and in-process for a single trace (no sharing, nothing to wait for).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::clock::OpClock;
use super::latency::{op_type, OpLatencies};
pub use super::mismatch::{ExecError, Mismatch, MismatchKind};
use super::shared::{monotonic_ns, Activity, SharedState};
use crate::analysis::{Dep, Groups};
use crate::backend::{Backend, ErrorKind, TdbError, TdbResult};
use crate::dispatch::{Dispatcher, Event, Hook, ModifyQuirk, Reconcile, Recorded, Rules};
use crate::trace::Trace;

/// Runs one trace.
pub struct Executor<'a> {
    trace: &'a Trace,
    groups: &'a Groups,
    deps: &'a [Dep],
    next_dep: usize,
    index: usize,
    shared: Option<&'a SharedState>,
    /// Results that differed where tdb allows it (nonblocking locks, key order), as
    /// `file:line: ...` notes.
    pub tolerated: Vec<String>,
    /// Ops run (including traverse entries).
    pub ops_run: u64,
    /// Each op's latency by type, when timing (see [`super::latency`]); complete once
    /// [`Executor::take_latencies`] has binned the samples.
    latencies: OpLatencies,
    /// Each timed op's index and duration in raw clock units, binned after the run so
    /// that the run itself pays one clock read and one sequential store per op.
    samples: Vec<(u32, u32)>,
    /// Whether to time every op.
    timing: bool,
    /// The op clock (see [`super::clock`]).
    clock: OpClock,
    /// When the previous op (or the last dependency wait) ended, on `clock`.
    mark: u64,
}

impl<'a> Executor<'a> {
    /// An executor for trace `index`; `deps` are its dependencies sorted by op.
    pub fn new(
        index: usize,
        trace: &'a Trace,
        groups: &'a Groups,
        deps: &'a [Dep],
        shared: Option<&'a SharedState>,
    ) -> Self {
        Executor {
            trace,
            groups,
            deps,
            next_dep: 0,
            index,
            shared,
            tolerated: Vec::new(),
            ops_run: 0,
            latencies: OpLatencies::default(),
            samples: Vec::new(),
            timing: true,
            clock: OpClock::get(),
            mark: 0,
        }
    }

    /// Time every op (the default) or not.
    pub fn with_timing(mut self, timing: bool) -> Self {
        self.timing = timing;
        if timing {
            self.samples.reserve(self.trace.ops.len());
        }
        self
    }

    /// The latencies of the ops run, by op type (the samples binned into histograms).
    pub fn take_latencies(&mut self) -> OpLatencies {
        for (at, raw) in std::mem::take(&mut self.samples) {
            let ns = self.clock.ns_between(0, u64::from(raw));
            self.latencies
                .record(op_type(&self.trace.ops[at as usize].kind), ns);
        }
        std::mem::take(&mut self.latencies)
    }

    /// Run every op of the trace.
    pub fn run<B: Backend>(&mut self, db: &mut B) -> Result<(), ExecError> {
        let mut at = 0;
        let total = self.trace.ops.len();
        let dispatcher = Dispatcher::new(self.trace, self.groups);
        self.mark = self.clock.now();
        while at < total {
            at = dispatcher.run_op(db, self, at)?;
        }
        if let Some(shared) = self.shared {
            let slot = shared.slot(self.index);
            slot.finished_ns.store(monotonic_ns(), Ordering::SeqCst);
            shared.set_activity(self.index, Activity::Done);
        }
        Ok(())
    }

    fn mismatch(
        &self,
        at: usize,
        name: &str,
        kind: MismatchKind,
        expected: String,
        got: String,
    ) -> ExecError {
        ExecError::Mismatch(Box::new(Mismatch {
            trace: self.trace.name.clone(),
            line: self.trace.ops[at].line,
            op: name.to_string(),
            kind,
            expected,
            got,
        }))
    }

    fn note(&mut self, at: usize, message: impl AsRef<str>) {
        let note = format!(
            "{}:{}: {}",
            self.trace.name,
            self.trace.ops[at].line,
            message.as_ref()
        );
        self.tolerated.push(note);
    }

    /// Wait for every dependency of op `at`.
    fn wait(&mut self, at: usize) -> Result<(), ExecError> {
        while let Some(dep) = self.deps.get(self.next_dep) {
            if dep.op as usize > at {
                break;
            }
            self.next_dep += 1;
            let Some(shared) = self.shared else { continue };
            let target = shared.slot(dep.target_file as usize);
            if target.progress.load(Ordering::SeqCst) > dep.target {
                continue;
            }
            let slot = shared.slot(self.index);
            slot.current_op.store(at as u32, Ordering::Relaxed);
            slot.waiting_file.store(dep.target_file, Ordering::SeqCst);
            slot.waiting_op.store(dep.target, Ordering::SeqCst);
            shared.set_activity(self.index, Activity::WaitingForDependency);
            let released = shared.wait_for(dep.target_file as usize, dep.target);
            shared.set_activity(self.index, Activity::Running);
            if self.timing {
                // The wait is not the op's time.
                self.mark = self.clock.now();
            }
            if !released {
                return Err(ExecError::Aborted);
            }
        }
        Ok(())
    }

    #[inline]
    fn finish(&mut self, at: usize) {
        self.ops_run += 1;
        if self.timing {
            let now = self.clock.now();
            match u32::try_from(now.saturating_sub(self.mark)) {
                Ok(raw) => self.samples.push((at as u32, raw)),
                // Over about a second: recorded at once.
                Err(_) => {
                    let ns = self.clock.ns_between(self.mark, now);
                    self.latencies.record(op_type(&self.trace.ops[at].kind), ns);
                }
            }
            self.mark = now;
        }
        if let Some(shared) = self.shared {
            shared.finish_op(self.index, at as u32);
        }
    }
}

/// The executor's part of running an op: wait for dependencies first, time it, check what
/// it gave against the trace.
impl Hook for Executor<'_> {
    type Stop = ExecError;

    const RULES: Rules = Rules {
        blocking_retry: true,
        modify_quirk: true,
    };

    #[inline]
    fn begin(&mut self, at: usize) -> Result<(), ExecError> {
        self.wait(at)?;
        if let Some(shared) = self.shared {
            shared
                .slot(self.index)
                .current_op
                .store(at as u32, Ordering::Relaxed);
        }
        Ok(())
    }

    #[inline]
    fn pass(&mut self, at: usize) -> Result<(), ExecError> {
        self.wait(at)
    }

    #[inline]
    fn end(&mut self, at: usize) {
        self.finish(at);
    }

    #[inline]
    fn event(&mut self, at: usize, event: Event<'_>) -> Result<(), ExecError> {
        match event {
            Event::Done {
                call,
                got,
                recorded,
            } => match recorded {
                Recorded::Worked => self.expect_ok(at, call, got),
                Recorded::Ret(ret) => self.check_ret(at, call, got, ret),
                Recorded::Unchecked => Ok(()),
            },
            Event::Fetched { got, recorded } => self.check_fetch(at, got, recorded),
            Event::Parsed { got, found } => {
                self.check_found(at, "tdb_parse_record", got.map(|_| true), found)
            }
            Event::Exists { got, found } => {
                self.check_found(at, "tdb_exists", got.as_ref().copied(), found)
            }
            Event::Key {
                call,
                got,
                recorded,
            } => {
                self.check_key_walk(at, call, got, recorded);
                Ok(())
            }
            Event::Seqnum { got, recorded } => {
                // The absolute counter depends on everything before the trace started, so
                // it is reported, not checked.
                if let Ok(got) = *got {
                    if got != recorded {
                        self.note(at, format!("tdb_get_seqnum gave {got} not {recorded}"));
                    }
                }
                Ok(())
            }
            Event::Visit { .. } => Ok(()),
            Event::Walked { got, .. } => match got {
                Ok(_) => Ok(()),
                Err(error) => {
                    let name = self.trace.ops[at].name();
                    let kind = MismatchKind::Failed;
                    Err(self.mismatch(at, name, kind, String::new(), error.to_string()))
                }
            },
            Event::Reconciled { call, action, ret } => {
                let message = match action {
                    Reconcile::TakeBlocking => {
                        format!("{call} failed, the trace says it worked; locking blocking")
                    }
                    Reconcile::Release => {
                        format!("{call} worked, the trace says it failed ({ret}); unlocking")
                    }
                };
                self.note(at, message);
                Ok(())
            }
            Event::ModifyQuirk(quirk) => {
                self.note(at, match quirk {
                    ModifyQuirk::NotStored => "tdb_store(TDB_MODIFY) of an existing record failed in the trace (tdb's stale-error quirk); not storing",
                    ModifyQuirk::Replaced => "tdb_store(TDB_MODIFY) of an existing record failed here (tdb's stale-error quirk); storing with TDB_REPLACE",
                });
                Ok(())
            }
        }
    }
}

/// The checks of results against the trace.
impl Executor<'_> {
    /// The call must have worked (the trace records no failure for it).
    fn expect_ok(&self, at: usize, name: &str, got: &TdbResult<()>) -> Result<(), ExecError> {
        got.as_ref().map_err(|error| {
            let kind = MismatchKind::Failed;
            self.mismatch(at, name, kind, String::new(), error.to_string())
        })?;
        Ok(())
    }

    /// The call must have succeeded (`ret` ≥ 0) or failed (`ret` < 0) as recorded.
    fn check_ret(
        &self,
        at: usize,
        name: &str,
        got: &TdbResult<()>,
        ret: i32,
    ) -> Result<(), ExecError> {
        match (got, ret >= 0) {
            (Ok(()), true) | (Err(_), false) => Ok(()),
            (Ok(()), false) => {
                let kind = MismatchKind::Worked;
                Err(self.mismatch(at, name, kind, ret.to_string(), "0".to_string()))
            }
            (Err(error), true) => {
                let kind = MismatchKind::Failed;
                Err(self.mismatch(at, name, kind, ret.to_string(), error.to_string()))
            }
        }
    }

    /// `tdb_fetch` must have given the recorded record.
    fn check_fetch(
        &self,
        at: usize,
        got: Result<Option<&[u8]>, &TdbError>,
        recorded: Option<&[u8]>,
    ) -> Result<(), ExecError> {
        let (kind, got) = match got {
            Ok(data) if data == recorded => return Ok(()),
            Ok(data) => (MismatchKind::Data, show(data)),
            Err(error) => (MismatchKind::Failed, error.to_string()),
        };
        Err(self.mismatch(at, "tdb_fetch", kind, show(recorded), got))
    }

    /// A lookup must have found (or not found) the record as recorded.
    fn check_found(
        &self,
        at: usize,
        name: &str,
        got: Result<bool, &TdbError>,
        expected: bool,
    ) -> Result<(), ExecError> {
        let says = |found: bool| if found { "found" } else { "not found" }.to_string();
        let found = match got {
            Ok(found) => found,
            Err(error) if error.kind == ErrorKind::NoExist => false,
            Err(error) => {
                let kind = MismatchKind::Failed;
                return Err(self.mismatch(at, name, kind, says(expected), error.to_string()));
            }
        };
        if found == expected {
            return Ok(());
        }
        let kind = if found {
            MismatchKind::Found
        } else {
            MismatchKind::Missing
        };
        Err(self.mismatch(at, name, kind, says(expected), says(found)))
    }

    /// A key walk's step: a different key is tolerated (noted), not a mismatch.
    fn check_key_walk(
        &mut self,
        at: usize,
        name: &str,
        got: &TdbResult<Option<Vec<u8>>>,
        expected: Option<&[u8]>,
    ) {
        match got {
            Ok(got) if got.as_deref() == expected => {}
            Ok(got) => {
                // Key order depends on the hash layout, which the replay's interleaving
                // may change: report it, as the original's FIXME suggested.
                let message = format!(
                    "{name} gave {}, the trace recorded {}",
                    show(got.as_deref()),
                    show(expected)
                );
                self.note(at, message);
            }
            Err(error) => {
                // The replay's cursor is elsewhere than the original's, so nextkey may find
                // the old key gone: as layout-dependent as the order itself.
                let message = format!(
                    "{name} failed ({error}), the trace recorded {}",
                    show(expected)
                );
                self.note(at, message);
            }
        }
    }
}

/// A record for messages: `NULL` or `len:hex`, long ones shortened.
pub fn show(data: Option<&[u8]>) -> String {
    let Some(data) = data else {
        return "NULL".to_string();
    };
    let mut text = format!("{}:", data.len());
    for byte in data.iter().take(32) {
        let _ = write!(text, "{byte:02x}");
    }
    if data.len() > 32 {
        text.push_str("...");
    }
    text
}
