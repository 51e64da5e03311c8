//! Errors raised while reading or validating a history.

use std::path::PathBuf;

/// A history file could not be read: names the file, the line and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The file could not be opened or read. (The I/O error is the `source`, so
    /// the message does not repeat it: `anyhow`'s `{:#}` prints both.)
    #[error("cannot read {path}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line (or form) of the file is malformed.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file being read (`-` or `<input>` for in-memory text).
        path: PathBuf,
        /// 1-based line number where the bad record starts.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

impl ParseError {
    /// A malformed-record error at `path:line`.
    pub fn malformed(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        ParseError::Malformed { path: path.into(), line, message: clip(message.into()) }
    }
}

/// The longest complaint echoed: a 5 MB bad value would bury the message.
const MAX_MESSAGE_CHARS: usize = 400;

/// `message`, cut to [`MAX_MESSAGE_CHARS`] with a note of how much was left out.
pub fn clip(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}… ({} more bytes)", &message[..cut], message.len() - cut),
        None => message,
    }
}

/// A sequence of operations that does not form a well-formed history.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HistoryError {
    /// A process invoked a new operation while its previous one was still pending.
    #[error("operation at position {position}: process {process} invokes while its operation at position {pending} is still pending")]
    DoubleInvoke {
        /// Position (0-based) of the offending event in the history.
        position: usize,
        /// The process.
        process: String,
        /// Position of the still-pending invocation.
        pending: usize,
    },
    /// A completion arrived for a process that had nothing pending.
    #[error("operation at position {position}: process {process} completes an operation it never invoked")]
    OrphanCompletion {
        /// Position (0-based) of the offending event.
        position: usize,
        /// The process.
        process: String,
    },
    /// A completion's `f` differs from its invocation's.
    #[error("operation at position {position}: completion f={completion_f:?} does not match invocation f={invoke_f:?} at position {invoke}")]
    MismatchedF {
        /// Position of the completion.
        position: usize,
        /// Position of the invocation.
        invoke: usize,
        /// The invocation's f.
        invoke_f: String,
        /// The completion's f.
        completion_f: String,
    },
}

impl HistoryError {
    /// Position (0-based) in the history of the event the error is about.
    pub fn position(&self) -> usize {
        match self {
            HistoryError::DoubleInvoke { position, .. }
            | HistoryError::OrphanCompletion { position, .. }
            | HistoryError::MismatchedF { position, .. } => *position,
        }
    }
}

#[cfg(test)]
mod clip_tests {
    #[test]
    fn long_messages_are_cut() {
        let long = format!("got {}", "x".repeat(5_000_000));
        let clipped = super::clip(long);
        assert!(clipped.len() < 500 && clipped.ends_with("… (4999604 more bytes)"), "{}", &clipped[clipped.len() - 40..]);
        assert_eq!(super::clip("short".into()), "short");
    }
}
