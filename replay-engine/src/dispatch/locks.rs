//! Locks, and the one rule for a nonblocking lock whose outcome differs from the trace:
//! the other processes are elsewhere than in the original run, so a nonblocking lock may
//! fail or succeed differently; the replay then does what leaves the lock state the trace
//! expects next.

use super::{done, Event, Hook, Recorded};
use crate::backend::{ChainLockOp, LockAllOp, TdbResult};

/// What keeps the recorded lock state after a nonblocking lock came out differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reconcile {
    /// It failed where the trace says it worked: take the lock blocking.
    TakeBlocking,
    /// It worked where the trace says it failed: release it.
    Release,
}

/// A lock call of either family (chain locks, all-chain locks).
pub(super) trait LockOp: Copy {
    /// For a nonblocking lock: the blocking lock of the same kind and its unlock.
    fn nonblocking(self) -> Option<(Self, Self)>;
}

impl LockOp for ChainLockOp {
    fn nonblocking(self) -> Option<(Self, Self)> {
        match self {
            ChainLockOp::LockNonblock => Some((ChainLockOp::Lock, ChainLockOp::Unlock)),
            ChainLockOp::LockReadNonblock => Some((ChainLockOp::LockRead, ChainLockOp::UnlockRead)),
            _ => None,
        }
    }
}

impl LockOp for LockAllOp {
    fn nonblocking(self) -> Option<(Self, Self)> {
        match self {
            LockAllOp::LockNonblock => Some((LockAllOp::Lock, LockAllOp::Unlock)),
            LockAllOp::LockReadNonblock => Some((LockAllOp::LockRead, LockAllOp::UnlockRead)),
            _ => None,
        }
    }
}

/// Run lock call `lock` of op `at` through `call`; a nonblocking one with a recorded
/// return value is reconciled with it, any other must work.
pub(super) fn lock<H: Hook, L: LockOp>(
    hook: &mut H,
    at: usize,
    name: &'static str,
    lock: L,
    ret: Option<i32>,
    mut call: impl FnMut(L) -> TdbResult<()>,
) -> Result<(), H::Stop> {
    let got = call(lock);
    let (Some((blocking, unlock)), Some(ret)) = (lock.nonblocking(), ret) else {
        return done(hook, at, name, &got, Recorded::Worked);
    };
    done(hook, at, name, &got, Recorded::Unchecked)?;
    let (action, then) = match (got.is_ok(), ret == 0) {
        (true, true) | (false, false) => return Ok(()),
        (false, true) if H::RULES.blocking_retry => (Reconcile::TakeBlocking, blocking),
        (false, true) => return Ok(()),
        (true, false) => (Reconcile::Release, unlock),
    };
    hook.event(
        at,
        Event::Reconciled {
            call: name,
            action,
            ret,
        },
    )?;
    done(hook, at, name, &call(then), Recorded::Worked)
}
