//! Bounds-checked positional I/O on the file (pread/pwrite) or on an in-memory image
//! (`TDB_INTERNAL`), with the byte order chosen at open.

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::error::{Error, Result};
use crate::header::ByteOrder;
use crate::record::{Record, REC_HDR};

/// Where the database bytes live.
#[derive(Debug)]
pub enum Backing {
    /// A file, accessed with pread/pwrite.
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
}

impl Io {
    /// Re-read the real size (another process may have grown the file).
    pub fn refresh_size(&mut self) -> Result<u64> {
        self.size = match &self.backing {
            Backing::File(f) => f
                .metadata()
                .map_err(|e| Error::io(format!("fstat failed: {e}")))?
                .len(),
            Backing::Memory(v) => v.len() as u64,
        };
        Ok(self.size)
    }

    /// `tdb_oob`: fail with `Io` unless `[off, off + len)` lies within the database.
    pub fn oob(&mut self, off: u64, len: u64) -> Result<()> {
        let end = off
            .checked_add(len)
            .ok_or_else(|| Error::io("offset overflow"))?;
        if end <= self.size {
            return Ok(());
        }
        if end <= self.refresh_size()? {
            return Ok(());
        }
        Err(Error::io(format!(
            "access {off}+{len} beyond end of database ({})",
            self.size
        )))
    }

    /// Read exactly `buf.len()` bytes at `off`.
    pub fn read(&mut self, off: u32, buf: &mut [u8]) -> Result<()> {
        self.oob(u64::from(off), buf.len() as u64)?;
        match &self.backing {
            Backing::File(f) => f
                .read_exact_at(buf, u64::from(off))
                .map_err(|e| Error::io(format!("read of {} bytes at {off}: {e}", buf.len()))),
            Backing::Memory(v) => {
                let start = off as usize;
                buf.copy_from_slice(&v[start..start + buf.len()]);
                Ok(())
            }
        }
    }

    /// Read `len` bytes at `off` into a new buffer (bounds checked before allocating).
    pub fn read_vec(&mut self, off: u32, len: u32) -> Result<Vec<u8>> {
        self.oob(u64::from(off), u64::from(len))?;
        let mut v = vec![0u8; len as usize];
        self.read(off, &mut v)?;
        Ok(v)
    }

    /// Write `data` at `off` (must lie inside the database).
    pub fn write(&mut self, off: u32, data: &[u8]) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        self.oob(u64::from(off), data.len() as u64)?;
        match &mut self.backing {
            Backing::File(f) => f
                .write_all_at(data, u64::from(off))
                .map_err(|e| Error::io(format!("write of {} bytes at {off}: {e}", data.len()))),
            Backing::Memory(v) => {
                let start = off as usize;
                v[start..start + data.len()].copy_from_slice(data);
                Ok(())
            }
        }
    }

    /// Read a structural word.
    pub fn read_u32(&mut self, off: u32) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read(off, &mut b)?;
        Ok(self.order.get(b))
    }

    /// Write a structural word.
    pub fn write_u32(&mut self, off: u32, value: u32) -> Result<()> {
        let b = self.order.put(value);
        self.write(off, &b)
    }

    /// Read a record header without validating it.
    pub fn read_rec_raw(&mut self, off: u32) -> Result<Record> {
        let mut b = [0u8; REC_HDR as usize];
        self.read(off, &mut b)?;
        Ok(Record::decode(&b, self.order))
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
        match &mut self.backing {
            Backing::File(f) => {
                let cur = f
                    .metadata()
                    .map_err(|e| Error::io(format!("fstat failed: {e}")))?
                    .len();
                if cur < new_size {
                    f.set_len(new_size)
                        .map_err(|e| Error::Oom(format!("cannot grow file to {new_size}: {e}")))?;
                }
            }
            Backing::Memory(v) => {
                let n = usize::try_from(new_size).map_err(|_| Error::Oom("size".into()))?;
                if v.len() < n {
                    v.resize(n, 0);
                }
            }
        }
        self.refresh_size()?;
        Ok(())
    }

    /// Truncate to `size` bytes (file creation and wipe on first open).
    pub fn truncate(&mut self, size: u64) -> Result<()> {
        match &mut self.backing {
            Backing::File(f) => f
                .set_len(size)
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
