//! A pure-Rust engine for the tdb file format.
//!
//! This crate is a placeholder: the engine itself is built by its own issue. It exists now
//! so that the workspace layout is final and the replay engine's `pure` backend has a
//! place to land.

/// The engine is not implemented yet; the replay CLI reports this when `--backend pure`
/// is chosen.
pub const IMPLEMENTED: bool = false;
