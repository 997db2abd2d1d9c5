//! The replay engine: parse tdb trace files, work out which operation of one trace must
//! wait for which operation of another, and replay them concurrently against any
//! [`backend::Backend`], checking every result.
//!
//! Layers, bottom up: [`trace`] (files to typed ops), [`analysis`] (ops to groups, key
//! histories, pre-existing records and dependencies), [`replay`] (workers, waiting,
//! deadlock back-off, timing). Beside them, [`diff`] runs two engines in lock step and
//! [`shrink`] minimises a set that fails. Nothing here knows which tdb it drives.

pub mod analysis;
pub mod backend;
pub mod bare;
pub mod diff;
pub mod dispatch;
pub mod generate;
pub mod inspect;
pub mod process;
pub mod record;
pub mod replay;
pub mod scratch;
pub mod shrink;
pub mod torture;
pub mod trace;
