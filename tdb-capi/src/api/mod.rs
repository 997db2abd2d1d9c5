//! The exported functions of `tdb.h`, one module per family. Each is a thin shell: it
//! converts the arguments, calls tdb-pure through [`crate::ffi::call`] and converts the
//! result; the behaviour lives in tdb-pure.
//!
//! The functions are `unsafe extern "C"`: their safety contract is C's, as documented
//! in `tdb.h` (live handles, valid `TDB_DATA` buffers, callbacks of the right type).

pub mod data;
pub mod debug;
pub mod info;
pub mod lock;
pub mod open;
pub mod transaction;
pub mod traverse;
