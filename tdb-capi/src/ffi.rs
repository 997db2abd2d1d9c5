//! The ABI boundary's plumbing: no panic crosses into C, `TDB_DATA` to byte slices and
//! back (results copied into `malloc`ed memory, so the caller's `free` works), and the
//! one shape of a call on a handle.

use std::panic::{catch_unwind, AssertUnwindSafe};

use tdb_pure::{Result, Tdb};

use crate::handle::Handle;
use crate::log;
use crate::types::{TdbContext, TdbData};

/// Run `f`, turning a panic into `fallback` (the panic message is printed by Rust's
/// panic hook; nothing unwinds into C).
#[inline]
pub fn guard<R>(fallback: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// The bytes of a `TDB_DATA` (empty for a NULL pointer).
///
/// # Safety
/// A non-null `d.dptr` points at `d.dsize` readable bytes that stay unchanged for `'a`.
#[inline]
pub unsafe fn bytes<'a>(d: &TdbData) -> &'a [u8] {
    if d.dptr.is_null() || d.dsize == 0 {
        return &[];
    }
    // SAFETY: per the contract, `dptr` is valid for `dsize` bytes for 'a.
    unsafe { std::slice::from_raw_parts(d.dptr, d.dsize) }
}

/// A `malloc`ed copy of `src` (one byte is allocated for empty data, as C does, so the
/// pointer is never NULL); `None` if `malloc` fails.
#[inline]
pub fn malloc_copy(src: &[u8]) -> Option<TdbData> {
    // SAFETY: malloc accepts any size; the result is checked for NULL below.
    let p = unsafe { libc::malloc(src.len().max(1)) }.cast::<u8>();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` has room for `src.len()` bytes and cannot overlap `src`.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), p, src.len()) };
    Some(TdbData {
        dptr: p,
        dsize: src.len(),
    })
}

/// The common call: find the handle, run `f` on its engine; on failure log as C does
/// and return `fail` (also for a NULL handle or a panic).
///
/// # Safety
/// `tdb` is NULL or a handle returned by `tdb_open` and not closed.
#[inline]
pub unsafe fn call<R: Copy>(
    tdb: *mut TdbContext,
    what: &str,
    fail: R,
    f: impl FnOnce(&Handle, &mut Tdb) -> Result<R>,
) -> R {
    guard(fail, || {
        // SAFETY: per this function's contract.
        let Some(h) = (unsafe { Handle::from_ptr(tdb) }) else {
            return fail;
        };
        match h.with(what, |t| f(h, t)) {
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                log::failure(h, what, &e);
                fail
            }
            None => fail,
        }
    })
}

/// [`call`] for the many calls that return 0 or −1.
///
/// # Safety
/// As [`call`].
#[inline]
pub unsafe fn call_status(
    tdb: *mut TdbContext,
    what: &str,
    f: impl FnOnce(&mut Tdb) -> Result<()>,
) -> i32 {
    // SAFETY: per this function's contract.
    unsafe { call(tdb, what, -1, |_, t| f(t).map(|()| 0)) }
}

/// [`call`] for calls that cannot fail (getters, void setters).
///
/// # Safety
/// As [`call`].
#[inline]
pub unsafe fn call_infallible<R: Copy>(
    tdb: *mut TdbContext,
    what: &str,
    fallback: R,
    f: impl FnOnce(&mut Tdb) -> R,
) -> R {
    // SAFETY: per this function's contract.
    unsafe { call(tdb, what, fallback, |_, t| Ok(f(t))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_malloced_and_never_null() {
        let d = malloc_copy(b"").unwrap();
        assert!(!d.dptr.is_null());
        assert_eq!(d.dsize, 0);
        // SAFETY: `d.dptr` came from malloc.
        unsafe { libc::free(d.dptr.cast()) };
        let d = malloc_copy(b"abc").unwrap();
        // SAFETY: `d` holds 3 malloced bytes.
        assert_eq!(unsafe { bytes(&d) }, b"abc");
        // SAFETY: as above.
        unsafe { libc::free(d.dptr.cast()) };
    }

    #[test]
    fn panics_become_the_fallback() {
        assert_eq!(guard(-1, || panic!("boom")), -1);
        assert_eq!(guard(-1, || 7), 7);
    }
}
