//! A shared memory map of the database file, as C's `tdb_mmap` makes it: `MAP_SHARED`,
//! writable unless the database is read-only. This module is the crate's mmap boundary:
//! every access through the mapping is bounds-checked here and copies bytes in or out, so
//! no caller holds a pointer into the file.
//!
//! Like C tdb, the mapping assumes the file does not shrink while it is open: tdb never
//! truncates a file another handle has open (only the first opener with
//! `TDB_CLEAR_IF_FIRST` or `O_TRUNC` does, and only when it holds the open lock
//! exclusively), and the mapping covers at most the size the file had when it was made.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

/// A `MAP_SHARED` mapping of `len` bytes of a file from a page-aligned offset.
#[derive(Debug)]
pub struct Map {
    ptr: NonNull<u8>,
    len: usize,
    writable: bool,
}

// SAFETY: the mapping is owned by exactly one `Map` and is only reached through `&self`
// (copies out) or `&mut self` (copies in), so moving it to another thread is as safe as
// moving a `Vec<u8>`.
unsafe impl Send for Map {}

impl Map {
    /// Map `len` bytes of `file` from `offset` (which must be page-aligned); `None` if
    /// `len` is 0 or too large for the address space, or the kernel refuses (the caller
    /// then uses positional I/O, as C does when `mmap` fails).
    pub fn new(file: &File, offset: u64, len: u64, writable: bool) -> Option<Map> {
        let len = usize::try_from(len).ok().filter(|&len| len > 0)?;
        let offset = libc::off_t::try_from(offset).ok()?;
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a fresh mapping chosen by the kernel (no fixed address), of a file
        // descriptor that stays open for this call; the kernel rejects an unaligned
        // offset, and the result is checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        NonNull::new(ptr.cast::<u8>()).map(|ptr| Map { ptr, len, writable })
    }

    /// Bytes covered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The range `[off, off + len)` if it lies inside the mapping.
    #[inline]
    fn range(&self, off: u64, len: usize) -> Option<usize> {
        let start = usize::try_from(off).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.len).then_some(start)
    }

    /// Copy `buf.len()` bytes at `off` out of the mapping; `false` if not covered.
    #[inline]
    pub fn read(&self, off: u64, buf: &mut [u8]) -> bool {
        let Some(start) = self.range(off, buf.len()) else {
            return false;
        };
        // SAFETY: `start + buf.len() <= self.len` was checked, so the source lies inside
        // the live mapping; `buf` is a distinct Rust buffer, so the ranges don't overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.ptr.as_ptr().add(start),
                buf.as_mut_ptr(),
                buf.len(),
            );
        }
        true
    }

    /// The `N` bytes at `off` as an array, if covered (a fixed-size copy the compiler
    /// keeps in registers, for record headers and words).
    #[inline]
    pub fn array<const N: usize>(&self, off: u64) -> Option<[u8; N]> {
        let start = self.range(off, N)?;
        // SAFETY: `start + N <= self.len` was checked, so the source lies inside the live
        // mapping; `[u8; N]` has no alignment requirement beyond 1 and any bytes are valid.
        Some(unsafe { std::ptr::read_unaligned(self.ptr.as_ptr().add(start).cast::<[u8; N]>()) })
    }

    /// The `N` native-order 32-bit words at `off`, if covered: one bounds check, then
    /// plain word loads (a chain walk's `next` word goes straight into a register).
    #[inline(always)]
    pub fn words<const N: usize>(&self, off: u64) -> Option<[u32; N]> {
        let start = self.range(off, 4 * N)?;
        Some(std::array::from_fn(|i| {
            // SAFETY: `start + 4 * N <= self.len` was checked, so each word lies inside the
            // live mapping; `read_unaligned` needs no alignment and any bits are a valid u32.
            unsafe { std::ptr::read_unaligned(self.ptr.as_ptr().add(start + 4 * i).cast::<u32>()) }
        }))
    }

    /// The address of `[off, off + len)` inside a writable mapping, for memory that
    /// other code (robust pthread mutexes) works on in place; `None` if not covered.
    /// Dereferencing it is the caller's business: the pointer is valid while `self` lives.
    pub fn place(&self, off: usize, len: usize) -> Option<NonNull<u8>> {
        if !self.writable {
            return None;
        }
        let start = self.range(off as u64, len)?;
        // SAFETY: `start + len <= self.len` was checked, so the offset stays inside the
        // live mapping and the result is non-null.
        Some(unsafe { NonNull::new_unchecked(self.ptr.as_ptr().add(start)) })
    }

    /// Copy `data` into the mapping at `off`; `false` if not covered or read-only.
    #[inline]
    pub fn write(&mut self, off: u64, data: &[u8]) -> bool {
        if !self.writable {
            return false;
        }
        let Some(start) = self.range(off, data.len()) else {
            return false;
        };
        // SAFETY: `start + data.len() <= self.len` was checked and the mapping is
        // writable (PROT_WRITE); `data` is a distinct Rust buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(start), data.len());
        }
        true
    }

    /// Lend `[off, off + len)` to `f` without copying; if the mapping doesn't cover the
    /// range, `f` is handed back unused.
    ///
    /// Other processes change mapped bytes only under the tdb locks that protect them;
    /// callers lend record data only on handles that lock, and only while holding the
    /// chain lock, as C's `tdb_parse_record` does (unlocked handles copy instead).
    pub fn with_slice<R, F: FnOnce(&[u8]) -> R>(&self, off: u64, len: usize, f: F) -> Result<R, F> {
        let Some(start) = self.range(off, len) else {
            return Err(f);
        };
        // SAFETY: the range lies inside the live mapping, which outlives this call (it is
        // unmapped only by `drop`, which needs `&mut self`); the bytes are plain `u8`, valid
        // for any value, and no writer in this process can run while `&self` is borrowed.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(start), len) };
        Ok(f(bytes))
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what `mmap` returned, and nothing borrows the
        // mapping any more (`drop` has `&mut self`).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}
