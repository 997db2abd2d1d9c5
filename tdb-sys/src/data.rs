//! [`Data`], the buffers tdb hands out, and the conversions of key and data arguments
//! to and from C's `TDB_DATA`.

use std::fmt;
use std::ops::Deref;
use std::ptr::{self, NonNull};

use crate::ffi;

/// A buffer tdb allocated with `malloc` (a fetched record or a key), freed on drop.
pub struct Data {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: `Data` exclusively owns a malloc'd buffer; malloc'd memory may be read from and
// freed on any thread.
unsafe impl Send for Data {}
// SAFETY: shared access only reads the buffer.
unsafe impl Sync for Data {}

impl Data {
    /// Takes ownership of a `TDB_DATA` tdb returned; `None` if its pointer is NULL.
    ///
    /// # Safety
    /// A non-NULL `datum.dptr` is a `malloc`ed buffer of at least `datum.dsize` initialised
    /// bytes that nothing else frees.
    pub(crate) unsafe fn from_datum(datum: ffi::TDB_DATA) -> Option<Data> {
        NonNull::new(datum.dptr).map(|ptr| Data {
            ptr,
            len: datum.dsize,
        })
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: per `from_datum`, `ptr` holds `len` initialised bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Deref for Data {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Data {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Data").field(&self.as_slice()).finish()
    }
}

impl PartialEq<[u8]> for Data {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        // SAFETY: the buffer came from tdb's malloc (same libc, linked statically into
        // this binary) and is freed exactly once, here.
        unsafe { libc::free(self.ptr.as_ptr().cast()) };
    }
}

/// A key or data argument for C: `tdb_null` (NULL, 0) for an empty slice, else the
/// slice's bytes. tdb never writes through key/data arguments (its API lacks `const`).
pub(crate) fn datum(bytes: &[u8]) -> ffi::TDB_DATA {
    ffi::TDB_DATA {
        dptr: if bytes.is_empty() {
            ptr::null_mut()
        } else {
            bytes.as_ptr().cast_mut()
        },
        dsize: bytes.len(),
    }
}

/// Borrows the bytes of a `TDB_DATA` tdb hands to a callback (NULL → empty).
///
/// # Safety
/// A non-NULL `datum.dptr` points to `datum.dsize` bytes that stay valid and unchanged for
/// `'a`.
pub(crate) unsafe fn borrow_datum<'a>(datum: &ffi::TDB_DATA) -> &'a [u8] {
    if datum.dptr.is_null() {
        &[]
    } else {
        // SAFETY: per the contract.
        unsafe { std::slice::from_raw_parts(datum.dptr, datum.dsize) }
    }
}
