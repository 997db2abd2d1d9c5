//! One torture process's random workload, in the spirit of tdb's tdbtorture: single
//! keyed ops, traverses that delete and write, transactions committed and cancelled,
//! chain-locked read-modify-writes, and with `exotic` key walks, all-record read locks
//! and wipes.
//!
//! Keys are shared by every process (`key<n>`) or private to one (`p<k>.key<n>`). The
//! process knows what each private key must hold from its own successful operations
//! ([`Expectations`]), so every read of one is checked on the spot, and at the end the
//! database must hold exactly those values. Shared keys are raced for; the workload
//! notes every value it made a shared key hold, and at the end a shared key must hold
//! one of the values some process gave it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::ops::ControlFlow;

use crate::backend::{Backend, ChainLockOp, LockAllOp, StoreFlag, TdbResult, TraverseKind};

/// A small deterministic generator (xorshift64*), so a seed always gives one workload.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What the workload does.
#[derive(Clone, Debug)]
pub struct Mix {
    /// Top-level steps (a transaction or traverse counts as one).
    pub ops: usize,
    /// Distinct keys of each kind (shared, and private to each process).
    pub keys: usize,
    /// Run transactions (committed, cancelled, some prepared first).
    pub transactions: bool,
    /// Also firstkey/nextkey walks, all-record read locks and wipe_all (a wipe destroys
    /// every process's keys, so private keys are then no longer checked).
    pub exotic: bool,
    /// Make every write inside a transaction (only transactions survive a process
    /// killed mid-write; tdbtorture's `-t`).
    pub always_transactions: bool,
}

/// What one process's successful operations imply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectations {
    /// The prefix of its private keys (`p<process>g<generation>.`).
    pub prefix: Vec<u8>,
    /// Whether it ran to the end. A killed process leaves only what it meant to write
    /// (in `shared_values`, for its private keys too): any of it may have landed.
    pub complete: bool,
    /// The value each of its private keys must hold (absent: must not exist).
    pub private: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Every value it made each shared key hold (for a killed process, every value it
    /// was about to write to any key).
    pub shared_values: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>,
    /// Whether it wiped the database (private keys of every process are then unknown).
    pub wiped: bool,
}

/// The prefix of the private keys of `process` in its `generation` (a killed process is
/// restarted as the next generation, with keys of its own).
pub fn private_prefix(process: usize, generation: usize) -> Vec<u8> {
    format!("p{process}g{generation}.").into_bytes()
}

/// A database that did not behave as the process's own operations imply.
#[derive(Debug)]
pub struct Violation(pub String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The state of one process's workload.
pub struct Workload<'m> {
    rng: Rng,
    mix: &'m Mix,
    /// This process's number, for messages.
    process: usize,
    /// Its generation (how many times process `process` was killed and restarted).
    generation: usize,
    /// The prefix of its private keys.
    prefix: Vec<u8>,
    /// Where it notes each value before writing it, when it may be killed.
    intents: Option<File>,
    /// Committed expectations.
    done: Expectations,
    /// Expectations inside the open transaction, if any.
    pending: Option<Expectations>,
    /// Only write traverses (see [`Workload::with_mutexes`]).
    write_traverses_only: bool,
    /// Told the number of every top-level step done.
    progress: Option<Box<dyn Fn(u32) + 'm>>,
}

/// Run a write again while it fails with a lock error, unless a recording is doing so
/// itself (so that the trace holds one line for it).
fn retry_lock(mut write: impl FnMut() -> TdbResult<()>) -> TdbResult<()> {
    if crate::record::active_trace().is_some() {
        write()
    } else {
        crate::record::retry_while_locked(write)
    }
}

fn hex(bytes: &[u8]) -> String {
    crate::analysis::describe_key(bytes)
}

impl<'m> Workload<'m> {
    /// The workload of process `process` (in its `generation`) with `seed`; with
    /// `intents`, every value is noted there before it is written (one line per value,
    /// see [`super::expectations::read_intents`]).
    pub fn new(
        process: usize,
        generation: usize,
        seed: u64,
        mix: &'m Mix,
        intents: Option<File>,
    ) -> Self {
        let prefix = private_prefix(process, generation);
        Workload {
            rng: Rng::new(seed),
            mix,
            process,
            done: Expectations {
                prefix: prefix.clone(),
                complete: true,
                ..Expectations::default()
            },
            prefix,
            generation,
            intents,
            pending: None,
            write_traverses_only: false,
            progress: None,
        }
    }

    /// Note that `value` may be written to `key` (a process killed during the write
    /// may leave it there).
    fn intend(&mut self, key: &[u8], value: &[u8]) -> Result<(), Violation> {
        let Some(file) = self.intents.as_mut() else {
            return Ok(());
        };
        let line = super::expectations::intent_line(key, value);
        file.write_all(line.as_bytes())
            .map_err(|error| Violation(format!("cannot note a write: {error}")))
    }

    /// Run every step on `db`; returns what the database must now hold.
    pub fn run<B: Backend>(mut self, db: &mut B) -> Result<Expectations, Violation> {
        if self.generation > 0 {
            // A restarted process first reads what its killed predecessor left, as an
            // application would: it shows whether that one's last commit finished.
            let kind = if self.write_traverses_only {
                TraverseKind::Write
            } else {
                TraverseKind::Read
            };
            let _ = db.traverse(kind, &mut |_, _, _| ControlFlow::Continue(()));
        }
        for step in 0..self.mix.ops {
            self.top_level(db)?;
            if let Some(progress) = &self.progress {
                progress(step as u32);
            }
        }
        Ok(self.done)
    }

    /// Call `progress` with the step number after every top-level step (so the parent
    /// can tell a run that is stuck from one that is slow).
    pub fn with_progress(mut self, progress: impl Fn(u32) + 'm) -> Self {
        self.progress = Some(Box::new(progress));
        self
    }

    fn expectations(&mut self) -> &mut Expectations {
        self.pending.as_mut().unwrap_or(&mut self.done)
    }

    fn is_own(&self, key: &[u8]) -> bool {
        key.starts_with(&self.prefix)
    }

    fn is_shared(key: &[u8]) -> bool {
        key.starts_with(b"key")
    }

    fn key(&mut self) -> Vec<u8> {
        let n = self.rng.below(self.mix.keys as u64);
        if self.rng.chance(50) {
            format!("key{n}\0").into_bytes()
        } else {
            let mut key = self.prefix.clone();
            key.extend_from_slice(format!("key{n}\0").as_bytes());
            key
        }
    }

    fn value(&mut self) -> Vec<u8> {
        let len = self.rng.below(40) as usize;
        (0..len).map(|_| self.rng.below(256) as u8).collect()
    }

    /// The record `key` now holds, as far as this process knows (private keys only).
    fn known(&mut self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        // Another process's wipe can empty any key at any moment.
        if !self.is_own(key) || self.mix.exotic {
            return None;
        }
        Some(self.expectations().private.get(key).cloned())
    }

    /// Note that `key` now holds `value` (`None`: deleted).
    fn wrote(&mut self, key: &[u8], value: Option<Vec<u8>>) {
        let own = self.is_own(key);
        let expect = self.expectations();
        if own {
            match value {
                Some(value) => expect.private.insert(key.to_vec(), value),
                None => expect.private.remove(key),
            };
        } else if let Some(value) = value {
            expect
                .shared_values
                .entry(key.to_vec())
                .or_default()
                .insert(value);
        }
    }

    /// Check a read of `key` against what this process knows it holds.
    fn read(&mut self, key: &[u8], op: &str, got: Option<&[u8]>) -> Result<(), Violation> {
        match self.known(key) {
            Some(expected) if expected.as_deref() != got => Err(Violation(format!(
                "process {}: {op} of its own key {} gave {}, but its own writes left {}",
                self.process,
                hex(key),
                got.map_or("nothing".into(), hex),
                expected.as_deref().map_or("nothing".into(), hex),
            ))),
            _ => Ok(()),
        }
    }

    fn top_level<B: Backend>(&mut self, db: &mut B) -> Result<(), Violation> {
        let mut choice = self.rng.below(100);
        if !self.mix.exotic && choice >= 92 {
            choice = self.rng.below(92);
        }
        if !self.mix.transactions && (76..=83).contains(&choice) {
            choice = 0;
        }
        if self.mix.always_transactions {
            // Wipes and all-record read locks do not mix with a transaction's locks.
            return if choice >= 92 {
                self.key_walk(db)
            } else {
                self.transaction(db)
            };
        }
        match choice {
            0..=69 => self.keyed(db, false),
            70..=75 => self.traverse(db),
            76..=83 => self.transaction(db),
            84..=89 => self.locked_update(db),
            90..=91 => self.nonblocking_update(db),
            92..=94 => self.key_walk(db),
            95..=97 => self.locked_read(db),
            _ => {
                if self.rng.chance(20) && db.wipe_all().is_ok() {
                    let expect = self.expectations();
                    expect.private.clear();
                    expect.wiped = true;
                }
                Ok(())
            }
        }
    }

    /// A single keyed op; inside a read traverse it never appends or writes (a write
    /// there would wait for a chain lock a committing transaction of another process
    /// needs, while the walk holds a record lock that transaction waits for).
    fn keyed<B: Backend>(&mut self, db: &mut B, in_read_traverse: bool) -> Result<(), Violation> {
        let key = self.key();
        let mut choice = self.rng.below(100);
        if in_read_traverse && (35..=84).contains(&choice) {
            choice = 0;
        }
        match choice {
            0..=34 => {
                let got = db.fetch(&key).ok().flatten();
                self.read(&key, "fetch", got.as_deref())
            }
            35..=59 => {
                let data = self.value();
                let flag = match self.rng.below(10) {
                    0 => StoreFlag::Insert,
                    1 => StoreFlag::Modify,
                    2 => StoreFlag::Default,
                    _ => StoreFlag::Replace,
                };
                self.intend(&key, &data)?;
                let result = retry_lock(|| db.store(&key, &data, flag));
                if let Some(before) = self.known(&key) {
                    let refused = match flag {
                        StoreFlag::Insert => before.is_some(),
                        StoreFlag::Modify => before.is_none(),
                        _ => false,
                    };
                    // tdb 1.4.8's MODIFY can fail on a present record it cannot update in
                    // place; success where the flag forbids it is wrong.
                    if refused && result.is_ok() {
                        return Err(Violation(format!(
                            "process {}: store {flag:?} of its own key {} succeeded, but \
                             its own writes left {}",
                            self.process,
                            hex(&key),
                            before.as_deref().map_or("nothing".into(), hex)
                        )));
                    }
                }
                if result.is_ok() {
                    self.wrote(&key, Some(data));
                }
                Ok(())
            }
            60..=74 => {
                let result = retry_lock(|| db.delete(&key));
                if let Some(before) = self.known(&key) {
                    if before.is_some() != result.is_ok() {
                        return Err(Violation(format!(
                            "process {}: delete of its own key {} {}, but its own writes \
                             left {}",
                            self.process,
                            hex(&key),
                            if result.is_ok() {
                                "succeeded"
                            } else {
                                "failed"
                            },
                            before.as_deref().map_or("nothing".into(), hex)
                        )));
                    }
                }
                if result.is_ok() {
                    self.wrote(&key, None);
                }
                Ok(())
            }
            75..=84 => self.append(db, &key),
            85..=92 => {
                let found = db.exists(&key).unwrap_or(false);
                let known = self.known(&key).map(|value| value.is_some());
                match known {
                    Some(expected) if expected != found => Err(Violation(format!(
                        "process {}: exists of its own key {} gave {found}",
                        self.process,
                        hex(&key)
                    ))),
                    _ => Ok(()),
                }
            }
            _ => {
                let got = db.parse_record(&key, <[u8]>::to_vec).ok();
                self.read(&key, "parse_record", got.as_deref())
            }
        }
    }

    /// `tdb_append`, under the chain lock, so the value it leaves is known.
    fn append<B: Backend>(&mut self, db: &mut B, key: &[u8]) -> Result<(), Violation> {
        let data = self.value();
        if db.chainlock(key, ChainLockOp::Lock).is_err() {
            return Ok(());
        }
        let before = db.fetch(key).ok().flatten();
        let mut after = before.clone().unwrap_or_default();
        after.extend_from_slice(&data);
        self.intend(key, &after)?;
        let appended = retry_lock(|| db.append(key, &data));
        let _ = db.chainlock(key, ChainLockOp::Unlock);
        self.read(key, "fetch", before.as_deref())?;
        if appended.is_ok() {
            self.wrote(key, Some(after));
        }
        Ok(())
    }

    /// On a robust-mutex database with transactions, every traverse is a write traverse.
    /// C tdb deadlocks otherwise: a read traverse keeps its record's fcntl lock while it
    /// locks the next chain, which waits on the allrecord mutex of a committing
    /// transaction, whose upgrade waits for that record lock (a write traverse holds the
    /// transaction lock, so no commit runs beside it). With fcntl locks the chain lock is
    /// granted (read locks share) and there is no cycle.
    pub fn with_mutexes(mut self, mutexes: bool) -> Self {
        self.write_traverses_only =
            mutexes && (self.mix.transactions || self.mix.always_transactions);
        self
    }

    fn traverse<B: Backend>(&mut self, db: &mut B) -> Result<(), Violation> {
        let kind = if self.write_traverses_only || self.rng.chance(50) {
            TraverseKind::Write
        } else {
            TraverseKind::Read
        };
        let mut failure = None;
        let walked = db.traverse(kind, &mut |db, key, data| {
            let step = (|| -> Result<bool, Violation> {
                self.read(key, "traverse", Some(data))?;
                let mine = self.is_own(key) || Self::is_shared(key);
                if kind == TraverseKind::Write && mine && self.rng.chance(25) {
                    if db.delete(key).is_ok() {
                        self.wrote(key, None);
                    }
                } else if self.rng.chance(15) {
                    self.keyed(db, kind == TraverseKind::Read)?;
                }
                Ok(self.rng.chance(8))
            })();
            match step {
                Ok(false) => ControlFlow::Continue(()),
                Ok(true) => ControlFlow::Break(()),
                Err(violation) => {
                    failure = Some(violation);
                    ControlFlow::Break(())
                }
            }
        });
        if let Some(violation) = failure {
            return Err(violation);
        }
        let _ = walked;
        Ok(())
    }

    fn transaction<B: Backend>(&mut self, db: &mut B) -> Result<(), Violation> {
        if self.pending.is_some() || db.transaction_start().is_err() {
            return Ok(());
        }
        self.pending = Some(self.done.clone());
        for _ in 0..1 + self.rng.below(5) {
            let choice = self.rng.below(100);
            if choice < 10 {
                self.traverse(db)?;
            } else if self.mix.always_transactions && choice < 20 {
                self.locked_update(db)?;
            } else {
                self.keyed(db, false)?;
            }
        }
        let staged = self.pending.take().unwrap_or_default();
        if self.rng.chance(25) {
            let _ = db.transaction_cancel();
            return Ok(());
        }
        if self.rng.chance(30) && db.transaction_prepare_commit().is_err() {
            let _ = db.transaction_cancel();
            return Ok(());
        }
        if db.transaction_commit().is_ok() {
            self.done = staged;
        }
        Ok(())
    }

    /// tdbtorture's "lockstore": read and rewrite a record under its chain lock.
    fn locked_update<B: Backend>(&mut self, db: &mut B) -> Result<(), Violation> {
        let key = self.key();
        if db.chainlock(&key, ChainLockOp::Lock).is_err() {
            return Ok(());
        }
        let old = db.fetch(&key).ok().flatten();
        let mut checked = self.read(&key, "fetch", old.as_deref());
        let mut data = old.unwrap_or_default();
        let extra = self.value();
        data.extend(extra.iter().take(2));
        data.truncate(48);
        if checked.is_ok() {
            checked = self.intend(&key, &data);
        }
        if checked.is_ok() && db.store(&key, &data, StoreFlag::Replace).is_ok() {
            self.wrote(&key, Some(data));
        }
        let _ = db.chainlock(&key, ChainLockOp::Unlock);
        checked
    }

    fn nonblocking_update<B: Backend>(&mut self, db: &mut B) -> Result<(), Violation> {
        let key = self.key();
        if db.chainlock(&key, ChainLockOp::LockNonblock).is_ok() {
            let old = db.fetch(&key).ok().flatten();
            let _ = db.chainlock(&key, ChainLockOp::Unlock);
            self.read(&key, "fetch", old.as_deref())?;
        }
        Ok(())
    }

    /// Walk the keys with firstkey/nextkey to the end: tdb keeps a read lock on the
    /// current record between the calls, which only the end of the walk releases.
    fn key_walk<B: Backend>(&mut self, db: &mut B) -> Result<(), Violation> {
        let mut current = db.firstkey().ok().flatten();
        while let Some(old) = current.take() {
            current = db.nextkey(&old).unwrap_or(None);
        }
        Ok(())
    }

    fn locked_read<B: Backend>(&mut self, db: &mut B) -> Result<(), Violation> {
        if db.lockall(LockAllOp::LockRead).is_err() {
            return Ok(());
        }
        let mut checked = Ok(());
        for _ in 0..1 + self.rng.below(3) {
            let key = self.key();
            let got = db.fetch(&key).ok().flatten();
            if checked.is_ok() {
                checked = self.read(&key, "fetch", got.as_deref());
            }
        }
        let _ = db.lockall(LockAllOp::UnlockRead);
        checked
    }
}
