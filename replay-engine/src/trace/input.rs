//! Reading trace files: transparent decompression (chosen by magic bytes, not by name)
//! and cutting the text into line-aligned chunks of bounded size.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// How a byte stream is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    /// Zstandard (magic `28 b5 2f fd`).
    Zstd,
    /// gzip (magic `1f 8b`).
    Gzip,
    /// Not compressed.
    Plain,
}

impl Compression {
    /// Recognises the compression from the first bytes of a stream.
    pub(crate) fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else {
            Compression::Plain
        }
    }
}

/// Size of the buffer between the file and a decompressor.
const RAW_BUFFER: usize = 64 * 1024;

/// Wraps a buffered byte source in the decompressor its first bytes call for.
pub(crate) fn decompress<'a, R: BufRead + Send + 'a>(
    mut src: R,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    // A magic number can straddle two reads only for a tiny first read; fill_buf on a
    // BufReader over a file or a slice returns at least 4 bytes when there are 4.
    let compression = Compression::sniff(src.fill_buf()?);
    Ok(match compression {
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(src)?),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(src)),
        Compression::Plain => Box::new(src),
    })
}

/// Opens `path` for reading its text, decompressed; `on_read` is told how many raw
/// (compressed) bytes each read took from the file.
pub(crate) fn open_path<'a>(
    path: &Path,
    on_read: impl FnMut(u64) + Send + 'a,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    let file = File::open(path)?;
    decompress(BufReader::with_capacity(
        RAW_BUFFER,
        Counting {
            inner: file,
            on_read,
        },
    ))
}

/// A reader that reports the bytes it reads.
struct Counting<R, F> {
    inner: R,
    on_read: F,
}

impl<R: Read, F: FnMut(u64)> Read for Counting<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.on_read)(n as u64);
        Ok(n)
    }
}

/// One piece of a file's text.
#[derive(Debug)]
pub(crate) enum Chunk {
    /// `buf[..len]` is one or more complete lines, each ending in LF.
    Lines {
        /// The buffer (longer than `len`; return it through [`LineChunks::recycle`]).
        buf: Vec<u8>,
        /// How much of it is text.
        len: usize,
    },
    /// The end of the file: the text after the last LF (empty if the file ended in LF).
    End(Vec<u8>),
    /// The line after the last [`Chunk::Lines`] holds a NUL byte (`column` bytes into
    /// it): binary data, not a trace. Nothing is read after it.
    Binary {
        /// How far into the line the NUL byte is.
        column: usize,
    },
    /// The line after the last [`Chunk::Lines`] is longer than the limit (`so_far` bytes
    /// read of it, no LF yet). Nothing is read after it.
    Overlong {
        /// How much of the line was read before giving up.
        so_far: usize,
    },
}

/// The default longest line, in bytes: no trace tdb writes comes near it (a record of
/// that size would be a 512 MiB value, written in hex).
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 30;

/// Cuts a byte stream into chunks of whole lines, each about `size` bytes (more when a
/// single line is longer). Buffers are reused: the consumer hands them back.
pub(crate) struct LineChunks<R> {
    src: R,
    size: usize,
    /// The longest line allowed (its LF not counted).
    max_line: usize,
    /// Where a NUL byte was read in `cur` (reading stops there).
    nul_at: Option<usize>,
    /// The buffer being filled and how much of it holds text.
    cur: Vec<u8>,
    filled: usize,
    /// Buffers handed back, ready for reuse (they stay initialised, so reuse costs no
    /// clearing).
    spare: Vec<Vec<u8>>,
    /// The stream has ended (`cur[..filled]` is all that is left).
    eof: bool,
    /// [`Chunk::End`] was returned.
    done: bool,
}

impl<R: Read> LineChunks<R> {
    /// Chunks of about `size` bytes from `src`, lines of at most `max_line` bytes.
    pub(crate) fn new(src: R, size: usize, max_line: usize) -> Self {
        LineChunks {
            src,
            size: size.max(1),
            max_line: max_line.max(1),
            nul_at: None,
            cur: Vec::new(),
            filled: 0,
            spare: Vec::new(),
            eof: false,
            done: false,
        }
    }

    /// Hands a buffer back for reuse.
    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < 4 {
            self.spare.push(buf);
        }
    }

    /// A buffer of at least `min` initialised bytes, reused where possible.
    fn buffer(&mut self, min: usize) -> Vec<u8> {
        let mut buf = self.spare.pop().unwrap_or_default();
        if buf.len() < min {
            buf.resize(min, 0);
        }
        buf
    }

    /// The next chunk; `None` after [`Chunk::End`].
    pub(crate) fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if self.done {
            return Ok(None);
        }
        if self.cur.is_empty() && !self.eof {
            self.cur = self.buffer(self.size);
        }
        loop {
            self.fill()?;
            let Some(lf) = memchr::memrchr(b'\n', &self.cur[..self.filled]) else {
                if let Some(end) = self.end_of_text() {
                    self.done = true;
                    return Ok(Some(end));
                }
                // One line longer than the buffer: grow it, never past the limit.
                let len = (self.cur.len() * 2).min(self.max_line.saturating_add(1));
                self.cur.resize(len.max(self.cur.len() + 1), 0);
                continue;
            };
            // Carry the partial last line over into the next buffer.
            let tail = self.filled - (lf + 1);
            let next = if self.eof || self.nul_at.is_some() {
                self.cur[lf + 1..self.filled].to_vec()
            } else {
                // Room for the partial line to grow, within the longest line allowed.
                let cap = self.size.max(self.max_line.saturating_add(1));
                let mut next = self.buffer(self.size.max(tail * 2).min(cap));
                next[..tail].copy_from_slice(&self.cur[lf + 1..self.filled]);
                next
            };
            let buf = std::mem::replace(&mut self.cur, next);
            self.filled = tail;
            if let Some(nul) = self.nul_at.as_mut() {
                *nul -= lf + 1;
            }
            return Ok(Some(Chunk::Lines { buf, len: lf + 1 }));
        }
    }

    /// Reads until the buffer is full, the stream ends or a NUL byte arrives (the
    /// buffer is then cut just before it, and nothing more is read).
    fn fill(&mut self) -> io::Result<()> {
        while !self.eof && self.nul_at.is_none() && self.filled < self.cur.len() {
            match self.src.read(&mut self.cur[self.filled..]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    let new = self.filled..self.filled + n;
                    if let Some(at) = memchr::memchr(0, &self.cur[new]) {
                        self.nul_at = Some(self.filled + at);
                        self.filled += at;
                    } else {
                        self.filled += n;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// With no LF in the buffer: the chunk that ends the text, if it ends here (the
    /// stream ended, a NUL byte was read, or the line outgrew the limit).
    fn end_of_text(&mut self) -> Option<Chunk> {
        if let Some(column) = self.nul_at {
            return Some(Chunk::Binary { column });
        }
        if self.filled > self.max_line {
            return Some(Chunk::Overlong {
                so_far: self.filled,
            });
        }
        if self.eof {
            let mut rest = std::mem::take(&mut self.cur);
            rest.truncate(self.filled);
            return Some(Chunk::End(rest));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects the chunks of `text` cut at about `size` bytes: the line pieces and the
    /// torn end.
    fn chunks(text: &[u8], size: usize) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut lc = LineChunks::new(text, size, DEFAULT_MAX_LINE_BYTES);
        let mut pieces = Vec::new();
        loop {
            match lc.next_chunk().unwrap().unwrap() {
                Chunk::Lines { buf, len } => {
                    assert_eq!(buf[len - 1], b'\n');
                    pieces.push(buf[..len].to_vec());
                    lc.recycle(buf);
                }
                Chunk::End(rest) => {
                    assert!(lc.next_chunk().unwrap().is_none());
                    return (pieces, rest);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn chunks_are_whole_lines_and_rejoin() {
        let text: Vec<u8> = (0..500)
            .flat_map(|i| format!("{i} {}\n", "x".repeat(i % 37)).into_bytes())
            .collect();
        for size in [1, 2, 7, 64, 1000, 100_000] {
            let (pieces, rest) = chunks(&text, size);
            assert!(rest.is_empty());
            assert_eq!(pieces.concat(), text, "size {size}");
        }
        let mut torn = text.clone();
        torn.extend_from_slice(b"12 tdb_fe");
        for size in [1, 5, 64, 100_000] {
            let (pieces, rest) = chunks(&torn, size);
            assert_eq!(rest, b"12 tdb_fe");
            assert_eq!(pieces.concat(), text, "size {size}");
        }
    }

    #[test]
    fn empty_and_lf_free_streams() {
        assert_eq!(chunks(b"", 16), (vec![], vec![]));
        assert_eq!(chunks(b"abc", 2), (vec![], b"abc".to_vec()));
        assert_eq!(chunks(b"\n", 2), (vec![b"\n".to_vec()], vec![]));
    }

    /// The chunk that ends `src` cut at `size` with lines of at most `max_line`, and
    /// the text of the whole lines before it.
    fn end_of(src: impl Read, size: usize, max_line: usize) -> (Vec<u8>, Chunk) {
        let mut lc = LineChunks::new(src, size, max_line);
        let mut text = Vec::new();
        loop {
            match lc.next_chunk().unwrap().unwrap() {
                Chunk::Lines { buf, len } => {
                    text.extend_from_slice(&buf[..len]);
                    lc.recycle(buf);
                }
                end => {
                    assert!(lc.next_chunk().unwrap().is_none());
                    return (text, end);
                }
            }
        }
    }

    #[test]
    fn a_nul_byte_stops_reading_after_the_whole_lines_before_it() {
        for size in [1, 3, 16, 4096] {
            let (text, end) = end_of(&b"1 a\n2 b\n3 c\0d\n4 e\n"[..], size, 100);
            assert_eq!(text, b"1 a\n2 b\n", "size {size}");
            assert!(
                matches!(end, Chunk::Binary { column: 3 }),
                "size {size}: {end:?}"
            );
        }
        // An endless stream of zeros (/dev/zero) ends at once.
        let (text, end) = end_of(io::repeat(0), 256 * 1024, DEFAULT_MAX_LINE_BYTES);
        assert!(text.is_empty());
        assert!(matches!(end, Chunk::Binary { column: 0 }), "{end:?}");
    }

    #[test]
    fn an_endless_line_stops_at_the_limit_without_growing_past_it() {
        for (size, max_line) in [(16, 1000), (4096, 1000), (64, 1 << 20)] {
            let src = b"1 a\n".chain(io::repeat(b'x'));
            let (text, end) = end_of(src, size, max_line);
            assert_eq!(text, b"1 a\n");
            let Chunk::Overlong { so_far } = end else {
                panic!("{end:?}");
            };
            assert!(
                so_far > max_line && so_far <= (max_line + 1).max(size),
                "{so_far}"
            );
        }
        // Lines up to the limit pass.
        let (text, end) = end_of(&b"xxxx\nyyyy"[..], 2, 4);
        assert_eq!(text, b"xxxx\n");
        assert!(matches!(end, Chunk::End(rest) if rest == b"yyyy"));
    }

    #[test]
    fn magic_bytes_choose_the_decoder() {
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(Compression::sniff(b"27 tdb_open"), Compression::Plain);
        assert_eq!(Compression::sniff(b""), Compression::Plain);
    }
}
