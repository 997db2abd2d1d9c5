//! Traversals: `tdb_traverse`, `tdb_traverse_read`, `tdb_traverse_chain`,
//! `tdb_traverse_key_chain`, `tdb_firstkey`, `tdb_nextkey`. Callbacks get the handle and
//! may call back into it (stores and deletes from a write traverse); a non-zero return
//! stops the walk.

use std::ffi::{c_int, c_uint, c_void};
use std::ops::ControlFlow;

use tdb_pure::Tdb;

use crate::ffi::{bytes, call, malloc_copy};
use crate::handle::Handle;
use crate::types::{TdbContext, TdbData, TraverseFn};

/// The tdb-pure callback that runs the caller's `fn(tdb, key, data, private)`.
fn visitor(
    h: &Handle,
    f: Option<TraverseFn>,
    private_data: *mut c_void,
) -> impl FnMut(&mut Tdb, &[u8], &[u8]) -> ControlFlow<()> + '_ {
    move |t, key, data| {
        let Some(f) = f else {
            return ControlFlow::Continue(());
        };
        let rc = h.lend(t, || {
            // SAFETY: the caller's traverse function, given views valid for the call.
            unsafe {
                f(
                    h.as_ptr(),
                    TdbData::borrowed(key),
                    TdbData::borrowed(data),
                    private_data,
                )
            }
        });
        if rc == 0 {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    }
}

fn count(n: u32) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

/// Define the exported whole-database traversals: `name => method`.
macro_rules! traversals {
    ($($(#[$doc:meta])* $name:ident => $method:ident;)*) => {$(
        $(#[$doc])*
        #[no_mangle]
        pub unsafe extern "C" fn $name(
            tdb: *mut TdbContext,
            f: Option<TraverseFn>,
            private_data: *mut c_void,
        ) -> c_int {
            // SAFETY: `tdb` is a live handle (tdb.h's contract).
            unsafe {
                call(tdb, stringify!($name), -1, |h, t| {
                    t.$method(visitor(h, f, private_data)).map(count)
                })
            }
        }
    )*};
}

traversals! {
    /// `tdb_traverse`: the number of records visited, or −1; the callback may write.
    tdb_traverse => traverse;
    /// `tdb_traverse_read`: as `tdb_traverse`, writes from the callback fail.
    tdb_traverse_read => traverse_read;
}

/// `tdb_traverse_chain`.
#[no_mangle]
pub unsafe extern "C" fn tdb_traverse_chain(
    tdb: *mut TdbContext,
    chain: c_uint,
    f: Option<TraverseFn>,
    private_data: *mut c_void,
) -> c_int {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call(tdb, "tdb_traverse_chain", -1, |h, t| {
            t.traverse_chain(chain, visitor(h, f, private_data))
                .map(count)
        })
    }
}

/// `tdb_traverse_key_chain`.
#[no_mangle]
pub unsafe extern "C" fn tdb_traverse_key_chain(
    tdb: *mut TdbContext,
    key: TdbData,
    f: Option<TraverseFn>,
    private_data: *mut c_void,
) -> c_int {
    // SAFETY: the caller's valid key buffer (tdb.h's contract).
    let key = unsafe { bytes(&key) };
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call(tdb, "tdb_traverse_key_chain", -1, |h, t| {
            t.traverse_key_chain(key, visitor(h, f, private_data))
                .map(count)
        })
    }
}

fn key_result(key: Option<Vec<u8>>) -> TdbData {
    key.as_deref()
        .and_then(malloc_copy)
        .unwrap_or(TdbData::NULL)
}

/// `tdb_firstkey`: a `malloc`ed key, or `tdb_null` when empty.
#[no_mangle]
pub unsafe extern "C" fn tdb_firstkey(tdb: *mut TdbContext) -> TdbData {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call(tdb, "tdb_firstkey", TdbData::NULL, |_, t| {
            t.firstkey().map(key_result)
        })
    }
}

/// `tdb_nextkey`: the key after `key`, or `tdb_null` at the end.
#[no_mangle]
pub unsafe extern "C" fn tdb_nextkey(tdb: *mut TdbContext, key: TdbData) -> TdbData {
    // SAFETY: the caller's valid key buffer (tdb.h's contract).
    let key = unsafe { bytes(&key) };
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call(tdb, "tdb_nextkey", TdbData::NULL, |_, t| {
            t.nextkey(key).map(key_result)
        })
    }
}
