//! `libtdb.so.1` over tdb-pure: the whole public API of Samba's `tdb.h` as libtdb 1.4.8
//! exports it (74 symbols with their symbol versions, `tdb_null` included), so that
//! unmodified programs linked against Debian's libtdb (tdbtool, tdbdump, python3-tdb,
//! ...) run on the pure-Rust engine through `LD_LIBRARY_PATH`.
//!
//! This crate is built as a static library; `build-so.sh` links it into
//! `target/release/libtdb.so.1` with the SONAME and the version script `libtdb.map`,
//! which also keeps every Rust symbol local. The layers: [`types`] (tdb.h's C types),
//! [`ffi`] (panic guard, `TDB_DATA` conversion, `malloc`ed results, the call shape),
//! [`handle`] (what a `struct tdb_context *` points at, re-entrancy), [`log`] (error
//! strings and the log function), and [`api`], one module per family of calls.
//!
//! Behaviour that C has and tdb-pure lacked lives in tdb-pure, not here; this layer only
//! converts. No panic unwinds into C: each exported function catches it and returns its
//! failure value.

// The exported functions' safety contract is C's (tdb.h): live handles, valid buffers,
// callbacks of the right type; it is stated once, in `api`, rather than on each.
#![allow(clippy::missing_safety_doc)]

#[macro_use]
mod macros;

pub mod api;
pub mod ffi;
pub mod handle;
pub mod log;
pub mod types;

use types::TdbData;

/// `tdb_null`: the empty `TDB_DATA` (a data object, as in C; never written).
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut tdb_null: TdbData = TdbData::NULL;

#[cfg(test)]
mod tests;
