//! [`OpenOptions`]: the arguments of `tdb_open` after the file name.

use crate::tdb_flags;

/// How to open a database: the arguments of `tdb_open` after the name (a trace's
/// `tdb_open` line records the same four values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    /// Number of hash chains for a new file; 0 means tdb's default (131). An existing
    /// file keeps its own.
    pub hash_size: u32,
    /// `TDB_*` flags (see [`tdb_flags`]).
    pub tdb_flags: u32,
    /// `open(2)` flags (`O_RDWR | O_CREAT`, ...).
    pub open_flags: i32,
    /// Mode of a created file.
    pub mode: u32,
}

impl Default for OpenOptions {
    /// Default hash size, no flags, `O_RDWR | O_CREAT`, mode 0600.
    fn default() -> Self {
        OpenOptions {
            hash_size: 0,
            tdb_flags: tdb_flags::DEFAULT,
            open_flags: open_flags::O_RDWR | open_flags::O_CREAT,
            mode: 0o600,
        }
    }
}

/// The two `open(2)` flags of the default options. `std` has no names for them and this
/// crate depends on nothing else, so they are spelled out per platform; tdb-sys's tests
/// check them against libc.
mod open_flags {
    /// `O_RDWR`, 2 on every Unix.
    pub const O_RDWR: i32 = 2;

    /// `O_CREAT`: 0x100 on Linux for MIPS; 0x200 on the BSDs, Apple's systems and Linux
    /// for SPARC; Linux's generic 0o100 everywhere else.
    pub const O_CREAT: i32 = if cfg!(all(
        any(target_os = "linux", target_os = "android"),
        any(
            target_arch = "mips",
            target_arch = "mips64",
            target_arch = "mips32r6",
            target_arch = "mips64r6"
        )
    )) {
        0x100
    } else if cfg!(any(
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly",
        all(
            target_os = "linux",
            any(target_arch = "sparc", target_arch = "sparc64")
        )
    )) {
        0x200
    } else {
        0o100
    };
}
