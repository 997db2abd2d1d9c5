//! Crash recovery proven with real kills, in both directions.
//!
//! * **Random kills**: a child process (this test binary, run again as a helper) commits
//!   transactions of 1, a few and hundreds of stores, deletes and appends, syncs on, on C
//!   tdb or on tdb-pure, logging `committing N` before and `committed N` after each
//!   commit; the parent kills it with `SIGKILL` after a random delay, then has copies of
//!   the file recovered by tdb-pure and by C tdb: each must hold exactly the state of
//!   transaction N−1 or N (N the last commit begun), agree with the other, and pass both
//!   engines' `check`. The next child starts on one of the recovered copies or on the
//!   killed file itself, so that some kills land in the recovery run by `open`.
//!   `TDB_CRASH_KILLS=N` sets the number of kills per direction (default 100).
//! * **Every fault point**: through tdb-pure's fault hook (`tdb_pure::fault`), a child
//!   dies at the k-th write, growth or sync of a commit, for every k, cleanly or after
//!   half a write, for several transaction shapes; the same for the recovery that the
//!   next open runs; and the k-th call fails with an I/O error instead (in process).

mod child;
mod engine;
mod fault_points;
mod random_kills;
mod verify;
mod workload;
