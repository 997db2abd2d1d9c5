//! What the kernel says a worker process is doing: running, or asleep (for a replay
//! worker inside tdb, that means blocked on a lock).

/// The state letter of `/proc/<pid>/stat` (`R` running, `S` sleeping, `D` disk wait,
/// ...), or `None` if the process is gone.
pub fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain anything, so look after the
    // last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// Whether the process is in an interruptible sleep (`S`), as a replay worker waiting
/// for an fcntl lock is. A runnable process (`R`, also when preempted) is not blocked, and
/// neither is an uninterruptible one (`D`: a page fault or memory map lock, which passes).
pub fn is_blocked(pid: i32) -> bool {
    matches!(process_state(pid), Some('S'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleeping_child_is_blocked() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep runs");
        let pid = child.id() as i32;
        let mut blocked = false;
        for _ in 0..200 {
            if is_blocked(pid) {
                blocked = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        child.kill().expect("kill sleep");
        child.wait().expect("reap sleep");
        assert!(blocked, "sleep(1) never showed as asleep");
    }

    #[test]
    fn missing_process_has_no_state() {
        assert_eq!(process_state(i32::MAX), None);
    }
}
