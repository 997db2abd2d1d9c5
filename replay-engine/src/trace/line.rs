//! One line of a trace to one typed op.
//!
//! Grammar (trace-replay.md 1.2): `seqnum " " opname { " " word }`, words separated by
//! exactly one space; records are `NULL` or `<len>:<hex>`. Everything is validated: a
//! record's length is checked against the digits actually on the line before anything is
//! allocated, and the digits are decoded straight into the trace's arena.
//!
//! Errors are plain messages; the caller adds `file:line:`.

use super::arena::Arena;
use super::error::{found, quote};
use super::hex;
use super::model::{Append, OpKind, OpenLine, Rec, Span};
use crate::backend::{ChainLockOp, LockAllOp, StoreFlag, TraverseKind};

/// What a line after `tdb_open` holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// An op.
    Op(OpKind),
    /// `tdb_close`.
    Close,
}

/// The grammar of the first line, for messages.
const OPEN_GRAMMAR: &str = "<seqnum> tdb_open <hash_size> <tdb_flags> <open_flags>";

/// Parses the first line, `S tdb_open <hash_size> <tdb_flags> <open_flags>`.
pub(crate) fn parse_open(line: &[u8]) -> Result<OpenLine, String> {
    let wrong = || format!("expected {OPEN_GRAMMAR}, {}", found(line));
    let mut words = line.split(|&c| c == b' ');
    let mut next = || words.next().ok_or_else(wrong);
    let seqnum = parse_u32(next()?).ok_or_else(wrong)?;
    if next()? != b"tdb_open" {
        return Err(wrong());
    }
    let hash_size = parse_u32(next()?).ok_or_else(wrong)?;
    let tdb_flags = parse_base0(next()?).ok_or_else(wrong)?;
    let open_flags = parse_base0(next()?).ok_or_else(wrong)?;
    if words.next().is_some() {
        return Err(wrong());
    }
    Ok(OpenLine {
        seqnum,
        hash_size,
        tdb_flags,
        open_flags,
    })
}

/// Parses a line after the first: its seqnum and what it does. Records are decoded onto
/// the end of `arena`; on error the arena may hold part of the line's records (the caller
/// truncates it).
pub(crate) fn parse_line(line: &[u8], arena: &mut Arena) -> Result<(u32, Line), String> {
    if line.is_empty() {
        return Err("blank line (expected <seqnum> <operation>)".to_owned());
    }
    let (seq_word, rest) = split_word(line);
    let seqnum = parse_u32(seq_word).ok_or_else(|| {
        format!(
            "expected a seqnum (32-bit unsigned decimal) at the start of the line, {}",
            found(seq_word)
        )
    })?;
    let Some(rest) = rest else {
        return Err(format!(
            "expected <seqnum> <operation>, {}",
            found(seq_word)
        ));
    };
    let (name, args) = split_word(rest);
    if name.is_empty() {
        return Err("empty operation name (two spaces after the seqnum?)".to_owned());
    }
    let mut p = Args {
        line,
        pos: args.map(|a| line.len() - a.len()),
        args: args.unwrap_or(b""),
        op: "",
        grammar: "",
        arena,
        intern: true,
    };
    p.parse(name).map(|line| (seqnum, line))
}

/// Splits off the first word: the text before the first space, and what follows that
/// space (`None` when there is no space).
#[inline]
fn split_word(text: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(b' ', text) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    }
}

/// A decimal `u32`: digits only, no sign, no overflow.
pub(crate) fn parse_u32(word: &[u8]) -> Option<u32> {
    if word.is_empty() || word.len() > 10 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in word {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    u32::try_from(v).ok()
}

/// A decimal `i32` as C's `%i` prints it: optional `-`, then digits.
pub(crate) fn parse_i32(word: &[u8]) -> Option<i32> {
    let (neg, digits) = match word.split_first() {
        Some((b'-', digits)) => (true, digits),
        _ => (false, word),
    };
    let v = i64::from(parse_u32(digits)?);
    i32::try_from(if neg { -v } else { v }).ok()
}

/// An unsigned number with `strtoul(.., 0)` base rules (`0x` hex, leading `0` octal,
/// otherwise decimal), but strict: the whole word, at least one digit, no sign, fits `u32`.
pub(crate) fn parse_base0(word: &[u8]) -> Option<u32> {
    let (radix, digits) = match word {
        [b'0', b'x' | b'X', hex @ ..] => (16, hex),
        [b'0', octal @ ..] if !octal.is_empty() => (8, octal),
        _ => (10, word),
    };
    if digits.is_empty() || digits.len() > 40 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = (c as char).to_digit(radix)?;
        v = v.checked_mul(u64::from(radix))? + u64::from(d);
    }
    u32::try_from(v).ok()
}

/// The words after the op name, consumed left to right.
struct Args<'a, 'b> {
    /// The whole line.
    line: &'a [u8],
    /// Start of the next word; `None` when the line has no more words.
    pos: Option<usize>,
    /// Everything after the op name and its space (for messages).
    args: &'a [u8],
    /// The op name (for messages).
    op: &'static str,
    /// What should follow the op name (for messages), e.g. `<key> = <data>`.
    grammar: &'static str,
    arena: &'b mut Arena,
    /// Whether records may share bytes with identical earlier ones (not for storev parts,
    /// which must lie back to back).
    intern: bool,
}

impl<'a> Args<'a, '_> {
    /// The error for a line whose words do not fit the op's grammar.
    fn wrong(&self) -> String {
        if self.grammar.is_empty() {
            format!("expected nothing after {}, {}", self.op, found(self.args))
        } else {
            format!(
                "expected {} after {}, {}",
                self.grammar,
                self.op,
                found(self.args)
            )
        }
    }

    /// The error for an empty word (two spaces in a row, or a space at the end).
    fn empty_word(&self) -> String {
        format!(
            "empty word after {} (two spaces in a row, or a space at the end of the line) in {}",
            self.op,
            quote(self.args)
        )
    }

    /// Sets the op name and grammar used in messages.
    #[inline]
    fn expect(&mut self, op: &'static str, grammar: &'static str) {
        self.op = op;
        self.grammar = grammar;
    }

    /// The next word, without consuming it.
    #[inline]
    fn peek(&self) -> Result<Option<&'a [u8]>, String> {
        let Some(pos) = self.pos else {
            return Ok(None);
        };
        let rest = &self.line[pos..];
        let word = match memchr::memchr(b' ', rest) {
            Some(i) => &rest[..i],
            None => rest,
        };
        if word.is_empty() {
            return Err(self.empty_word());
        }
        Ok(Some(word))
    }

    /// The next word; a missing word does not fit the grammar.
    #[inline]
    fn word(&mut self) -> Result<&'a [u8], String> {
        let word = self.peek()?.ok_or_else(|| self.wrong())?;
        self.skip(word.len());
        Ok(word)
    }

    /// Consumes `n` bytes of the current word and the space after it.
    #[inline]
    fn skip(&mut self, n: usize) {
        if let Some(pos) = self.pos {
            let end = pos + n;
            self.pos = (end < self.line.len()).then_some(end + 1);
        }
    }

    /// The line must end here.
    #[inline]
    fn end(&self) -> Result<(), String> {
        match self.pos {
            None => Ok(()),
            Some(pos) if pos == self.line.len() => Err(self.empty_word()),
            Some(_) => Err(self.wrong()),
        }
    }

    /// The word `=`.
    #[inline]
    fn equals(&mut self) -> Result<(), String> {
        if self.word()? == b"=" {
            Ok(())
        } else {
            Err(self.wrong())
        }
    }

    /// ` = <int>` and the end of the line.
    #[inline]
    fn ret(&mut self) -> Result<i32, String> {
        self.equals()?;
        let word = self.word()?;
        let ret = parse_i32(word).ok_or_else(|| {
            format!(
                "expected a decimal return value after {} ... =, {}",
                self.op,
                found(word)
            )
        })?;
        self.end()?;
        Ok(ret)
    }

    /// A key: a record, where `NULL` (a TDB_DATA with no pointer) reads as the empty key,
    /// which is what tdb makes of it.
    #[inline]
    fn key(&mut self, role: &str) -> Result<Span, String> {
        Ok(self.record(role)?.unwrap_or(Span::EMPTY))
    }

    /// A record, `NULL` or `<len>:<hex>`, decoded onto the end of the arena.
    fn record(&mut self, role: &str) -> Result<Rec, String> {
        let Some(pos) = self.pos else {
            return Err(self.wrong());
        };
        let rest = &self.line[pos..];
        if let Some(after) = rest.strip_prefix(b"NULL") {
            if after.first().is_none_or(|&c| c == b' ') {
                self.skip(4);
                return Ok(None);
            }
        }
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || rest.get(digits) != Some(&b':') {
            if rest.first() == Some(&b' ') || rest.is_empty() {
                return Err(self.empty_word());
            }
            return Err(self.wrong());
        }
        let len_text = &rest[..digits];
        let hex_start = pos + digits + 1;
        let avail = self.line.len() - hex_start;
        // Lengths too large for any line are caught here, before any allocation.
        let need = parse_len(len_text)
            .and_then(|len| len.checked_mul(2))
            .filter(|&need| need <= avail);
        let Some(need) = need else {
            return Err(self.bad_record(role, len_text, hex_start));
        };
        let len = need / 2;
        let hex_text = &self.line[hex_start..hex_start + need];
        let end = hex_start + need;
        if end < self.line.len() && self.line[end] != b' ' {
            return Err(self.bad_record(role, len_text, hex_start));
        }
        if len == 0 {
            self.pos = (end < self.line.len()).then_some(end + 1);
            return Ok(Some(Span::EMPTY));
        }
        let start = self.arena.grow(len);
        if hex::decode(hex_text, self.arena.tail_mut(start)).is_err() {
            self.arena.truncate(start);
            return Err(self.bad_record(role, len_text, hex_start));
        }
        self.pos = (end < self.line.len()).then_some(end + 1);
        if self.intern {
            Ok(Some(self.arena.intern_tail(start)))
        } else {
            Ok(Some(Span { start, len }))
        }
    }

    /// Explains what is wrong with the record whose digits start at `hex_start` (slow
    /// path, only for errors).
    fn bad_record(&self, role: &str, len_text: &[u8], hex_start: usize) -> String {
        let rest = &self.line[hex_start..];
        let run = match memchr::memchr(b' ', rest) {
            Some(i) => &rest[..i],
            None => rest,
        };
        let shown = &self.line[hex_start - len_text.len() - 1..hex_start + run.len()];
        let what = format!("{role} of {}", self.op);
        if let Some(i) = run.iter().position(|&c| hex::digit_value(c).is_none()) {
            return format!(
                "{what}: invalid hex digit {} in record {}",
                quote(&run[i..i + 1]),
                quote(shown)
            );
        }
        let len_shown = String::from_utf8_lossy(len_text);
        match parse_len(len_text).and_then(|len| len.checked_mul(2)) {
            Some(need) => format!(
                "{what}: length {len_shown} needs {need} hex digits, found {} in record {}",
                run.len(),
                quote(shown)
            ),
            None => format!(
                "{what}: length {len_shown} is impossibly large, found {} hex digits in record {}",
                run.len(),
                quote(shown)
            ),
        }
    }

    /// Parses the words after op `name`.
    fn parse(&mut self, name: &[u8]) -> Result<Line, String> {
        let kind = if let Some(kind) = self.record_op(name)? {
            kind
        } else if let Some(kind) = self.walk_op(name)? {
            kind
        } else if let Some(kind) = self.lock_op(name)? {
            kind
        } else if let Some(kind) = self.transaction_op(name)? {
            kind
        } else {
            match name {
                b"tdb_get_seqnum" => {
                    self.expect("tdb_get_seqnum", "= <seqnum>");
                    let ret = self.ret()?;
                    OpKind::GetSeqnum { ret }
                }
                b"tdb_close" => {
                    self.expect("tdb_close", "");
                    self.end()?;
                    return Ok(Line::Close);
                }
                b"tdb_open" => return Err("tdb_open is only valid on the first line".to_owned()),
                _ => return Err(format!("unknown operation {}", quote(name))),
            }
        };
        Ok(Line::Op(kind))
    }

    /// The ops on one record (fetch, store, append, delete, lookups); `None` if `name` is none of them.
    fn record_op(&mut self, name: &[u8]) -> Result<Option<OpKind>, String> {
        const KEY_DATA: &str = "<key> = <data>";
        const KEY_RET: &str = "<key> = <ret>";
        let kind = match name {
            b"tdb_fetch" => {
                self.expect("tdb_fetch", KEY_DATA);
                let key = self.key("<key>")?;
                self.equals()?;
                let result = self.record("<data>")?;
                self.end()?;
                OpKind::Fetch { key, result }
            }
            b"tdb_store" => {
                self.expect("tdb_store", "<key> <data> <flag> = <ret>");
                let key = self.key("<key>")?;
                let data = self.record("<data>")?;
                let flag = self.store_flag()?;
                let ret = self.ret()?;
                OpKind::Store {
                    key,
                    data,
                    flag,
                    ret,
                }
            }
            b"tdb_storev" => {
                self.expect("tdb_storev", "<key> <data>... <flag> = <ret>");
                let key = self.key("<key>")?;
                let start = self.arena.len();
                // Parts are decoded back to back, so they end up concatenated.
                self.intern = false;
                while self.peek()?.is_some_and(is_record_word) {
                    self.record("<data>")?;
                }
                self.intern = true;
                let len = self.arena.len() - start;
                let data = if len == 0 {
                    Span::EMPTY
                } else {
                    Span { start, len }
                };
                let flag = self.store_flag()?;
                // The traced ret is always -1 (a Samba bug): checked for form only.
                self.ret()?;
                OpKind::StoreV { key, data, flag }
            }
            b"tdb_append" => {
                // The layout is resolved once the writer is known; see `parse`.
                self.expect("tdb_append", "<key> <data> = <data>");
                let key = self.key("<key>")?;
                let first = self.record("<data>")?;
                self.equals()?;
                let second = self.record("<data>")?;
                self.end()?;
                OpKind::Append {
                    key,
                    append: Append::Result {
                        appended: first,
                        result: second,
                    },
                }
            }
            b"tdb_delete" => {
                self.expect("tdb_delete", KEY_RET);
                let key = self.key("<key>")?;
                let ret = self.ret()?;
                OpKind::Delete { key, ret }
            }
            b"tdb_exists" => {
                self.expect("tdb_exists", KEY_RET);
                let key = self.key("<key>")?;
                let ret = self.ret()?;
                OpKind::Exists { key, ret }
            }
            b"tdb_parse_record" => {
                self.expect("tdb_parse_record", KEY_RET);
                let key = self.key("<key>")?;
                let ret = self.ret()?;
                OpKind::ParseRecord { key, ret }
            }
            _ => return Ok(None),
        };
        Ok(Some(kind))
    }

    /// The walks: traverses (start, entries, end) and key walks; `None` if `name` is none of them.
    fn walk_op(&mut self, name: &[u8]) -> Result<Option<OpKind>, String> {
        const KEY_DATA: &str = "<key> = <data>";
        let kind = match name {
            b"traverse" => {
                self.expect("traverse", KEY_DATA);
                let key = self.key("<key>")?;
                self.equals()?;
                let data = self.key("<data>")?;
                self.end()?;
                OpKind::TraverseEntry {
                    record: Some((key, data)),
                }
            }
            b"traversefn" => self.bare("traversefn", OpKind::TraverseEntry { record: None })?,
            b"tdb_traverse_start" => self.bare(
                "tdb_traverse_start",
                OpKind::TraverseStart {
                    kind: TraverseKind::Write,
                },
            )?,
            b"tdb_traverse_read_start" => self.bare(
                "tdb_traverse_read_start",
                OpKind::TraverseStart {
                    kind: TraverseKind::Read,
                },
            )?,
            b"tdb_traverse_end" => {
                self.expect("tdb_traverse_end", "nothing or = <count>");
                let stopped_after = if self.pos.is_none() {
                    None
                } else {
                    self.equals()?;
                    let word = self.word()?;
                    let n = parse_u32(word).ok_or_else(|| {
                        format!(
                            "expected a record count after tdb_traverse_end =, {}",
                            found(word)
                        )
                    })?;
                    self.end()?;
                    Some(n)
                };
                OpKind::TraverseEnd { stopped_after }
            }
            b"tdb_firstkey" => {
                self.expect("tdb_firstkey", "= <key>");
                self.equals()?;
                let result = self.record("<key>")?;
                self.end()?;
                OpKind::FirstKey { result }
            }
            b"tdb_nextkey" => {
                self.expect("tdb_nextkey", "<key> = <key>");
                let key = self.key("<key>")?;
                self.equals()?;
                let result = self.record("<next key>")?;
                self.end()?;
                OpKind::NextKey { key, result }
            }
            _ => return Ok(None),
        };
        Ok(Some(kind))
    }

    /// Chain locks and all-record locks; `None` if `name` is none of them.
    fn lock_op(&mut self, name: &[u8]) -> Result<Option<OpKind>, String> {
        use ChainLockOp as C;
        use LockAllOp as L;
        let kind = match name {
            b"tdb_chainlock" => self.chainlock("tdb_chainlock", C::Lock)?,
            b"tdb_chainlock_nonblock" => {
                self.chainlock("tdb_chainlock_nonblock", C::LockNonblock)?
            }
            b"tdb_chainlock_read" => self.chainlock("tdb_chainlock_read", C::LockRead)?,
            b"tdb_chainlock_read_nonblock" => {
                self.chainlock("tdb_chainlock_read_nonblock", C::LockReadNonblock)?
            }
            b"tdb_chainlock_mark" => self.chainlock("tdb_chainlock_mark", C::Mark)?,
            b"tdb_chainlock_unmark" => self.chainlock("tdb_chainlock_unmark", C::Unmark)?,
            b"tdb_chainunlock" => self.chainlock("tdb_chainunlock", C::Unlock)?,
            b"tdb_chainunlock_read" => self.chainlock("tdb_chainunlock_read", C::UnlockRead)?,
            b"tdb_lockall" => self.lockall("tdb_lockall", L::Lock)?,
            b"tdb_lockall_nonblock" => self.lockall("tdb_lockall_nonblock", L::LockNonblock)?,
            b"tdb_lockall_read" => self.lockall("tdb_lockall_read", L::LockRead)?,
            b"tdb_lockall_read_nonblock" => {
                self.lockall("tdb_lockall_read_nonblock", L::LockReadNonblock)?
            }
            b"tdb_lockall_mark" => self.lockall("tdb_lockall_mark", L::Mark)?,
            b"tdb_lockall_unmark" => self.lockall("tdb_lockall_unmark", L::Unmark)?,
            b"tdb_unlockall" => self.lockall("tdb_unlockall", L::Unlock)?,
            b"tdb_unlockall_read" => self.lockall("tdb_unlockall_read", L::UnlockRead)?,
            _ => return Ok(None),
        };
        Ok(Some(kind))
    }

    /// Transactions, wipes and repacks (no arguments); `None` if `name` is none of them.
    fn transaction_op(&mut self, name: &[u8]) -> Result<Option<OpKind>, String> {
        let kind = match name {
            b"tdb_wipe_all" => self.bare("tdb_wipe_all", OpKind::WipeAll)?,
            b"tdb_repack" => self.bare("tdb_repack", OpKind::Repack)?,
            b"tdb_transaction_start" => {
                self.bare("tdb_transaction_start", OpKind::TransactionStart)?
            }
            b"tdb_transaction_prepare_commit" => self.bare(
                "tdb_transaction_prepare_commit",
                OpKind::TransactionPrepareCommit,
            )?,
            b"tdb_transaction_commit" => {
                self.bare("tdb_transaction_commit", OpKind::TransactionCommit)?
            }
            b"tdb_transaction_cancel" => self.bare(
                "tdb_transaction_cancel",
                OpKind::TransactionCancel { implied: false },
            )?,
            _ => return Ok(None),
        };
        Ok(Some(kind))
    }

    /// An op with no arguments.
    #[inline]
    fn bare(&mut self, op: &'static str, kind: OpKind) -> Result<OpKind, String> {
        self.expect(op, "");
        self.end()?;
        Ok(kind)
    }

    /// `tdb_chainlock*`: `<key>`, plus `= <ret>` for the nonblocking calls.
    fn chainlock(&mut self, op: &'static str, lock: ChainLockOp) -> Result<OpKind, String> {
        let nonblock = matches!(
            lock,
            ChainLockOp::LockNonblock | ChainLockOp::LockReadNonblock
        );
        self.expect(op, if nonblock { "<key> = <ret>" } else { "<key>" });
        let key = self.key("<key>")?;
        let ret = if nonblock {
            Some(self.ret()?)
        } else {
            self.end()?;
            None
        };
        Ok(OpKind::ChainLock { key, op: lock, ret })
    }

    /// `tdb_lockall*`: nothing, or `= <ret>` for the nonblocking calls.
    fn lockall(&mut self, op: &'static str, lock: LockAllOp) -> Result<OpKind, String> {
        let nonblock = matches!(lock, LockAllOp::LockNonblock | LockAllOp::LockReadNonblock);
        let ret = if nonblock {
            self.expect(op, "= <ret>");
            Some(self.ret()?)
        } else {
            self.expect(op, "");
            self.end()?;
            None
        };
        Ok(OpKind::LockAll { op: lock, ret })
    }

    /// A `tdb_store` flag: 0 to 3, written `%#x` (base-0 rules accepted).
    fn store_flag(&mut self) -> Result<StoreFlag, String> {
        let word = self.word()?;
        if word == b"=" {
            return Err(self.wrong());
        }
        parse_base0(word)
            .and_then(StoreFlag::from_code)
            .ok_or_else(|| {
                format!(
                    "expected a store flag (0, 0x1, 0x2 or 0x3) after the data of {}, {}",
                    self.op,
                    found(word)
                )
            })
    }
}

/// A record length in decimal (leading zeros allowed).
fn parse_len(text: &[u8]) -> Option<usize> {
    text.iter().try_fold(0usize, |v, &c| {
        v.checked_mul(10)?.checked_add(usize::from(c - b'0'))
    })
}

/// Whether a word is written as a record (`NULL` or `<digits>:...`) rather than a flag.
fn is_record_word(word: &[u8]) -> bool {
    if word == b"NULL" {
        return true;
    }
    let digits = word.iter().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && word.get(digits) == Some(&b':')
}

#[cfg(test)]
mod tests;
