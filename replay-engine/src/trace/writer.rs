//! Writing trace lines in the format tdb itself writes, so that traces the project
//! generates (and the sets `shrink` writes back, see [`super::emit`]) go through exactly
//! the parser real ones do. `tdb_append` has a method per writer layout: ccan's
//! `K appended = result` and Samba's `K previous = appended`.

use std::io::{self, Write};

use super::model::{chainlock_name, lockall_name};
use crate::backend::{ChainLockOp, LockAllOp, StoreFlag, TraverseKind};

/// Writes one trace file, line by line.
pub struct TraceWriter<W: Write> {
    out: W,
}

impl<W: Write> TraceWriter<W> {
    /// A writer over `out` (buffer it: every op is one small write).
    pub fn new(out: W) -> Self {
        TraceWriter { out }
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// The underlying writer, borrowed (to take the lines written so far).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    fn rec(&mut self, data: Option<&[u8]>) -> io::Result<()> {
        match data {
            None => self.out.write_all(b"NULL"),
            Some(bytes) => {
                write!(self.out, "{}:", bytes.len())?;
                // Digits go out through a buffer on the stack, so a line allocates
                // nothing beyond the writer's own (the capture library relies on it).
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut buffer = [0u8; 256];
                for chunk in bytes.chunks(buffer.len() / 2) {
                    for (pair, &byte) in buffer.chunks_exact_mut(2).zip(chunk) {
                        pair[0] = HEX[usize::from(byte >> 4)];
                        pair[1] = HEX[usize::from(byte & 15)];
                    }
                    self.out.write_all(&buffer[..chunk.len() * 2])?;
                }
                Ok(())
            }
        }
    }

    fn head(&mut self, seqnum: i32, name: &str) -> io::Result<()> {
        write!(self.out, "{} {name}", seqnum as u32)
    }

    /// `S tdb_open hash tdb_flags open_flags`.
    pub fn open(
        &mut self,
        seqnum: i32,
        hash_size: u32,
        tdb_flags: u32,
        open_flags: i32,
    ) -> io::Result<()> {
        self.head(seqnum, "tdb_open")?;
        writeln!(
            self.out,
            " {hash_size} {tdb_flags:#x} {:#x}",
            open_flags as u32
        )
    }

    /// An op with no arguments and no result (`tdb_close`, transaction ops, ...).
    pub fn bare(&mut self, seqnum: i32, name: &str) -> io::Result<()> {
        self.head(seqnum, name)?;
        writeln!(self.out)
    }

    /// `S tdb_fetch K = D`.
    pub fn fetch(&mut self, seqnum: i32, key: &[u8], result: Option<&[u8]>) -> io::Result<()> {
        self.head(seqnum, "tdb_fetch")?;
        self.out.write_all(b" ")?;
        self.rec(Some(key))?;
        self.out.write_all(b" = ")?;
        self.rec(result)?;
        writeln!(self.out)
    }

    /// `S <name> K = ret` (exists, parse_record, delete, chainlock nonblock).
    pub fn key_ret(&mut self, seqnum: i32, name: &str, key: &[u8], ret: i32) -> io::Result<()> {
        self.head(seqnum, name)?;
        self.out.write_all(b" ")?;
        self.rec(Some(key))?;
        writeln!(self.out, " = {ret}")
    }

    /// `S tdb_store K D flag = ret`.
    pub fn store(
        &mut self,
        seqnum: i32,
        key: &[u8],
        data: &[u8],
        flag: StoreFlag,
        ret: i32,
    ) -> io::Result<()> {
        self.store_rec(seqnum, key, Some(data), flag, ret)
    }

    /// `S tdb_store K D flag = ret`, where `D` may be `NULL` (tdb then stores an empty
    /// record, and traces it as `NULL`).
    pub fn store_rec(
        &mut self,
        seqnum: i32,
        key: &[u8],
        data: Option<&[u8]>,
        flag: StoreFlag,
        ret: i32,
    ) -> io::Result<()> {
        self.head(seqnum, "tdb_store")?;
        self.out.write_all(b" ")?;
        self.rec(Some(key))?;
        self.out.write_all(b" ")?;
        self.rec(data)?;
        self.flag_ret(flag, ret)
    }

    /// `S tdb_storev K D1 .. Dn flag = ret` (Samba; the record stored is the parts
    /// joined, and Samba always traces `ret` as -1).
    pub fn storev<P: AsRef<[u8]>>(
        &mut self,
        seqnum: i32,
        key: &[u8],
        parts: impl IntoIterator<Item = P>,
        flag: StoreFlag,
        ret: i32,
    ) -> io::Result<()> {
        self.head(seqnum, "tdb_storev")?;
        self.out.write_all(b" ")?;
        self.rec(Some(key))?;
        for part in parts {
            self.out.write_all(b" ")?;
            self.rec(Some(part.as_ref()))?;
        }
        self.flag_ret(flag, ret)
    }

    /// ` flag = ret` as C's `%#x` prints the flag: 0 as `0`, the others as `0x1` ...
    fn flag_ret(&mut self, flag: StoreFlag, ret: i32) -> io::Result<()> {
        match flag.code() {
            0 => writeln!(self.out, " 0 = {ret}"),
            code => writeln!(self.out, " {code:#x} = {ret}"),
        }
    }

    /// `S tdb_append K appended = result` (ccan layout).
    pub fn append(
        &mut self,
        seqnum: i32,
        key: &[u8],
        appended: &[u8],
        result: &[u8],
    ) -> io::Result<()> {
        self.append_words(seqnum, key, Some(appended), Some(result))
    }

    /// `S tdb_append K previous = appended` (Samba layout; `previous` is `NULL` when the
    /// record did not exist).
    pub fn append_previous(
        &mut self,
        seqnum: i32,
        key: &[u8],
        previous: Option<&[u8]>,
        appended: Option<&[u8]>,
    ) -> io::Result<()> {
        self.append_words(seqnum, key, previous, appended)
    }

    /// `S tdb_append K first = second`, whichever layout the words follow.
    pub fn append_words(
        &mut self,
        seqnum: i32,
        key: &[u8],
        first: Option<&[u8]>,
        second: Option<&[u8]>,
    ) -> io::Result<()> {
        self.head(seqnum, "tdb_append")?;
        self.out.write_all(b" ")?;
        self.rec(Some(key))?;
        self.out.write_all(b" ")?;
        self.rec(first)?;
        self.out.write_all(b" = ")?;
        self.rec(second)?;
        writeln!(self.out)
    }

    /// `S tdb_traverse_start` or `S tdb_traverse_read_start`.
    pub fn traverse_start(&mut self, seqnum: i32, kind: TraverseKind) -> io::Result<()> {
        let name = match kind {
            TraverseKind::Write => "tdb_traverse_start",
            TraverseKind::Read => "tdb_traverse_read_start",
        };
        self.bare(seqnum, name)
    }

    /// `S traverse K = D` (the full form).
    pub fn traverse_entry(&mut self, seqnum: i32, key: &[u8], data: &[u8]) -> io::Result<()> {
        self.head(seqnum, "traverse")?;
        self.out.write_all(b" ")?;
        self.rec(Some(key))?;
        self.out.write_all(b" = ")?;
        self.rec(Some(data))?;
        writeln!(self.out)
    }

    /// `S traversefn` (the reduced form of an entry, as ccan's reducer leaves it).
    pub fn traversefn(&mut self, seqnum: i32) -> io::Result<()> {
        self.bare(seqnum, "traversefn")
    }

    /// `S tdb_get_seqnum = n`.
    pub fn get_seqnum(&mut self, seqnum: i32, ret: i32) -> io::Result<()> {
        self.head(seqnum, "tdb_get_seqnum")?;
        writeln!(self.out, " = {ret}")
    }

    /// `S tdb_traverse_end`, with `= n` when the callback stopped the walk.
    pub fn traverse_end(&mut self, seqnum: i32, stopped_after: Option<u32>) -> io::Result<()> {
        self.head(seqnum, "tdb_traverse_end")?;
        match stopped_after {
            Some(count) => writeln!(self.out, " = {count}"),
            None => writeln!(self.out),
        }
    }

    /// `S tdb_firstkey = K` / `S tdb_nextkey oldK = K`.
    pub fn key_walk(
        &mut self,
        seqnum: i32,
        old: Option<&[u8]>,
        result: Option<&[u8]>,
    ) -> io::Result<()> {
        match old {
            None => self.head(seqnum, "tdb_firstkey")?,
            Some(old) => {
                self.head(seqnum, "tdb_nextkey")?;
                self.out.write_all(b" ")?;
                self.rec(Some(old))?;
            }
        }
        self.out.write_all(b" = ")?;
        self.rec(result)?;
        writeln!(self.out)
    }

    /// A chain-lock family line; `ret` for the nonblocking calls.
    pub fn chainlock(
        &mut self,
        seqnum: i32,
        op: ChainLockOp,
        key: &[u8],
        ret: Option<i32>,
    ) -> io::Result<()> {
        self.head(seqnum, chainlock_name(op))?;
        self.out.write_all(b" ")?;
        self.rec(Some(key))?;
        match ret {
            Some(ret) => writeln!(self.out, " = {ret}"),
            None => writeln!(self.out),
        }
    }

    /// An all-record lock family line; `ret` for the nonblocking calls.
    pub fn lockall(&mut self, seqnum: i32, op: LockAllOp, ret: Option<i32>) -> io::Result<()> {
        self.head(seqnum, lockall_name(op))?;
        match ret {
            Some(ret) => writeln!(self.out, " = {ret}"),
            None => writeln!(self.out),
        }
    }

    /// Flush buffered lines.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
