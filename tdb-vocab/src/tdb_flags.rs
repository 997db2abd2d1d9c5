//! The `TDB_*` flags of `tdb_open`, with their C values (tdb.h); tdb-sys's tests check
//! them against the bindings.

/// `TDB_DEFAULT`: no flags.
pub const DEFAULT: u32 = 0;
/// `TDB_CLEAR_IF_FIRST`: wipe the database if this is the first open.
pub const CLEAR_IF_FIRST: u32 = 0x1;
/// `TDB_INTERNAL`: an in-memory database.
pub const INTERNAL: u32 = 0x2;
/// `TDB_NOLOCK`: no locking at all.
pub const NOLOCK: u32 = 0x4;
/// `TDB_NOMMAP`: plain reads and writes, no mmap.
pub const NOMMAP: u32 = 0x8;
/// `TDB_CONVERT`: foreign byte order (set by tdb itself for a foreign-endian file).
pub const CONVERT: u32 = 0x10;
/// `TDB_BIGENDIAN`: create a big-endian file.
pub const BIGENDIAN: u32 = 0x20;
/// `TDB_NOSYNC`: never fsync.
pub const NOSYNC: u32 = 0x40;
/// `TDB_SEQNUM`: maintain the sequence number.
pub const SEQNUM: u32 = 0x80;
/// `TDB_VOLATILE`: keep up to 5 dead records per chain.
pub const VOLATILE: u32 = 0x100;
/// `TDB_ALLOW_NESTING`: nested transactions (tdb 1.4.8's default).
pub const ALLOW_NESTING: u32 = 0x200;
/// `TDB_DISALLOW_NESTING`: a nested `transaction_start` fails with `Nesting`.
pub const DISALLOW_NESTING: u32 = 0x400;
/// `TDB_INCOMPATIBLE_HASH`: the Jenkins hash (Samba only).
pub const INCOMPATIBLE_HASH: u32 = 0x800;
/// `TDB_MUTEX_LOCKING`: robust mutexes instead of fcntl chain locks (Samba only).
pub const MUTEX_LOCKING: u32 = 0x1000;
