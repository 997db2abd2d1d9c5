//! The shared vocabulary (`tdb-vocab`) against the C headers: every code and flag has
//! the value libtdb 1.4.8 gives it.

use crate::{ffi, flags, ErrorKind, OpenOptions, StoreFlag};

#[test]
fn error_kinds_have_the_c_codes() {
    let table = [
        (ffi::TDB_ERROR_TDB_ERR_CORRUPT, ErrorKind::Corrupt),
        (ffi::TDB_ERROR_TDB_ERR_IO, ErrorKind::Io),
        (ffi::TDB_ERROR_TDB_ERR_LOCK, ErrorKind::Lock),
        (ffi::TDB_ERROR_TDB_ERR_OOM, ErrorKind::Oom),
        (ffi::TDB_ERROR_TDB_ERR_EXISTS, ErrorKind::Exists),
        (ffi::TDB_ERROR_TDB_ERR_NOLOCK, ErrorKind::NoLock),
        (ffi::TDB_ERROR_TDB_ERR_LOCK_TIMEOUT, ErrorKind::LockTimeout),
        (ffi::TDB_ERROR_TDB_ERR_NOEXIST, ErrorKind::NoExist),
        (ffi::TDB_ERROR_TDB_ERR_EINVAL, ErrorKind::Einval),
        (ffi::TDB_ERROR_TDB_ERR_RDONLY, ErrorKind::ReadOnly),
        (ffi::TDB_ERROR_TDB_ERR_NESTING, ErrorKind::Nesting),
        (ffi::TDB_ERROR_TDB_SUCCESS, ErrorKind::UNSET),
    ];
    for (raw, kind) in table {
        assert_eq!(crate::error::kind_of_raw(raw), kind);
        assert_eq!(kind.code(), raw as i32);
    }
}

#[test]
fn store_flags_have_the_c_values() {
    assert_eq!(StoreFlag::Default.code(), ffi::TDB_DEFAULT as i32);
    assert_eq!(StoreFlag::Replace.code(), ffi::TDB_REPLACE as i32);
    assert_eq!(StoreFlag::Insert.code(), ffi::TDB_INSERT as i32);
    assert_eq!(StoreFlag::Modify.code(), ffi::TDB_MODIFY as i32);
}

#[test]
fn open_flags_have_the_c_values() {
    let table = [
        (flags::DEFAULT, ffi::TDB_DEFAULT),
        (flags::CLEAR_IF_FIRST, ffi::TDB_CLEAR_IF_FIRST),
        (flags::INTERNAL, ffi::TDB_INTERNAL),
        (flags::NOLOCK, ffi::TDB_NOLOCK),
        (flags::NOMMAP, ffi::TDB_NOMMAP),
        (flags::CONVERT, ffi::TDB_CONVERT),
        (flags::BIGENDIAN, ffi::TDB_BIGENDIAN),
        (flags::NOSYNC, ffi::TDB_NOSYNC),
        (flags::SEQNUM, ffi::TDB_SEQNUM),
        (flags::VOLATILE, ffi::TDB_VOLATILE),
        (flags::ALLOW_NESTING, ffi::TDB_ALLOW_NESTING),
        (flags::DISALLOW_NESTING, ffi::TDB_DISALLOW_NESTING),
        (flags::INCOMPATIBLE_HASH, ffi::TDB_INCOMPATIBLE_HASH),
        (flags::MUTEX_LOCKING, ffi::TDB_MUTEX_LOCKING),
    ];
    for (shared, c) in table {
        assert_eq!(shared, c);
    }
}

#[test]
fn default_options_create_read_write() {
    let options = OpenOptions::default();
    assert_eq!(options.open_flags, libc::O_RDWR | libc::O_CREAT);
    assert_eq!(
        (options.hash_size, options.tdb_flags, options.mode),
        (0, 0, 0o600)
    );
}
