//! The second engine on a thread of its own, so that both engines run at the same time.
//!
//! The thread opens the second engine's handle (a handle never crosses threads), walks
//! the same units step by step as the comparing thread does on the first engine, and
//! sends what every step gave in batches (up to [`BATCH`] steps or [`BATCH_BYTES`]
//! bytes), at most [`QUEUE`] batches waiting; the comparing thread hands spent batches
//! back to be filled again, so their memory is reused. The thread may run that far ahead
//! of the comparison. When the comparison stops early (at a divergence), it raises the
//! stop flag and drops its end of the channel; the thread then closes its handle and
//! ends.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use super::outcome::{Given, Outcomes};
use super::run::Runner;
use super::Walk;
use crate::backend::{Backend, TdbResult};

/// Steps per batch, at most.
pub const BATCH: usize = 1024;
/// Bytes (records fetched or visited) after which a batch is sent, however few its
/// steps: the bytes go from one core's cache to the other's, and the batches in flight
/// had better fit in a cache (they may still hold up to [`QUEUE`] times this, or one
/// traverse however large it is).
pub const BATCH_BYTES: usize = 64 * 1024;
/// Batches that may wait for the comparison: the second engine may be this far ahead,
/// which lets each engine run at its own pace where the other is slower for a while.
pub const QUEUE: usize = 16;

/// The outcomes of a run of consecutive steps.
#[derive(Default)]
struct Batch {
    /// Every step's outcomes, one after the other.
    outcomes: Outcomes,
    /// Where each step's outcomes end in `outcomes.steps`.
    ends: Vec<usize>,
}

impl Batch {
    fn clear(&mut self) {
        self.outcomes.clear();
        self.ends.clear();
    }
}

/// What the thread sends.
enum Message {
    /// Whether the handle opened; always the first message.
    Opened(TdbResult<()>),
    /// The outcomes of the next steps.
    Steps(Batch),
}

/// The thread ended before sending what the comparing thread waits for: it panicked, and
/// joining it gives the panic.
#[derive(Debug)]
pub struct Gone;

/// The comparing thread's end of the channel: the steps' outcomes, in order.
pub struct Feed {
    from_second: Receiver<Message>,
    spent: Sender<Batch>,
    batch: Batch,
    /// Steps of `batch` already handed out.
    next: usize,
}

/// The second engine's end of the channel: fills batches and sends them.
pub struct Source {
    to_first: SyncSender<Message>,
    spent: Receiver<Batch>,
    batch: Batch,
}

/// Both ends of a new channel.
pub fn channel() -> (Feed, Source) {
    let (to_first, from_second) = mpsc::sync_channel(QUEUE);
    let (spent_to_second, spent) = mpsc::channel();
    let feed = Feed {
        from_second,
        spent: spent_to_second,
        batch: Batch::default(),
        next: 0,
    };
    let source = Source {
        to_first,
        spent,
        batch: Batch::default(),
    };
    (feed, source)
}

impl Feed {
    /// Whether the second engine's handle opened (its error if not).
    pub fn opened(&mut self) -> Result<TdbResult<()>, Gone> {
        match self.from_second.recv() {
            Ok(Message::Opened(opened)) => Ok(opened),
            Ok(Message::Steps(_)) => unreachable!("the handle opens before any step runs"),
            Err(_) => Err(Gone),
        }
    }

    /// What the second engine's next step gave.
    pub fn next_step(&mut self) -> Result<Given<'_>, Gone> {
        while self.next == self.batch.ends.len() {
            let spent = std::mem::take(&mut self.batch);
            // The thread may have ended already; then the batch is simply dropped.
            let _ = self.spent.send(spent);
            self.batch = match self.from_second.recv() {
                Ok(Message::Steps(batch)) => batch,
                Ok(Message::Opened(_)) => unreachable!("the handle opens once"),
                Err(_) => return Err(Gone),
            };
            self.next = 0;
        }
        let start = self
            .next
            .checked_sub(1)
            .map_or(0, |last| self.batch.ends[last]);
        let end = self.batch.ends[self.next];
        self.next += 1;
        let outcomes = &self.batch.outcomes;
        Ok(Given {
            outcomes,
            steps: &outcomes.steps[start..end],
        })
    }
}

impl Source {
    /// Run one step (the op at `at`, or the traverse it starts) on `db`, keeping what it
    /// gave; returns the next op.
    fn step<B: Backend>(&mut self, runner: &Runner<'_>, db: &mut B, at: usize) -> usize {
        let next = runner.step(db, at, &mut self.batch.outcomes);
        self.batch.ends.push(self.batch.outcomes.steps.len());
        next
    }

    /// Whether the batch is full.
    fn full(&self) -> bool {
        self.batch.ends.len() >= BATCH || self.batch.outcomes.byte_len() >= BATCH_BYTES
    }

    /// Send the steps kept so far, if any, and start a batch (a spent one when there is
    /// one); false when the comparing thread no longer listens.
    fn send(&mut self) -> bool {
        if self.batch.ends.is_empty() {
            return true;
        }
        let mut next = self.spent.try_recv().unwrap_or_default();
        next.clear();
        let batch = std::mem::replace(&mut self.batch, next);
        self.to_first.send(Message::Steps(batch)).is_ok()
    }
}

/// Open engine `B` at `path` and run every unit of `walk` on it, sending each step's
/// outcomes through `source`, until all have run or `stop` is raised or nobody listens;
/// then close the handle: gives what `tdb_close` gave, or `None` when the handle did not
/// open.
pub fn run<B: Backend>(
    walk: &Walk<'_>,
    path: &Path,
    mut source: Source,
    stop: &AtomicBool,
) -> Option<TdbResult<()>> {
    let mut db = match B::open(path, &walk.options) {
        Ok(db) => db,
        Err(error) => {
            let _ = source.to_first.send(Message::Opened(Err(error)));
            return None;
        }
    };
    if source.to_first.send(Message::Opened(Ok(()))).is_ok() {
        run_units(walk, &mut db, &mut source, stop);
    }
    Some(db.close())
}

/// The steps of every unit on `db`, in the walk's order, until `stop` or nobody listens.
fn run_units<B: Backend>(walk: &Walk<'_>, db: &mut B, source: &mut Source, stop: &AtomicBool) {
    for &(index, unit) in &walk.order.units {
        let runner = walk.runner(index);
        let mut at = unit.start as usize;
        while at <= unit.end as usize {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            at = source.step(&runner, db, at);
            if source.full() && !source.send() {
                return;
            }
        }
    }
    source.send();
}
