//! faultline's shared history model.
//!
//! A *history* is the ordered list of operation events a test recorded: each client
//! operation is an `invoke` followed by exactly one completion (`ok`, `fail` or `info`),
//! and faults appear as `info` events of the `nemesis` process. This crate holds the
//! types every other crate shares (operations, histories), the JSONL form of
//! `history.jsonl` (reading with `file:line` errors and streaming writing), and the
//! pairing of invocations with completions, the transactions' micro-ops, and the
//! generator algebra.

mod error;
mod history;
mod jsonl;
mod op;
mod read;
pub mod generator;
pub mod micro_op;

pub use error::{clip, HistoryError, ParseError};
pub use history::History;
pub use jsonl::{json_error, parse_jsonl, read_jsonl_file, JsonlWriter};
pub use op::{Op, OpType, Process};
pub use read::{read_text, read_text_file, MAX_LINE_BYTES};
pub use serde_json::Value;
