//! Bounds-checked I/O on the database: through a shared memory map of the file where C
//! maps it, positional I/O (pread/pwrite) where it doesn't (`TDB_NOMMAP`, or beyond the
//! mapped size), or on an in-memory image (`TDB_INTERNAL`); with the byte order chosen at
//! open.

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::error::{Error, Result};
use crate::fault::{crash, FaultAction, FaultPoint, Hook};
use crate::header::ByteOrder;
use crate::mmap::Map;
use crate::record::Record;

mod tx_cache;

pub use tx_cache::{TxCache, TX_BLOCK};

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
    /// Whether mapped bytes may be lent to callers (`with_bytes`): only when this handle
    /// takes locks, so no other process can change them while they are borrowed. Without
    /// locking (`TDB_NOLOCK`, read-only) they are copied instead.
    pub lend_mapped: bool,
    /// The fault-injection hook of crash tests (`crate::fault`); `None` in normal use.
    pub(crate) fault: Option<Hook>,
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
            lend_mapped: true,
            fault: None,
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
            lend_mapped: true,
            fault: None,
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

    /// Use `file` (the same file opened again, `tdb_reopen`) instead of the current
    /// descriptor, mapping it afresh. Returns the old file, which the caller drops.
    pub fn replace_file(&mut self, file: File) -> Result<Option<File>> {
        self.map = None;
        let old = std::mem::replace(&mut self.backing, Backing::File(file));
        self.refresh_size()?;
        Ok(match old {
            Backing::File(f) => Some(f),
            Backing::Memory(_) => None,
        })
    }

    /// File offset of the database's byte 0 (the mutex area's size, else 0).
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Whether the file is mapped on later remaps (C checks `TDB_NOMMAP` at each one).
    pub fn set_use_mmap(&mut self, use_mmap: bool) {
        self.use_mmap = use_mmap && matches!(self.backing, Backing::File(_));
        if !self.use_mmap {
            self.map = None;
        }
    }

    /// The open file (None for an in-memory database).
    pub fn backing_file(&self) -> Option<&File> {
        match &self.backing {
            Backing::File(f) => Some(f),
            Backing::Memory(_) => None,
        }
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
            if let Some(map) = self.map.as_ref().filter(|_| self.lend_mapped) {
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

    /// Ask the fault hook, if one is set, what to do at `point`: `Ok(None)` to go on,
    /// `Ok(Some(n))` to write only `n` bytes and die; it may also kill the process here
    /// or fail the call.
    #[cold]
    #[inline(never)]
    fn fault(&mut self, point: FaultPoint) -> Result<Option<usize>> {
        let Some(hook) = self.fault.as_mut() else {
            return Ok(None);
        };
        match (hook.0)(point) {
            FaultAction::Proceed => Ok(None),
            FaultAction::Crash => crash(),
            FaultAction::TornWrite(n) => match point {
                FaultPoint::Write { len, .. } => Ok(Some(n.min(len))),
                _ => crash(),
            },
            FaultAction::Fail => Err(Error::io(format!("injected fault at {point:?}"))),
        }
    }

    /// Write to the file itself, bypassing any transaction cache (may extend it).
    pub fn raw_write(&mut self, off: u32, data: &[u8]) -> Result<()> {
        if self.fault.is_some() {
            let point = FaultPoint::Write {
                off,
                len: data.len(),
            };
            if let Some(n) = self.fault(point)? {
                let _ = self.write_bytes(off, &data[..n]);
                crash();
            }
        }
        self.write_bytes(off, data)
    }

    /// [`Io::raw_write`] without the fault hook.
    fn write_bytes(&mut self, off: u32, data: &[u8]) -> Result<()> {
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
    #[inline(always)]
    pub fn read_rec_raw(&mut self, off: u32) -> Result<Record> {
        Ok(Record::decode(&self.read_array(off)?, self.order))
    }

    /// The record header at `off` straight from the mapping, when the file is in the
    /// host's byte order, no transaction is open and the header lies within the known
    /// size and the mapping (else `None`: use [`Io::read_rec_raw`]). The hot path of every
    /// chain walk: six plain word loads, the `next` word straight into a register.
    #[inline(always)]
    pub fn mapped_rec(&self, off: u32) -> Option<Record> {
        if self.order != ByteOrder::native()
            || self.tx.is_some()
            || u64::from(off) + u64::from(crate::record::REC_HDR) > self.size
        {
            return None;
        }
        let [next, rec_len, key_len, data_len, full_hash, magic] =
            self.map.as_ref()?.words::<6>(u64::from(off))?;
        Some(Record {
            next,
            rec_len,
            key_len,
            data_len,
            full_hash,
            magic,
        })
    }

    /// Read `N` bytes at `off` as an array (straight from the mapping when it can: the
    /// hot path of every chain walk).
    #[inline(always)]
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
        let cur = match &mut self.backing {
            Backing::File(f) => f
                .metadata()
                .map_err(|e| Error::io(format!("fstat failed: {e}")))?
                .len()
                .saturating_sub(self.base),
            Backing::Memory(v) => {
                let n = usize::try_from(new_size).map_err(|_| Error::Oom("size".into()))?;
                if v.len() < n {
                    v.resize(n, 0);
                }
                return Ok(());
            }
        };
        if cur < new_size {
            if self.fault.is_some() {
                self.fault(FaultPoint::Grow { to: new_size })?;
            }
            if let Backing::File(f) = &self.backing {
                allocate(f, self.base + cur, new_size - cur)
                    .map_err(|e| Error::Oom(format!("cannot grow file to {new_size}: {e}")))?;
            }
        }
        self.remap(cur.max(new_size));
        Ok(())
    }

    /// Truncate to `size` bytes (file creation and wipe on first open).
    pub fn truncate(&mut self, size: u64) -> Result<()> {
        if self.fault.is_some() && matches!(self.backing, Backing::File(_)) {
            self.fault(FaultPoint::Truncate { to: size })?;
        }
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
        if self.fault.is_some() && matches!(self.backing, Backing::File(_)) {
            self.fault(FaultPoint::Sync)?;
        }
        match &self.backing {
            Backing::File(f) => f
                .sync_data()
                .map_err(|e| Error::io(format!("fdatasync failed: {e}"))),
            Backing::Memory(_) => Ok(()),
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
