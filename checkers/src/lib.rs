//! faultline's consistency checkers and history importers.
//!
//! Pure code: no async runtime, no Docker. Every checker takes a [`History`] and
//! returns a [`CheckResult`] whose `valid` is `true`, `false` or `unknown`
//! (see [`Validity`]), plus its evidence as data and as readable text.

pub mod bank;
pub mod counter;
pub mod echo;
pub mod elle;
mod error;
pub mod evidence;
pub mod import;
pub mod kafka;
pub mod linear;
pub mod long_fork;
pub mod set;
pub mod set_full;
pub mod stats;
pub mod testgen;
pub mod unique_ids;
#[cfg(test)]
mod test_support;
mod value;
mod verdict;
mod wide;

pub use error::CheckError;
pub use evidence::Evidence;
pub use faultline_history::{History, Op, OpType, Process, Value};
pub use value::bare_values;
pub use verdict::{merge_results, CheckResult, Validity};
