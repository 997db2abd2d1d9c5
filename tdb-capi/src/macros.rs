//! Macros defining the many exported calls that only name a tdb-pure method.

/// Define exported calls on the handle alone, returning 0 or −1: `name => method`.
macro_rules! handle_calls {
    ($($(#[$doc:meta])* $name:ident => $method:ident;)*) => {$(
        $(#[$doc])*
        #[no_mangle]
        pub unsafe extern "C" fn $name(tdb: *mut $crate::types::TdbContext) -> std::ffi::c_int {
            // SAFETY: `tdb` is a live handle (tdb.h's contract).
            unsafe { $crate::ffi::call_status(tdb, stringify!($name), tdb_pure::Tdb::$method) }
        }
    )*};
}

/// Define exported calls on a key, returning 0 or −1: `name => method`.
macro_rules! key_calls {
    ($($(#[$doc:meta])* $name:ident => $method:ident;)*) => {$(
        $(#[$doc])*
        #[no_mangle]
        pub unsafe extern "C" fn $name(
            tdb: *mut $crate::types::TdbContext,
            key: $crate::types::TdbData,
        ) -> std::ffi::c_int {
            // SAFETY: the caller's valid key buffer (tdb.h's contract).
            let key = unsafe { $crate::ffi::bytes(&key) };
            // SAFETY: `tdb` is a live handle (tdb.h's contract).
            unsafe { $crate::ffi::call_status(tdb, stringify!($name), |t| t.$method(key)) }
        }
    )*};
}
