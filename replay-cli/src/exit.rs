//! Exit statuses: one set for every command, and the error type that selects "bad input".

use std::fmt;

/// The exit status of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// The command did what was asked: results matched, engines agreed, the file is sound.
    Ok = 0,
    /// The command ran and found a failure: a result differed, the engines diverged, a
    /// deadlock could not be resolved, a check or verification failed.
    Failed = 1,
    /// Bad input: bad arguments, a missing or unreadable file, a file that is not a tdb,
    /// traces that cannot be read, parsed or analysed, or a file the tool may not replace.
    BadInput = 2,
}

impl Status {
    /// The status a command's failure exits with.
    pub fn of(failure: &anyhow::Error) -> Status {
        if failure.downcast_ref::<BadInput>().is_some() {
            Status::BadInput
        } else {
            Status::Failed
        }
    }

    /// The process exit code.
    pub fn code(self) -> std::process::ExitCode {
        std::process::ExitCode::from(self as u8)
    }
}

/// The exit statuses, as the top-level `--help` shows them.
pub const HELP: &str = "Exit status (every command):
  0  success: every result matched, the engines agree, the database is sound
  1  failure found: a result differed, the engines diverged, a deadlock could not be
     resolved, a check or verification failed
  2  bad input: bad arguments, a missing or unreadable file, a file that is not a tdb,
     traces that cannot be read or analysed, a file tdb-replay may not replace";

/// An error caused by the input (arguments, files, traces that cannot be read, parsed or
/// analysed), as opposed to a command that ran and found a failure: exits
/// [`Status::BadInput`].
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// `text` as a bad-input error.
pub fn bad_input(text: impl fmt::Display) -> anyhow::Error {
    BadInput(text.to_string()).into()
}
