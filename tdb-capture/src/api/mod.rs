//! The exported tdb API: each function forwards to the real libtdb and, on a recorded
//! handle, writes the line C's `TDB_TRACE` writes for it, where C writes it (before the
//! call for unlocks, the blocking all-record locks, commits and cancels; after it for
//! the rest; under the chain lock for the writes).
//!
//! Every function here is called by C code through the dynamic linker, in place of
//! libtdb's: the arguments are whatever the program passed to tdb, and tdb.h's rules
//! for them are the safety contract of each.

mod append;
mod locks;
mod open;
mod records;
mod transactions;
mod traverse;

use replay_engine::backend::StoreFlag;

/// The flag as traced: tdb's four; any other value behaves as 0 in tdb, and is traced so.
fn store_flag(flag: std::ffi::c_int) -> StoreFlag {
    u32::try_from(flag)
        .ok()
        .and_then(StoreFlag::from_code)
        .unwrap_or_default()
}
