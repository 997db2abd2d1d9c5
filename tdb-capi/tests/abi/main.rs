//! The proof of the drop-in libtdb.so.1 (issue 16): unmodified programs linked against
//! Debian's libtdb.so.1 run on both Debian's library and ours through
//! `LD_LIBRARY_PATH`, and must behave the same.
//!
//! - `symbols`: our exports are exactly Debian's (names, versions, SONAME), and the
//!   library we mean is the one a program maps;
//! - `tools`: Debian's tdbtool, tdbdump, tdbbackup and tdbrestore;
//! - `hostile`: the same tools' verdicts on damaged files;
//! - `python`: Debian's python3-tdb running testdata/python/api.py;
//! - `c_api`: the C test program (testdata/c) calling every export, error paths and
//!   looping lists included;
//! - `concurrent`: two processes per library on one file at once.
//!
//! Our library is `target/release/libtdb.so.1` (brought up to date by
//! `tdb-capi/build-so.sh` when the tests start) or `$TDB_CAPI_LIB`. Tests that need
//! Debian's packages skip, saying so, when they are missing; CI installs them
//! (.ci/run).

mod c_api;
mod concurrent;
mod hostile;
mod known;
mod python;
mod symbols;
mod tools;
mod util;
