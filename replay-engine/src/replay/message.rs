//! What a replay worker tells the supervisor when it ends: one [`WorkerMessage`], sent as
//! one line of JSON through the worker's pipe. The worker's exit status then only says
//! whether it ended normally (sent its message) or died.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use super::mismatch::Mismatch;

/// At most this many tolerated-difference notes travel back per worker (the pipe's
/// buffer must hold the whole message, since it is read after the worker exits).
pub const MAX_NOTES: usize = 64;

/// How a worker ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerMessage {
    /// Every op ran and the database closed cleanly. Its latencies, when timed, are in
    /// the shared memory (see [`super::shared::SharedState::latencies`]).
    Finished {
        /// Ops run (traverse entries included).
        ops: u64,
        /// Results that differed where tdb allows it (at most [`MAX_NOTES`]).
        tolerated: Vec<String>,
    },
    /// A result differed from the trace, or the engine failed where the trace did not.
    Mismatch(Mismatch),
    /// Every op ran, but closing the database failed (the message says how).
    CloseFailed(String),
    /// The supervisor stopped the worker (another trace failed, or a deadlock back-off).
    Aborted,
    /// The worker could not open the database (what the engine said).
    OpenFailed(String),
    /// The worker panicked: an internal error of the replay (the message says where).
    Panicked(String),
}

impl WorkerMessage {
    /// Send the message as one line of JSON.
    pub fn send(&self, pipe: &mut impl Write) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        line.push(b'\n');
        pipe.write_all(&line)
    }

    /// Read the message a worker sent, once its end of the pipe is closed; `None` if it
    /// sent none (it died first) or something unreadable.
    pub fn receive(pipe: &mut impl Read) -> Option<WorkerMessage> {
        let mut text = String::new();
        pipe.read_to_string(&mut text).ok()?;
        serde_json::from_str(text.lines().next()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::mismatch::MismatchKind;

    #[test]
    fn every_message_survives_the_pipe() {
        let messages = [
            WorkerMessage::Finished {
                ops: 7,
                tolerated: vec!["a.trace:3: note\nwith a newline".into()],
            },
            WorkerMessage::Mismatch(Mismatch {
                trace: "a.trace".into(),
                line: 4,
                op: "tdb_fetch".into(),
                kind: MismatchKind::Data,
                expected: "1:61".into(),
                got: "1:62".into(),
            }),
            WorkerMessage::CloseFailed("a.trace: closing the database failed: x".into()),
            WorkerMessage::Aborted,
            WorkerMessage::OpenFailed("No such file".into()),
            WorkerMessage::Panicked("a.trace: internal error".into()),
        ];
        for message in messages {
            let mut pipe = Vec::new();
            message.send(&mut pipe).expect("writes to memory");
            assert_eq!(pipe.iter().filter(|&&b| b == b'\n').count(), 1);
            assert_eq!(WorkerMessage::receive(&mut &pipe[..]), Some(message));
        }
    }

    #[test]
    fn nothing_or_garbage_is_no_message() {
        assert_eq!(WorkerMessage::receive(&mut &b""[..]), None);
        assert_eq!(WorkerMessage::receive(&mut &b"ops 3\nfail x\n"[..]), None);
    }
}
