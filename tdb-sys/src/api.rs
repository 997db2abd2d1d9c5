//! [`Api`]: the one table of tdb's functions the safe handle calls through.
//!
//! The table is filled either from the static build's symbols ([`Api::builtin`]) or from
//! a libtdb loaded at run time ([`Api::load`], in `loaded.rs`). Every [`crate::Tdb`]
//! keeps a `&'static Api` and makes each C call through it, so the same wrapper drives
//! both; a loaded table (and its library) lives until the process ends.

use std::os::raw::{c_char, c_int, c_uint, c_void};

use crate::ffi::{self, tdb_context, TDB_DATA};

/// A `tdb_traverse`-style walk.
pub(crate) type WalkFn =
    unsafe extern "C" fn(*mut tdb_context, ffi::tdb_traverse_func, *mut c_void) -> c_int;
/// A call on the context alone returning `int`.
pub(crate) type CtxFn = unsafe extern "C" fn(*mut tdb_context) -> c_int;
/// A call on the context and a key returning `int`.
pub(crate) type KeyFn = unsafe extern "C" fn(*mut tdb_context, TDB_DATA) -> c_int;
/// A `tdb_parse_record` parser.
pub(crate) type ParserFn = Option<unsafe extern "C" fn(TDB_DATA, TDB_DATA, *mut c_void) -> c_int>;

/// Declares the table: one field per C function, named after it, with the symbol's name
/// derived from the field; `required` ones every libtdb must have, `optional` ones (added
/// in later tdb versions) may be absent from a loaded library.
macro_rules! api_table {
    (
        required { $($name:ident: $ty:ty,)* }
        optional { $($opt:ident: $oty:ty,)* }
    ) => {
        /// tdb's functions, from the static build or from a loaded library.
        pub struct Api {
            $(pub(crate) $name: $ty,)*
            $(pub(crate) $opt: Option<$oty>,)*
            /// Where the functions come from: `c` (the static build) or the library path.
            origin: &'static str,
        }

        /// The static build's functions.
        static BUILTIN: Api = Api {
            $($name: ffi::$name,)*
            $($opt: Some(ffi::$opt),)*
            origin: "c",
        };

        /// The names of the functions every libtdb must export.
        pub const REQUIRED_SYMBOLS: &[&str] = &[$(stringify!($name),)*];
        /// The names of the functions a loaded libtdb may lack (later tdb versions).
        pub const OPTIONAL_SYMBOLS: &[&str] = &[$(stringify!($opt),)*];

        impl Api {
            /// Fills a table by name from `lookup` (a symbol's address, or `None`); the
            /// error is the first required function missing.
            ///
            /// # Safety
            /// Every address `lookup` returns must be the function of that name with the
            /// signature of tdb 1.4's `tdb.h`, valid until the process ends.
            pub(crate) unsafe fn from_lookup(
                origin: &'static str,
                mut lookup: impl FnMut(&str) -> Option<*mut c_void>,
            ) -> Result<Api, &'static str> {
                Ok(Api {
                    $($name: {
                        let address = lookup(stringify!($name)).ok_or(stringify!($name))?;
                        // SAFETY: per the contract, the address is this function.
                        unsafe { std::mem::transmute::<*mut c_void, $ty>(address) }
                    },)*
                    $($opt: lookup(stringify!($opt)).map(|address| {
                        // SAFETY: per the contract, the address is this function.
                        unsafe { std::mem::transmute::<*mut c_void, $oty>(address) }
                    }),)*
                    origin,
                })
            }

            /// Whether the optional function `name` is present.
            pub fn provides(&self, name: &str) -> bool {
                match name {
                    $(stringify!($name) => true,)*
                    $(stringify!($opt) => self.$opt.is_some(),)*
                    _ => false,
                }
            }
        }
    };
}

api_table! {
    required {
        tdb_open_ex: unsafe extern "C" fn(
            *const c_char,
            c_int,
            c_int,
            c_int,
            ffi::mode_t,
            *const ffi::tdb_logging_context,
            ffi::tdb_hash_func,
        ) -> *mut tdb_context,
        tdb_close: CtxFn,
        tdb_error: unsafe extern "C" fn(*mut tdb_context) -> ffi::TDB_ERROR,
        tdb_store: unsafe extern "C" fn(*mut tdb_context, TDB_DATA, TDB_DATA, c_int) -> c_int,
        tdb_fetch: unsafe extern "C" fn(*mut tdb_context, TDB_DATA) -> TDB_DATA,
        tdb_parse_record: unsafe extern "C" fn(*mut tdb_context, TDB_DATA, ParserFn, *mut c_void) -> c_int,
        tdb_exists: KeyFn,
        tdb_delete: KeyFn,
        tdb_append: unsafe extern "C" fn(*mut tdb_context, TDB_DATA, TDB_DATA) -> c_int,
        tdb_get_seqnum: CtxFn,
        tdb_wipe_all: CtxFn,
        tdb_repack: CtxFn,
        tdb_check: unsafe extern "C" fn(*mut tdb_context, ParserFn, *mut c_void) -> c_int,
        tdb_hash_size: CtxFn,
        tdb_get_flags: CtxFn,
        tdb_fd: CtxFn,
        tdb_transaction_start: CtxFn,
        tdb_transaction_start_nonblock: CtxFn,
        tdb_transaction_prepare_commit: CtxFn,
        tdb_transaction_commit: CtxFn,
        tdb_transaction_cancel: CtxFn,
        tdb_firstkey: unsafe extern "C" fn(*mut tdb_context) -> TDB_DATA,
        tdb_nextkey: unsafe extern "C" fn(*mut tdb_context, TDB_DATA) -> TDB_DATA,
        tdb_traverse: WalkFn,
        tdb_traverse_read: WalkFn,
        tdb_chainlock: KeyFn,
        tdb_chainlock_nonblock: KeyFn,
        tdb_chainlock_read: KeyFn,
        tdb_chainlock_mark: KeyFn,
        tdb_chainlock_unmark: KeyFn,
        tdb_chainunlock: KeyFn,
        tdb_chainunlock_read: KeyFn,
        tdb_lockall: CtxFn,
        tdb_lockall_nonblock: CtxFn,
        tdb_lockall_read: CtxFn,
        tdb_lockall_read_nonblock: CtxFn,
        tdb_lockall_mark: CtxFn,
        tdb_lockall_unmark: CtxFn,
        tdb_unlockall: CtxFn,
        tdb_unlockall_read: CtxFn,
    }
    optional {
        tdb_chainlock_read_nonblock: KeyFn,
        tdb_transaction_active: unsafe extern "C" fn(*mut tdb_context) -> bool,
        tdb_storev: unsafe extern "C" fn(*mut tdb_context, TDB_DATA, *const TDB_DATA, c_int, c_int) -> c_int,
        tdb_traverse_chain: unsafe extern "C" fn(*mut tdb_context, c_uint, ffi::tdb_traverse_func, *mut c_void) -> c_int,
        tdb_traverse_key_chain: unsafe extern "C" fn(*mut tdb_context, TDB_DATA, ffi::tdb_traverse_func, *mut c_void) -> c_int,
    }
}

impl Api {
    /// The static build's table (tdb 1.4.8, linked into this program).
    pub fn builtin() -> &'static Api {
        &BUILTIN
    }

    /// `c` for the static build, else the path of the loaded library.
    pub fn origin(&self) -> &'static str {
        self.origin
    }

    /// Whether this is the static build's table.
    pub fn is_builtin(&self) -> bool {
        std::ptr::eq(self, &BUILTIN)
    }

    /// The optional functions this library lacks, by name.
    pub fn missing_optional(&self) -> Vec<&'static str> {
        OPTIONAL_SYMBOLS
            .iter()
            .copied()
            .filter(|name| !self.provides(name))
            .collect()
    }
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("origin", &self.origin)
            .field("missing_optional", &self.missing_optional())
            .finish_non_exhaustive()
    }
}
