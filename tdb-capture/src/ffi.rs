//! The C side: tdb's types as its ABI passes them, and the real libtdb functions each
//! wrapper forwards to.
//!
//! A real function is found once, lazily, on its first use: `dlsym(RTLD_NEXT, name)`
//! (the next definition after this library in the global scope, which is where a
//! program linked against libtdb finds it), and failing that in the libtdb already
//! loaded under its soname, `libtdb.so.1` (a Python extension, say, loads libtdb with
//! `RTLD_LOCAL`, out of the global scope). The address is kept in an atomic: threads
//! racing on the first call resolve the same address, and later calls cost one load.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicPtr, Ordering};

/// `struct tdb_context`: only ever handled through a pointer.
#[repr(C)]
pub struct TdbContext {
    _opaque: [u8; 0],
}

/// `TDB_DATA`, passed and returned by value as C does.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TdbData {
    /// The bytes (NULL: no record).
    pub dptr: *mut u8,
    /// How many.
    pub dsize: usize,
}

impl TdbData {
    /// The bytes, `None` for a NULL pointer (tdb's "no record").
    ///
    /// # Safety
    /// `dptr` is NULL or points at `dsize` readable bytes that stay valid for `'a`, as
    /// tdb's API promises for the data it is given and returns.
    pub unsafe fn bytes<'a>(self) -> Option<&'a [u8]> {
        if self.dptr.is_null() {
            None
        } else {
            // SAFETY: the caller's promise: dptr points at dsize live bytes.
            Some(unsafe { std::slice::from_raw_parts(self.dptr, self.dsize) })
        }
    }

    /// The bytes of a key (never NULL in practice; a NULL key reads as empty).
    ///
    /// # Safety
    /// As [`TdbData::bytes`].
    pub unsafe fn key<'a>(self) -> &'a [u8] {
        // SAFETY: passed on from the caller.
        unsafe { self.bytes() }.unwrap_or_default()
    }
}

/// `tdb_traverse_func`.
pub type TraverseFunc =
    Option<unsafe extern "C" fn(*mut TdbContext, TdbData, TdbData, *mut c_void) -> c_int>;

/// The parser of `tdb_parse_record`.
pub type ParserFunc = Option<unsafe extern "C" fn(TdbData, TdbData, *mut c_void) -> c_int>;

/// One real libtdb function, found on first use.
pub struct RealSymbol {
    /// The name, NUL-terminated.
    name: &'static str,
    address: AtomicPtr<c_void>,
}

impl RealSymbol {
    /// The function `name` (NUL-terminated), not yet looked up.
    pub const fn new(name: &'static str) -> Self {
        RealSymbol {
            name,
            address: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The function's address (never NULL: a program calling tdb without a libtdb
    /// loaded cannot go on, and is stopped with a message).
    #[inline]
    pub fn address(&self) -> *mut c_void {
        let address = self.address.load(Ordering::Acquire);
        if address.is_null() {
            self.resolve()
        } else {
            address
        }
    }

    #[cold]
    fn resolve(&self) -> *mut c_void {
        let name = self.name.as_ptr().cast::<c_char>();
        // SAFETY: dlsym with a NUL-terminated name and the RTLD_NEXT pseudo-handle.
        let mut address = unsafe { libc::dlsym(libc::RTLD_NEXT, name) };
        if address.is_null() {
            address = in_loaded_libtdb(name);
        }
        if address.is_null() {
            die(&[
                "tdb-capture: no libtdb defines ",
                self.name.trim_end_matches('\0'),
            ]);
        }
        self.address.store(address, Ordering::Release);
        address
    }
}

/// `name` in the libtdb this process already loaded (NULL if none is loaded).
fn in_loaded_libtdb(name: *const c_char) -> *mut c_void {
    // SAFETY: RTLD_NOLOAD only returns a library already loaded (and counts one more
    // reference to it, which is never dropped: libtdb stays loaded while it is used).
    let library =
        unsafe { libc::dlopen(c"libtdb.so.1".as_ptr(), libc::RTLD_NOLOAD | libc::RTLD_LAZY) };
    if library.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: a handle dlopen returned and a NUL-terminated name.
    unsafe { libc::dlsym(library, name) }
}

/// Write `parts` and a newline to stderr with write(2) (nothing allocated) and abort.
pub fn die(parts: &[&str]) -> ! {
    for part in parts.iter().chain(&["\n"]) {
        // SAFETY: writes the bytes of a live str to file descriptor 2.
        unsafe { libc::write(2, part.as_ptr().cast(), part.len()) };
    }
    std::process::abort()
}

/// Declares the real functions: `real::NAME(args)` calls libtdb's NAME.
macro_rules! real_functions {
    ($( $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty; )*) => {
        /// The real libtdb functions.
        pub mod real {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[doc = concat!("libtdb's `", stringify!($name), "`.")]
                ///
                /// # Safety
                /// The arguments are valid for the C function, as tdb.h describes.
                #[inline]
                pub unsafe fn $name($($arg: $ty),*) -> $ret {
                    static SYMBOL: RealSymbol =
                        RealSymbol::new(concat!(stringify!($name), "\0"));
                    // SAFETY: the symbol of this name in libtdb is the C function of
                    // this signature (tdb.h); its address is never NULL.
                    let function = unsafe {
                        std::mem::transmute::<*mut c_void, unsafe extern "C" fn($($ty),*) -> $ret>(
                            SYMBOL.address(),
                        )
                    };
                    // SAFETY: the caller's promise.
                    unsafe { function($($arg),*) }
                }
            )*
        }
    };
}

real_functions! {
    tdb_open(name: *const c_char, hash_size: c_int, tdb_flags: c_int, open_flags: c_int, mode: libc::mode_t) -> *mut TdbContext;
    tdb_open_ex(name: *const c_char, hash_size: c_int, tdb_flags: c_int, open_flags: c_int, mode: libc::mode_t, log: *const c_void, hash: *const c_void) -> *mut TdbContext;
    tdb_close(tdb: *mut TdbContext) -> c_int;
    tdb_get_seqnum(tdb: *mut TdbContext) -> c_int;
    tdb_enable_seqnum(tdb: *mut TdbContext) -> ();
    tdb_error(tdb: *mut TdbContext) -> c_int;
    tdb_fetch(tdb: *mut TdbContext, key: TdbData) -> TdbData;
    tdb_parse_record(tdb: *mut TdbContext, key: TdbData, parser: ParserFunc, private: *mut c_void) -> c_int;
    tdb_exists(tdb: *mut TdbContext, key: TdbData) -> c_int;
    tdb_delete(tdb: *mut TdbContext, key: TdbData) -> c_int;
    tdb_store(tdb: *mut TdbContext, key: TdbData, data: TdbData, flag: c_int) -> c_int;
    tdb_storev(tdb: *mut TdbContext, key: TdbData, parts: *const TdbData, count: c_int, flag: c_int) -> c_int;
    tdb_append(tdb: *mut TdbContext, key: TdbData, data: TdbData) -> c_int;
    tdb_firstkey(tdb: *mut TdbContext) -> TdbData;
    tdb_nextkey(tdb: *mut TdbContext, key: TdbData) -> TdbData;
    tdb_traverse(tdb: *mut TdbContext, function: TraverseFunc, private: *mut c_void) -> c_int;
    tdb_traverse_read(tdb: *mut TdbContext, function: TraverseFunc, private: *mut c_void) -> c_int;
    tdb_wipe_all(tdb: *mut TdbContext) -> c_int;
    tdb_repack(tdb: *mut TdbContext) -> c_int;
    tdb_transaction_start(tdb: *mut TdbContext) -> c_int;
    tdb_transaction_start_nonblock(tdb: *mut TdbContext) -> c_int;
    tdb_transaction_prepare_commit(tdb: *mut TdbContext) -> c_int;
    tdb_transaction_commit(tdb: *mut TdbContext) -> c_int;
    tdb_transaction_cancel(tdb: *mut TdbContext) -> c_int;
    tdb_chainlock(tdb: *mut TdbContext, key: TdbData) -> c_int;
    tdb_chainlock_nonblock(tdb: *mut TdbContext, key: TdbData) -> c_int;
    tdb_chainlock_read(tdb: *mut TdbContext, key: TdbData) -> c_int;
    tdb_chainlock_read_nonblock(tdb: *mut TdbContext, key: TdbData) -> c_int;
    tdb_chainlock_mark(tdb: *mut TdbContext, key: TdbData) -> c_int;
    tdb_chainlock_unmark(tdb: *mut TdbContext, key: TdbData) -> c_int;
    tdb_chainunlock(tdb: *mut TdbContext, key: TdbData) -> c_int;
    tdb_chainunlock_read(tdb: *mut TdbContext, key: TdbData) -> c_int;
    tdb_lockall(tdb: *mut TdbContext) -> c_int;
    tdb_lockall_nonblock(tdb: *mut TdbContext) -> c_int;
    tdb_lockall_read(tdb: *mut TdbContext) -> c_int;
    tdb_lockall_read_nonblock(tdb: *mut TdbContext) -> c_int;
    tdb_lockall_mark(tdb: *mut TdbContext) -> c_int;
    tdb_lockall_unmark(tdb: *mut TdbContext) -> c_int;
    tdb_unlockall(tdb: *mut TdbContext) -> c_int;
    tdb_unlockall_read(tdb: *mut TdbContext) -> c_int;
}
