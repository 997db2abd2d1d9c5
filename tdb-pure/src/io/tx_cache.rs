//! The block cache of an open transaction (C's `struct tdb_transaction`): reads see the
//! transaction's writes, writes copy page-sized blocks of the file on first touch.

use super::Io;
use crate::error::{Error, Result};

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
    /// `transaction_read`: cached blocks first, else the file.
    pub(super) fn tx_read(&mut self, mut off: u32, buf: &mut [u8]) -> Result<()> {
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
    pub(super) fn tx_write(&mut self, mut off: u32, data: &[u8]) -> Result<()> {
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

    /// Does an open transaction hold a cached block overlapping `[off, off + len)`?
    #[inline]
    pub(super) fn tx_caches(&self, off: u32, len: u32) -> bool {
        let Some(tx) = &self.tx else { return false };
        let first = (off / TX_BLOCK) as usize;
        let last = ((u64::from(off) + u64::from(len) - 1) / u64::from(TX_BLOCK)) as usize;
        (first..=last).any(|i| matches!(tx.blocks.get(i), Some(Some(_))))
    }

    /// The bytes `[off, off + len)` if one cached transaction block holds all of them.
    #[inline]
    pub(super) fn tx_block_slice(&self, off: u32, len: u32) -> Option<&[u8]> {
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
}
