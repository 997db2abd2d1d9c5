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
fn logged(e: &Error) -> bool {
    !matches!(
        e,
        Error::NoExist | Error::Exists | Error::ReadOnly | Error::NoLock | Error::Nesting
    )
}

/// Log a failed call `what` on `h`, as C logs its failures.
#[cold]
pub fn failure(h: &Handle, what: &str, e: &Error) {
    if logged(e) {
        let lvl = match e {
            Error::Corrupt(_) | Error::NeedsRecovery => level::FATAL,
            _ => level::ERROR,
        };
        message(h, lvl, &format!("{what}: {e}"));
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
