//! [`Engines`]: the engines that take turns on one file, and the visitor that runs a
//! generic job with the backend type of one of them.
//!
//! The [`Backend`] trait stays the one seam: an engine is always run through a backend
//! type, chosen per process. [`Engines::visit`] calls a generic job with the backend type
//! of one position. [`Pair`] is two types fixed at compile time (`--backend c|pure|mixed`);
//! the run-time roster (`--engines`) is in `runtime.rs`.

use std::marker::PhantomData;

use super::{Backend, LockingModel};

/// A generic job to run with one engine's backend type.
pub trait EngineVisitor {
    /// What the job returns.
    type Output;
    /// Runs the job on backend `B`.
    fn visit<B: Backend>(self) -> Self::Output;
}

/// Engines that take turns on one file: process `k` of a run uses position
/// `k % count()`; the first position also prepares the file.
pub trait Engines {
    /// How many engines take turns.
    fn count() -> usize;
    /// The name of the engine at `position` (modulo [`Engines::count`]).
    fn label(position: usize) -> &'static str;
    /// Locking facts of the engine at `position`.
    fn locking(position: usize) -> LockingModel;
    /// Runs `visitor` with the backend type of the engine at `position`.
    fn visit<V: EngineVisitor>(position: usize, visitor: V) -> V::Output;
    /// The locking facts an analysis for all the engines at once must assume: a read
    /// traverse takes the transaction lock if it does on any of them.
    fn locking_of_all() -> LockingModel {
        LockingModel {
            read_traverse_takes_transaction_lock: (0..Self::count())
                .any(|position| Self::locking(position).read_traverse_takes_transaction_lock),
        }
    }

    /// The names of all the engines, joined by `+` (the backoff cache's key).
    fn key() -> String {
        (0..Self::count().max(2))
            .map(Self::label)
            .collect::<Vec<_>>()
            .join("+")
    }
}

/// Two backend types chosen at compile time: even positions on `Even`, odd ones on
/// `Odd` (`--backend c`, `pure` or `mixed`).
pub struct Pair<Even, Odd>(PhantomData<fn() -> (Even, Odd)>);

impl<Even: Backend, Odd: Backend> Engines for Pair<Even, Odd> {
    fn count() -> usize {
        2
    }

    fn label(position: usize) -> &'static str {
        if position.is_multiple_of(2) {
            Even::label()
        } else {
            Odd::label()
        }
    }

    fn locking(position: usize) -> LockingModel {
        if position.is_multiple_of(2) {
            Even::LOCKING
        } else {
            Odd::LOCKING
        }
    }

    fn visit<V: EngineVisitor>(position: usize, visitor: V) -> V::Output {
        if position.is_multiple_of(2) {
            visitor.visit::<Even>()
        } else {
            visitor.visit::<Odd>()
        }
    }
}
