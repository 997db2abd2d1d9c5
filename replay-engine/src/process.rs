//! Child processes: fork a function into its own process and collect its exit status.
//! The replay needs real processes because fcntl locks belong to a process.

use std::io;

/// Run `body` in a forked child process, which exits with the code `body` returns.
/// Returns the child's pid.
///
/// The caller must be single-threaded (no other threads running): only then is the
/// child's copy of the process in a consistent state.
pub fn spawn(body: impl FnOnce() -> i32) -> io::Result<i32> {
    // Joined threads can still be counted for a moment while the kernel finishes them.
    let mut threads = thread_count();
    for _ in 0..200 {
        if threads <= 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        threads = thread_count();
    }
    if threads > 1 {
        return Err(io::Error::other(format!(
            "this process runs {threads} threads, and a forked child could inherit a lock \
             another thread holds and hang (replay from a single-threaded process; under \
             cargo test, use a harness that runs tests on the main thread)"
        )));
    }
    // SAFETY: fork has no memory-safety preconditions of its own; the caller guarantees the
    // process is single-threaded, so no lock held by another thread is copied locked
    // into the child. The child never returns from this function.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(101);
        // SAFETY: ends the child at once, without running the parent's atexit handlers or
        // unwinding into frames that belong to the parent's logic.
        unsafe { libc::_exit(code) }
    }
    Ok(pid)
}

/// The number of threads in this process (1 if it cannot be told).
fn thread_count() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Threads:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(1)
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl Exit {
    fn from_status(status: i32) -> Exit {
        if libc::WIFEXITED(status) {
            Exit::Code(libc::WEXITSTATUS(status))
        } else {
            Exit::Signal(libc::WTERMSIG(status))
        }
    }

    /// Whether it exited with code 0.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exited with status {code}"),
            Exit::Signal(signal) => write!(f, "died with signal {signal}"),
        }
    }
}

/// Wait for child `pid`; with `block` false, `None` if it is still running.
pub fn wait(pid: i32, block: bool) -> io::Result<Option<Exit>> {
    let mut status = 0;
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: waitpid on a pid this process forked, with a valid out-pointer.
        let reaped = unsafe { libc::waitpid(pid, &mut status, flags) };
        if reaped == pid {
            return Ok(Some(Exit::from_status(status)));
        }
        if reaped == 0 {
            return Ok(None);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Kill child `pid` (SIGKILL). Only for children not yet reaped, so the pid cannot have
/// been reused.
pub fn kill(pid: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is an unreaped child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}
