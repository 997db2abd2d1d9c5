//! `tdb_traverse_chain` and `tdb_traverse_key_chain`: visit the live records of one hash
//! chain under its read lock.

use std::ops::ControlFlow;

use crate::error::{Error, Result};
use crate::lock::LockType;
use crate::record::{REC_HDR, TDB_DEAD_MAGIC};
use crate::walk::{ChainWalk, List};
use crate::Tdb;

impl Tdb {
    /// `tdb_traverse_chain`: call `f` for each live record of chain `chain`, in chain
    /// order, holding the chain's read lock throughout (the handle counts as in a read
    /// traverse, so writes from `f` fail with `TDB_ERR_RDONLY`). `f` breaking stops the
    /// walk. Returns the number of records handed to `f`.
    pub fn traverse_chain<F>(&mut self, chain: u32, f: F) -> Result<u32>
    where
        F: FnMut(&mut Tdb, &[u8], &[u8]) -> ControlFlow<()>,
    {
        let r = self.traverse_chain_inner(chain, f);
        self.note(r)
    }

    /// `tdb_traverse_key_chain`: [`Tdb::traverse_chain`] of the chain `key` hashes to.
    pub fn traverse_key_chain<F>(&mut self, key: &[u8], f: F) -> Result<u32>
    where
        F: FnMut(&mut Tdb, &[u8], &[u8]) -> ControlFlow<()>,
    {
        let chain = self.hash_key(key) % self.hash_size;
        self.traverse_chain(chain, f)
    }

    fn traverse_chain_inner<F>(&mut self, chain: u32, mut f: F) -> Result<u32>
    where
        F: FnMut(&mut Tdb, &[u8], &[u8]) -> ControlFlow<()>,
    {
        if chain >= self.hash_size {
            return Err(Error::Einval(format!(
                "chain {chain} out of range (hash size {})",
                self.hash_size
            )));
        }
        if self.traverse_read != 0 {
            return Err(Error::Lock("traverse_chain inside a read traverse".into()));
        }
        let list = i64::from(chain);
        self.lock_list(list, LockType::Read, true)?;
        self.traverse_read += 1;
        let r = self.walk_chain(chain, &mut f);
        self.traverse_read -= 1;
        let u = self.unlock_list(list, LockType::Read);
        r.and_then(|count| u.map(|()| count))
    }

    fn walk_chain<F>(&mut self, chain: u32, f: &mut F) -> Result<u32>
    where
        F: FnMut(&mut Tdb, &[u8], &[u8]) -> ControlFlow<()>,
    {
        let mut walk = ChainWalk::new(self, List::Chain(chain))?;
        let mut count = 0u32;
        while let Some((off, rec)) = walk.next_chain(self)? {
            if rec.magic == TDB_DEAD_MAGIC {
                continue;
            }
            let buf = self
                .io
                .read_vec(off + REC_HDR, rec.key_len + rec.data_len)?;
            let (key, data) = buf.split_at(rec.key_len as usize);
            count += 1;
            if f(self, key, data).is_break() {
                break;
            }
        }
        Ok(count)
    }
}
