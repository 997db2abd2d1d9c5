//! Recording: a [`Backend`] wrapper that writes every call it passes on as the line C
//! tdb's own tracing (`TDB_TRACE`) writes, around any backend. Traces recorded on C tdb,
//! on tdb-pure or from a replay read back like real ones.
//!
//! What is written follows C (trace-replay.md 1.4, 1.5): one file per process and
//! database, `<db name>.trace.<pid>`, created exclusively with mode 0600; the header's
//! sequence number starts each line, read when C reads it (after most ops; before the
//! commits, cancels, unlocks and the blocking all-record locks); the `= ret` forms; the
//! `tdb_lockall` / `tdb_unlockall` frame C's `tdb_wipe_all` writes; a traverse's start
//! line once its locks are held, one `traverse K = D` per record and `= n` on its end
//! line when the callback stopped it. Opening a recorded handle turns on `TDB_SEQNUM`,
//! as tracing does in tdb, so the sequence numbers move.
//!
//! Which handle records is said at its open: [`Backend::open_recorded`] with
//! `Some(options)` records, a plain [`Backend::open`] does not (so a replay's workers
//! record, and the handle that prepared the database does not).
//!
//! The recorded handle's trace lives with its thread, not in the handle: a traverse's
//! callback gets the wrapped backend's handle back and must see it as a `Recording`
//! ([`RefCast`]), so the handle cannot carry more than the wrapped one. Hence one
//! recorded handle per thread at a time: a handle opened while another records ends that
//! one's trace where it stands, as if its process had died.
//!
//! A `repack` is recorded as its one `tdb_repack` line (C also traces the transaction,
//! traverse and stores repack makes on the handle; replaying the line repeats them).

pub mod dir;
mod tracer;

use std::cell::RefCell;
use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use ref_cast::RefCast;

use crate::backend::{
    tdb_flags, Backend, ChainLockOp, ErrorKind, LockAllOp, LockingModel, OpenOptions, StoreFlag,
    TdbError, TdbResult, TraverseFn, TraverseKind,
};
use crate::trace::writer::TraceWriter;
use tracer::Tracer;
pub use tracer::{trace_file_name, Layout, RecordOptions};

thread_local! {
    /// The trace of the recording handle open on this thread.
    static ACTIVE: RefCell<Option<Tracer>> = const { RefCell::new(None) };
}

/// The trace file the handle open on this thread records to, if any.
pub fn active_trace() -> Option<PathBuf> {
    ACTIVE.with(|active| {
        active
            .borrow()
            .as_ref()
            .map(|tracer| tracer.path().to_path_buf())
    })
}

/// Backend `B`, recording every call when opened with [`Backend::open_recorded`] and
/// record options (see the module notes); otherwise exactly `B`.
#[derive(RefCast)]
#[repr(transparent)]
pub struct Recording<B>(B);

impl<B> Recording<B> {
    /// The wrapped handle (its calls are not recorded).
    pub fn inner(&mut self) -> &mut B {
        &mut self.0
    }
}

/// Whether this thread is recording.
fn recording() -> bool {
    ACTIVE.with(|active| active.borrow().is_some())
}

/// Whether a lock failure should be retried rather than recorded.
fn retries_lock_errors() -> bool {
    ACTIVE.with(|active| {
        active
            .borrow()
            .as_ref()
            .is_some_and(|tracer| tracer.retry_lock_errors)
    })
}

/// The layout being written (ccan when not recording).
fn layout() -> Layout {
    ACTIVE.with(|active| {
        active
            .borrow()
            .as_ref()
            .map_or(Layout::Ccan, |tracer| tracer.layout)
    })
}

/// The header's sequence number, read as C's tracing reads it (through the transaction,
/// if one is open).
fn seqnum_of<B: Backend>(db: &mut B) -> i32 {
    db.get_seqnum().unwrap_or(0)
}

/// Write one line with the header's current sequence number, if this thread records.
fn emit<B: Backend>(
    db: &mut B,
    write: impl FnOnce(&mut TraceWriter<Vec<u8>>, i32) -> io::Result<()>,
) {
    if recording() {
        emit_at(seqnum_of(db), write);
    }
}

/// Write one line with sequence number `seqnum`, if this thread records.
fn emit_at(seqnum: i32, write: impl FnOnce(&mut TraceWriter<Vec<u8>>, i32) -> io::Result<()>) {
    ACTIVE.with(|active| {
        let mut active = active.borrow_mut();
        let Some(tracer) = active.as_mut() else {
            return;
        };
        if let Err(error) = tracer.line(|lines| write(lines, seqnum)) {
            eprintln!(
                "tdb-replay: recording to {} stopped: {error}",
                tracer.path().display()
            );
            *active = None;
        }
    });
}

/// Read (or change) the recorded handle's tracing state.
fn with_tracer<R>(f: impl FnOnce(&mut Tracer) -> R) -> Option<R> {
    ACTIVE.with(|active| active.borrow_mut().as_mut().map(f))
}

/// Run `op` on `db` and trace it, reading the sequence number before the chain lock of
/// `key` is released, as C does for the writes (so no other process's write to that key
/// can get a smaller number than this one). Inside a transaction (no other process can
/// write) or a read traverse (writes fail before locking) no lock is taken.
fn under_chain_lock<B: Backend, R>(
    db: &mut B,
    key: &[u8],
    op: impl FnOnce(&mut B) -> R,
    trace: impl FnOnce(&mut B, &R),
) -> R {
    let lock =
        with_tracer(|tracer| tracer.depth == 0 && tracer.read_traverses == 0).unwrap_or(false);
    let locked = lock && db.chainlock(key, ChainLockOp::Lock).is_ok();
    let result = op(db);
    trace(db, &result);
    if locked {
        let _ = db.chainlock(key, ChainLockOp::Unlock);
    }
    result
}

/// Change the recorded handle's transaction depth; returns the depth before.
fn adjust_depth(change: impl FnOnce(u32) -> u32) -> u32 {
    ACTIVE.with(|active| {
        let mut active = active.borrow_mut();
        match active.as_mut() {
            Some(tracer) => {
                let before = tracer.depth;
                tracer.depth = change(before);
                before
            }
            None => 0,
        }
    })
}

/// `write` again while it fails with a lock error, when the recording asks for it.
fn with_lock_retries(mut write: impl FnMut() -> TdbResult<()>) -> TdbResult<()> {
    if retries_lock_errors() {
        retry_while_locked(write)
    } else {
        write()
    }
}

/// Run `write` again (up to 100 times, 50 µs apart) while it fails with a lock error:
/// the kernel's deadlock detection can refuse a lock a later attempt gets.
pub fn retry_while_locked(mut write: impl FnMut() -> TdbResult<()>) -> TdbResult<()> {
    let mut result = write();
    for _ in 0..100 {
        match &result {
            Err(error) if error.kind == ErrorKind::Lock => {
                std::thread::sleep(std::time::Duration::from_micros(50));
                result = write();
            }
            _ => break,
        }
    }
    result
}

fn ret(result: &TdbResult<()>) -> i32 {
    if result.is_ok() {
        0
    } else {
        -1
    }
}

impl<B: Backend> Backend for Recording<B> {
    const NAME: &'static str = B::NAME;
    const LOCKING: LockingModel = B::LOCKING;

    fn label() -> &'static str {
        B::label()
    }

    fn open(path: &Path, options: &OpenOptions) -> TdbResult<Self> {
        Self::open_recorded(path, options, None)
    }

    fn open_recorded(
        path: &Path,
        options: &OpenOptions,
        record: Option<&RecordOptions>,
    ) -> TdbResult<Self> {
        // A trace still open here belongs to a handle dropped without a close.
        ACTIVE.with(|active| active.borrow_mut().take());
        let Some(record) = record else {
            return B::open(path, options).map(Recording);
        };
        let traced = OpenOptions {
            tdb_flags: options.tdb_flags | tdb_flags::SEQNUM,
            ..*options
        };
        let mut db = B::open(path, &traced)?;
        let tracer = Tracer::create(path, record)
            .map_err(|error| TdbError::with_detail(ErrorKind::Io, error.to_string()))?;
        ACTIVE.with(|active| *active.borrow_mut() = Some(tracer));
        // tdb traces the hash size after the default applies, and the flags as given;
        // in ccan's layout nesting is declared, since tdb 1.4 allows it by default.
        let hash_size = if options.hash_size == 0 {
            131
        } else {
            options.hash_size
        };
        let mut flags = options.tdb_flags;
        if record.layout == Layout::Ccan && flags & tdb_flags::DISALLOW_NESTING == 0 {
            flags |= tdb_flags::ALLOW_NESTING;
        }
        emit(&mut db, |out, seq| {
            out.open(seq, hash_size, flags, options.open_flags)
        });
        Ok(Recording(db))
    }

    fn close(mut self) -> TdbResult<()> {
        if recording() {
            if adjust_depth(|_| 0) > 0 {
                emit(&mut self.0, |out, seq| {
                    out.bare(seq, "tdb_transaction_cancel")
                });
            }
            emit(&mut self.0, |out, seq| out.bare(seq, "tdb_close"));
            ACTIVE.with(|active| active.borrow_mut().take());
        }
        self.0.close()
    }

    fn store(&mut self, key: &[u8], data: &[u8], flag: StoreFlag) -> TdbResult<()> {
        if !recording() {
            return self.0.store(key, data, flag);
        }
        under_chain_lock(
            &mut self.0,
            key,
            |db| with_lock_retries(|| db.store(key, data, flag)),
            |db, result| emit(db, |out, seq| out.store(seq, key, data, flag, ret(result))),
        )
    }

    fn fetch_with<R>(&mut self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> TdbResult<R> {
        if !recording() {
            return self.0.fetch_with(key, f);
        }
        let got = self.0.fetch(key);
        let found = got.as_ref().ok().and_then(Option::as_deref);
        emit(&mut self.0, |out, seq| out.fetch(seq, key, found));
        got.map(|data| f(data.as_deref()))
    }

    fn parse_record<R>(&mut self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> TdbResult<R> {
        let result = self.0.parse_record(key, f);
        let code = if result.is_ok() { 0 } else { -1 };
        emit(&mut self.0, |out, seq| {
            out.key_ret(seq, "tdb_parse_record", key, code)
        });
        result
    }

    fn exists(&mut self, key: &[u8]) -> TdbResult<bool> {
        let result = self.0.exists(key);
        let code = i32::from(matches!(result, Ok(true)));
        emit(&mut self.0, |out, seq| {
            out.key_ret(seq, "tdb_exists", key, code)
        });
        result
    }

    fn delete(&mut self, key: &[u8]) -> TdbResult<()> {
        if !recording() {
            return self.0.delete(key);
        }
        under_chain_lock(
            &mut self.0,
            key,
            |db| with_lock_retries(|| db.delete(key)),
            |db, result| {
                emit(db, |out, seq| {
                    out.key_ret(seq, "tdb_delete", key, ret(result))
                })
            },
        )
    }

    fn append(&mut self, key: &[u8], data: &[u8]) -> TdbResult<()> {
        if !recording() {
            return self.0.append(key, data);
        }
        // tdb reads the old record and writes the new one under the chain lock, and
        // traces the append even when its store failed (not when the lock failed).
        let samba = layout() == Layout::Samba;
        let (_, result) = under_chain_lock(
            &mut self.0,
            key,
            |db| {
                let previous = db.fetch(key).ok().flatten();
                (previous, with_lock_retries(|| db.append(key, data)))
            },
            |db, (previous, result)| {
                if matches!(result, Err(error) if error.kind == ErrorKind::Lock) {
                    return;
                }
                if samba {
                    emit(db, |out, seq| {
                        out.append_previous(seq, key, previous.as_deref(), Some(data))
                    });
                } else {
                    let mut after = previous.clone().unwrap_or_default();
                    after.extend_from_slice(data);
                    emit(db, |out, seq| out.append(seq, key, data, &after));
                }
            },
        );
        result
    }

    fn get_seqnum(&mut self) -> TdbResult<i32> {
        self.0.get_seqnum()
    }

    fn wipe_all(&mut self) -> TdbResult<()> {
        if !recording() {
            return self.0.wipe_all();
        }
        // C's wipe takes the public all-record lock (traced), writes its own line under
        // it, wipes, and unlocks (traced): a lock it could not take ends it there.
        let before = seqnum_of(&mut self.0);
        emit_at(before, |out, seq| out.lockall(seq, LockAllOp::Lock, None));
        let result = self.0.wipe_all();
        if !matches!(&result, Err(error) if error.kind == ErrorKind::Lock) {
            emit_at(before, |out, seq| out.bare(seq, "tdb_wipe_all"));
            emit(&mut self.0, |out, seq| {
                out.lockall(seq, LockAllOp::Unlock, None)
            });
        }
        result
    }

    fn repack(&mut self) -> TdbResult<()> {
        emit(&mut self.0, |out, seq| out.bare(seq, "tdb_repack"));
        self.0.repack()
    }

    fn transaction_start(&mut self) -> TdbResult<()> {
        let result = self.0.transaction_start();
        if result.is_ok() {
            let depth = adjust_depth(|depth| depth + 1);
            if depth == 0 || layout() == Layout::Ccan {
                emit(&mut self.0, |out, seq| {
                    out.bare(seq, "tdb_transaction_start")
                });
            }
        }
        result
    }

    fn transaction_prepare_commit(&mut self) -> TdbResult<()> {
        emit(&mut self.0, |out, seq| {
            out.bare(seq, "tdb_transaction_prepare_commit")
        });
        self.0.transaction_prepare_commit()
    }

    fn transaction_commit(&mut self) -> TdbResult<()> {
        emit(&mut self.0, |out, seq| {
            out.bare(seq, "tdb_transaction_commit")
        });
        adjust_depth(|depth| depth.saturating_sub(1));
        self.0.transaction_commit()
    }

    fn transaction_cancel(&mut self) -> TdbResult<()> {
        emit(&mut self.0, |out, seq| {
            out.bare(seq, "tdb_transaction_cancel")
        });
        adjust_depth(|depth| depth.saturating_sub(1));
        self.0.transaction_cancel()
    }

    fn chainlock(&mut self, key: &[u8], op: ChainLockOp) -> TdbResult<()> {
        let before = matches!(
            op,
            ChainLockOp::Unlock | ChainLockOp::UnlockRead | ChainLockOp::Unmark
        );
        if before {
            emit(&mut self.0, |out, seq| out.chainlock(seq, op, key, None));
        }
        let result = self.0.chainlock(key, op);
        if !before {
            let code = match op {
                ChainLockOp::LockNonblock | ChainLockOp::LockReadNonblock => Some(ret(&result)),
                _ => None,
            };
            emit(&mut self.0, |out, seq| out.chainlock(seq, op, key, code));
        }
        result
    }

    fn lockall(&mut self, op: LockAllOp) -> TdbResult<()> {
        let nonblocking = matches!(op, LockAllOp::LockNonblock | LockAllOp::LockReadNonblock);
        if !nonblocking {
            emit(&mut self.0, |out, seq| out.lockall(seq, op, None));
        }
        let result = self.0.lockall(op);
        if nonblocking {
            emit(&mut self.0, |out, seq| {
                out.lockall(seq, op, Some(ret(&result)))
            });
        }
        result
    }

    fn traverse(&mut self, kind: TraverseKind, f: &mut TraverseFn<'_, Self>) -> TdbResult<u32> {
        if !recording() {
            return self.0.traverse(kind, &mut |inner, key, data| {
                f(Recording::ref_cast_mut(inner), key, data)
            });
        }
        // Inside a read traverse tdb runs (and traces) a write traverse as a read one.
        let nested_in_read = with_tracer(|tracer| tracer.read_traverses > 0).unwrap_or(false);
        let traced_kind = if nested_in_read {
            TraverseKind::Read
        } else {
            kind
        };
        let reading = traced_kind == TraverseKind::Read;
        if reading {
            with_tracer(|tracer| tracer.read_traverses += 1);
        }
        // tdb writes the start line once it holds the traverse's locks: at the first
        // record, or after a walk that found none.
        let mut started = false;
        let mut stopped = false;
        let result = self.0.traverse(kind, &mut |inner, key, data| {
            if !started {
                started = true;
                emit(inner, |out, seq| out.traverse_start(seq, traced_kind));
            }
            emit(inner, |out, seq| out.traverse_entry(seq, key, data));
            let flow = f(Recording::ref_cast_mut(inner), key, data);
            stopped = flow == ControlFlow::Break(());
            flow
        });
        if reading {
            with_tracer(|tracer| tracer.read_traverses = tracer.read_traverses.saturating_sub(1));
        }
        // A traverse that failed writes no end line, as in tdb.
        if let Ok(count) = result {
            if !started {
                emit(&mut self.0, |out, seq| out.traverse_start(seq, traced_kind));
            }
            emit(&mut self.0, |out, seq| {
                out.traverse_end(seq, stopped.then_some(count))
            });
        }
        result
    }

    fn firstkey(&mut self) -> TdbResult<Option<Vec<u8>>> {
        let result = self.0.firstkey();
        let key = result.as_ref().ok().and_then(Option::as_deref);
        emit(&mut self.0, |out, seq| out.key_walk(seq, None, key));
        result
    }

    fn nextkey(&mut self, key: &[u8]) -> TdbResult<Option<Vec<u8>>> {
        let result = self.0.nextkey(key);
        let next = result.as_ref().ok().and_then(Option::as_deref);
        emit(&mut self.0, |out, seq| out.key_walk(seq, Some(key), next));
        result
    }

    fn check(&mut self) -> TdbResult<()> {
        self.0.check()
    }
}

#[cfg(test)]
mod tests;
