//! Helpers shared by the checkers' unit tests.

use faultline_history::{History, Op, OpType, Process, Value};
use serde_json::json;

/// A history from `(process, type, f, value)` events, one second apart.
pub(crate) fn history_of(events: &[(u64, &str, &str, Value)]) -> History {
    let ops = events
        .iter()
        .enumerate()
        .map(|(i, (p, t, f, v))| {
            let kind: OpType = serde_json::from_value(json!(t)).expect("a valid op type");
            let mut op = Op::new(kind, Process::Client(*p), *f, v.clone()).at(i as i64 * 1_000_000_000);
            op.index = i as u64;
            op
        })
        .collect();
    History::new(ops).expect("a well-formed test history")
}
