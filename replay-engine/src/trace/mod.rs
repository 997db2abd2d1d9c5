//! Trace files: the typed model ([`model`]) and the parser that produces it.

pub mod model;

pub use model::*;
