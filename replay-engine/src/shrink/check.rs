//! What "fails" means: a [`Check`] runs a candidate set and, if it fails, says how, as a
//! [`Failure`] whose signature the shrinker compares with the original set's.
//!
//! Signatures ([`Signature`]) are typed and never hold places or values: `diff` uses
//! [`crate::diff::Divergence::signature`] (the kind of difference and the op it showed
//! at); a replay uses the mismatch's call and [`crate::replay::mismatch::MismatchKind`],
//! or "deadlock".
//! Each candidate runs on databases in a fresh directory of its own, inside a private
//! temporary directory that goes when the check does.

use crate::backend::engines::Engines;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Duration;

use super::Signature;
use crate::analysis::Analysis;
use crate::backend::{Backend, LockingModel};
use crate::diff;
use crate::replay::{self, ReplayError, ReplayOptions};
use crate::trace::Trace;

/// How a set failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// What a smaller set must show to fail "the same way" (no places, no values).
    pub signature: Signature,
    /// The failure as the tool reports it, for people.
    pub message: String,
}

/// A way to run a set of traces that may fail.
pub trait Check {
    /// The locking the candidates are analysed for.
    fn locking(&self) -> LockingModel;

    /// Run `traces` (analysed as `analysis`); `Some` if they fail.
    fn run(&mut self, traces: &[Trace], analysis: &mut Analysis) -> Option<Failure>;
}

/// A check made of a closure, for tests and for callers with a failure of their own.
pub struct FnCheck<F> {
    /// The locking to analyse for.
    pub locking: LockingModel,
    /// The check.
    pub run: F,
}

impl<F: FnMut(&[Trace], &mut Analysis) -> Option<Failure>> Check for FnCheck<F> {
    fn locking(&self) -> LockingModel {
        self.locking
    }

    fn run(&mut self, traces: &[Trace], analysis: &mut Analysis) -> Option<Failure> {
        (self.run)(traces, analysis)
    }
}

/// A private temporary directory with a fresh subdirectory per run.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> std::io::Result<Scratch> {
        let dir = tempfile::Builder::new()
            .prefix("tdb-replay-shrink.")
            .tempdir()?;
        Ok(Scratch { dir })
    }

    fn run<T>(&self, f: impl FnOnce(&Path) -> Option<T>) -> Option<T> {
        let dir = tempfile::tempdir_in(self.dir.path()).ok()?;
        // A candidate the engines choke on does not fail "the same way"; it must not take
        // the shrinker down either.
        catch_unwind(AssertUnwindSafe(|| f(dir.path())))
            .ok()
            .flatten()
    }
}

/// `diff` between engines `A` and `B`: fails on the first divergence.
pub struct DiffCheck<A, B> {
    scratch: Scratch,
    engines: PhantomData<fn() -> (A, B)>,
}

impl<A: Backend, B: Backend> DiffCheck<A, B> {
    /// A check with its own temporary directory.
    pub fn new() -> std::io::Result<Self> {
        Ok(DiffCheck {
            scratch: Scratch::new()?,
            engines: PhantomData,
        })
    }
}

impl<A: Backend, B: Backend> Check for DiffCheck<A, B> {
    fn locking(&self) -> LockingModel {
        A::LOCKING
    }

    fn run(&mut self, traces: &[Trace], analysis: &mut Analysis) -> Option<Failure> {
        self.scratch.run(|dir| {
            let (path_a, path_b) = (dir.join("a.tdb"), dir.join("b.tdb"));
            let report = diff::diff::<A, B>(traces, analysis, &path_a, &path_b, None).ok()?;
            let divergence = report.divergence?;
            let (kind, op) = divergence.signature();
            Some(Failure {
                signature: Signature::Divergence { kind, op },
                message: divergence.to_string(),
            })
        })
    }
}

/// A concurrent replay on the engines `E` (the trace at position `k` on engine
/// `k % E::count()`; `Pair<C, C>` for `--backend c`): fails on a result that differs
/// from the trace, or a deadlock no back-off resolves.
pub struct ReplayCheck<E> {
    scratch: Scratch,
    /// How long all workers must be blocked before a run counts as deadlocked.
    pub deadlock_after: Duration,
    /// Back-offs allowed per candidate.
    pub max_backoffs: usize,
    /// A candidate with no progress for this long is abandoned.
    pub stall_after: Duration,
    engines: PhantomData<fn() -> E>,
}

impl<E: Engines> ReplayCheck<E> {
    /// A check with its own temporary directory and short limits (100 ms to call a
    /// deadlock, 8 back-offs, 10 s without progress), so no candidate can hold the
    /// shrinker up for long.
    pub fn new() -> std::io::Result<Self> {
        Ok(ReplayCheck {
            scratch: Scratch::new()?,
            deadlock_after: Duration::from_millis(100),
            max_backoffs: 8,
            stall_after: Duration::from_secs(10),
            engines: PhantomData,
        })
    }
}

impl<E: Engines> Check for ReplayCheck<E> {
    fn locking(&self) -> LockingModel {
        E::locking_of_all()
    }

    fn run(&mut self, traces: &[Trace], analysis: &mut Analysis) -> Option<Failure> {
        let options = ReplayOptions {
            runs: 1,
            deadlock_after: self.deadlock_after,
            max_backoffs: self.max_backoffs,
            stall_after: self.stall_after,
            progress: None,
            record: None,
            latency: false,
            backoff_cache: None,
            predict: true,
            locking: Default::default(),
        };
        self.scratch.run(|dir| {
            let db = dir.join("replay.tdb");
            let error = replay::replay_engines::<E>(&db, traces, analysis, &options).err()?;
            let signature = match &error {
                ReplayError::Mismatch(messages) => Signature::of_mismatch(messages.first()?),
                ReplayError::Deadlock(_) => Signature::Deadlock,
                ReplayError::Stalled(_) => Signature::Stalled,
                // The run could not be made at all: not a failure of the traces.
                _ => return None,
            };
            Some(Failure {
                signature,
                message: error.to_string(),
            })
        })
    }
}
