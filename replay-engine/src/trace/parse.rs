//! A whole trace file: the first and last line, end-of-file rules, writer detection and
//! the implied transaction cancels and traverse ends (trace-replay.md 1.3, 1.7, 1.8).
//!
//! [`Builder`] is fed complete lines in pieces of any size (so the text never has to be
//! held whole) and [`Builder::finish`] applies every rule that needs the whole file.

use super::arena::Arena;
use super::error::{quote, LoadError};
use super::line::{parse_line, parse_open, Line};
use super::model::{Append, Flavour, Op, OpKind, OpenLine, Trace};
use crate::backend::{tdb_flags, ChainLockOp};

/// Which writer to assume for the lines that read differently (trace-replay.md 1.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FlavourChoice {
    /// Detect per file: Samba if a file has a `tdb_storev` or
    /// `tdb_chainlock_read_nonblock` line, `0x800` or `0x1000` in its open flags, or an
    /// append that only fits Samba's layout; ccan otherwise.
    #[default]
    Auto,
    /// ccan tdb, whatever the file looks like.
    Ccan,
    /// Samba tdb, whatever the file looks like.
    Samba,
}

impl std::str::FromStr for FlavourChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(FlavourChoice::Auto),
            "ccan" => Ok(FlavourChoice::Ccan),
            "samba" => Ok(FlavourChoice::Samba),
            _ => Err(format!(
                "unknown trace flavour \"{s}\" (expected auto, ccan or samba)"
            )),
        }
    }
}

/// Parses one trace file fed to it line by line.
#[derive(Debug)]
pub(crate) struct Builder {
    name: String,
    /// Lines consumed so far (the number of the last line seen).
    line_no: u32,
    open: Option<OpenLine>,
    /// Seqnum and line of `tdb_close`, once seen.
    close: Option<(u32, u32)>,
    ops: Vec<Op>,
    arena: Arena,
    warnings: Vec<String>,
    /// Whether some line only Samba writes was seen.
    samba_line: bool,
    /// Whether an append was seen at all.
    appends: bool,
    /// The longest line allowed (its LF not counted).
    max_line: usize,
}

impl Builder {
    /// A builder for the file called `name` in messages.
    pub(crate) fn new(name: &str) -> Self {
        Builder {
            name: name.to_owned(),
            line_no: 0,
            open: None,
            close: None,
            ops: Vec::new(),
            arena: Arena::default(),
            warnings: Vec::new(),
            samba_line: false,
            appends: false,
            max_line: super::input::DEFAULT_MAX_LINE_BYTES,
        }
    }

    /// Allows lines of at most `max_line` bytes (LF not counted).
    pub(crate) fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line;
        self
    }

    /// The error for the line after the last one fed: it is binary data or too long
    /// (what [`super::input::LineChunks`] stops at).
    pub(crate) fn unreadable_next_line(&self, chunk: &super::input::Chunk) -> LoadError {
        use super::input::Chunk;
        let line = self.line_no.saturating_add(1);
        let message = match chunk {
            Chunk::Binary { column } => format!(
                "binary data: a NUL byte {column} bytes into the line (is this a trace file?)"
            ),
            Chunk::Overlong { so_far } => self.overlong(*so_far),
            Chunk::Lines { .. } | Chunk::End(_) => "unreadable line".to_string(),
        };
        LoadError::parse(&self.name, line, message)
    }

    /// The message for a line of (at least) `len` bytes, over the limit.
    fn overlong(&self, len: usize) -> String {
        format!(
            "a line of more than {} bytes ({len} read without a newline): not a trace \
             line; if it really is one, raise the limit with --max-line-bytes",
            self.max_line
        )
    }

    /// Parses every complete (LF-terminated) line of `text` and returns how many bytes
    /// that consumed; the rest, a partial line, is left to the caller.
    pub(crate) fn feed(&mut self, text: &[u8]) -> Result<usize, LoadError> {
        let mut consumed = 0;
        for lf in memchr::memchr_iter(b'\n', text) {
            if lf - consumed > self.max_line {
                let message = self.overlong(lf - consumed);
                return Err(LoadError::parse(
                    &self.name,
                    self.line_no.saturating_add(1),
                    message,
                ));
            }
            self.line(&text[consumed..lf])?;
            consumed = lf + 1;
        }
        Ok(consumed)
    }

    /// Parses one line (without its LF).
    fn line(&mut self, line: &[u8]) -> Result<(), LoadError> {
        self.line_no = self
            .line_no
            .checked_add(1)
            .ok_or_else(|| LoadError::parse(&self.name, u32::MAX, "too many lines"))?;
        if self.close.is_some() {
            return Err(self.error(format!("unexpected line after tdb_close: {}", quote(line))));
        }
        let Some(_) = self.open else {
            let open = parse_open(line).map_err(|msg| self.line_error(line, msg))?;
            self.open = Some(open);
            return Ok(());
        };
        let arena_len = self.arena.len();
        let (seqnum, parsed) = match parse_line(line, &mut self.arena) {
            Ok(parsed) => parsed,
            Err(msg) => {
                self.arena.truncate(arena_len);
                return Err(self.line_error(line, msg));
            }
        };
        let kind = match parsed {
            Line::Close => {
                self.close = Some((seqnum, self.line_no));
                return Ok(());
            }
            Line::Op(kind) => kind,
        };
        match &kind {
            OpKind::StoreV { .. }
            | OpKind::ChainLock {
                op: ChainLockOp::LockReadNonblock,
                ..
            } => self.samba_line = true,
            OpKind::Append {
                append: Append::Result { appended, result },
                ..
            } => {
                self.appends = true;
                // ccan writes the record after the append, which ends with the appended
                // bytes; a line where it does not can only be Samba's previous/appended.
                let appended = self.arena_rec(*appended).unwrap_or(&[]);
                if !self
                    .arena_rec(*result)
                    .is_some_and(|r| r.ends_with(appended))
                {
                    self.samba_line = true;
                }
            }
            _ => {}
        }
        self.ops.push(Op {
            seqnum,
            line: self.line_no,
            kind,
        });
        Ok(())
    }

    fn arena_rec(&self, rec: Option<super::model::Span>) -> Option<&[u8]> {
        rec.map(|s| self.arena.get(s))
    }

    /// A parse error at the current line.
    fn error(&self, message: String) -> LoadError {
        LoadError::parse(&self.name, self.line_no, message)
    }

    /// A parse error for `line`, naming a carriage return when there is one (no writer
    /// produces them, so it is the likeliest cause).
    fn line_error(&self, line: &[u8], message: String) -> LoadError {
        if let Some(column) = memchr::memchr(0, line) {
            self.error(format!(
                "binary data: a NUL byte {column} bytes into the line (is this a trace file?)"
            ))
        } else if line.contains(&b'\r') {
            self.error(format!(
                "carriage return in line (CRLF line endings?): {}",
                quote(line)
            ))
        } else {
            self.error(message)
        }
    }

    /// Finishes the file: `torn` is whatever followed the last LF (empty when the file
    /// ended with one).
    pub(crate) fn finish(mut self, torn: &[u8], choice: FlavourChoice) -> Result<Trace, LoadError> {
        if torn.len() > self.max_line {
            let message = self.overlong(torn.len());
            return Err(LoadError::parse(
                &self.name,
                self.line_no.saturating_add(1),
                message,
            ));
        }
        if !torn.is_empty() {
            let after_close = self.close.is_some();
            if let Err(err) = self.line(torn) {
                if after_close {
                    return Err(err);
                }
                self.warnings.push(format!(
                    "{}:{}: dropped the torn last line ({} bytes, no newline at end of file): {}",
                    self.name,
                    self.line_no,
                    torn.len(),
                    match &err {
                        LoadError::Parse { message, .. } => message.as_str(),
                        LoadError::Io { .. } | LoadError::Unopened { .. } => "unreadable",
                    }
                ));
            }
        }
        let Some(open) = self.open else {
            return Err(LoadError::Unopened { file: self.name });
        };
        let flavour = match choice {
            FlavourChoice::Ccan => Flavour::Ccan,
            FlavourChoice::Samba => Flavour::Samba,
            FlavourChoice::Auto => {
                let samba_flags = tdb_flags::INCOMPATIBLE_HASH | tdb_flags::MUTEX_LOCKING;
                if self.samba_line || open.tdb_flags & samba_flags != 0 {
                    Flavour::Samba
                } else {
                    Flavour::Ccan
                }
            }
        };
        if flavour == Flavour::Samba && self.appends {
            for op in &mut self.ops {
                if let OpKind::Append { append, .. } = &mut op.kind {
                    if let Append::Result { appended, result } = *append {
                        *append = Append::Previous {
                            previous: appended,
                            appended: result,
                        };
                    }
                }
            }
        }
        // The last line kept, and its seqnum: where synthetic ops are placed.
        let (last_seqnum, last_line) = match (self.close, self.ops.last()) {
            (Some(close), _) => close,
            (None, Some(op)) => (op.seqnum, op.line),
            (None, None) => (open.seqnum, 1),
        };
        if self.close.is_none() {
            self.warnings.push(format!(
                "{}:{last_line}: incomplete trace: no tdb_close",
                self.name
            ));
        }
        let restarts = flavour == Flavour::Ccan && open.tdb_flags & tdb_flags::ALLOW_NESTING == 0;
        let ops = close_frames(self.ops, restarts, last_seqnum, last_line);
        Ok(Trace {
            name: self.name,
            open,
            ops,
            arena: self.arena.into_bytes(),
            closed: self.close.is_some(),
            close_seqnum: self.close.map(|(seqnum, _)| seqnum),
            flavour,
            warnings: self.warnings,
        })
    }
}

/// Something opened by one line and closed by a later one.
#[derive(Clone, Copy, Debug)]
enum Frame {
    /// A transaction, with the seqnum of its start.
    Transaction(u32),
    /// A traverse.
    Traverse,
}

/// Adds the implied ops: a cancel before a ccan restart (a second start without nesting
/// allowed, when `restarts`), and at the end a cancel per transaction level and an end per
/// traverse still open, innermost first.
fn close_frames(mut ops: Vec<Op>, restarts: bool, last_seqnum: u32, last_line: u32) -> Vec<Op> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut restart_at: Vec<usize> = Vec::new();
    let innermost_txn = |stack: &[Frame]| {
        stack
            .iter()
            .rposition(|f| matches!(f, Frame::Transaction(_)))
    };
    for (i, op) in ops.iter().enumerate() {
        match op.kind {
            OpKind::TransactionStart => {
                if restarts {
                    if let Some(j) = innermost_txn(&stack) {
                        stack.remove(j);
                        restart_at.push(i);
                    }
                }
                stack.push(Frame::Transaction(op.seqnum));
            }
            // Samba traces commits and cancels of untraced nested starts: an extra one
            // is left for the analysis, only the depth must not go negative.
            OpKind::TransactionCommit | OpKind::TransactionCancel { .. } => {
                if let Some(j) = innermost_txn(&stack) {
                    stack.remove(j);
                }
            }
            OpKind::TraverseStart { .. } => stack.push(Frame::Traverse),
            OpKind::TraverseEnd { .. } => {
                if let Some(j) = stack.iter().rposition(|f| matches!(f, Frame::Traverse)) {
                    stack.remove(j);
                }
            }
            _ => {}
        }
    }
    if !restart_at.is_empty() {
        let mut out = Vec::with_capacity(ops.len() + restart_at.len() + stack.len());
        let mut next = restart_at.iter().copied().peekable();
        for (i, op) in ops.into_iter().enumerate() {
            if next.next_if_eq(&i).is_some() {
                out.push(Op {
                    seqnum: op.seqnum,
                    line: op.line,
                    kind: OpKind::TransactionCancel { implied: true },
                });
            }
            out.push(op);
        }
        ops = out;
    }
    for frame in stack.into_iter().rev() {
        let (seqnum, kind) = match frame {
            Frame::Transaction(start_seqnum) => {
                (start_seqnum, OpKind::TransactionCancel { implied: true })
            }
            Frame::Traverse => (
                last_seqnum,
                OpKind::TraverseEnd {
                    stopped_after: None,
                },
            ),
        };
        ops.push(Op {
            seqnum,
            line: last_line,
            kind,
        });
    }
    ops
}

#[cfg(test)]
mod tests;
