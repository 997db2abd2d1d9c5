//! The C types of `tdb.h` (vendor/libtdb/usr/include/tdb.h) that cross the ABI, with
//! their exact layouts, and the constants of the contract.

use std::ffi::{c_char, c_int, c_uint, c_void};

/// `struct tdb_context`: opaque to C; points at a [`crate::handle::Handle`].
#[repr(C)]
pub struct TdbContext {
    _opaque: [u8; 0],
}

/// `TDB_DATA`, passed by value.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TdbData {
    /// The bytes (NULL for no data).
    pub dptr: *mut u8,
    /// Their number.
    pub dsize: usize,
}

impl TdbData {
    /// `tdb_null`: no data.
    pub const NULL: TdbData = TdbData {
        dptr: std::ptr::null_mut(),
        dsize: 0,
    };

    /// A view of `bytes` for a callback (the callee must not keep or write it).
    pub fn borrowed(bytes: &[u8]) -> TdbData {
        TdbData {
            dptr: bytes.as_ptr().cast_mut(),
            dsize: bytes.len(),
        }
    }
}

/// `tdb_log_func`: variadic, printf-like from the third argument.
pub type LogFn = unsafe extern "C" fn(*mut TdbContext, c_int, *const c_char, ...);

/// `struct tdb_logging_context`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LoggingContext {
    /// The log function (NULL: none).
    pub log_fn: Option<LogFn>,
    /// Passed back by `tdb_get_logging_private`.
    pub log_private: *mut c_void,
}

/// `tdb_hash_func`.
pub type HashFn = unsafe extern "C" fn(*mut TdbData) -> c_uint;

/// `tdb_traverse_func`.
pub type TraverseFn = unsafe extern "C" fn(*mut TdbContext, TdbData, TdbData, *mut c_void) -> c_int;

/// The parser of `tdb_parse_record` and the checker of `tdb_check`.
pub type ParseFn = unsafe extern "C" fn(TdbData, TdbData, *mut c_void) -> c_int;

/// The walker of `tdb_rescue`.
pub type RescueFn = unsafe extern "C" fn(TdbData, TdbData, *mut c_void);

/// `enum tdb_debug_level`.
pub mod level {
    /// `TDB_DEBUG_FATAL`.
    pub const FATAL: i32 = 0;
    /// `TDB_DEBUG_ERROR`.
    pub const ERROR: i32 = 1;
    /// `TDB_DEBUG_WARNING`.
    pub const WARNING: i32 = 2;
    /// `TDB_DEBUG_TRACE`.
    pub const TRACE: i32 = 3;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_tdb_h() {
        assert_eq!(std::mem::size_of::<TdbData>(), 16);
        assert_eq!(std::mem::size_of::<LoggingContext>(), 16);
        assert_eq!(std::mem::size_of::<Option<LogFn>>(), 8);
    }
}
