//! Placeholder; filled in by the tdb-sys work.
