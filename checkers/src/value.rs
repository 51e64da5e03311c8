//! Small helpers for reading operation values and describing operations in text.

use faultline_history::{History, OpType, Value};

/// Splits an independent-key value `[key, value]` into its parts.
pub(crate) fn split_keyed(v: &Value) -> Option<(&Value, &Value)> {
    match v.as_array().map(Vec::as_slice) {
        Some([k, v]) => Some((k, v)),
        _ => None,
    }
}

/// Whether a register or set history's values are bare (one object) rather than
/// `[key, value]` pairs: a read invoked with no key (`nil`, where independent keys
/// invoke `[k, nil]`), a write or add whose value is not a pair, or a read that
/// returned a scalar. Histories with keys never show any of these.
pub fn bare_values(history: &History) -> bool {
    history.ops().iter().filter(|o| o.process != faultline_history::Process::Nemesis).any(|o| {
        let pair = o.value.as_array().is_some_and(|a| a.len() == 2);
        match (o.f.as_str(), o.kind) {
            ("read" | "get", OpType::Invoke) => o.value.is_null(),
            ("read" | "get", OpType::Ok) => !o.value.is_array(),
            ("read" | "get", _) => false,
            _ => o.kind != OpType::Fail && !pair,
        }
    })
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

#[cfg(test)]
mod bare_tests {
    use super::*;
    use faultline_history::{Op, Process};
    use serde_json::json;

    fn h(events: &[(OpType, &str, Value)]) -> History {
        History::new(events.iter().map(|(t, f, v)| Op::new(*t, Process::Client(0), *f, v.clone())).collect()).unwrap()
    }

    #[test]
    fn bare_values_are_told_from_keyed_ones() {
        use OpType::*;
        assert!(bare_values(&h(&[(Invoke, "write", json!(3)), (Ok, "write", json!(3))])));
        assert!(bare_values(&h(&[(Invoke, "read", json!(null)), (Ok, "read", json!([0, 1]))])), "a set read of two elements, invoked without a key");
        assert!(bare_values(&h(&[(Invoke, "add", json!(5)), (Ok, "add", json!(5))])));
        assert!(!bare_values(&h(&[(Invoke, "write", json!([1, 3])), (Ok, "write", json!([1, 3])), (Invoke, "read", json!([1, null])), (Ok, "read", json!([1, 3]))])));
        assert!(!bare_values(&h(&[(Invoke, "cas", json!([1, [2, 3]])), (Ok, "cas", json!([1, [2, 3]]))])));
    }
}
