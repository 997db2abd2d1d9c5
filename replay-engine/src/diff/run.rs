//! Running the ops of a unit on one engine and keeping what every call gave.
//!
//! The ops run through the shared [`Dispatcher`] (the replay's rules for what each line
//! means), but nothing is checked: the two engines are compared with each other
//! afterwards, not with the trace. So neither rule that follows the trace rather than
//! the engine applies: no nonblocking lock is retried blocking (one process holds every
//! handle, so it would wait for itself), and a `TDB_MODIFY` store's stale-error quirk
//! is kept as each engine shows it.

use std::convert::Infallible;

use super::outcome::{kind_of, Outcome, Outcomes};
use crate::analysis::Groups;
use crate::backend::Backend;
use crate::dispatch::{Dispatcher, Event, Hook, Rules};
use crate::trace::Trace;

/// Runs ops of one trace on one engine.
pub struct Runner<'a> {
    /// The trace.
    pub trace: &'a Trace,
    /// Its groups.
    pub groups: &'a Groups,
}

impl Runner<'_> {
    /// Run op `at` on `db` (a whole traverse, callback ops included, if it starts one),
    /// keeping what it gave in `out`; returns the next op.
    pub fn step<B: Backend>(&self, db: &mut B, at: usize, out: &mut Outcomes) -> usize {
        let dispatcher = Dispatcher::new(self.trace, self.groups);
        match dispatcher.run_op(db, &mut Keep { out }, at) {
            Ok(next) => next,
            Err(never) => match never {},
        }
    }
}

/// Keeps every result in an [`Outcomes`].
struct Keep<'o> {
    out: &'o mut Outcomes,
}

impl Hook for Keep<'_> {
    type Stop = Infallible;

    const RULES: Rules = Rules {
        blocking_retry: false,
        modify_quirk: false,
    };

    fn event(&mut self, at: usize, event: Event<'_>) -> Result<(), Infallible> {
        let out = &mut *self.out;
        let op = at as u32;
        let outcome = match event {
            Event::Done { got, .. } => Outcome::Done(kind_of(got).map(|_| ())),
            Event::Fetched { got, .. } => Outcome::Record(match got {
                Ok(data) => Ok(data.map(|data| out.keep(data))),
                Err(error) => Err(error.kind),
            }),
            Event::Parsed { got, .. } => Outcome::Record(match got {
                Ok(data) => Ok(Some(out.keep(data))),
                Err(error) => Err(error.kind),
            }),
            Event::Exists { got, .. } => Outcome::Found(kind_of(got).copied()),
            Event::Key { got, .. } => Outcome::Record(match got {
                Ok(key) => Ok(key.as_deref().map(|key| out.keep(key))),
                Err(error) => Err(error.kind),
            }),
            Event::Seqnum { got, .. } => Outcome::Seqnum(kind_of(got).copied()),
            Event::Visit { key, data } => Outcome::Visit {
                key: out.keep(key),
                data: out.keep(data),
            },
            Event::Walked { end, got } => {
                out.push(end as u32, Outcome::Walked(kind_of(got).copied()));
                return Ok(());
            }
            // Rules that follow the trace; they report nothing to compare.
            Event::Reconciled { .. } | Event::ModifyQuirk(_) => return Ok(()),
        };
        out.push(op, outcome);
        Ok(())
    }
}
