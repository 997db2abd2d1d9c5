//! The `tdb-replay` binary as a user meets it: exit statuses, messages, output formats
//! and `--json` documents, one module per area, with the shared helpers in [`util`].
//!
//! Every test runs the binary as a child process (`fork` + `exec`, safe from any
//! thread), so they run in parallel.

mod bench;
mod capture;
mod diff;
mod engines;
mod epochs;
mod files;
mod input;
mod json;
mod replay;
mod torture;
mod util;
