//! A traverse: the i-th record the replay's walk visits runs the ops the trace recorded
//! after its i-th `traverse` entry; what the walk did not reach runs after it.

use std::ops::ControlFlow;

use super::{Dispatcher, Event, Hook, Next};
use crate::analysis::keys::effect_kind_writes;
use crate::backend::{Backend, TraverseKind};
use crate::trace::OpKind;

impl Dispatcher<'_> {
    /// Run the traverse starting at `start` (`begin` already called for it); returns the
    /// op after its end.
    ///
    /// Two rules hold for every caller, on purpose:
    /// - `stop_before` (a back-off the replay learns from a deadlock, see
    ///   [`crate::analysis::Groups::stop_traverse_before`]) ends the walk before that
    ///   entry; the rest runs as leftovers. Only the replay's supervisor sets it, so for
    ///   diff and the benchmark baseline, whose groups come straight from the analysis,
    ///   it never stops anything.
    /// - A leftover write that the trace ran inside a read traverse was refused there by
    ///   tdb (`TDB_ERR_RDONLY`); after the walk it would work, so it is passed over to
    ///   keep the refusal. The baseline follows this too: it must make the calls the
    ///   replay makes.
    pub(super) fn traverse<B: Backend, H: Hook>(
        &self,
        db: &mut B,
        hook: &mut H,
        start: usize,
        kind: TraverseKind,
    ) -> Next<H::Stop> {
        let trace = self.trace;
        let last = trace.ops.len() - 1;
        let end = (self.groups.end_of(start as u32) as usize).min(last);
        let mut cursor = start + 1;
        let mut started = false;
        let mut failure = None;
        let walked = db.traverse(kind, &mut |db, key, data| {
            if !started {
                started = true;
                hook.end(start);
            }
            let at = if cursor < end { cursor } else { start };
            let step = hook
                .event(at, Event::Visit { key, data })
                .and_then(|()| self.visit(db, hook, &mut cursor, end));
            match step {
                Err(stop) => {
                    failure = Some(stop);
                    ControlFlow::Break(())
                }
                Ok(()) if cursor >= end || self.groups.stop_before[cursor] => {
                    ControlFlow::Break(())
                }
                Ok(()) => ControlFlow::Continue(()),
            }
        });
        if !started {
            hook.end(start);
        }
        if let Some(stop) = failure {
            return Err(stop);
        }
        hook.event(start, Event::Walked { end, got: &walked })?;
        // Leftovers: what the recorded walk did on records this walk never reached.
        while cursor < end {
            let passed_over = self.is_entry(cursor)
                || (self.groups.in_read_traverse[cursor]
                    && effect_kind_writes(&trace.ops[cursor].kind));
            if passed_over {
                hook.pass(cursor)?;
                hook.end(cursor);
                cursor += 1;
            } else {
                cursor = self.run_op(db, hook, cursor)?;
            }
        }
        hook.pass(end)?;
        hook.end(end);
        Ok(end + 1)
    }

    /// One record visited: the ops before the next entry (only in hand-made traces), the
    /// entry, and the ops recorded in its callback; stops before an entry marked
    /// `stop_before`.
    fn visit<B: Backend, H: Hook>(
        &self,
        db: &mut B,
        hook: &mut H,
        cursor: &mut usize,
        end: usize,
    ) -> Result<(), H::Stop> {
        while *cursor < end && !self.is_entry(*cursor) {
            *cursor = self.run_op(db, hook, *cursor)?;
        }
        if *cursor < end && self.groups.stop_before[*cursor] {
            return Ok(());
        }
        if *cursor < end {
            hook.pass(*cursor)?;
            hook.end(*cursor);
            *cursor += 1;
        }
        while *cursor < end && !self.is_entry(*cursor) {
            *cursor = self.run_op(db, hook, *cursor)?;
        }
        Ok(())
    }

    fn is_entry(&self, at: usize) -> bool {
        matches!(self.trace.ops[at].kind, OpKind::TraverseEntry { .. })
    }
}
