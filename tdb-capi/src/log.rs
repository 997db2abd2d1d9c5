//! Errors as C reports them: `tdb_errorstr`'s strings, and failures passed to the
//! handle's log function (a C variadic function, called with `"%s"` and the message).

use std::ffi::{c_char, CStr, CString};

use tdb_pure::Error;

use crate::handle::Handle;
use crate::types::level;

/// `tdb_errorstr`'s text for a `TDB_ERR_*` code (C's table; codes it lacks, such as
/// `TDB_ERR_NESTING`, give "Invalid error code").
pub fn errorstr(code: i32) -> &'static CStr {
    match code {
        0 => c"Success",
        1 => c"Corrupt database",
        2 => c"IO Error",
        3 => c"Locking error",
        4 => c"Out of memory",
        5 => c"Record exists",
        6 => c"Lock exists on other keys",
        8 => c"Record does not exist",
        9 => c"Invalid parameter",
        10 => c"write not permitted",
        _ => c"Invalid error code",
    }
}

/// Pass `text` (a line break is added) to the handle's log function at `lvl`.
pub fn message(h: &Handle, lvl: i32, text: &str) {
    let Some(log_fn) = h.log.get().log_fn else {
        return;
    };
    let mut line = text.replace('\0', "\\0");
    line.push('\n');
    let Ok(line) = CString::new(line) else { return };
    const FORMAT: &CStr = c"%s";
    // SAFETY: the caller registered `log_fn` as a printf-like `tdb_log_func`; "%s"
    // consumes exactly the one NUL-terminated string passed, which lives through the call.
    unsafe {
        log_fn(
            h.as_ptr(),
            lvl,
            FORMAT.as_ptr(),
            line.as_ptr() as *const c_char,
        )
    };
}

/// Whether C logs a failure of this kind (plain outcomes such as a missing or existing
/// record, a write to a read-only database or a refused nested transaction are not
/// logged).
fn logged(what: &str, e: &Error) -> bool {
    match e {
        Error::NoExist | Error::Exists | Error::ReadOnly | Error::NoLock | Error::Nesting => false,
        Error::Lock(m) => c_logs_lock_failure(m),
        Error::Unchanged(_, m) => !m.starts_with("check callback rejected"),
        // tdb_traverse_chain's refusal of a chain out of range.
        Error::Einval(m) => !m.starts_with("chain "),
        // C's freelist validation fails silently.
        _ => what != "tdb_validate_freelist",
    }
}

/// C logs a lock failure when the lock call itself fails (not for a busy lock asked
/// without waiting, `EAGAIN`), but not when it refuses an all-record lock request for
/// the state the handle is in.
fn c_logs_lock_failure(m: &str) -> bool {
    const SILENT: [&str; 4] = [
        "traverse_chain inside",
        "allrecord lock",
        "allrecord unlock",
        "no allrecord locks",
    ];
    let eagain = std::io::Error::from_raw_os_error(libc::EAGAIN).to_string();
    let eagain = eagain.split(" (os error").next().unwrap_or_default();
    !m.contains(eagain) && !SILENT.iter().any(|s| m.starts_with(s))
}

/// Log a failed call `what` on `h`, as C logs its failures.
#[cold]
pub fn failure(h: &Handle, what: &str, e: &Error) {
    if logged(what, e) {
        let lvl = match e {
            Error::Corrupt(_) | Error::NeedsRecovery => level::FATAL,
            Error::Unchanged(code, _) if *code == tdb_pure::code::NESTING => level::FATAL,
            _ => level::ERROR,
        };
        match e {
            // C's own words for it, whichever call released the lock.
            Error::NotLocked(_) => message(h, lvl, "tdb_unlock: count is 0"),
            _ => message(h, lvl, &format!("{what}: {}", detail(e))),
        }
    }
}

/// The engine's explanation of a failure, without the kind's name (C's messages name
/// the call and the problem only).
fn detail(e: &Error) -> String {
    match e {
        Error::Corrupt(m)
        | Error::Io(m)
        | Error::Lock(m)
        | Error::Oom(m)
        | Error::Einval(m)
        | Error::NotLocked(m)
        | Error::Os(_, m)
        | Error::Unsupported(m)
        | Error::Unchanged(_, m) => m.clone(),
        other => other.to_string(),
    }
}

/// What C logs when `tdb_open_ex` fails this way (level and text), if anything: C's
/// wording for the failures it words itself (a file that cannot be opened, a spinlock
/// file; nothing for a file that is not a tdb), else the engine's explanation.
pub fn open_failure(name: &str, e: &Error) -> Option<(i32, String)> {
    Some(match e {
        Error::Os(errno, m) if *errno != libc::EBUSY => {
            let reason = std::io::Error::from_raw_os_error(*errno).to_string();
            let reason = reason.split(" (os error").next().unwrap_or(m).to_string();
            let text = format!("tdb_open_ex: could not open file {name}: {reason}");
            (level::WARNING, text)
        }
        Error::Io(m) if m.starts_with("not a tdb file") => return None,
        Error::Einval(m) if m.starts_with("was not created with") => {
            (level::FATAL, format!("tdb_open_ex: {name} {m}"))
        }
        Error::Nesting => (
            level::FATAL,
            "tdb_open_ex: allow_nesting and disallow_nesting are not allowed together!".into(),
        ),
        Error::Unsupported(m) if m.contains("spinlock") => (
            level::ERROR,
            "tdb_open_ex: spinlocks no longer supported".to_string(),
        ),
        other => (level::ERROR, format!("tdb_open_ex: {name}: {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_cs() {
        assert_eq!(errorstr(0).to_str().unwrap(), "Success");
        assert_eq!(errorstr(10).to_str().unwrap(), "write not permitted");
        assert_eq!(errorstr(11).to_str().unwrap(), "Invalid error code");
        assert_eq!(errorstr(7).to_str().unwrap(), "Invalid error code");
        assert_eq!(errorstr(-3).to_str().unwrap(), "Invalid error code");
    }
}
