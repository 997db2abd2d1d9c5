//! The one mapping from a trace's ops to [`Backend`] calls, shared by the timed replay
//! ([`crate::replay::executor`]), the engine comparison ([`crate::diff`]) and the
//! benchmark baseline ([`crate::bare`]).
//!
//! [`Dispatcher::run_op`] runs op `at` of a trace (a whole traverse, callback ops
//! included, when `at` starts one) and reports every call's result to a [`Hook`] as a
//! typed [`Event`]. The rules for what a line means live here and only here:
//!
//! - the analysis' [`ReplayMode`]: nested Samba commits are passed over, doomed commits
//!   run as cancels;
//! - a repack's own steps are traced and run one by one, so the repack line runs nothing;
//! - a key walk the trace ended (`tdb_nextkey` recorded no next key) is walked to its end,
//!   so that its record lock does not outlive the recorded one (see [`Dispatcher::key`]);
//! - a nonblocking lock that came out differently from the trace is reconciled with it
//!   ([`locks`]);
//! - tdb 1.4.8's stale-error `TDB_MODIFY` quirk, for hooks that reproduce the trace
//!   ([`Rules::modify_quirk`]);
//! - a traverse's i-th record runs the ops recorded after its i-th entry ([`traverse`]).
//!
//! A hook adds only its own concern: the executor waits for dependencies, times ops and
//! checks each result against the trace; diff keeps each result to compare two engines;
//! the baseline ignores them.

mod locks;
mod traverse;

use crate::analysis::{Groups, ReplayMode};
use crate::backend::{Backend, ErrorKind, StoreFlag, TdbError, TdbResult};
use crate::trace::{Append, OpKind, Trace};

pub use locks::Reconcile;

/// Which rules that depend on the caller's situation apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// A nonblocking lock that failed where the trace says it worked is taken blocking.
    /// Only where another process can release it: a single process holding every
    /// handle (diff) would wait for itself forever.
    pub blocking_retry: bool,
    /// Reproduce the recorded outcome of tdb 1.4.8's stale-error `TDB_MODIFY` quirk (see
    /// [`Dispatcher::store_modify`]) instead of the replay's own. Only for callers that
    /// follow the trace: comparing two engines must see what each one does.
    pub modify_quirk: bool,
}

/// What the trace recorded for a call that returns only success or failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The trace records no failure for it: it worked.
    Worked,
    /// The recorded return value (≥ 0 success, < 0 failure).
    Ret(i32),
    /// Nothing to check: the trace's value is meaningless (`tdb_storev`, whose traced ret
    /// is always -1, a Samba bug) or the rule reconciling it already ran.
    Unchecked,
}

/// What a call gave, with what the trace recorded for it.
#[derive(Debug)]
pub enum Event<'a> {
    /// A call that returns only success or failure (store, delete, locks, transactions).
    Done {
        /// The call made, as traces name it.
        call: &'static str,
        /// Its result.
        got: &'a TdbResult<()>,
        /// What the trace recorded.
        recorded: Recorded,
    },
    /// `tdb_fetch`: the record (`None`: there is none) or the failure; `recorded` is the
    /// traced record.
    Fetched {
        /// The record or the failure.
        got: Result<Option<&'a [u8]>, &'a TdbError>,
        /// The traced record.
        recorded: Option<&'a [u8]>,
    },
    /// `tdb_parse_record`: the record or the failure (`NoExist`: there is none).
    Parsed {
        /// The record or the failure.
        got: Result<&'a [u8], &'a TdbError>,
        /// Whether the trace found the record.
        found: bool,
    },
    /// `tdb_exists`.
    Exists {
        /// Whether it found the record.
        got: &'a TdbResult<bool>,
        /// Whether the trace found it.
        found: bool,
    },
    /// `tdb_firstkey` or `tdb_nextkey`.
    Key {
        /// The call made.
        call: &'static str,
        /// The key found (`None`: the walk is over).
        got: &'a TdbResult<Option<Vec<u8>>>,
        /// The traced key.
        recorded: Option<&'a [u8]>,
    },
    /// `tdb_get_seqnum`.
    Seqnum {
        /// The sequence number.
        got: &'a TdbResult<i32>,
        /// The traced one.
        recorded: i32,
    },
    /// A record a traverse's callback saw (reported at the entry whose ops it runs, or at
    /// the traverse's start once the recorded entries are used up).
    Visit {
        /// Its key.
        key: &'a [u8],
        /// Its data.
        data: &'a [u8],
    },
    /// The end of a traverse's walk (reported at its start): how many records it visited.
    Walked {
        /// The traverse's end op.
        end: usize,
        /// The count, or the failure.
        got: &'a TdbResult<u32>,
    },
    /// A nonblocking lock came out differently from the trace; `action` says what keeps
    /// the recorded lock state (its call's result follows as a [`Event::Done`]).
    Reconciled {
        /// The nonblocking call.
        call: &'static str,
        /// What is done about it.
        action: Reconcile,
        /// The recorded return value.
        ret: i32,
    },
    /// A `TDB_MODIFY` store hit tdb's stale-error quirk on one side only (see
    /// [`Dispatcher::store_modify`]).
    ModifyQuirk(ModifyQuirk),
}

/// How the `TDB_MODIFY` quirk was reproduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModifyQuirk {
    /// The trace's store of an existing record failed: not storing.
    NotStored,
    /// The replay's store of an existing record failed: storing with `TDB_REPLACE`.
    Replaced,
}

/// What a caller of the dispatcher adds: waiting, timing, checking, keeping results.
pub trait Hook {
    /// Why a run stops early (`std::convert::Infallible` for hooks that never stop it).
    type Stop;

    /// Which situational rules apply.
    const RULES: Rules;

    /// Before op `at` runs, or is passed over (the executor waits for its dependencies
    /// here).
    #[inline]
    fn begin(&mut self, at: usize) -> Result<(), Self::Stop> {
        let _ = at;
        Ok(())
    }

    /// Before a line of a traverse that runs no call is passed (an entry, a write a read
    /// traverse refused, the traverse's end); the executor waits for its dependencies
    /// here, without making it the current op.
    #[inline]
    fn pass(&mut self, at: usize) -> Result<(), Self::Stop> {
        let _ = at;
        Ok(())
    }

    /// Op `at` is done (the executor ends its timing here). For a traverse start, this is
    /// when its walk reaches the first record (or ends without one).
    #[inline]
    fn end(&mut self, at: usize) {
        let _ = at;
    }

    /// A result of op `at`.
    fn event(&mut self, at: usize, event: Event<'_>) -> Result<(), Self::Stop>;
}

/// Runs the ops of one trace, as grouped by the analysis.
#[derive(Clone, Copy)]
pub struct Dispatcher<'a> {
    /// The trace.
    pub trace: &'a Trace,
    /// Its groups.
    pub groups: &'a Groups,
}

/// The result of running one op: the next op to run, or why the hook stopped.
pub type Next<S> = Result<usize, S>;

impl<'a> Dispatcher<'a> {
    /// A dispatcher for `trace`, grouped as `groups`.
    pub fn new(trace: &'a Trace, groups: &'a Groups) -> Self {
        Dispatcher { trace, groups }
    }

    /// Run op `at` (a whole traverse, if it starts one); returns the next op to run.
    #[inline]
    pub fn run_op<B: Backend, H: Hook>(
        &self,
        db: &mut B,
        hook: &mut H,
        at: usize,
    ) -> Next<H::Stop> {
        hook.begin(at)?;
        match self.groups.mode[at] {
            ReplayMode::AsTraced => {}
            ReplayMode::Skip => {}
            ReplayMode::AsCancel => {
                done(
                    hook,
                    at,
                    "tdb_transaction_cancel",
                    &db.transaction_cancel(),
                    Recorded::Worked,
                )?;
            }
        }
        if self.groups.mode[at] == ReplayMode::AsTraced {
            if let OpKind::TraverseStart { kind } = self.trace.ops[at].kind {
                return self.traverse(db, hook, at, kind);
            }
            self.call(db, hook, at)?;
        }
        hook.end(at);
        Ok(at + 1)
    }

    /// Make the calls of op `at`, which is not a traverse start.
    #[inline]
    fn call<B: Backend, H: Hook>(
        &self,
        db: &mut B,
        hook: &mut H,
        at: usize,
    ) -> Result<(), H::Stop> {
        let trace = self.trace;
        let op = &trace.ops[at];
        let name = op.name();
        match op.kind {
            OpKind::Fetch { .. }
            | OpKind::ParseRecord { .. }
            | OpKind::Exists { .. }
            | OpKind::Delete { .. }
            | OpKind::Store { .. }
            | OpKind::StoreV { .. }
            | OpKind::Append { .. } => self.record_call(db, hook, at)?,
            OpKind::WipeAll => done(hook, at, name, &db.wipe_all(), Recorded::Worked)?,
            // A repack's own steps (transaction, traverse, wipe, stores) are traced and
            // replayed one by one; running it as well would do the work twice.
            OpKind::Repack => {}
            OpKind::TransactionStart => {
                done(hook, at, name, &db.transaction_start(), Recorded::Worked)?;
            }
            OpKind::TransactionPrepareCommit => {
                let got = db.transaction_prepare_commit();
                done(hook, at, name, &got, Recorded::Worked)?;
            }
            OpKind::TransactionCommit => {
                done(hook, at, name, &db.transaction_commit(), Recorded::Worked)?;
            }
            OpKind::TransactionCancel { .. } => {
                done(hook, at, name, &db.transaction_cancel(), Recorded::Worked)?;
            }
            // Only reachable for a traverse the groups did not pair; nothing to run.
            OpKind::TraverseStart { .. }
            | OpKind::TraverseEntry { .. }
            | OpKind::TraverseEnd { .. } => {}
            OpKind::FirstKey { result } => {
                let got = db.firstkey();
                self.key(db, hook, at, got, trace.rec(result), false)?;
            }
            OpKind::NextKey { key, result } => {
                let got = db.nextkey(trace.bytes(key));
                self.key(db, hook, at, got, trace.rec(result), result.is_none())?;
            }
            OpKind::ChainLock { key, op: lock, ret } => {
                let key = trace.bytes(key);
                locks::lock(hook, at, name, lock, ret, |lock| db.chainlock(key, lock))?;
            }
            OpKind::LockAll { op: lock, ret } => {
                locks::lock(hook, at, name, lock, ret, |lock| db.lockall(lock))?;
            }
            OpKind::GetSeqnum { ret } => {
                let got = db.get_seqnum();
                hook.event(
                    at,
                    Event::Seqnum {
                        got: &got,
                        recorded: ret,
                    },
                )?;
            }
        }
        Ok(())
    }

    /// Make the call of op `at`, a call on one record (fetch, store, append, delete,
    /// lookups).
    #[inline]
    fn record_call<B: Backend, H: Hook>(
        &self,
        db: &mut B,
        hook: &mut H,
        at: usize,
    ) -> Result<(), H::Stop> {
        let trace = self.trace;
        let op = &trace.ops[at];
        let name = op.name();
        match op.kind {
            OpKind::Fetch { key, result } => {
                let recorded = trace.rec(result);
                let got = db.fetch_with(trace.bytes(key), |data| {
                    hook.event(
                        at,
                        Event::Fetched {
                            got: Ok(data),
                            recorded,
                        },
                    )
                });
                match got {
                    Ok(checked) => checked?,
                    Err(error) => hook.event(
                        at,
                        Event::Fetched {
                            got: Err(&error),
                            recorded,
                        },
                    )?,
                }
            }
            OpKind::ParseRecord { key, ret } => {
                let found = ret >= 0;
                let got = db.parse_record(trace.bytes(key), |data| {
                    hook.event(
                        at,
                        Event::Parsed {
                            got: Ok(data),
                            found,
                        },
                    )
                });
                match got {
                    Ok(checked) => checked?,
                    Err(error) => hook.event(
                        at,
                        Event::Parsed {
                            got: Err(&error),
                            found,
                        },
                    )?,
                }
            }
            OpKind::Exists { key, ret } => {
                let got = db.exists(trace.bytes(key));
                hook.event(
                    at,
                    Event::Exists {
                        got: &got,
                        found: ret == 1,
                    },
                )?;
            }
            OpKind::Delete { key, ret } => {
                done(
                    hook,
                    at,
                    name,
                    &db.delete(trace.bytes(key)),
                    Recorded::Ret(ret),
                )?;
            }
            OpKind::Store {
                key,
                data,
                flag: StoreFlag::Modify,
                ret,
            } if H::RULES.modify_quirk => {
                let data = trace.rec(data).unwrap_or(&[]);
                self.store_modify(db, hook, at, trace.bytes(key), data, ret)?;
            }
            OpKind::Store {
                key,
                data,
                flag,
                ret,
            } => {
                let data = trace.rec(data).unwrap_or(&[]);
                done(
                    hook,
                    at,
                    name,
                    &db.store(trace.bytes(key), data, flag),
                    Recorded::Ret(ret),
                )?;
            }
            OpKind::StoreV { key, data, flag } => {
                let got = db.store(trace.bytes(key), trace.bytes(data), flag);
                done(hook, at, name, &got, Recorded::Unchecked)?;
            }
            OpKind::Append { key, append } => {
                let (Append::Result { appended, .. } | Append::Previous { appended, .. }) = append;
                let appended = trace.rec(appended).unwrap_or(&[]);
                done(
                    hook,
                    at,
                    name,
                    &db.append(trace.bytes(key), appended),
                    Recorded::Worked,
                )?;
            }
            // Not a call on one record: `call` makes it.
            _ => {}
        }
        Ok(())
    }

    /// Report a key walk's step; where the trace's walk ended (`ends`) but this one goes
    /// on, walk on to the end: the original walk released its record lock here, and no
    /// lock may outlive the recorded one.
    fn key<B: Backend, H: Hook>(
        &self,
        db: &mut B,
        hook: &mut H,
        at: usize,
        got: TdbResult<Option<Vec<u8>>>,
        recorded: Option<&[u8]>,
        ends: bool,
    ) -> Result<(), H::Stop> {
        let call = self.trace.ops[at].name();
        hook.event(
            at,
            Event::Key {
                call,
                got: &got,
                recorded,
            },
        )?;
        if ends {
            let mut current = got.ok().flatten();
            while let Some(key) = current {
                current = db.nextkey(&key).ok().flatten();
            }
        }
        Ok(())
    }

    /// `tdb_store(TDB_MODIFY)`. tdb 1.4.8 fails a MODIFY of an existing record that it
    /// cannot rewrite in place whenever an earlier call left `TDB_ERR_NOEXIST` behind, and
    /// whether it can rewrite in place depends on the file's layout, which a replay does
    /// not reproduce. So where the record exists, reproduce the recorded outcome instead
    /// of failing, and report it.
    fn store_modify<B: Backend, H: Hook>(
        &self,
        db: &mut B,
        hook: &mut H,
        at: usize,
        key: &[u8],
        data: &[u8],
        ret: i32,
    ) -> Result<(), H::Stop> {
        const STORE: &str = "tdb_store";
        if ret < 0 {
            if db.exists(key).unwrap_or(false) {
                return hook.event(at, Event::ModifyQuirk(ModifyQuirk::NotStored));
            }
            let got = db.store(key, data, StoreFlag::Modify);
            return done(hook, at, STORE, &got, Recorded::Ret(ret));
        }
        match db.store(key, data, StoreFlag::Modify) {
            Err(error) if is_no_exist(&error) && db.exists(key).unwrap_or(false) => {
                hook.event(at, Event::ModifyQuirk(ModifyQuirk::Replaced))?;
                let got = db.store(key, data, StoreFlag::Replace);
                done(hook, at, STORE, &got, Recorded::Worked)
            }
            got => done(hook, at, STORE, &got, Recorded::Ret(ret)),
        }
    }
}

fn is_no_exist(error: &TdbError) -> bool {
    error.kind == ErrorKind::NoExist
}

/// Report a call that returns only success or failure.
#[inline]
fn done<H: Hook>(
    hook: &mut H,
    at: usize,
    call: &'static str,
    got: &TdbResult<()>,
    recorded: Recorded,
) -> Result<(), H::Stop> {
    hook.event(
        at,
        Event::Done {
            call,
            got,
            recorded,
        },
    )
}
