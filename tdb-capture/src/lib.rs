//! `libtdb_capture.so`: records every tdb call of an unmodified program as the trace
//! files a `TDB_TRACE` build of tdb writes, by being preloaded (`LD_PRELOAD`) in front
//! of whatever `libtdb.so.1` the program uses. `tdb-replay capture` sets it up; a
//! program started elsewhere needs `LD_PRELOAD=<this library>` and
//! `TDB_CAPTURE_DIR=<dir>` in its environment (see [`config`] for the rest).
//!
//! **What it writes.** One `<db name>.trace.<pid>` per process and database in the
//! capture directory, created exclusively with mode 0600 (a second open of one
//! database in one process is not recorded, as in tdb); each line with the header's
//! sequence number first, read where tdb's tracing reads it; the lines of the calls a
//! traverse callback makes in place; transactions, chain locks and all-record locks in
//! the chosen layout (Samba's by default, or ccan's). Each line is formatted into one
//! buffer and written with one `write(2)`. A forked child writes its own file from its
//! first call on an inherited handle (starting with that handle's `tdb_open` line); an
//! exec'd program inherits the environment, hence the recording. Internal (memory-only)
//! databases are not recorded (ccan does not trace them; Samba writes them to files
//! named after a pointer, which no replay can use).
//!
//! **Where it differs from a `TDB_TRACE` build** (each a consequence of wrapping the
//! library rather than being it): libtdb's calls of its own public functions are not
//! lines of their own, so `tdb_repack` is one line (tdb also traces the transaction,
//! traverse, wipe and stores it makes, and a commit's automatic repack), and the
//! `tdb_parse_record` a same-size `tdb_store` makes inside tdb is not traced; a
//! `tdb_delete`'s number is read before the chain lock is released rather than just
//! after; tdb's tracing keeps one file per open across a fork (parent and child write
//! into it together), this writes one per process, as a replay needs.
//!
//! **Why Rust, linking the recorder's formatter.** The lines come from
//! `replay_engine::trace::writer::TraceWriter`, the formatter `tdb-replay --record`
//! writes with and the parser is tested against: one formatter, not a second in C. The
//! engine is built without its backends (no C tdb is linked in, so nothing here can
//! shadow the program's libtdb), and link-time optimisation keeps only the formatter:
//! the library is about 400 KiB stripped (2.6 MB with the release profile's line
//! tables), runs no constructor at load, and sets itself up once at the program's first
//! `tdb_open` (reads the environment, registers an atfork handler). Rust's
//! `thread_local!`, atomics and `OnceLock` give the per-thread guard, the lock-free
//! handle table and the one-time setup without hand-written synchronisation. (The
//! engine's features unify with the workspace's in a whole-workspace build; the linker
//! still keeps none of the C tdb, and the exports test checks that only tdb's traced
//! functions are exported.)
//!
//! **Versioned symbols.** Programs linked against Debian's libtdb bind versioned
//! references (`tdb_store@TDB_1.2.1`); the dynamic linker lets an unversioned
//! definition, like each of this library's, satisfy them (a version is only enforced
//! against a definition that carries one). The tests run python3-tdb, tdbtool and
//! tdbrestore, all bound that way, and see their calls recorded.
//!
//! **Cheap.** On a database that is not recorded a call costs one load and one branch
//! more ([`handles::Call::enter`]). On a recorded one: a short scan of the table, the
//! sequence number read (`tdb_get_seqnum`), the line formatted into a per-thread buffer
//! (grown once to the longest line, then reused: nothing else is allocated per call),
//! and one `write(2)`. Calls are forwarded to the real functions found once
//! ([`ffi::RealSymbol`]).
//!
//! **Safe to re-enter, fork and exec.** The per-thread guard stops libtdb's own nested
//! calls from being traced twice; it is lowered for the program's traverse callbacks.
//! The handle table is lock-free; the process id is refreshed by an atfork handler;
//! trace files are closed on exec.

mod api;
mod config;
mod ffi;
mod handles;
