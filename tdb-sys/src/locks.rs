//! The lock families of [`Tdb`]: chain locks (`tdb_chainlock*`) and the all-record lock
//! (`tdb_lockall*`), one C call per method.

use crate::api::{Api, CtxFn, KeyFn};
use crate::data::datum;
use crate::error::{Error, Result};
use crate::handle::Tdb;
use tdb_vocab::ErrorKind;

/// Chain locks: one call of the `tdb_chainlock*` family each, on the chain of `key`.
impl Tdb {
    fn chain_call(&mut self, key: &[u8], call: fn(&Api) -> Option<KeyFn>) -> Result<()> {
        let Some(function) = call(self.api()) else {
            return Err(missing_function("tdb_chainlock_read_nonblock"));
        };
        // SAFETY: `function` is one of the chain-lock functions, which take an open
        // context and a key they only read during the call.
        self.call_unit(|_, ctx| unsafe { function(ctx, datum(key)) })
    }

    /// `tdb_chainlock`: blocking write lock on the chain of `key`.
    pub fn chainlock(&mut self, key: &[u8]) -> Result<()> {
        self.chain_call(key, |api| Some(api.tdb_chainlock))
    }

    /// `tdb_chainlock_nonblock`: `Err(Lock)` if another process holds the chain.
    pub fn chainlock_nonblock(&mut self, key: &[u8]) -> Result<()> {
        self.chain_call(key, |api| Some(api.tdb_chainlock_nonblock))
    }

    /// `tdb_chainlock_read`: blocking read lock.
    pub fn chainlock_read(&mut self, key: &[u8]) -> Result<()> {
        self.chain_call(key, |api| Some(api.tdb_chainlock_read))
    }

    /// `tdb_chainlock_read_nonblock`.
    pub fn chainlock_read_nonblock(&mut self, key: &[u8]) -> Result<()> {
        self.chain_call(key, |api| api.tdb_chainlock_read_nonblock)
    }

    /// `tdb_chainlock_mark`: count the chain as write-locked without taking the lock.
    pub fn chainlock_mark(&mut self, key: &[u8]) -> Result<()> {
        self.chain_call(key, |api| Some(api.tdb_chainlock_mark))
    }

    /// `tdb_chainlock_unmark`.
    pub fn chainlock_unmark(&mut self, key: &[u8]) -> Result<()> {
        self.chain_call(key, |api| Some(api.tdb_chainlock_unmark))
    }

    /// `tdb_chainunlock`.
    pub fn chainunlock(&mut self, key: &[u8]) -> Result<()> {
        self.chain_call(key, |api| Some(api.tdb_chainunlock))
    }

    /// `tdb_chainunlock_read`.
    pub fn chainunlock_read(&mut self, key: &[u8]) -> Result<()> {
        self.chain_call(key, |api| Some(api.tdb_chainunlock_read))
    }
}

/// The all-record lock: one call of the `tdb_lockall*`/`tdb_unlockall*` family each.
impl Tdb {
    fn all_call(&mut self, call: fn(&Api) -> CtxFn) -> Result<()> {
        let function = call(self.api());
        // SAFETY: `function` is one of the lockall functions, which take an open context.
        self.call_unit(|_, ctx| unsafe { function(ctx) })
    }

    /// `tdb_lockall`: blocking write lock on every chain.
    pub fn lockall(&mut self) -> Result<()> {
        self.all_call(|api| api.tdb_lockall)
    }

    /// `tdb_lockall_nonblock`.
    pub fn lockall_nonblock(&mut self) -> Result<()> {
        self.all_call(|api| api.tdb_lockall_nonblock)
    }

    /// `tdb_lockall_read`.
    pub fn lockall_read(&mut self) -> Result<()> {
        self.all_call(|api| api.tdb_lockall_read)
    }

    /// `tdb_lockall_read_nonblock`.
    pub fn lockall_read_nonblock(&mut self) -> Result<()> {
        self.all_call(|api| api.tdb_lockall_read_nonblock)
    }

    /// `tdb_lockall_mark`.
    pub fn lockall_mark(&mut self) -> Result<()> {
        self.all_call(|api| api.tdb_lockall_mark)
    }

    /// `tdb_lockall_unmark`.
    pub fn lockall_unmark(&mut self) -> Result<()> {
        self.all_call(|api| api.tdb_lockall_unmark)
    }

    /// `tdb_unlockall`.
    pub fn unlockall(&mut self) -> Result<()> {
        self.all_call(|api| api.tdb_unlockall)
    }

    /// `tdb_unlockall_read`.
    pub fn unlockall_read(&mut self) -> Result<()> {
        self.all_call(|api| api.tdb_unlockall_read)
    }
}

/// The error of a call the loaded libtdb does not have (an older version).
fn missing_function(name: &str) -> Error {
    Error::new(ErrorKind::Einval).with_message(Some(format!(
        "this libtdb lacks {name} (added in a later tdb); replay with a newer build"
    )))
}
