//! Exit codes, and the error type that carries one.

use std::fmt;

/// An error at the binary's edge, with the exit code it maps to.
#[derive(Debug)]
pub struct Exit {
    code: i32,
    error: anyhow::Error,
}

impl Exit {
    /// Bad arguments or unreadable input.
    pub const BAD_INPUT: i32 = 254;
    /// The controller crashed.
    pub const CRASH: i32 = 255;

    /// A bad-input error (exit 254).
    pub fn bad_input(error: impl Into<anyhow::Error>) -> Exit {
        Exit { code: Exit::BAD_INPUT, error: error.into() }
    }

    /// Any other failure (exit 255).
    pub fn crash(error: impl Into<anyhow::Error>) -> Exit {
        Exit { code: Exit::CRASH, error: error.into() }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        self.code
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            write!(f, "{:#}", self.error)
        } else {
            write!(f, "{}", self.error)
        }
    }
}
