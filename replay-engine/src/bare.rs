//! The baseline for the replay benchmark: one trace's ops called on a backend as fast as
//! possible, with no dependency waits, no result checks and no progress publishing.
//! Comparing a replay with this shows what the replay machinery costs.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use crate::analysis::{Groups, ReplayMode};
use crate::backend::Backend;
use crate::trace::{Append, OpKind, Trace};

/// Run every op of `trace` on `db`, ignoring results; returns the time taken.
pub fn run<B: Backend>(db: &mut B, trace: &Trace, groups: &Groups) -> Duration {
    let started = Instant::now();
    let mut at = 0;
    while at < trace.ops.len() {
        at = call(db, trace, groups, at);
    }
    started.elapsed()
}

/// Make the backend call for op `at`; returns the next op.
fn call<B: Backend>(db: &mut B, trace: &Trace, groups: &Groups, at: usize) -> usize {
    if groups.mode[at] == ReplayMode::Skip {
        return at + 1;
    }
    if groups.mode[at] == ReplayMode::AsCancel {
        let _ = db.transaction_cancel();
        return at + 1;
    }
    let bytes = |span| trace.bytes(span);
    match trace.ops[at].kind {
        OpKind::Fetch { key, .. } => {
            let _ = db.fetch_with(bytes(key), |data| data.map(<[u8]>::len));
        }
        OpKind::ParseRecord { key, .. } => {
            let _ = db.parse_record(bytes(key), |data| data.len());
        }
        OpKind::Exists { key, .. } => {
            let _ = db.exists(bytes(key));
        }
        OpKind::Delete { key, .. } => {
            let _ = db.delete(bytes(key));
        }
        OpKind::Store {
            key, data, flag, ..
        } => {
            let _ = db.store(bytes(key), trace.rec(data).unwrap_or(&[]), flag);
        }
        OpKind::StoreV { key, data, flag } => {
            let _ = db.store(bytes(key), bytes(data), flag);
        }
        OpKind::Append { key, append } => {
            let (Append::Result { appended, .. } | Append::Previous { appended, .. }) = append;
            let _ = db.append(bytes(key), trace.rec(appended).unwrap_or(&[]));
        }
        OpKind::WipeAll => {
            let _ = db.wipe_all();
        }
        OpKind::Repack | OpKind::TraverseEntry { .. } | OpKind::TraverseEnd { .. } => {}
        OpKind::TransactionStart => {
            let _ = db.transaction_start();
        }
        OpKind::TransactionPrepareCommit => {
            let _ = db.transaction_prepare_commit();
        }
        OpKind::TransactionCommit => {
            let _ = db.transaction_commit();
        }
        OpKind::TransactionCancel { .. } => {
            let _ = db.transaction_cancel();
        }
        OpKind::TraverseStart { kind } => {
            let end = groups.end_of(at as u32) as usize;
            let is_entry = |i: usize| matches!(trace.ops[i].kind, OpKind::TraverseEntry { .. });
            let mut cursor = at + 1;
            let _ = db.traverse(kind, &mut |db, _, _| {
                if cursor < end && is_entry(cursor) {
                    cursor += 1;
                }
                while cursor < end && !is_entry(cursor) {
                    cursor = call(db, trace, groups, cursor);
                }
                if cursor >= end {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            while cursor < end {
                cursor = if is_entry(cursor) {
                    cursor + 1
                } else {
                    call(db, trace, groups, cursor)
                };
            }
            return end + 1;
        }
        OpKind::FirstKey { .. } => {
            let _ = db.firstkey();
        }
        OpKind::NextKey { key, .. } => {
            let _ = db.nextkey(bytes(key));
        }
        OpKind::ChainLock { key, op, .. } => {
            let _ = db.chainlock(bytes(key), op);
        }
        OpKind::LockAll { op, .. } => {
            let _ = db.lockall(op);
        }
        OpKind::GetSeqnum { .. } => {
            let _ = db.get_seqnum();
        }
    }
    at + 1
}
