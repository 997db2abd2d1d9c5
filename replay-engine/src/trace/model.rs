//! The typed form of a trace file: one [`Op`] per line, records as spans of one shared
//! byte arena per file (so a 646 MB trace is a handful of allocations, not millions).

use crate::backend::{ChainLockOp, LockAllOp, StoreFlag, TraverseKind};

/// A byte string stored in a trace's arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Offset into [`Trace::arena`].
    pub start: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Span {
    /// The empty span.
    pub const EMPTY: Span = Span { start: 0, len: 0 };
}

/// A record as traces write it: `NULL` (no record) or `len:hex` (possibly empty).
pub type Rec = Option<Span>;

/// Which program wrote a trace; it decides how a few ambiguous lines read (see
/// trace-replay.md 1.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavour {
    /// ccan tdb (2009-2012): `tdb_append K appended = result`; a second
    /// `tdb_transaction_start` without nesting allowed silently cancels the first.
    Ccan,
    /// Samba tdb: `tdb_append K previous = appended`; nested starts are not traced but
    /// their commit or cancel is.
    Samba,
}

/// The first line: `S tdb_open <hash_size> <tdb_flags> <open_flags>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenLine {
    /// The seqnum that starts the line.
    pub seqnum: u32,
    /// Hash size requested (after 0 became 131).
    pub hash_size: u32,
    /// `TDB_*` flags as traced.
    pub tdb_flags: u32,
    /// `O_*` flags as traced.
    pub open_flags: u32,
}

/// What `tdb_append` recorded, in the writer's own layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Append {
    /// ccan: the appended bytes and the whole record after the append.
    Result {
        /// The data appended.
        appended: Rec,
        /// The record afterwards.
        result: Rec,
    },
    /// Samba: the record before the append (`NULL` if absent) and the data appended.
    Previous {
        /// The record before.
        previous: Rec,
        /// The data appended.
        appended: Rec,
    },
}

/// One traced operation (every line after `tdb_open`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// `tdb_fetch K = D`.
    Fetch { key: Span, result: Rec },
    /// `tdb_parse_record K = ret` (0 found, negative absent).
    ParseRecord { key: Span, ret: i32 },
    /// `tdb_exists K = ret`.
    Exists { key: Span, ret: i32 },
    /// `tdb_delete K = ret`.
    Delete { key: Span, ret: i32 },
    /// `tdb_store K D flag = ret`.
    Store {
        key: Span,
        data: Rec,
        flag: StoreFlag,
        ret: i32,
    },
    /// `tdb_storev K D1 .. Dn flag = ret`: stores the concatenation; its traced ret is
    /// unreliable (always -1, a Samba bug), so it is never checked.
    StoreV {
        key: Span,
        /// The concatenation of every part, already joined in the arena.
        data: Span,
        flag: StoreFlag,
    },
    /// `tdb_append`.
    Append { key: Span, append: Append },
    /// `tdb_wipe_all`.
    WipeAll,
    /// `tdb_repack`.
    Repack,
    /// `tdb_transaction_start`.
    TransactionStart,
    /// `tdb_transaction_prepare_commit`.
    TransactionPrepareCommit,
    /// `tdb_transaction_commit`.
    TransactionCommit,
    /// `tdb_transaction_cancel`; `implied` when the parser added it (a trace that ended,
    /// or that started a new transaction, with one still open).
    TransactionCancel { implied: bool },
    /// `tdb_traverse_start` / `tdb_traverse_read_start`.
    TraverseStart { kind: TraverseKind },
    /// `traverse K = D` (full traces) or `traversefn` (reduced): one visited record.
    TraverseEntry { record: Option<(Span, Span)> },
    /// `tdb_traverse_end` (`= n` when the callback stopped the walk).
    TraverseEnd { stopped_after: Option<u32> },
    /// `tdb_firstkey = K`.
    FirstKey { result: Rec },
    /// `tdb_nextkey oldK = K`.
    NextKey { key: Span, result: Rec },
    /// The chain-lock family; `ret` only for the nonblocking calls.
    ChainLock {
        key: Span,
        op: ChainLockOp,
        ret: Option<i32>,
    },
    /// The all-record lock family; `ret` only for the nonblocking calls.
    LockAll { op: LockAllOp, ret: Option<i32> },
    /// `tdb_get_seqnum = n`.
    GetSeqnum { ret: i32 },
}

/// One line of a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// The seqnum that starts the line.
    pub seqnum: u32,
    /// 1-based line number in the file (synthetic ops carry the line they were implied at).
    pub line: u32,
    /// What the line does.
    pub kind: OpKind,
}

/// A parsed trace file.
#[derive(Debug)]
pub struct Trace {
    /// The path as given by the user (for messages).
    pub name: String,
    /// The `tdb_open` line.
    pub open: OpenLine,
    /// Every op after `tdb_open`, in file order, `tdb_close` excluded.
    pub ops: Vec<Op>,
    /// Backing store of every [`Span`] in `ops`.
    pub arena: Vec<u8>,
    /// Whether the file ended with `tdb_close`.
    pub closed: bool,
    /// The seqnum of the `tdb_close` line, if there is one.
    pub close_seqnum: Option<u32>,
    /// The writer, as given or detected.
    pub flavour: Flavour,
    /// Notes for the user (an incomplete trace, a dropped torn last line).
    pub warnings: Vec<String>,
}

impl Trace {
    /// Where op `op` is, as `file:line`, for messages.
    pub fn location(&self, op: u32) -> String {
        match self.ops.get(op as usize) {
            Some(found) => format!("{}:{}", self.name, found.line),
            None => self.name.clone(),
        }
    }

    /// The bytes of a span.
    #[inline]
    pub fn bytes(&self, span: Span) -> &[u8] {
        &self.arena[span.start..span.start + span.len]
    }

    /// The bytes of a record (`None` for `NULL`).
    #[inline]
    pub fn rec(&self, rec: Rec) -> Option<&[u8]> {
        rec.map(|span| self.bytes(span))
    }
}

impl OpKind {
    /// The key the op names, if it names one (a traverse entry's key is the record it
    /// visited, not one it asked for, and is not counted).
    pub fn key(&self) -> Option<Span> {
        match *self {
            OpKind::Fetch { key, .. }
            | OpKind::ParseRecord { key, .. }
            | OpKind::Exists { key, .. }
            | OpKind::Delete { key, .. }
            | OpKind::Store { key, .. }
            | OpKind::StoreV { key, .. }
            | OpKind::Append { key, .. }
            | OpKind::NextKey { key, .. }
            | OpKind::ChainLock { key, .. } => Some(key),
            _ => None,
        }
    }
}

impl Op {
    /// The op's name as it appears in traces (`tdb_fetch`, `traversefn`, ...).
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }
}

impl OpKind {
    /// The name of the line as it appears in traces (`tdb_fetch`, `traversefn`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            OpKind::Fetch { .. } => "tdb_fetch",
            OpKind::ParseRecord { .. } => "tdb_parse_record",
            OpKind::Exists { .. } => "tdb_exists",
            OpKind::Delete { .. } => "tdb_delete",
            OpKind::Store { .. } => "tdb_store",
            OpKind::StoreV { .. } => "tdb_storev",
            OpKind::Append { .. } => "tdb_append",
            OpKind::WipeAll => "tdb_wipe_all",
            OpKind::Repack => "tdb_repack",
            OpKind::TransactionStart => "tdb_transaction_start",
            OpKind::TransactionPrepareCommit => "tdb_transaction_prepare_commit",
            OpKind::TransactionCommit => "tdb_transaction_commit",
            OpKind::TransactionCancel { .. } => "tdb_transaction_cancel",
            OpKind::TraverseStart {
                kind: TraverseKind::Write,
            } => "tdb_traverse_start",
            OpKind::TraverseStart {
                kind: TraverseKind::Read,
            } => "tdb_traverse_read_start",
            OpKind::TraverseEntry { record: Some(_) } => "traverse",
            OpKind::TraverseEntry { record: None } => "traversefn",
            OpKind::TraverseEnd { .. } => "tdb_traverse_end",
            OpKind::FirstKey { .. } => "tdb_firstkey",
            OpKind::NextKey { .. } => "tdb_nextkey",
            OpKind::ChainLock { op, .. } => chainlock_name(*op),
            OpKind::LockAll { op, .. } => lockall_name(*op),
            OpKind::GetSeqnum { .. } => "tdb_get_seqnum",
        }
    }
}

/// The traced name of a chain-lock call.
pub fn chainlock_name(op: ChainLockOp) -> &'static str {
    match op {
        ChainLockOp::Lock => "tdb_chainlock",
        ChainLockOp::LockNonblock => "tdb_chainlock_nonblock",
        ChainLockOp::LockRead => "tdb_chainlock_read",
        ChainLockOp::LockReadNonblock => "tdb_chainlock_read_nonblock",
        ChainLockOp::Mark => "tdb_chainlock_mark",
        ChainLockOp::Unmark => "tdb_chainlock_unmark",
        ChainLockOp::Unlock => "tdb_chainunlock",
        ChainLockOp::UnlockRead => "tdb_chainunlock_read",
    }
}

/// The traced name of an all-record lock call.
pub fn lockall_name(op: LockAllOp) -> &'static str {
    match op {
        LockAllOp::Lock => "tdb_lockall",
        LockAllOp::LockNonblock => "tdb_lockall_nonblock",
        LockAllOp::LockRead => "tdb_lockall_read",
        LockAllOp::LockReadNonblock => "tdb_lockall_read_nonblock",
        LockAllOp::Mark => "tdb_lockall_mark",
        LockAllOp::Unmark => "tdb_lockall_unmark",
        LockAllOp::Unlock => "tdb_unlockall",
        LockAllOp::UnlockRead => "tdb_unlockall_read",
    }
}
