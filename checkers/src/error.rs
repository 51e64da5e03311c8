//! Errors that stop a checker before it can give a verdict (bad input, not bad histories).

/// The history cannot be checked with the chosen model: an operation has a shape the
/// model does not understand. Anomalies are never errors; they are `valid: false`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckError {
    /// An operation's `f` or `value` does not fit the model.
    #[error("operation at position {position} (index {index}): {message}")]
    BadOp {
        /// Position of the event in the history.
        position: usize,
        /// The event's own `index` field.
        index: u64,
        /// What is wrong.
        message: String,
    },
    /// A checker option is invalid.
    #[error("{0}")]
    BadOption(String),
}

impl CheckError {
    /// A [`CheckError::BadOp`] for the event at `position` of `history`.
    pub fn bad_op(history: &crate::History, position: usize, message: impl Into<String>) -> Self {
        CheckError::BadOp { position, index: history.ops()[position].index, message: faultline_history::clip(message.into()) }
    }
}
