//! tdb-pure's integration tests, in one binary (one link, one run): each module covers
//! one area, and `util` holds what they share.
//!
//! Running: the binary does not need to run single-threaded for its own sake. Tests that
//! start another process (this binary run again as a helper, see `util::helper_command`)
//! take `util::serial()`, so they run one at a time whatever the thread count; the others
//! work on files of their own. The workspace's `.cargo/config.toml` still sets
//! `RUST_TEST_THREADS=1` for every test binary (the replay's tests fork).

mod c_api_calls;
mod crash;
mod cross_c;
mod locks;
mod mutex;
mod read;
mod transactions;
mod util;
