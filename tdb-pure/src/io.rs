//! Bounds-checked I/O on the database: through a shared memory map of the file where C
//! maps it, positional I/O (pread/pwrite) where it doesn't (`TDB_NOMMAP`, or beyond the
//! mapped size), or on an in-memory image (`TDB_INTERNAL`); with the byte order chosen at
//! open.

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::error::{Error, Result};
use crate::header::ByteOrder;
use crate::mmap::Map;
use crate::record::Record;

/// Where the database bytes live.
#[derive(Debug)]
pub enum Backing {
    /// A file, accessed through `map` where it covers the bytes, else with
    /// pread/pwrite.
    File(File),
    /// An in-memory image (`TDB_INTERNAL`).
    Memory(Vec<u8>),
}

/// Positional I/O with a cached size (C's `map_size`).
#[derive(Debug)]
pub struct Io {
    /// The bytes.
    pub backing: Backing,
    /// Known size of the database (refreshed when an access goes past it).
    pub size: u64,
    /// Byte order of structural words.
    pub order: ByteOrder,
    /// Refuse writes.
    pub read_only: bool,
    /// The block cache of an open transaction: while set, reads and writes go through it
    /// and `size` is the transaction's size.
    pub tx: Option<TxCache>,
    /// Map the file (C maps unless `TDB_NOMMAP`).
    use_mmap: bool,
    /// File offset of the database's byte 0: the size of the mutex area in a
    /// robust-mutex file, else 0. Offsets and sizes everywhere else are relative to it.
    base: u64,
    /// The mapping of the file's first bytes, remade when the file's size is re-read.
    map: Option<Map>,
}

/// Block size of the transaction cache (the page size, as C uses).
pub const TX_BLOCK: u32 = 4096;

/// C's `struct tdb_transaction`: a sparse array of page-sized blocks over the file.
#[derive(Debug, Default)]
pub struct TxCache {
    /// Block `i` covers `[i * TX_BLOCK, (i + 1) * TX_BLOCK)`; `None` = not written.
    pub blocks: Vec<Option<Box<[u8]>>>,
    /// Valid length of the last block of `blocks`.
    pub last_block_size: u32,
    /// File size when the transaction started (reset when the recovery area grows it).
    pub old_map_size: u64,
    /// Nested `transaction_start` calls not yet ended.
    pub nesting: u32,
    /// Prepared: further writes fail.
    pub prepared: bool,
    /// Poisoned: the commit fails with `TDB_ERR_IO`.
    pub error: bool,
    /// The transaction grew the database.
    pub expanded: bool,
    /// Offset of the recovery magic written by prepare (0 = none).
    pub magic_offset: u32,
}

impl TxCache {
    /// The (offset, length) C writes for cached block `i`.
    pub fn block_extent(&self, i: usize) -> (u32, u32) {
        let len = if i + 1 == self.blocks.len() {
            self.last_block_size
        } else {
            TX_BLOCK
        };
        (i as u32 * TX_BLOCK, len)
    }
}

impl Io {
    /// I/O on an open database file of `size` bytes, mapped unless `use_mmap` is false.
    pub fn file(file: File, size: u64, read_only: bool, use_mmap: bool) -> Io {
        let mut io = Io {
            backing: Backing::File(file),
            size,
            order: ByteOrder::native(),
            read_only,
            tx: None,
            use_mmap,
            base: 0,
            map: None,
        };
        io.remap(size);
        io
    }

    /// I/O on an in-memory image.
    pub fn memory(image: Vec<u8>, order: ByteOrder) -> Io {
        Io {
            size: image.len() as u64,
            backing: Backing::Memory(image),
            order,
            read_only: false,
            tx: None,
            use_mmap: false,
            base: 0,
            map: None,
        }
    }

    /// Make the mapping cover the database's first `size` bytes (C's `tdb_munmap` +
    /// `tdb_mmap`); without a mapping, I/O falls back to pread/pwrite.
    fn remap(&mut self, size: u64) {
        let Backing::File(file) = &self.backing else {
            return;
        };
        if !self.use_mmap || self.map.as_ref().map(|m| m.len() as u64) == Some(size) {
            return;
        }
        self.map = None;
        self.map = Map::new(file, self.base, size, !self.read_only);
    }

    /// Make the database start at file offset `base` (past a robust-mutex file's mutex
    /// area) and re-read its size.
    pub fn set_base(&mut self, base: u64) -> Result<u64> {
        self.map = None;
        self.base = base;
        self.refresh_size()
    }

    /// Re-read the real size (another process may have grown the file); inside a
    /// transaction the transaction's size.
    pub fn refresh_size(&mut self) -> Result<u64> {
        if self.tx.is_some() {
            return Ok(self.size);
        }
        self.size = self.real_size()?;
        self.remap(self.size);
        Ok(self.size)
    }

    /// Size of the database in the underlying file (past `base`) or image.
    pub fn real_size(&self) -> Result<u64> {
        Ok(match &self.backing {
            Backing::File(f) => f
                .metadata()
                .map_err(|e| Error::io(format!("fstat failed: {e}")))?
                .len()
                .saturating_sub(self.base),
            Backing::Memory(v) => v.len() as u64,
        })
    }

    /// `tdb_oob`: fail with `Io` unless `[off, off + len)` lies within the database.
    #[inline]
    pub fn oob(&mut self, off: u64, len: u64) -> Result<()> {
        match off.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => self.oob_refresh(off, len),
        }
    }

    /// The rest of [`Io::oob`]: past the known size, re-read the real one.
    #[cold]
    #[inline(never)]
    fn oob_refresh(&mut self, off: u64, len: u64) -> Result<()> {
        let end = off
            .checked_add(len)
            .ok_or_else(|| Error::io("offset overflow"))?;
        if self.tx.is_none() && end <= self.refresh_size()? {
            return Ok(());
        }
        Err(Error::io(format!(
            "access {off}+{len} beyond end of database ({})",
            self.size
        )))
    }

    /// Read exactly `buf.len()` bytes at `off`.
    #[inline]
    pub fn read(&mut self, off: u32, buf: &mut [u8]) -> Result<()> {
        self.oob(u64::from(off), buf.len() as u64)?;
        if self.tx.is_some() {
            if let Some(bytes) = self.tx_block_slice(off, buf.len() as u32) {
                buf.copy_from_slice(bytes);
                return Ok(());
            }
        }
        let direct = self.tx.is_none() || !self.tx_caches(off, buf.len() as u32);
        if direct && self.map.as_ref().is_some_and(|m| m.read(off.into(), buf)) {
            return Ok(());
        }
        if self.tx.is_some() {
            return self.tx_read(off, buf);
        }
        self.raw_read(off, buf)
    }

    /// Read from the file itself, bypassing any transaction cache.
    pub fn raw_read(&self, off: u32, buf: &mut [u8]) -> Result<()> {
        if self
            .map
            .as_ref()
            .is_some_and(|m| m.read(u64::from(off), buf))
        {
            return Ok(());
        }
        match &self.backing {
            Backing::File(f) => f
                .read_exact_at(buf, self.base + u64::from(off))
                .map_err(|e| Error::io(format!("read of {} bytes at {off}: {e}", buf.len()))),
            Backing::Memory(v) => {
                let start = off as usize;
                let src = v
                    .get(start..start + buf.len())
                    .ok_or_else(|| Error::io(format!("read beyond end at {off}")))?;
                buf.copy_from_slice(src);
                Ok(())
            }
        }
    }

    /// Lend the `len` bytes at `off` to `f`: borrowed from one cached transaction block,
    /// the mapping or the in-memory image where they lie in one piece, else copied.
    pub fn with_bytes<R, F: FnOnce(&[u8]) -> R>(&mut self, off: u32, len: u32, f: F) -> Result<R> {
        self.oob(u64::from(off), u64::from(len))?;
        if len == 0 {
            return Ok(f(&[]));
        }
        if let Some(bytes) = self.tx_block_slice(off, len) {
            return Ok(f(bytes));
        }
        let mut f = f;
        if !self.tx_caches(off, len) {
            if let Some(map) = &self.map {
                match map.with_slice(u64::from(off), len as usize, f) {
                    Ok(r) => return Ok(r),
                    Err(unused) => f = unused,
                }
            }
            if let Backing::Memory(image) = &self.backing {
                if let Some(bytes) = image.get(off as usize..off as usize + len as usize) {
                    return Ok(f(bytes));
                }
            }
        }
        let data = self.read_vec(off, len)?;
        Ok(f(&data))
    }

    /// Does an open transaction hold a cached block overlapping `[off, off + len)`?
    #[inline]
    fn tx_caches(&self, off: u32, len: u32) -> bool {
        let Some(tx) = &self.tx else { return false };
        let first = (off / TX_BLOCK) as usize;
        let last = ((u64::from(off) + u64::from(len) - 1) / u64::from(TX_BLOCK)) as usize;
        (first..=last).any(|i| matches!(tx.blocks.get(i), Some(Some(_))))
    }

    /// The bytes `[off, off + len)` if one cached transaction block holds all of them.
    #[inline]
    fn tx_block_slice(&self, off: u32, len: u32) -> Option<&[u8]> {
        let tx = self.tx.as_ref()?;
        let blk = (off / TX_BLOCK) as usize;
        let start = (off % TX_BLOCK) as usize;
        let end = start + len as usize;
        let block = tx.blocks.get(blk)?.as_ref()?;
        let valid = if blk + 1 == tx.blocks.len() {
            tx.last_block_size as usize
        } else {
            TX_BLOCK as usize
        };
        block.get(start..end).filter(|_| end <= valid)
    }

    /// Read `len` bytes at `off` into a new buffer (bounds checked before allocating),
    /// copying straight from the cache, the mapping or the image where they can.
    pub fn read_vec(&mut self, off: u32, len: u32) -> Result<Vec<u8>> {
        self.oob(u64::from(off), u64::from(len))?;
        let end = off
            .checked_add(len)
            .ok_or_else(|| Error::io(format!("read of {len} bytes at {off} overflows")))?;
        let mut v = Vec::with_capacity(len as usize);
        let mut at = off;
        while at < end {
            // Inside a transaction, one block at a time; otherwise all at once.
            let n = if self.tx.is_some() {
                (TX_BLOCK - at % TX_BLOCK).min(end - at)
            } else {
                end - at
            };
            let copied = if let Some(bytes) = self.tx_block_slice(at, n) {
                v.extend_from_slice(bytes);
                true
            } else if self.tx_caches(at, n) {
                false
            } else {
                let extend = |bytes: &[u8]| v.extend_from_slice(bytes);
                self.map
                    .as_ref()
                    .is_some_and(|m| m.with_slice(at.into(), n as usize, extend).is_ok())
            };
            if !copied {
                let from = v.len();
                v.resize(from + n as usize, 0);
                self.read(at, &mut v[from..])?;
            }
            at += n;
        }
        Ok(v)
    }

    /// Write `data` at `off` (must lie inside the database).
    pub fn write(&mut self, off: u32, data: &[u8]) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        self.oob(u64::from(off), data.len() as u64)?;
        if self.tx.is_some() {
            return self.tx_write(off, data);
        }
        self.raw_write(off, data)
    }

    /// Write to the file itself, bypassing any transaction cache (may extend it).
    pub fn raw_write(&mut self, off: u32, data: &[u8]) -> Result<()> {
        if self
            .map
            .as_mut()
            .is_some_and(|m| m.write(u64::from(off), data))
        {
            return Ok(());
        }
        match &mut self.backing {
            Backing::File(f) => f
                .write_all_at(data, self.base + u64::from(off))
                .map_err(|e| Error::io(format!("write of {} bytes at {off}: {e}", data.len()))),
            Backing::Memory(v) => {
                let start = off as usize;
                if v.len() < start + data.len() {
                    v.resize(start + data.len(), 0);
                }
                v[start..start + data.len()].copy_from_slice(data);
                Ok(())
            }
        }
    }

    /// Read a structural word.
    #[inline]
    pub fn read_u32(&mut self, off: u32) -> Result<u32> {
        Ok(self.order.get(self.read_array(off)?))
    }

    /// Write a structural word.
    pub fn write_u32(&mut self, off: u32, value: u32) -> Result<()> {
        let b = self.order.put(value);
        self.write(off, &b)
    }

    /// Read a record header without validating it.
    #[inline]
    pub fn read_rec_raw(&mut self, off: u32) -> Result<Record> {
        Ok(Record::decode(&self.read_array(off)?, self.order))
    }

    /// Read `N` bytes at `off` as an array (straight from the mapping when it can: the
    /// hot path of every chain walk).
    #[inline]
    fn read_array<const N: usize>(&mut self, off: u32) -> Result<[u8; N]> {
        self.oob(u64::from(off), N as u64)?;
        if self.tx.is_none() {
            if let Some(bytes) = self.map.as_ref().and_then(|m| m.array(u64::from(off))) {
                return Ok(bytes);
            }
        }
        let mut b = [0u8; N];
        self.read(off, &mut b)?;
        Ok(b)
    }

    /// Write a record header.
    pub fn write_rec(&mut self, off: u32, rec: &Record) -> Result<()> {
        let b = rec.encode(self.order);
        self.write(off, &b)
    }

    /// Grow the database to `new_size` bytes; new bytes read as zero (as after C's
    /// `posix_fallocate`).
    pub fn grow(&mut self, new_size: u64) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        if self.tx.is_some() {
            // transaction_expand_file: zero blocks in the cache; the file grows at prepare.
            let mut at = self.size;
            while at < new_size {
                let n = (new_size - at).min(8192) as usize;
                let off = u32::try_from(at).map_err(|_| Error::Oom("size".into()))?;
                self.tx_write(off, &vec![0u8; n])?;
                at += n as u64;
            }
            if let Some(tx) = self.tx.as_mut() {
                tx.expanded = true;
            }
            self.size = self.size.max(new_size);
            return Ok(());
        }
        self.raw_grow(new_size)?;
        self.refresh_size()?;
        Ok(())
    }

    /// Grow the file itself to at least `new_size` bytes (new bytes read as zero).
    pub fn raw_grow(&mut self, new_size: u64) -> Result<()> {
        match &mut self.backing {
            Backing::File(f) => {
                let cur = f
                    .metadata()
                    .map_err(|e| Error::io(format!("fstat failed: {e}")))?
                    .len()
                    .saturating_sub(self.base);
                if cur < new_size {
                    allocate(f, self.base + cur, new_size - cur)
                        .map_err(|e| Error::Oom(format!("cannot grow file to {new_size}: {e}")))?;
                }
                self.remap(cur.max(new_size));
            }
            Backing::Memory(v) => {
                let n = usize::try_from(new_size).map_err(|_| Error::Oom("size".into()))?;
                if v.len() < n {
                    v.resize(n, 0);
                }
            }
        }
        Ok(())
    }

    /// Truncate to `size` bytes (file creation and wipe on first open).
    pub fn truncate(&mut self, size: u64) -> Result<()> {
        // Unmap first: bytes past the new end must not stay mapped.
        self.map = None;
        match &mut self.backing {
            Backing::File(f) => f
                .set_len(self.base + size)
                .map_err(|e| Error::io(format!("ftruncate failed: {e}")))?,
            Backing::Memory(v) => v.truncate(size as usize),
        }
        self.refresh_size()?;
        Ok(())
    }

    /// fdatasync the file (no-op in memory).
    pub fn sync(&mut self) -> Result<()> {
        match &self.backing {
            Backing::File(f) => f
                .sync_data()
                .map_err(|e| Error::io(format!("fdatasync failed: {e}"))),
            Backing::Memory(_) => Ok(()),
        }
    }
}

impl Io {
    /// `transaction_read`: cached blocks first, else the file.
    fn tx_read(&mut self, mut off: u32, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let in_blk = off % TX_BLOCK;
            let n = ((TX_BLOCK - in_blk) as usize).min(buf.len() - done);
            let blk = (off / TX_BLOCK) as usize;
            let chunk = &mut buf[done..done + n];
            let tx = self.tx.as_mut().expect("transaction");
            match tx.blocks.get(blk) {
                Some(Some(b)) => {
                    if blk + 1 == tx.blocks.len() && n as u32 > tx.last_block_size {
                        tx.error = true;
                        return Err(Error::io(format!(
                            "transaction read of {n} bytes at {off} past the cached end"
                        )));
                    }
                    chunk.copy_from_slice(&b[in_blk as usize..in_blk as usize + n]);
                }
                _ => {
                    if let Err(e) = self.raw_read(off, chunk) {
                        if let Some(tx) = self.tx.as_mut() {
                            tx.error = true;
                        }
                        return Err(e);
                    }
                }
            }
            done += n;
            off += n as u32;
        }
        Ok(())
    }

    /// `transaction_write`: copy-on-write into page blocks.
    fn tx_write(&mut self, mut off: u32, data: &[u8]) -> Result<()> {
        if self.tx.as_ref().is_some_and(|t| t.prepared) {
            if let Some(tx) = self.tx.as_mut() {
                tx.error = true;
            }
            return Err(Error::Einval(
                "transaction already prepared, write not allowed".into(),
            ));
        }
        let mut done = 0usize;
        while done < data.len() {
            let in_blk = off % TX_BLOCK;
            let n = ((TX_BLOCK - in_blk) as usize).min(data.len() - done);
            let blk = (off / TX_BLOCK) as usize;
            let mut tx = self.tx.take().expect("transaction");
            if tx.blocks.len() <= blk {
                tx.blocks.resize_with(blk + 1, || None);
                tx.last_block_size = 0;
            }
            if tx.blocks[blk].is_none() {
                let mut b = vec![0u8; TX_BLOCK as usize].into_boxed_slice();
                let start = blk as u64 * u64::from(TX_BLOCK);
                if tx.old_map_size > start {
                    let len2 = (tx.old_map_size - start).min(u64::from(TX_BLOCK)) as usize;
                    if let Err(e) = self.raw_read(start as u32, &mut b[..len2]) {
                        tx.error = true;
                        self.tx = Some(tx);
                        return Err(e);
                    }
                    if blk + 1 == tx.blocks.len() {
                        tx.last_block_size = len2 as u32;
                    }
                }
                tx.blocks[blk] = Some(b);
            }
            if let Some(b) = tx.blocks[blk].as_mut() {
                b[in_blk as usize..in_blk as usize + n].copy_from_slice(&data[done..done + n]);
            }
            if blk + 1 == tx.blocks.len() && in_blk + n as u32 > tx.last_block_size {
                tx.last_block_size = in_blk + n as u32;
            }
            self.tx = Some(tx);
            done += n;
            off += n as u32;
        }
        Ok(())
    }

    /// `transaction_write_existing`: update only blocks already cached.
    pub fn tx_write_existing(&mut self, mut off: u32, data: &[u8]) {
        let Some(tx) = self.tx.as_mut() else { return };
        let mut done = 0usize;
        while done < data.len() {
            let in_blk = off % TX_BLOCK;
            let mut n = ((TX_BLOCK - in_blk) as usize).min(data.len() - done);
            let blk = (off / TX_BLOCK) as usize;
            let step = n;
            let last = blk + 1 == tx.blocks.len();
            if let Some(Some(b)) = tx.blocks.get_mut(blk) {
                let mut skip = false;
                if last && in_blk + n as u32 > tx.last_block_size {
                    if in_blk >= tx.last_block_size {
                        skip = true;
                    } else {
                        n = (tx.last_block_size - in_blk) as usize;
                    }
                }
                if !skip {
                    b[in_blk as usize..in_blk as usize + n].copy_from_slice(&data[done..done + n]);
                }
            }
            done += step;
            off += step as u32;
        }
    }
}

/// Grow `file` by `len` bytes from `from` with real blocks, as C's `tdb_expand_file` does
/// with `posix_fallocate` (so later writes through the map need no block allocation);
/// where the filesystem cannot preallocate, extend it sparsely instead.
fn allocate(file: &File, from: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(length)) = (libc::off_t::try_from(from), libc::off_t::try_from(len)) else {
        return Err(std::io::Error::from_raw_os_error(libc::EFBIG));
    };
    // SAFETY: plain syscall on a descriptor `file` keeps open; no memory is passed.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), offset, length) };
    match rc {
        0 => Ok(()),
        libc::EOPNOTSUPP | libc::EINVAL => file.set_len(from + len),
        errno => Err(std::io::Error::from_raw_os_error(errno)),
    }
}
