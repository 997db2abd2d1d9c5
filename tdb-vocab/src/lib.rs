//! The tdb vocabulary, defined once for every crate of the workspace: the `TDB_ERR_*`
//! error kinds ([`ErrorKind`], numbers in [`code`]), the `flag` of `tdb_store`
//! ([`StoreFlag`]), the `TDB_*` open flags ([`tdb_flags`]) and the arguments of
//! `tdb_open` ([`OpenOptions`]).
//!
//! `tdb-sys` (the C bindings), `tdb-pure` (the pure-Rust engine) and `replay-engine`
//! re-export these items where each used to define its own, so that two engines' results
//! compare without translation tables. Everything here is plain data with the C values;
//! the crate needs nothing beyond `std`.

pub mod code;
mod error_kind;
mod open;
mod store_flag;
pub mod tdb_flags;

pub use error_kind::ErrorKind;
pub use open::OpenOptions;
pub use store_flag::StoreFlag;
