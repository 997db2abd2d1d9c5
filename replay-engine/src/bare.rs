//! The baseline for the replay benchmark: one trace's ops called on a backend as fast as
//! possible, with no dependency waits, no result checks and no progress publishing.
//! Comparing a replay with this shows what the replay machinery costs.
//!
//! The calls are the replay's own (the shared [`Dispatcher`]), rules included, so that
//! the two make the same calls: a key walk the trace ended is walked to its end, a
//! nonblocking lock the trace failed to get is released, and a write a read traverse
//! refused stays unmade.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use crate::analysis::Groups;
use crate::backend::Backend;
use crate::dispatch::{Dispatcher, Event, Hook, Rules};
use crate::trace::Trace;

/// Run every op of `trace` on `db`, ignoring results; returns the time taken.
pub fn run<B: Backend>(db: &mut B, trace: &Trace, groups: &Groups) -> Duration {
    let dispatcher = Dispatcher::new(trace, groups);
    let started = Instant::now();
    let mut at = 0;
    while at < trace.ops.len() {
        at = match dispatcher.run_op(db, &mut Ignore, at) {
            Ok(next) => next,
            Err(never) => match never {},
        };
    }
    started.elapsed()
}

/// Ignores every result.
struct Ignore;

impl Hook for Ignore {
    type Stop = Infallible;

    /// As the replay does (alone, a nonblocking lock never fails, so `blocking_retry`
    /// never applies).
    const RULES: Rules = Rules {
        blocking_retry: true,
        modify_quirk: true,
    };

    #[inline]
    fn event(&mut self, _at: usize, _event: Event<'_>) -> Result<(), Infallible> {
        Ok(())
    }
}
