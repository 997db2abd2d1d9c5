//! A transaction as a guard: cancelled on drop unless committed.

use std::ops::{Deref, DerefMut};

use crate::error::Result;
use crate::handle::Tdb;

/// A running transaction on a [`Tdb`], from [`Tdb::transaction`].
///
/// The handle is reachable through `Deref`/`DerefMut` for the work inside the
/// transaction (including a nested [`Tdb::transaction`]). Dropping the guard without
/// [`Transaction::commit`] cancels, ignoring errors.
#[must_use = "a transaction is cancelled when dropped"]
pub struct Transaction<'a> {
    tdb: &'a mut Tdb,
    finished: bool,
}

impl Tdb {
    /// `tdb_transaction_start`, as a guard.
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        self.transaction_start()?;
        Ok(Transaction {
            tdb: self,
            finished: false,
        })
    }
}

impl Transaction<'_> {
    /// `tdb_transaction_prepare_commit`: the first phase of a two-phase commit.
    pub fn prepare_commit(&mut self) -> Result<()> {
        self.tdb.transaction_prepare_commit()
    }

    /// `tdb_transaction_commit`.
    pub fn commit(mut self) -> Result<()> {
        self.finished = true;
        self.tdb.transaction_commit()
    }

    /// `tdb_transaction_cancel`, reporting its result.
    pub fn cancel(mut self) -> Result<()> {
        self.finished = true;
        self.tdb.transaction_cancel()
    }
}

impl Deref for Transaction<'_> {
    type Target = Tdb;

    fn deref(&self) -> &Tdb {
        self.tdb
    }
}

impl DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut Tdb {
        self.tdb
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.tdb.transaction_cancel();
        }
    }
}
