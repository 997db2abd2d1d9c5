//! [`Loaded`]: the C backend over a libtdb loaded at run time (`lib:PATH` engines).
//!
//! The same [`CTdb`] adapter and the same `tdb-sys` wrapper as the `c` engine; only the
//! function table differs. Which library a `Loaded<SLOT>` opens with is a process-wide
//! setting of its slot ([`set_slot`]), made before the first open: each run fixes it in
//! the parent, and forked workers inherit it (with the library's mapping) or set it for
//! themselves when the engines take turns. Two slots let two libraries run side by side
//! in one process (`diff` in lock step).

use std::path::Path;
use std::sync::atomic::{AtomicPtr, Ordering};

use ref_cast::RefCast;
use tdb_sys as sys;

use super::c::CTdb;
use super::{
    Backend, ChainLockOp, LockAllOp, LockingModel, OpenOptions, StoreFlag, TdbError, TdbResult,
    TraverseFn, TraverseKind,
};
use crate::backend::ErrorKind;

/// How many libraries can be in use in one process at once.
pub const SLOTS: usize = 2;

/// A loaded libtdb and the label reports give it (`lib:PATH`, or `lib:NAME`).
#[derive(Debug)]
pub struct LoadedLibrary {
    /// The library's functions.
    pub api: &'static sys::Api,
    /// Its name in reports.
    pub label: &'static str,
}

/// What each slot opens with; null until [`set_slot`].
static SLOT_LIBRARIES: [AtomicPtr<LoadedLibrary>; SLOTS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];

/// Makes `Loaded<slot>` open databases with `library` from now on (handles already open
/// keep theirs).
pub fn set_slot(slot: usize, library: &'static LoadedLibrary) {
    SLOT_LIBRARIES[slot].store(std::ptr::from_ref(library).cast_mut(), Ordering::SeqCst);
}

/// The library of `slot`, if one was set.
pub fn slot_library(slot: usize) -> Option<&'static LoadedLibrary> {
    let library = SLOT_LIBRARIES.get(slot)?.load(Ordering::SeqCst);
    // SAFETY: the slots only ever hold pointers made from `&'static LoadedLibrary`.
    unsafe { library.as_ref() }
}

/// A database opened with the libtdb of slot `SLOT`.
#[derive(Debug, RefCast)]
#[repr(transparent)]
pub struct Loaded<const SLOT: usize>(CTdb);

impl<const SLOT: usize> Loaded<SLOT> {
    /// The `tdb-sys` handle.
    pub fn tdb(&mut self) -> &mut sys::Tdb {
        self.0.tdb()
    }
}

impl<const SLOT: usize> Backend for Loaded<SLOT> {
    const NAME: &'static str = "lib";
    // Every libtdb since 1.3.14 walks a read traverse without the transaction lock.
    const LOCKING: LockingModel = CTdb::LOCKING;

    fn label() -> &'static str {
        slot_library(SLOT).map_or(Self::NAME, |library| library.label)
    }

    fn open(path: &Path, options: &OpenOptions) -> TdbResult<Self> {
        let library = slot_library(SLOT).ok_or_else(|| {
            TdbError::with_detail(ErrorKind::Einval, "no libtdb was loaded for this engine")
        })?;
        CTdb::open_with_api(library.api, path, options).map(Loaded)
    }

    fn close(self) -> TdbResult<()> {
        self.0.close()
    }

    fn store(&mut self, key: &[u8], data: &[u8], flag: StoreFlag) -> TdbResult<()> {
        self.0.store(key, data, flag)
    }

    fn fetch_with<R>(&mut self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> TdbResult<R> {
        self.0.fetch_with(key, f)
    }

    fn parse_record<R>(&mut self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> TdbResult<R> {
        self.0.parse_record(key, f)
    }

    fn exists(&mut self, key: &[u8]) -> TdbResult<bool> {
        self.0.exists(key)
    }

    fn delete(&mut self, key: &[u8]) -> TdbResult<()> {
        self.0.delete(key)
    }

    fn append(&mut self, key: &[u8], data: &[u8]) -> TdbResult<()> {
        self.0.append(key, data)
    }

    fn get_seqnum(&mut self) -> TdbResult<i32> {
        self.0.get_seqnum()
    }

    fn wipe_all(&mut self) -> TdbResult<()> {
        self.0.wipe_all()
    }

    fn repack(&mut self) -> TdbResult<()> {
        self.0.repack()
    }

    fn transaction_start(&mut self) -> TdbResult<()> {
        self.0.transaction_start()
    }

    fn transaction_prepare_commit(&mut self) -> TdbResult<()> {
        self.0.transaction_prepare_commit()
    }

    fn transaction_commit(&mut self) -> TdbResult<()> {
        self.0.transaction_commit()
    }

    fn transaction_cancel(&mut self) -> TdbResult<()> {
        self.0.transaction_cancel()
    }

    fn chainlock(&mut self, key: &[u8], op: ChainLockOp) -> TdbResult<()> {
        self.0.chainlock(key, op)
    }

    fn lockall(&mut self, op: LockAllOp) -> TdbResult<()> {
        self.0.lockall(op)
    }

    fn traverse(&mut self, kind: TraverseKind, f: &mut TraverseFn<'_, Self>) -> TdbResult<u32> {
        self.0.traverse(kind, &mut |inner, key, data| {
            f(Loaded::ref_cast_mut(inner), key, data)
        })
    }

    fn firstkey(&mut self) -> TdbResult<Option<Vec<u8>>> {
        self.0.firstkey()
    }

    fn nextkey(&mut self, key: &[u8]) -> TdbResult<Option<Vec<u8>>> {
        self.0.nextkey(key)
    }

    fn check(&mut self) -> TdbResult<()> {
        self.0.check()
    }
}
