//! Traces of processes that were killed in `tdb_transaction_commit`.
//!
//! tdb writes the commit line before it commits, so a trace that ends (with no
//! `tdb_close`) on that line does not say whether the commit finished: if the process
//! died first, the next opener rolled the transaction back from the recovery area. Most
//! such kills find the process after the commit, waiting for the lock of its next
//! transaction (whose line tdb writes once it has the lock), so a commit is taken as
//! finished unless the other traces prove otherwise: a key only this process writes,
//! read by another process with the value it held before the transaction, at a sequence
//! number past the transaction's start (no process can write while a transaction is
//! open, so a larger number means the transaction was over), while no read shows the
//! value the transaction left. Such a commit is replayed as the recovery left it: as a
//! cancel.

use std::collections::{HashMap, HashSet};

use super::model::{Append, OpKind, Trace};

/// A key's record: `None` when it does not exist.
type Record = Option<Vec<u8>>;

/// Settle every trace that ends in an interrupted commit, noting what was decided.
pub(crate) fn settle(traces: &mut [Trace]) {
    for index in 0..traces.len() {
        let Some(start) = interrupted_transaction(&traces[index]) else {
            continue;
        };
        let rolled_back = evidence_of_rollback(traces, index, start);
        let trace = &mut traces[index];
        let last = trace.ops.len() - 1;
        let line = trace.ops[last].line;
        if rolled_back {
            trace.ops[last].kind = OpKind::TransactionCancel { implied: true };
            trace.warnings.push(format!(
                "{}:{line}: the process died in tdb_transaction_commit before it finished \
                 (another process read what it had changed as it was before); replayed as the \
                 next opener's recovery left it: rolled back",
                trace.name
            ));
        } else {
            trace.warnings.push(format!(
                "{}:{line}: the process died in or after tdb_transaction_commit; replayed as \
                 committed (no other process read the records it changed as they were before)",
                trace.name
            ));
        }
    }
}

/// The index of the outermost start of the transaction an unclosed trace's last line
/// commits, if it ends that way.
fn interrupted_transaction(trace: &Trace) -> Option<usize> {
    if trace.closed || !matches!(trace.ops.last()?.kind, OpKind::TransactionCommit) {
        return None;
    }
    let mut depth = 0usize;
    for (index, op) in trace.ops.iter().enumerate().rev() {
        match op.kind {
            OpKind::TransactionCommit | OpKind::TransactionCancel { .. } => depth += 1,
            OpKind::TransactionStart => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(index);
                }
            }
            _ => {}
        }
    }
    None
}

/// What op `op` of `trace` left `key` holding, if it wrote it.
fn written(trace: &Trace, kind: &OpKind) -> Option<(Vec<u8>, Record)> {
    let (key, record) = match kind {
        OpKind::Store { key, data, ret, .. } if *ret == 0 => (
            *key,
            Some(trace.rec(*data).map(<[u8]>::to_vec).unwrap_or_default()),
        ),
        OpKind::StoreV { key, data, .. } => (*key, Some(trace.bytes(*data).to_vec())),
        OpKind::Append {
            key,
            append: Append::Result { result, .. },
        } => (*key, trace.rec(*result).map(<[u8]>::to_vec)),
        OpKind::Append {
            key,
            append: Append::Previous { previous, appended },
        } => {
            let mut whole = trace.rec(*previous).map(<[u8]>::to_vec).unwrap_or_default();
            whole.extend_from_slice(trace.rec(*appended).unwrap_or_default());
            (*key, Some(whole))
        }
        OpKind::Delete { key, ret } if *ret == 0 => (*key, None),
        _ => return None,
    };
    Some((trace.bytes(key).to_vec(), record))
}

/// What op `kind` of `trace` saw `key` holding, if it read it.
fn read(trace: &Trace, kind: &OpKind) -> Option<(Vec<u8>, Record)> {
    match kind {
        OpKind::Fetch { key, result } => Some((
            trace.bytes(*key).to_vec(),
            trace.rec(*result).map(<[u8]>::to_vec),
        )),
        OpKind::TraverseEntry {
            record: Some((key, data)),
        } => Some((
            trace.bytes(*key).to_vec(),
            Some(trace.bytes(*data).to_vec()),
        )),
        _ => None,
    }
}

/// Whether the other traces prove that the transaction of trace `index` from op `start`
/// on was rolled back (see the module notes).
fn evidence_of_rollback(traces: &[Trace], index: usize, start: usize) -> bool {
    let trace = &traces[index];
    if traces
        .iter()
        .any(|t| t.ops.iter().any(|op| op.kind == OpKind::WipeAll))
    {
        return false;
    }
    // What the transaction left, and what each key held before it (where known).
    let mut after: HashMap<Vec<u8>, Record> = HashMap::new();
    for op in &trace.ops[start..] {
        if let Some((key, record)) = written(trace, &op.kind) {
            after.insert(key, record);
        }
    }
    // A key no other process writes that this one had not written did not exist.
    let mut before: HashMap<Vec<u8>, Record> =
        after.keys().map(|key| (key.clone(), None)).collect();
    for op in &trace.ops[..start] {
        if let Some((key, record)) = written(trace, &op.kind).or_else(|| read(trace, &op.kind)) {
            if after.contains_key(&key) {
                before.insert(key, record);
            }
        }
    }
    // Only keys no other process writes tell anything.
    let others_write: HashSet<Vec<u8>> = traces
        .iter()
        .enumerate()
        .filter(|&(other, _)| other != index)
        .flat_map(|(_, t)| t.ops.iter().filter_map(|op| written(t, &op.kind)))
        .map(|(key, _)| key)
        .collect();
    let start_seqnum = trace.ops[start].seqnum;
    let mut stale_read = false;
    for (other, t) in traces.iter().enumerate() {
        if other == index {
            continue;
        }
        // A whole traverse that did not visit a key saw it absent.
        for (walk_seqnum, visited) in complete_traverses(t) {
            for (key, new) in &after {
                if others_write.contains(key) || visited.contains(key) {
                    continue;
                }
                match (new, before.get(key)) {
                    (None, Some(Some(_))) => return false,
                    (Some(_), Some(None)) if walk_seqnum > start_seqnum => stale_read = true,
                    _ => {}
                }
            }
        }
        for op in &t.ops {
            let Some((key, seen)) = read(t, &op.kind) else {
                continue;
            };
            if others_write.contains(&key) {
                continue;
            }
            let (Some(new), Some(old)) = (after.get(&key), before.get(&key)) else {
                continue;
            };
            if new == old {
                continue;
            }
            if &seen == new {
                return false;
            }
            if &seen == old && op.seqnum > start_seqnum {
                stale_read = true;
            }
        }
    }
    stale_read
}

/// Every traverse of `trace` that walked to the end (not stopped by its callback), with
/// the sequence number of its start and the keys it visited.
fn complete_traverses(trace: &Trace) -> Vec<(u32, HashSet<Vec<u8>>)> {
    let mut walks = Vec::new();
    let mut open: Vec<(u32, HashSet<Vec<u8>>, bool)> = Vec::new();
    for op in &trace.ops {
        match &op.kind {
            OpKind::TraverseStart { .. } => open.push((op.seqnum, HashSet::new(), true)),
            OpKind::TraverseEntry { record } => match (record, open.last_mut()) {
                (Some((key, _)), Some(walk)) => {
                    walk.1.insert(trace.bytes(*key).to_vec());
                }
                // A reduced trace does not say which keys it visited.
                (None, Some(walk)) => walk.2 = false,
                _ => {}
            },
            OpKind::TraverseEnd { stopped_after } => {
                if let Some((seqnum, visited, known)) = open.pop() {
                    if known && stopped_after.is_none() {
                        walks.push((seqnum, visited));
                    }
                }
            }
            _ => {}
        }
    }
    walks
}
