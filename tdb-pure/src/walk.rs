//! [`ChainWalk`]: the one way to follow the `next` links of a hash chain or of the
//! freelist. It carries the cycle guard, [`WalkGuard`] (a sound file holds at most one
//! record per 24 bytes, re-checked against the file's real size before a walk is called a
//! cycle, since other processes keep adding records), validates each header it reads, and
//! keeps the link bookkeeping the writers need (where the pointer to the record just
//! visited is stored), so no walk can forget any of them.
//!
//! The one exception is `Tdb::find`, the lookup every fetch and store makes: its loop is
//! written by hand around a [`WalkGuard`], because the compiler keeps a header that goes
//! through [`ChainWalk`]'s `Option` partly on the stack there, which costs the robust-mutex
//! fetch about 15 %.

use crate::error::{Error, Result};
use crate::header::{bucket_top, FREELIST_TOP};
use crate::record::{Record, REC_HDR};
use crate::Tdb;

/// A list whose `next` links a walk follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum List {
    /// The hash chain of a bucket.
    Chain(u32),
    /// The freelist.
    Free,
}

impl List {
    /// Offset of the list's head pointer in the header.
    pub(crate) fn head(self) -> u32 {
        match self {
            List::Chain(bucket) => bucket_top(bucket),
            List::Free => FREELIST_TOP,
        }
    }

    /// How many times the sound-file bound a walk of this list may take: a freelist walk
    /// may meet each record twice (merges move records while it runs).
    fn factor(self) -> u64 {
        match self {
            List::Chain(_) => 1,
            List::Free => 2,
        }
    }

    fn cycle(self) -> Error {
        match self {
            List::Chain(bucket) => Error::corrupt(format!("hash chain {bucket} contains a cycle")),
            List::Free => Error::corrupt("freelist contains a cycle"),
        }
    }
}

/// The cycle guard of a walk of one list: counts the links followed, and fails once
/// they are more than a sound file could hold.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WalkGuard {
    list: List,
    steps: u64,
    limit: u64,
}

impl WalkGuard {
    /// The guard of a walk of `list` that has already taken `steps` steps.
    #[inline(always)]
    pub(crate) fn new(tdb: &Tdb, list: List, steps: u64) -> WalkGuard {
        WalkGuard {
            list,
            steps,
            limit: list.factor() * tdb.walk_limit(),
        }
    }

    /// Count one more link followed; an error if the list must hold a cycle.
    #[inline(always)]
    pub(crate) fn step(&mut self, tdb: &mut Tdb) -> Result<()> {
        self.steps += 1;
        if self.steps > self.limit {
            self.limit = recheck_limit(tdb, self.list, self.steps)?;
        }
        Ok(())
    }
}

/// A walk along one list, yielding each record's offset and header in list order.
///
/// Every step goes through the cycle guard. The walk moves on along the header it read
/// last; a caller that unlinks the record it was given says so with
/// [`ChainWalk::unlinked`], so that [`ChainWalk::link`] stays right.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChainWalk {
    guard: WalkGuard,
    /// Where the pointer to the record yielded last is stored (a list head or a record).
    link: u32,
    /// Where the pointer to the record the next step yields is stored: the record
    /// yielded last (or, once that was unlinked, the place that now links past it), or
    /// the list head before the first step.
    at: u32,
    /// The record the next step yields (0: the end).
    next: u32,
}

impl Tdb {
    /// Bound on the number of links a walk may follow in a sound file of the size this
    /// handle knows.
    pub(crate) fn walk_limit(&self) -> u64 {
        self.io.size / u64::from(REC_HDR) + 2
    }
}

impl ChainWalk {
    /// A walk of `list` from its head.
    #[inline(always)]
    pub(crate) fn new(tdb: &mut Tdb, list: List) -> Result<ChainWalk> {
        let head = list.head();
        let first = tdb.io.read_u32(head)?;
        Ok(ChainWalk::resume(tdb, list, head, first, 0))
    }

    /// A walk of `list` that goes on at `next` (whose pointer is stored at `link`) after
    /// `steps` steps already taken (a traverse walks one chain across calls).
    #[inline(always)]
    pub(crate) fn resume(tdb: &Tdb, list: List, link: u32, next: u32, steps: u64) -> ChainWalk {
        ChainWalk {
            guard: WalkGuard::new(tdb, list, steps),
            link,
            at: link,
            next,
        }
    }

    /// Steps taken so far.
    pub(crate) fn steps(&self) -> u64 {
        self.guard.steps
    }

    /// Where the pointer to the record yielded last is stored: the list head or the
    /// record before it (C's `last_ptr`).
    pub(crate) fn link(&self) -> u32 {
        self.link
    }

    /// The caller took the record yielded last out of the list (its predecessor now
    /// links to its successor): the link stays where it is.
    pub(crate) fn unlinked(&mut self) {
        self.at = self.link;
    }

    /// One step through the cycle guard, reading the header with `read(tdb, link, off)`;
    /// the walk goes on along its `next`.
    #[inline(always)]
    fn next_read(
        &mut self,
        tdb: &mut Tdb,
        read: impl FnOnce(&mut Tdb, u32, u32) -> Result<Record>,
    ) -> Result<Option<(u32, Record)>> {
        let off = self.next;
        if off == 0 {
            return Ok(None);
        }
        self.guard.step(tdb)?;
        self.link = self.at;
        self.at = off;
        let rec = read(tdb, self.link, off)?;
        self.next = rec.next;
        Ok(Some((off, rec)))
    }

    /// The next member of a hash chain, its header validated (`tdb_rec_read`; the fast
    /// path reads it straight from the mapping).
    #[inline(always)]
    pub(crate) fn next_chain(&mut self, tdb: &mut Tdb) -> Result<Option<(u32, Record)>> {
        self.next_read(tdb, |tdb, _, off| tdb.rec_read(off))
    }

    /// The next freelist entry (`tdb_rec_free_read`: a live magic is repaired, the `next`
    /// link validated).
    pub(crate) fn next_free(&mut self, tdb: &mut Tdb) -> Result<Option<(u32, Record)>> {
        self.next_read(tdb, |tdb, _, off| tdb.free_read(off))
    }

    /// The next record of any kind: the link to it is validated, the header is not.
    pub(crate) fn next_raw(&mut self, tdb: &mut Tdb) -> Result<Option<(u32, Record)>> {
        self.next_read(tdb, |tdb, link, off| {
            tdb.check_next(link, off)?;
            tdb.io.read_rec_raw(off)
        })
    }

    /// Go on from the record the next step would yield as if it had been yielded and
    /// passed by (not counted, not validated): C's `tdb_freelist_size` does this after a
    /// merge, reading the next pointer from the record it moved to.
    pub(crate) fn pass_over(&mut self, tdb: &mut Tdb) -> Result<()> {
        let off = self.next;
        if off == 0 {
            return Ok(());
        }
        // The next step moves the link here.
        self.at = off;
        self.next = tdb.io.read_u32(off)?;
        Ok(())
    }
}

/// Past the bound of a walk of `list`: re-read the file's real size before calling it a
/// cycle; the new bound. (A free function, so that the walk itself stays in registers.)
#[cold]
#[inline(never)]
fn recheck_limit(tdb: &mut Tdb, list: List, steps: u64) -> Result<u64> {
    tdb.io.refresh_size()?;
    let limit = list.factor() * tdb.walk_limit();
    if steps > limit {
        return Err(list.cycle());
    }
    Ok(limit)
}
