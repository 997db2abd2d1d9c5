//! A deliberately broken backend, for testing the differential tools: it wraps a real
//! engine and gets exactly one thing wrong, chosen by [`inject`]. `diff` must report
//! that one thing at its `file:line`, and `shrink` must keep it failing.
//!
//! Handles are opened by the tools, so the fault is process-wide state; the tests run
//! one after the other (see the harness) and set it before each run.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use replay_engine::backend::{
    Backend, ChainLockOp, LockAllOp, LockingModel, OpenOptions, StoreFlag, TdbResult, TraverseFn,
    TraverseKind,
};

/// What to get wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: behave exactly like the wrapped engine.
    None,
    /// The `n`-th fetch (from 1) returns its record with the last byte changed (or one
    /// byte, for an empty record; "not found" stays "not found").
    NthFetchResult(u64),
    /// Every fetch of `key` that finds `data` returns it with the last byte changed
    /// (keyed on content, like [`Fault::StoreOf`]).
    FetchOf {
        /// The key.
        key: Vec<u8>,
        /// The record it must hold for the fault to show.
        data: Vec<u8>,
    },
    /// The `n`-th store (from 1) stores its data with the first byte changed (a byte
    /// added, for empty data).
    NthStoredByte(u64),
    /// Every store of `data` under `key` stores it with the first byte changed. Keyed on
    /// content, not on a count, it means the same whichever other ops run: the fault to
    /// shrink with.
    StoreOf {
        /// The key.
        key: Vec<u8>,
        /// The data whose store goes wrong.
        data: Vec<u8>,
    },
}

static FAULT: Mutex<Fault> = Mutex::new(Fault::None);
static FETCHES: AtomicU64 = AtomicU64::new(0);
static STORES: AtomicU64 = AtomicU64::new(0);

/// Make every [`Faulty`] handle get `fault` wrong from now on (counts start again).
pub fn inject(fault: Fault) {
    *FAULT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = fault;
    FETCHES.store(0, Ordering::SeqCst);
    STORES.store(0, Ordering::SeqCst);
}

fn fault() -> Fault {
    FAULT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

fn damaged(data: &[u8]) -> Vec<u8> {
    let mut wrong = data.to_vec();
    match wrong.last_mut() {
        Some(last) => *last ^= 0x5a,
        None => wrong.push(0x5a),
    }
    wrong
}

/// Engine `B` with the injected fault. Transparent, so a traverse can lend the callback
/// the wrapper around the handle the engine lends it.
#[repr(transparent)]
pub struct Faulty<B>(B);

impl<B: Backend> Backend for Faulty<B> {
    const NAME: &'static str = B::NAME;
    const LOCKING: LockingModel = B::LOCKING;

    fn open(path: &Path, options: &OpenOptions) -> TdbResult<Self> {
        B::open(path, options).map(Faulty)
    }

    fn close(self) -> TdbResult<()> {
        self.0.close()
    }

    fn store(&mut self, key: &[u8], data: &[u8], flag: StoreFlag) -> TdbResult<()> {
        let n = STORES.fetch_add(1, Ordering::SeqCst) + 1;
        let wrong = match fault() {
            Fault::NthStoredByte(at) => at == n,
            Fault::StoreOf {
                key: bad_key,
                data: bad_data,
            } => bad_key == key && bad_data == data,
            _ => false,
        };
        if wrong {
            let mut wrong = data.to_vec();
            match wrong.first_mut() {
                Some(first) => *first ^= 0x5a,
                None => wrong.push(0x5a),
            }
            return self.0.store(key, &wrong, flag);
        }
        self.0.store(key, data, flag)
    }

    fn fetch_with<R>(&mut self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> TdbResult<R> {
        let n = FETCHES.fetch_add(1, Ordering::SeqCst) + 1;
        let wrong = match fault() {
            Fault::NthFetchResult(at) => at == n,
            Fault::FetchOf { key: bad_key, data } => {
                bad_key == key && self.0.fetch(key)?.as_deref() == Some(&data[..])
            }
            _ => false,
        };
        if !wrong {
            return self.0.fetch_with(key, f);
        }
        let got = self.0.fetch(key)?;
        Ok(f(got.as_deref().map(damaged).as_deref()))
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
        // The callback must see this wrapper, so the ops it runs are faulty too.
        self.0.traverse(kind, &mut |inner, key, data| {
            // SAFETY: `Faulty<B>` is `repr(transparent)` over `B`, so a `&mut B` is a
            // valid `&mut Faulty<B>`; the reborrow lasts for this call only, and `inner`
            // is not used meanwhile.
            let db = unsafe { &mut *(inner as *mut B).cast::<Faulty<B>>() };
            f(db, key, data)
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
