//! Trace files: the typed model ([`model`]) and the parser that produces it.

pub mod model;
pub mod writer;

pub use model::*;
