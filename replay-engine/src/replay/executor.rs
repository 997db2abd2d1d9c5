//! Running one trace's ops against a backend, in order: wait for dependencies, call the
//! backend, check the result against what the trace recorded, publish progress.
//!
//! The same code runs in a forked worker (with [`SharedState`] for waiting and progress)
//! and in-process for a single trace (no sharing, nothing to wait for).

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;

use super::clock::OpClock;
use super::latency::{op_type, OpLatencies};
use super::shared::{monotonic_ns, Activity, SharedState};
use crate::analysis::{Dep, Groups, ReplayMode};
use crate::backend::{Backend, ChainLockOp, ErrorKind, LockAllOp, StoreFlag, TdbResult};
use crate::trace::{Append, OpKind, Rec, Trace};
pub use super::mismatch::{ExecError, Mismatch, MismatchKind};

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

/// Shorthand for the executor's results.
type Step = Result<usize, ExecError>;

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
        self.mark = self.clock.now();
        while at < total {
            at = self.run_op(db, at)?;
        }
        if let Some(shared) = self.shared {
            let slot = shared.slot(self.index);
            slot.finished_ns.store(monotonic_ns(), Ordering::SeqCst);
            shared.set_activity(self.index, Activity::Done);
        }
        Ok(())
    }

    fn mismatch(&self, at: usize, message: impl AsRef<str>) -> ExecError {
        // Transitional: the whole message as `got` until every check builds its fields.
        let op = &self.trace.ops[at];
        ExecError::Mismatch(Mismatch {
            trace: self.trace.name.clone(),
            line: op.line,
            op: op.kind.name().to_string(),
            kind: MismatchKind::Failed,
            expected: String::new(),
            got: message.as_ref().to_string(),
        })
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

    fn rec(&self, rec: Rec) -> Option<&'a [u8]> {
        self.trace.rec(rec)
    }

    /// Run op `at` (a whole traverse if it starts one); returns the next op to run.
    fn run_op<B: Backend>(&mut self, db: &mut B, at: usize) -> Step {
        self.wait(at)?;
        if let Some(shared) = self.shared {
            shared
                .slot(self.index)
                .current_op
                .store(at as u32, Ordering::Relaxed);
        }
        let trace = self.trace;
        let op = &trace.ops[at];
        match self.groups.mode[at] {
            ReplayMode::AsTraced => {}
            ReplayMode::Skip => {
                self.finish(at);
                return Ok(at + 1);
            }
            ReplayMode::AsCancel => {
                expect_ok(self, at, "tdb_transaction_cancel", db.transaction_cancel())?;
                self.finish(at);
                return Ok(at + 1);
            }
        }
        match op.kind {
            OpKind::Fetch { key, result } => {
                let expected = self.rec(result);
                let got = db.fetch_with(trace.bytes(key), |data| {
                    (data == expected).then_some(()).ok_or_else(|| show(data))
                });
                match got {
                    Ok(Ok(())) => {}
                    Ok(Err(got)) => {
                        return Err(self.mismatch(
                            at,
                            format!(
                                "tdb_fetch gave {got}, the trace recorded {}",
                                show(expected)
                            ),
                        ))
                    }
                    Err(error) => {
                        return Err(self.mismatch(at, format!("tdb_fetch failed: {error}")))
                    }
                }
            }
            OpKind::ParseRecord { key, ret } => {
                let got = db.parse_record(trace.bytes(key), |_| ());
                check_found(self, at, "tdb_parse_record", got.map(|()| true), ret >= 0)?;
            }
            OpKind::Exists { key, ret } => {
                let got = db.exists(trace.bytes(key));
                check_found(self, at, "tdb_exists", got, ret == 1)?;
            }
            OpKind::Delete { key, ret } => {
                check_ret(self, at, "tdb_delete", db.delete(trace.bytes(key)), ret)?;
            }
            OpKind::Store {
                key,
                data,
                flag: StoreFlag::Modify,
                ret,
            } => self.store_modify(db, at, trace.bytes(key), self.rec(data).unwrap_or(&[]), ret)?,
            OpKind::Store {
                key,
                data,
                flag,
                ret,
            } => {
                let data = self.rec(data).unwrap_or(&[]);
                check_ret(
                    self,
                    at,
                    "tdb_store",
                    db.store(trace.bytes(key), data, flag),
                    ret,
                )?;
            }
            OpKind::StoreV { key, data, flag } => {
                // The traced ret is always -1 (a Samba bug): run it, do not check it.
                let _ = db.store(trace.bytes(key), trace.bytes(data), flag);
            }
            OpKind::Append { key, append } => {
                let appended = match append {
                    Append::Result { appended, .. } | Append::Previous { appended, .. } => {
                        self.rec(appended).unwrap_or(&[])
                    }
                };
                expect_ok(
                    self,
                    at,
                    "tdb_append",
                    db.append(trace.bytes(key), appended),
                )?;
            }
            OpKind::WipeAll => expect_ok(self, at, "tdb_wipe_all", db.wipe_all())?,
            // A repack's own steps (transaction, traverse, wipe, stores) are traced and
            // replayed one by one; running it as well would do the work twice.
            OpKind::Repack => {}
            OpKind::TransactionStart => {
                expect_ok(self, at, "tdb_transaction_start", db.transaction_start())?
            }
            OpKind::TransactionPrepareCommit => expect_ok(
                self,
                at,
                "tdb_transaction_prepare_commit",
                db.transaction_prepare_commit(),
            )?,
            OpKind::TransactionCommit => {
                expect_ok(self, at, "tdb_transaction_commit", db.transaction_commit())?
            }
            OpKind::TransactionCancel { .. } => {
                expect_ok(self, at, "tdb_transaction_cancel", db.transaction_cancel())?
            }
            OpKind::TraverseStart { .. } => return self.run_traverse(db, at),
            OpKind::TraverseEntry { .. } | OpKind::TraverseEnd { .. } => {
                // Only reachable for a traverse the groups did not pair; nothing to run.
            }
            OpKind::FirstKey { result } => {
                let got = db.firstkey();
                self.check_key_walk(at, "tdb_firstkey", got, result)?;
            }
            OpKind::NextKey { key, result } => {
                let got = db.nextkey(trace.bytes(key));
                let walk_goes_on = matches!(got, Ok(Some(_)));
                let last = got.as_ref().ok().cloned().flatten();
                self.check_key_walk(at, "tdb_nextkey", got, result)?;
                if result.is_none() && walk_goes_on {
                    // The original walk ended here and released its record lock; finish
                    // the replay's walk too, so that no lock outlives the recorded one.
                    let mut current = last;
                    while let Some(key) = current {
                        current = db.nextkey(&key).ok().flatten();
                    }
                }
            }
            OpKind::ChainLock { key, op: lock, ret } => {
                let key = trace.bytes(key);
                let got = db.chainlock(key, lock);
                match (lock, ret) {
                    (ChainLockOp::LockNonblock | ChainLockOp::LockReadNonblock, Some(ret)) => {
                        let (blocking, unlock) = if lock == ChainLockOp::LockNonblock {
                            (ChainLockOp::Lock, ChainLockOp::Unlock)
                        } else {
                            (ChainLockOp::LockRead, ChainLockOp::UnlockRead)
                        };
                        match self.reconcile(at, op.name(), got.is_ok(), ret) {
                            Reconcile::Nothing => {}
                            Reconcile::TakeBlocking => {
                                expect_ok(self, at, op.name(), db.chainlock(key, blocking))?
                            }
                            Reconcile::Release => {
                                expect_ok(self, at, op.name(), db.chainlock(key, unlock))?
                            }
                        }
                    }
                    _ => expect_ok(self, at, op.name(), got)?,
                }
            }
            OpKind::LockAll { op: lock, ret } => {
                let got = db.lockall(lock);
                match (lock, ret) {
                    (LockAllOp::LockNonblock | LockAllOp::LockReadNonblock, Some(ret)) => {
                        let (blocking, unlock) = if lock == LockAllOp::LockNonblock {
                            (LockAllOp::Lock, LockAllOp::Unlock)
                        } else {
                            (LockAllOp::LockRead, LockAllOp::UnlockRead)
                        };
                        match self.reconcile(at, op.name(), got.is_ok(), ret) {
                            Reconcile::Nothing => {}
                            Reconcile::TakeBlocking => {
                                expect_ok(self, at, op.name(), db.lockall(blocking))?
                            }
                            Reconcile::Release => {
                                expect_ok(self, at, op.name(), db.lockall(unlock))?
                            }
                        }
                    }
                    _ => expect_ok(self, at, op.name(), got)?,
                }
            }
            OpKind::GetSeqnum { ret } => {
                // The absolute counter depends on everything before the trace started, so
                // it is reported, not checked.
                if let Ok(got) = db.get_seqnum() {
                    if got != ret {
                        self.note(at, format!("tdb_get_seqnum gave {got} not {ret}"));
                    }
                }
            }
        }
        self.finish(at);
        Ok(at + 1)
    }

    /// `tdb_store(TDB_MODIFY)`. tdb 1.4.8 fails a MODIFY of an existing record that it
    /// cannot rewrite in place whenever an earlier call left `TDB_ERR_NOEXIST` behind, and
    /// whether it can rewrite in place depends on the file's layout, which a replay does
    /// not reproduce. So where the record exists, reproduce the recorded outcome instead
    /// of failing, and report it.
    fn store_modify<B: Backend>(
        &mut self,
        db: &mut B,
        at: usize,
        key: &[u8],
        data: &[u8],
        ret: i32,
    ) -> Result<(), ExecError> {
        if ret < 0 {
            if db.exists(key).unwrap_or(false) {
                self.note(at, "tdb_store(TDB_MODIFY) of an existing record failed in the trace (tdb's stale-error quirk); not storing");
                return Ok(());
            }
            return check_ret(
                self,
                at,
                "tdb_store",
                db.store(key, data, StoreFlag::Modify),
                ret,
            );
        }
        match db.store(key, data, StoreFlag::Modify) {
            Err(error) if error.kind == ErrorKind::NoExist && db.exists(key).unwrap_or(false) => {
                self.note(at, "tdb_store(TDB_MODIFY) of an existing record failed here (tdb's stale-error quirk); storing with TDB_REPLACE");
                expect_ok(
                    self,
                    at,
                    "tdb_store",
                    db.store(key, data, StoreFlag::Replace),
                )
            }
            got => check_ret(self, at, "tdb_store", got, ret),
        }
    }

    /// A nonblocking lock may fail or succeed differently from the original run (the
    /// other processes are elsewhere): say what keeps the lock state the trace expects.
    fn reconcile(&mut self, at: usize, name: &str, worked: bool, ret: i32) -> Reconcile {
        match (worked, ret == 0) {
            (true, true) | (false, false) => Reconcile::Nothing,
            (false, true) => {
                self.note(
                    at,
                    format!("{name} failed, the trace says it worked; locking blocking"),
                );
                Reconcile::TakeBlocking
            }
            (true, false) => {
                self.note(
                    at,
                    format!("{name} worked, the trace says it failed ({ret}); unlocking"),
                );
                Reconcile::Release
            }
        }
    }

    fn check_key_walk(
        &mut self,
        at: usize,
        name: &str,
        got: TdbResult<Option<Vec<u8>>>,
        expected: Rec,
    ) -> Result<(), ExecError> {
        let expected = self.rec(expected);
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
        Ok(())
    }

    /// Replay a traverse: the i-th record visited runs the ops recorded after the i-th
    /// `traverse` entry; ops the replay's walk did not reach run after it (leftovers).
    fn run_traverse<B: Backend>(&mut self, db: &mut B, start: usize) -> Step {
        let trace = self.trace;
        let OpKind::TraverseStart { kind } = trace.ops[start].kind else {
            unreachable!("run_traverse is only called on a traverse start");
        };
        let end = self.groups.end_of(start as u32) as usize;
        let is_entry = |at: usize| matches!(trace.ops[at].kind, OpKind::TraverseEntry { .. });
        let mut cursor = start + 1;
        let mut started = false;
        let mut failure: Option<ExecError> = None;
        let walked = db.traverse(kind, &mut |db, _key, _data| {
            if !started {
                started = true;
                self.finish(start);
            }
            let step = (|| -> Result<(), ExecError> {
                // Ops recorded before the first entry (only in hand-made traces).
                while cursor < end && !is_entry(cursor) {
                    cursor = self.run_op(db, cursor)?;
                }
                if cursor < end && self.groups.stop_before[cursor] {
                    // A back-off: end the walk here; the rest runs as leftovers.
                    return Ok(());
                }
                if cursor < end {
                    self.wait(cursor)?;
                    self.finish(cursor);
                    cursor += 1;
                }
                while cursor < end && !is_entry(cursor) {
                    cursor = self.run_op(db, cursor)?;
                }
                Ok(())
            })();
            match step {
                Err(error) => {
                    failure = Some(error);
                    ControlFlow::Break(())
                }
                Ok(()) if cursor >= end || self.groups.stop_before[cursor] => {
                    ControlFlow::Break(())
                }
                Ok(()) => ControlFlow::Continue(()),
            }
        });
        if !started {
            self.finish(start);
        }
        if let Some(failure) = failure {
            return Err(failure);
        }
        if let Err(error) = walked {
            return Err(self.mismatch(
                start,
                format!("{} failed: {error}", trace.ops[start].name()),
            ));
        }
        // Leftovers: what the recorded walk did on records this walk never reached.
        while cursor < end {
            if is_entry(cursor) {
                self.wait(cursor)?;
                self.finish(cursor);
                cursor += 1;
            } else if self.groups.in_read_traverse[cursor]
                && crate::analysis::keys::effect_kind_writes(&trace.ops[cursor].kind)
            {
                // Inside the read traverse tdb refused this write (TDB_ERR_RDONLY); out
                // here it would work, so keep the refusal.
                self.wait(cursor)?;
                self.finish(cursor);
                cursor += 1;
            } else {
                cursor = self.run_op(db, cursor)?;
            }
        }
        self.wait(end)?;
        self.finish(end);
        Ok(end + 1)
    }
}

/// What to do after a nonblocking lock whose outcome differs from the trace.
enum Reconcile {
    Nothing,
    TakeBlocking,
    Release,
}

/// The call must have worked (the trace records no failure for it).
fn expect_ok(
    exec: &Executor<'_>,
    at: usize,
    name: &str,
    got: TdbResult<()>,
) -> Result<(), ExecError> {
    got.map_err(|error| {
        exec.mismatch(
            at,
            format!("{name} failed ({error}), the trace says it worked"),
        )
    })
}

/// The call must have succeeded (`ret` ≥ 0) or failed (`ret` < 0) as recorded.
fn check_ret(
    exec: &Executor<'_>,
    at: usize,
    name: &str,
    got: TdbResult<()>,
    ret: i32,
) -> Result<(), ExecError> {
    match (&got, ret >= 0) {
        (Ok(()), true) | (Err(_), false) => Ok(()),
        (Ok(()), false) => Err(exec.mismatch(
            at,
            format!("{name} worked, the trace recorded it failing ({ret})"),
        )),
        (Err(error), true) => Err(exec.mismatch(
            at,
            format!("{name} failed ({error}), the trace recorded {ret}"),
        )),
    }
}

/// A lookup must have found (or not found) the record as recorded.
fn check_found(
    exec: &Executor<'_>,
    at: usize,
    name: &str,
    got: TdbResult<bool>,
    expected: bool,
) -> Result<(), ExecError> {
    let found = match got {
        Ok(found) => found,
        Err(error) if error.kind == crate::backend::ErrorKind::NoExist => false,
        Err(error) => return Err(exec.mismatch(at, format!("{name} failed: {error}"))),
    };
    if found == expected {
        return Ok(());
    }
    let says = |found: bool| if found { "found" } else { "not found" };
    Err(exec.mismatch(
        at,
        format!(
            "{name}: record {}, the trace recorded {}",
            says(found),
            says(expected)
        ),
    ))
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
