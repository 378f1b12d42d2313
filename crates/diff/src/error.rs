//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading, saving or parsing snapshots and memory maps.
///
/// Every variant renders as one line that says what happened and, where it helps, what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    /// The JSON declares a snapshot format this version of leakproof-diff does not read.
    #[error("unsupported snapshot format version {found} (this leakproof-diff reads version {supported}); re-take the snapshot with a matching leakproof")]
    UnsupportedVersion {
        /// The version found in the file.
        found: u64,
        /// The version this crate reads and writes.
        supported: u32,
    },
    /// The input ended in the middle of the JSON document.
    #[error("truncated snapshot JSON: input ends at line {line}, column {column}")]
    Truncated {
        /// Line (1-based) where the input ended.
        line: usize,
        /// Column (1-based) where the input ended.
        column: usize,
    },
    /// The input is not a snapshot: bad syntax, a missing field or a value of the wrong type.
    #[error("malformed snapshot JSON at line {line}, column {column}: {message}")]
    Malformed {
        /// Line (1-based) of the problem.
        line: usize,
        /// Column (1-based) of the problem.
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// A `/proc/PID/smaps` text could not be parsed.
    #[error("malformed smaps at line {line}: {message}")]
    Smaps {
        /// Line (1-based) of the problem.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The process does not exist (any more).
    #[error("process {pid} is gone: /proc/{pid}/smaps does not exist")]
    ProcessGone {
        /// The process id that was asked for.
        pid: u32,
    },
    /// The process exists but its memory map may not be read by this user.
    #[error(
        "permission denied reading /proc/{pid}/smaps (run as the same user or with CAP_SYS_PTRACE)"
    )]
    PermissionDenied {
        /// The process id that was asked for.
        pid: u32,
    },
    /// A filter pattern is not a valid glob.
    #[error("invalid filter pattern {pattern:?}: {message}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl DiffError {
    pub(crate) fn from_json(e: serde_json::Error) -> Self {
        match e.classify() {
            serde_json::error::Category::Eof => DiffError::Truncated {
                line: e.line(),
                column: e.column(),
            },
            _ => {
                // serde_json appends " at line L column C"; we report those separately.
                let mut message = e.to_string();
                if let Some(i) = message.rfind(" at line ") {
                    message.truncate(i);
                }
                DiffError::Malformed {
                    line: e.line(),
                    column: e.column(),
                    message,
                }
            }
        }
    }
}
