//! Trace files: the typed model ([`model`]) and the loader that produces it.
//!
//! Modules, bottom up: `hex` (record digits to bytes), `line` (one line to one op),
//! `parse` (a whole file: first and last line, end-of-file rules, writer flavour),
//! `input` (decompression and line-aligned chunks), `load` (the public entry points and
//! the threads), `error`; and the other way, `writer` (one line) and `emit` (a whole
//! trace, or the ops a caller keeps, back to text).

mod arena;
pub mod emit;
mod error;
mod hex;
mod input;
mod interrupted;
mod line;
mod load;
pub mod model;
pub mod opens;
mod parse;
pub mod writer;

pub use error::LoadError;
pub use load::{
    load_trace, load_traces, parse_trace, LoadOptions, LoadProgress, ProgressFn,
    DEFAULT_MAX_LINE_BYTES,
};
pub use model::*;
pub use opens::{creating_open, shape_disagreement};
pub use parse::FlavourChoice;
