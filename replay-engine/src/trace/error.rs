//! The error type of trace loading.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a trace could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// Opening, reading or decompressing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// A line is malformed; displays as `file:line: message`.
    Parse {
        /// The file, as named by the caller.
        file: String,
        /// 1-based line number.
        line: u32,
        /// What was expected, and what was found.
        message: String,
    },
    /// The file ends before its `tdb_open` line is whole: tdb creates a trace file and
    /// then writes that line, so this is what a process killed in between leaves.
    Unopened {
        /// The file, as named by the caller.
        file: String,
    },
}

impl LoadError {
    /// A parse error.
    pub(crate) fn parse(file: &str, line: u32, message: impl Into<String>) -> Self {
        LoadError::Parse {
            file: file.to_owned(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            LoadError::Parse {
                file,
                line,
                message,
            } => write!(f, "{file}:{line}: {message}"),
            LoadError::Unopened { file } => write!(
                f,
                "{file}:1: expected <seqnum> tdb_open <hash_size> <tdb_flags> <open_flags>, \
                 found end of file"
            ),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Io { source, .. } => Some(source),
            LoadError::Parse { .. } | LoadError::Unopened { .. } => None,
        }
    }
}

/// How many bytes of offending text a message quotes.
const QUOTE_MAX: usize = 60;

/// `text` as a double-quoted, escaped string for a message, cut to about 60 bytes.
pub(crate) fn quote(text: &[u8]) -> String {
    let (shown, cut) = if text.len() > QUOTE_MAX {
        (&text[..QUOTE_MAX], "...")
    } else {
        (text, "")
    };
    format!("\"{}\"{cut}", shown.escape_ascii())
}

/// `found "text"`, or `found end of line` when there is nothing.
pub(crate) fn found(text: &[u8]) -> String {
    if text.is_empty() {
        "found end of line".to_owned()
    } else {
        format!("found {}", quote(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_and_cuts() {
        assert_eq!(quote(b"ab\r\x00\"c"), r#""ab\r\x00\"c""#);
        let long = vec![b'x'; 100];
        let q = quote(&long);
        assert_eq!(q.len(), 2 + QUOTE_MAX + 3);
        assert!(q.ends_with("\"..."));
    }

    #[test]
    fn display_forms() {
        let e = LoadError::parse("t.trace", 12, "expected <seqnum>");
        assert_eq!(e.to_string(), "t.trace:12: expected <seqnum>");
        let e = LoadError::Io {
            path: PathBuf::from("/no/such"),
            source: io::Error::new(io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(e.to_string(), "/no/such: gone");
        assert!(std::error::Error::source(&e).is_some());
    }
}
