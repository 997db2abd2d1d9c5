//! Running the ops of a unit on one engine and keeping what every call gave.
//!
//! It follows the replay's rules for what each line means (nested Samba commits skipped,
//! doomed commits run as cancels, a traverse's i-th record runs the ops recorded after
//! its i-th entry, a repack's traced steps run one by one) but checks nothing: the two
//! engines are compared with each other afterwards, not with the trace.

use std::ops::ControlFlow;

use super::outcome::{kind_of, Outcome, Outcomes};
use crate::analysis::{Groups, ReplayMode};
use crate::backend::{Backend, ChainLockOp, LockAllOp};
use crate::trace::{Append, OpKind, Trace};

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
        self.op(db, at, out)
    }

    fn op<B: Backend>(&self, db: &mut B, at: usize, out: &mut Outcomes) -> usize {
        let trace = self.trace;
        let op = at as u32;
        match self.groups.mode[at] {
            ReplayMode::AsTraced => {}
            ReplayMode::Skip => return at + 1,
            ReplayMode::AsCancel => {
                out.done(op, &db.transaction_cancel());
                return at + 1;
            }
        }
        match trace.ops[at].kind {
            OpKind::Fetch { key, .. } => {
                let got = db.fetch_with(trace.bytes(key), |data| data.map(|d| out.keep(d)));
                out.push(op, Outcome::Record(kind_of(&got).copied()));
            }
            OpKind::ParseRecord { key, .. } => {
                let got = db.parse_record(trace.bytes(key), |data| out.keep(data));
                let outcome = match got {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(error) => Err(error.kind),
                };
                out.push(op, Outcome::Record(outcome));
            }
            OpKind::Exists { key, .. } => {
                let got = db.exists(trace.bytes(key));
                out.push(op, Outcome::Found(kind_of(&got).copied()));
            }
            OpKind::Delete { key, .. } => out.done(op, &db.delete(trace.bytes(key))),
            OpKind::Store {
                key, data, flag, ..
            } => {
                let data = trace.rec(data).unwrap_or(&[]);
                out.done(op, &db.store(trace.bytes(key), data, flag));
            }
            OpKind::StoreV { key, data, flag } => {
                out.done(op, &db.store(trace.bytes(key), trace.bytes(data), flag));
            }
            OpKind::Append { key, append } => {
                let (Append::Result { appended, .. } | Append::Previous { appended, .. }) = append;
                let appended = trace.rec(appended).unwrap_or(&[]);
                out.done(op, &db.append(trace.bytes(key), appended));
            }
            OpKind::WipeAll => out.done(op, &db.wipe_all()),
            // The repack's own steps follow it in the trace and run one by one.
            OpKind::Repack => {}
            OpKind::TransactionStart => out.done(op, &db.transaction_start()),
            OpKind::TransactionPrepareCommit => {
                out.done(op, &db.transaction_prepare_commit());
            }
            OpKind::TransactionCommit => out.done(op, &db.transaction_commit()),
            OpKind::TransactionCancel { .. } => out.done(op, &db.transaction_cancel()),
            OpKind::TraverseStart { .. } => return self.traverse(db, at, out),
            // Only reachable for entries the groups did not pair with a start.
            OpKind::TraverseEntry { .. } | OpKind::TraverseEnd { .. } => {}
            OpKind::FirstKey { .. } => {
                let got = db.firstkey();
                self.key_walk(op, got, out);
            }
            OpKind::NextKey { key, result } => {
                let got = db.nextkey(trace.bytes(key));
                let last = got.as_ref().ok().cloned().flatten();
                self.key_walk(op, got, out);
                if result.is_none() {
                    // The recorded walk ended here and released its record lock: end
                    // this one too, so no lock outlives it.
                    let mut current = last;
                    while let Some(key) = current {
                        current = db.nextkey(&key).ok().flatten();
                    }
                }
            }
            OpKind::ChainLock { key, op: lock, ret } => {
                let key = trace.bytes(key);
                let got = db.chainlock(key, lock);
                out.done(op, &got);
                // A nonblocking lock the original process failed to get, but this one
                // (alone on its handle) got: release it, as the trace holds no lock.
                let unlock = match lock {
                    ChainLockOp::LockNonblock => Some(ChainLockOp::Unlock),
                    ChainLockOp::LockReadNonblock => Some(ChainLockOp::UnlockRead),
                    _ => None,
                };
                if let (Some(unlock), Some(ret), Ok(())) = (unlock, ret, &got) {
                    if ret != 0 {
                        out.done(op, &db.chainlock(key, unlock));
                    }
                }
            }
            OpKind::LockAll { op: lock, ret } => {
                let got = db.lockall(lock);
                out.done(op, &got);
                let unlock = match lock {
                    LockAllOp::LockNonblock => Some(LockAllOp::Unlock),
                    LockAllOp::LockReadNonblock => Some(LockAllOp::UnlockRead),
                    _ => None,
                };
                if let (Some(unlock), Some(ret), Ok(())) = (unlock, ret, &got) {
                    if ret != 0 {
                        out.done(op, &db.lockall(unlock));
                    }
                }
            }
            OpKind::GetSeqnum { .. } => {
                let got = db.get_seqnum();
                out.push(op, Outcome::Seqnum(kind_of(&got).copied()));
            }
        }
        at + 1
    }

    fn key_walk(
        &self,
        op: u32,
        got: crate::backend::TdbResult<Option<Vec<u8>>>,
        out: &mut Outcomes,
    ) {
        let outcome = match got {
            Ok(Some(key)) => Ok(Some(out.keep(&key))),
            Ok(None) => Ok(None),
            Err(error) => Err(error.kind),
        };
        out.push(op, Outcome::Record(outcome));
    }

    /// A traverse: the i-th record visited runs the ops recorded after the i-th entry,
    /// stopping where the trace's walk stopped; what the walk did not reach runs after it
    /// (except writes a read traverse refused, which stay refused by not running).
    fn traverse<B: Backend>(&self, db: &mut B, start: usize, out: &mut Outcomes) -> usize {
        let trace = self.trace;
        let OpKind::TraverseStart { kind } = trace.ops[start].kind else {
            unreachable!("traverse is only called on a traverse start");
        };
        let end = self.groups.end_of(start as u32) as usize;
        let end = end.min(trace.ops.len());
        let is_entry = |at: usize| matches!(trace.ops[at].kind, OpKind::TraverseEntry { .. });
        let mut cursor = start + 1;
        let walked = db.traverse(kind, &mut |db, key, data| {
            let visit = Outcome::Visit {
                key: out.keep(key),
                data: out.keep(data),
            };
            let at = if cursor < end { cursor } else { start };
            out.push(at as u32, visit);
            while cursor < end && !is_entry(cursor) {
                cursor = self.op(db, cursor, out);
            }
            if cursor < end {
                cursor += 1;
            }
            while cursor < end && !is_entry(cursor) {
                cursor = self.op(db, cursor, out);
            }
            if cursor >= end {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        let walked_at = end.min(trace.ops.len() - 1) as u32;
        out.push(walked_at, Outcome::Walked(kind_of(&walked).copied()));
        while cursor < end {
            if is_entry(cursor)
                || (self.groups.in_read_traverse[cursor]
                    && crate::analysis::keys::effect_kind_writes(&trace.ops[cursor].kind))
            {
                cursor += 1;
            } else {
                cursor = self.op(db, cursor, out);
            }
        }
        end + 1
    }
}
