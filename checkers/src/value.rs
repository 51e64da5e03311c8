//! Small helpers for reading operation values and describing operations in text.

use faultline_history::{History, OpType, Value};

/// Splits an independent-key value `[key, value]` into its parts.
pub(crate) fn split_keyed(v: &Value) -> Option<(&Value, &Value)> {
    match v.as_array().map(Vec::as_slice) {
        Some([k, v]) => Some((k, v)),
        _ => None,
    }
}

/// A short human description of the operation invoked at `invoke`:
/// `#12 p3 write [4,2] → ok`.
pub(crate) fn describe_op(history: &History, invoke: usize) -> String {
    let ops = history.ops();
    let inv = &ops[invoke];
    let outcome = history.outcome_of(invoke);
    let shown = match history.completion_of(invoke) {
        Some(c) if outcome == OpType::Ok => &ops[c].value,
        _ => &inv.value,
    };
    format!("#{} p{} {} {} → {}", inv.index, inv.process, inv.f, shown, outcome.as_str())
}
