//! [`Api::load`]: a libtdb chosen at run time, checked before anything calls it.
//!
//! A path is refused, with one sentence saying why, when it is not a file, not an ELF
//! shared library for this machine, cannot be loaded, lacks a function every replay
//! needs, has tdb's version nodes but not the expected one, or fails a round trip on a
//! `TDB_INTERNAL` database. The round trip runs in a forked child, so a library with
//! another ABI (a different `TDB_DATA` layout, say) is refused by its crash there instead
//! of crashing this process.
//!
//! The library stays loaded until the process ends (its table is leaked): handles and
//! walks refer to its code. Worker processes forked later inherit the mapping, exactly as
//! they inherit the static build.

use std::ffi::CString;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::raw::{c_int, c_void};
use std::path::Path;

use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
use tdb_vocab::{tdb_flags, OpenOptions, StoreFlag};

use crate::api::Api;
use crate::handle::Tdb;

/// The version node every Samba libtdb since 1.2.1 puts its first functions in.
const BASE_VERSION_NODE: &str = "TDB_1.2.1";

/// Why a path is not a usable libtdb.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    path: String,
    reason: String,
}

impl LoadError {
    fn new(path: &Path, reason: impl Into<String>) -> LoadError {
        LoadError {
            path: path.display().to_string(),
            reason: reason.into(),
        }
    }

    /// What is wrong with the library, without its path.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

impl std::error::Error for LoadError {}

impl Api {
    /// Loads the libtdb at `path` and checks it (see the module documentation). The
    /// table lives, and the library stays loaded, until the process ends.
    pub fn load(path: &Path) -> Result<&'static Api, LoadError> {
        check_elf(path)?;
        // SAFETY: loading runs the library's initialisers; a libtdb's (and libc's, for the
        // libc case) are plain C with no preconditions on the caller.
        let library = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
            .map_err(|error| LoadError::new(path, format!("cannot be loaded: {error}")))?;
        let handle = library.into_raw();
        let origin: &'static str = Box::leak(path.display().to_string().into_boxed_str());
        let lookup = |symbol: &str| dlsym(handle, symbol);
        // SAFETY: the addresses are the library's functions of those names; whether they
        // have tdb's signatures is what the version check and the round trip below test
        // before the table is handed out. The library is never unloaded.
        let table = unsafe { Api::from_lookup(origin, lookup) }.map_err(|missing| {
            let reason = if missing == "tdb_open_ex" {
                "not a libtdb: it has no tdb_open_ex".to_string()
            } else {
                format!("not a usable libtdb: it lacks {missing}, which every replay needs")
            };
            LoadError::new(path, reason)
        })?;
        check_version_node(handle, path)?;
        let table: &'static Api = Box::leak(Box::new(table));
        round_trip_in_child(table).map_err(|reason| LoadError::new(path, reason))?;
        Ok(table)
    }
}

/// The address of `symbol` in the library `handle` (or its dependencies).
fn dlsym(handle: *mut c_void, symbol: &str) -> Option<*mut c_void> {
    let name = CString::new(symbol).ok()?;
    // SAFETY: `handle` is a live dlopen handle (never closed); `name` is NUL-terminated.
    let address = unsafe { libc::dlsym(handle, name.as_ptr()) };
    (!address.is_null()).then_some(address)
}

/// A versioned library must give `tdb_open_ex` its 1.2.1 node as the default; one
/// without version nodes (a private build, tdb-pure's C ABI) is left to the round trip.
fn check_version_node(handle: *mut c_void, path: &Path) -> Result<(), LoadError> {
    let (Ok(symbol), Ok(version)) = (CString::new("tdb_open_ex"), CString::new(BASE_VERSION_NODE))
    else {
        return Ok(());
    };
    // SAFETY: `handle` is a live dlopen handle; both strings are NUL-terminated.
    let versioned = unsafe { libc::dlvsym(handle, symbol.as_ptr(), version.as_ptr()) };
    if versioned.is_null() {
        return Ok(());
    }
    match dlsym(handle, "tdb_open_ex") {
        Some(default) if default == versioned => Ok(()),
        _ => Err(LoadError::new(
            path,
            format!(
                "its tdb_open_ex is not the {BASE_VERSION_NODE} one tdb 1.2-1.4 export: \
                 not tdb's ABI"
            ),
        )),
    }
}

/// Reads the ELF header: a shared object for this machine's architecture and word size.
fn check_elf(path: &Path) -> Result<(), LoadError> {
    let metadata = std::fs::metadata(path).map_err(|error| {
        LoadError::new(
            path,
            format!("cannot be read: {error}; give a libtdb.so path"),
        )
    })?;
    if !metadata.is_file() {
        return Err(LoadError::new(path, "is not a file; give a libtdb.so path"));
    }
    let mut header = [0u8; 20];
    let read = File::open(path)
        .and_then(|mut file| file.read(&mut header))
        .map_err(|error| LoadError::new(path, format!("cannot be read: {error}")))?;
    if read < header.len() || &header[..4] != b"\x7fELF" {
        return Err(LoadError::new(
            path,
            "is not a shared library (not an ELF file); give a libtdb.so path",
        ));
    }
    let bits = match header[4] {
        1 => 32,
        2 => 64,
        _ => 0,
    };
    let machine = u16::from_le_bytes([header[18], header[19]]);
    let (host_machine, host_name) = host_machine();
    if bits != usize::BITS || header[5] != 1 || machine != host_machine {
        return Err(LoadError::new(
            path,
            format!(
                "is built for another architecture ({}, {bits}-bit, ELF machine {machine}); \
                 this tdb-replay needs a {host_name} library",
                elf_machine_name(machine)
            ),
        ));
    }
    if u16::from_le_bytes([header[16], header[17]]) != 3 {
        return Err(LoadError::new(
            path,
            "is an ELF program or object, not a shared library; give a libtdb.so path",
        ));
    }
    Ok(())
}

/// This build's ELF machine number and its name.
fn host_machine() -> (u16, &'static str) {
    if cfg!(target_arch = "x86_64") {
        (62, "x86_64")
    } else if cfg!(target_arch = "aarch64") {
        (183, "aarch64")
    } else if cfg!(target_arch = "riscv64") {
        (243, "riscv64")
    } else {
        (0, std::env::consts::ARCH)
    }
}

fn elf_machine_name(machine: u16) -> &'static str {
    match machine {
        3 => "i386",
        40 => "arm",
        62 => "x86_64",
        183 => "aarch64",
        243 => "riscv",
        _ => "unknown machine",
    }
}

/// Runs [`round_trip`] in a forked child; `Err` says how it failed or crashed.
fn round_trip_in_child(api: &'static Api) -> Result<(), String> {
    // SAFETY: the child only runs the round trip (tdb calls, malloc) and leaves with
    // _exit; glibc resets its malloc locks in the child, and no other lock of this
    // process is taken there.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!(
            "cannot fork to test it: {}",
            std::io::Error::last_os_error()
        ));
    }
    if pid == 0 {
        let status = match std::panic::catch_unwind(|| round_trip(api)) {
            Ok(Ok(())) => 0,
            Ok(Err(_)) => 3,
            Err(_) => 4,
        };
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(status) };
    }
    let mut status: c_int = 0;
    loop {
        // SAFETY: waits for the child forked above; `status` is a valid out-pointer.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Err("cannot wait for its round-trip test".to_string());
        }
    }
    if libc::WIFSIGNALED(status) {
        return Err(format!(
            "crashed (signal {}) in a store/fetch round trip on an internal database: \
             not tdb's ABI",
            libc::WTERMSIG(status)
        ));
    }
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        _ => Err(
            "failed a store/fetch round trip on an internal database: not tdb's ABI \
                  (or a broken build)"
                .to_string(),
        ),
    }
}

/// Open, store, fetch, parse, walk, delete and close on a `TDB_INTERNAL` database; any
/// answer that differs from tdb's is an error.
fn round_trip(api: &'static Api) -> Result<(), String> {
    const KEY: &[u8] = b"tdb-replay probe key";
    const DATA: &[u8] = b"a value 31 bytes long, for tdb";
    let options = OpenOptions {
        tdb_flags: tdb_flags::INTERNAL,
        open_flags: libc::O_RDWR | libc::O_CREAT,
        ..OpenOptions::default()
    };
    let mut tdb = Tdb::open_with_api(api, "probe", &options).map_err(|e| e.to_string())?;
    tdb.store(KEY, DATA, StoreFlag::Insert)
        .map_err(|e| e.to_string())?;
    let fetched = tdb.fetch(KEY).map_err(|e| e.to_string())?;
    if fetched.as_deref() != Some(DATA) {
        return Err("fetch returned other data".into());
    }
    let parsed = tdb
        .parse_record(KEY, <[u8]>::len)
        .map_err(|e| e.to_string())?;
    let mut walked = 0;
    let count = tdb
        .traverse_read(|_, key, data| {
            walked += usize::from(key == KEY && data == DATA);
            std::ops::ControlFlow::Continue(())
        })
        .map_err(|e| e.to_string())?;
    if parsed != DATA.len() || count != 1 || walked != 1 || !tdb.exists(KEY) {
        return Err("parse or traverse disagreed".into());
    }
    tdb.delete(KEY).map_err(|e| e.to_string())?;
    if tdb.fetch(KEY).map_err(|e| e.to_string())?.is_some() {
        return Err("a deleted record is still there".into());
    }
    tdb.close().map_err(|e| e.to_string())
}
