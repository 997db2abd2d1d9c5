//! A one-line progress display on stderr, shown only when stderr is a terminal (and the
//! user did not ask for quiet output), so that logs and pipes stay clean.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Draws `label: done/total (pct%)` over itself.
pub struct Progress {
    enabled: bool,
    drawn: Mutex<bool>,
}

impl Progress {
    /// A display that draws only if `wanted` and stderr is a terminal.
    pub fn new(wanted: bool) -> Progress {
        Progress {
            enabled: wanted && std::io::stderr().is_terminal(),
            drawn: Mutex::new(false),
        }
    }

    /// Show `label` at `done` of `total` units.
    pub fn show(&self, label: &str, done: u64, total: u64, unit: &str) {
        if !self.enabled {
            return;
        }
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "\r\x1b[K{label}: {done}/{total} {unit} ({percent}%)"
        );
        let _ = stderr.flush();
        if let Ok(mut drawn) = self.drawn.lock() {
            *drawn = true;
        }
    }

    /// Show a line of text of the caller's own making.
    pub fn show_text(&self, text: &str) {
        if !self.enabled {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r\x1b[K{text}");
        let _ = stderr.flush();
        if let Ok(mut drawn) = self.drawn.lock() {
            *drawn = true;
        }
    }

    /// Erase the line, if one was drawn.
    pub fn clear(&self) {
        let Ok(mut drawn) = self.drawn.lock() else {
            return;
        };
        if *drawn {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
            *drawn = false;
        }
    }
}
