//! Writing a parsed [`Trace`] back as trace text, whole or only the ops a caller keeps, in
//! the trace's own layout (ccan or Samba `tdb_append`) and with its own seqnums, so that
//! parsing the text again gives the same ops.
//!
//! Ops the parser implied (`TransactionCancel { implied: true }`) are not written: the
//! parser implies them again wherever the written text calls for them. A `traverse` line
//! keeps its key and data; a `traversefn` line stays reduced. When some entries of a
//! traverse are left out, its `tdb_traverse_end = n` is lowered to the entries kept (and
//! the `= n` dropped when none is), so the count never exceeds the records listed.

use std::io::{self, Write};

use super::model::{Append, OpKind, Trace};
use super::writer::TraceWriter;

/// What [`emit`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Emitted {
    /// Op lines written (the open and close lines not counted).
    pub ops: usize,
}

/// Whether an op stands for a line of the file (the parser's implied ops do not).
pub fn is_written(kind: &OpKind) -> bool {
    !matches!(kind, OpKind::TransactionCancel { implied: true })
}

/// Write `trace` to `out`: the `tdb_open` line, every op `keep` accepts (by index into
/// `trace.ops`) that stands for a line, and `tdb_close` if the file had one.
pub fn emit<W: Write>(trace: &Trace, keep: impl Fn(usize) -> bool, out: W) -> io::Result<Emitted> {
    let mut out = TraceWriter::new(out);
    let open = &trace.open;
    out.open(
        open.seqnum as i32,
        open.hash_size,
        open.tdb_flags,
        open.open_flags as i32,
    )?;
    let mut emitted = Emitted::default();
    // Per open traverse: whether its start was written, and the entries written so far.
    let mut traverses: Vec<(bool, u32)> = Vec::new();
    let mut last_seqnum = open.seqnum;
    for (index, op) in trace.ops.iter().enumerate() {
        let kept = keep(index) && is_written(&op.kind);
        match op.kind {
            OpKind::TraverseStart { .. } => traverses.push((kept, 0)),
            OpKind::TraverseEntry { .. } if kept => {
                if let Some((_, entries)) = traverses.last_mut() {
                    *entries += 1;
                }
            }
            _ => {}
        }
        let stopped_after = match op.kind {
            OpKind::TraverseEnd { stopped_after } => {
                let open = traverses.pop();
                match (stopped_after, open) {
                    (Some(count), Some((true, entries))) => {
                        Some(count.min(entries)).filter(|&n| n > 0)
                    }
                    (stopped_after, _) => stopped_after,
                }
            }
            _ => None,
        };
        if !kept {
            continue;
        }
        write_op(&mut out, trace, op.seqnum, &op.kind, stopped_after)?;
        emitted.ops += 1;
        last_seqnum = op.seqnum;
    }
    if trace.closed {
        out.bare(
            trace.close_seqnum.unwrap_or(last_seqnum) as i32,
            "tdb_close",
        )?;
    }
    out.flush()?;
    Ok(emitted)
}

/// The whole of `trace` as text.
pub fn emit_all(trace: &Trace) -> Vec<u8> {
    let mut text = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = emit(trace, |_| true, &mut text);
    text
}

/// One op's line; `stopped_after` is the count to write for a `tdb_traverse_end`.
fn write_op<W: Write>(
    out: &mut TraceWriter<W>,
    trace: &Trace,
    seqnum: u32,
    kind: &OpKind,
    stopped_after: Option<u32>,
) -> io::Result<()> {
    let seqnum = seqnum as i32;
    let bytes = |span| trace.bytes(span);
    match *kind {
        OpKind::Fetch { key, result } => out.fetch(seqnum, bytes(key), trace.rec(result)),
        OpKind::ParseRecord { key, ret } => {
            out.key_ret(seqnum, "tdb_parse_record", bytes(key), ret)
        }
        OpKind::Exists { key, ret } => out.key_ret(seqnum, "tdb_exists", bytes(key), ret),
        OpKind::Delete { key, ret } => out.key_ret(seqnum, "tdb_delete", bytes(key), ret),
        OpKind::Store {
            key,
            data,
            flag,
            ret,
        } => out.store_rec(seqnum, bytes(key), trace.rec(data), flag, ret),
        // The parts were joined when parsed; one part stores the same record. The traced
        // ret is always -1 (a Samba bug), and it is never read.
        OpKind::StoreV { key, data, flag } => {
            out.storev(seqnum, bytes(key), [bytes(data)], flag, -1)
        }
        OpKind::Append {
            key,
            append: Append::Result { appended, result },
        } => out.append_words(seqnum, bytes(key), trace.rec(appended), trace.rec(result)),
        OpKind::Append {
            key,
            append: Append::Previous { previous, appended },
        } => out.append_previous(seqnum, bytes(key), trace.rec(previous), trace.rec(appended)),
        OpKind::TraverseStart { kind } => out.traverse_start(seqnum, kind),
        OpKind::TraverseEntry {
            record: Some((key, data)),
        } => out.traverse_entry(seqnum, bytes(key), bytes(data)),
        OpKind::TraverseEntry { record: None } => out.traversefn(seqnum),
        OpKind::TraverseEnd { .. } => out.traverse_end(seqnum, stopped_after),
        OpKind::FirstKey { result } => out.key_walk(seqnum, None, trace.rec(result)),
        OpKind::NextKey { key, result } => {
            out.key_walk(seqnum, Some(bytes(key)), trace.rec(result))
        }
        OpKind::ChainLock { key, op, ret } => out.chainlock(seqnum, op, bytes(key), ret),
        OpKind::LockAll { op, ret } => out.lockall(seqnum, op, ret),
        OpKind::GetSeqnum { ret } => out.get_seqnum(seqnum, ret),
        OpKind::WipeAll
        | OpKind::Repack
        | OpKind::TransactionStart
        | OpKind::TransactionPrepareCommit
        | OpKind::TransactionCommit
        | OpKind::TransactionCancel { .. } => out.bare(seqnum, kind.name()),
    }
}

#[cfg(test)]
mod tests;
