//! Jepsen's plain set checker: elements are added (`add`, bare values), then one
//! final `read` returns the whole set. An acknowledged add missing from the final read
//! is *lost*; an element read that no add attempted is *unexpected*; an indeterminate
//! add whose element is present is *recovered* (allowed). For reads during the test,
//! and when each element was seen, use `set-full`.

use crate::{CheckError, CheckResult, Validity};
use faultline_history::{History, OpType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The set checker's evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetEvidence {
    /// Adds attempted.
    pub attempted: usize,
    /// Adds acknowledged.
    pub acknowledged: usize,
    /// Acknowledged, and missing from the final read (the first 100).
    pub lost: Vec<serde_json::Value>,
    /// How many were lost.
    pub lost_count: usize,
    /// Read, and never attempted (the first 100).
    pub unexpected: Vec<serde_json::Value>,
    /// How many were unexpected.
    pub unexpected_count: usize,
    /// Indeterminate adds whose element was read.
    pub recovered_count: usize,
}

/// Checks a set history against its last ok read.
pub fn check(history: &History) -> Result<CheckResult, CheckError> {
    let ops = history.ops();
    // Element (by its JSON text) → (the element, acknowledged?).
    let mut adds: BTreeMap<String, (serde_json::Value, bool)> = BTreeMap::new();
    let mut attempted = 0;
    let mut final_read = None;
    for (inv, comp) in history.client_ops() {
        let outcome = history.outcome_of(inv);
        match ops[inv].f.as_str() {
            "add" => {
                if outcome == OpType::Fail {
                    continue;
                }
                attempted += 1;
                let e = adds.entry(ops[inv].value.to_string()).or_insert_with(|| (ops[inv].value.clone(), false));
                e.1 |= outcome == OpType::Ok;
            }
            "read" => {
                if let (OpType::Ok, Some(c)) = (outcome, comp) {
                    let items = ops[c].value.as_array().ok_or_else(|| CheckError::bad_op(history, c, format!("read: expected the set's elements, got {}", ops[c].value)))?;
                    final_read = Some((c, items.clone()));
                }
            }
            f => return Err(CheckError::bad_op(history, inv, format!("f={f:?} is not an operation of the set model (add, read)"))),
        }
    }
    let acknowledged = adds.values().filter(|(_, ok)| *ok).count();
    let Some((read_at, items)) = final_read else {
        let summary = format!("no ok read: nothing to judge {attempted} adds against");
        let evidence = SetEvidence { attempted, acknowledged, lost: vec![], lost_count: 0, unexpected: vec![], unexpected_count: 0, recovered_count: 0 };
        return Ok(CheckResult::new("set", Validity::Unknown, summary, vec![], evidence));
    };
    let read: BTreeMap<String, serde_json::Value> = items.iter().map(|v| (v.to_string(), v.clone())).collect();
    let lost: Vec<serde_json::Value> = adds.iter().filter(|(k, (_, ok))| *ok && !read.contains_key(*k)).map(|(_, (v, _))| v.clone()).collect();
    let unexpected: Vec<serde_json::Value> = read.iter().filter(|(k, _)| !adds.contains_key(*k)).map(|(_, v)| v.clone()).collect();
    let recovered_count = adds.iter().filter(|(k, (_, ok))| !*ok && read.contains_key(*k)).count();
    let (lost_count, unexpected_count) = (lost.len(), unexpected.len());
    let valid = if lost_count + unexpected_count == 0 { Validity::Valid } else { Validity::Invalid };
    let summary = format!("{acknowledged} of {attempted} adds acknowledged; the final read has {} elements: {lost_count} lost, {unexpected_count} unexpected, {recovered_count} recovered", read.len());
    let mut explanation = Vec::new();
    let list = |vs: &[serde_json::Value]| vs.iter().take(20).map(ToString::to_string).collect::<Vec<_>>().join(", ");
    if lost_count > 0 {
        explanation.push(format!("lost (acknowledged, missing from the read #{}): {}", ops[read_at].index, list(&lost)));
    }
    if unexpected_count > 0 {
        explanation.push(format!("unexpected (read, never added): {}", list(&unexpected)));
    }
    let evidence = SetEvidence {
        attempted,
        acknowledged,
        lost: lost.into_iter().take(100).collect(),
        lost_count,
        unexpected: unexpected.into_iter().take(100).collect(),
        unexpected_count,
        recovered_count,
    };
    Ok(CheckResult::new("set", valid, summary, explanation, evidence)
        .with_findings([("lost".to_owned(), lost_count), ("unexpected".to_owned(), unexpected_count)], [ops[read_at].index]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::{Op, Process};
    use serde_json::json;

    /// Adds of `(element, outcome)` on their own processes, then one read.
    fn history(adds: &[(i64, OpType)], read: serde_json::Value) -> History {
        let mut ops = Vec::new();
        for (p, (e, outcome)) in adds.iter().enumerate() {
            ops.push(Op::new(OpType::Invoke, Process::Client(p as u64), "add", json!(e)));
            ops.push(Op::new(*outcome, Process::Client(p as u64), "add", json!(e)));
        }
        ops.push(Op::new(OpType::Invoke, Process::Client(99), "read", json!(null)));
        ops.push(Op::new(OpType::Ok, Process::Client(99), "read", read));
        History::new(ops).unwrap()
    }

    #[test]
    fn a_final_read_with_every_acknowledged_element_is_valid() {
        let r = check(&history(&[(1, OpType::Ok), (2, OpType::Info), (3, OpType::Fail)], json!([1, 2]))).unwrap();
        assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
        assert!(r.summary.contains("1 recovered"), "{}", r.summary);
    }

    #[test]
    fn lost_and_unexpected_elements_are_invalid() {
        let r = check(&history(&[(1, OpType::Ok), (2, OpType::Ok)], json!([1, 7]))).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!((r.anomalies.get("lost"), r.anomalies.get("unexpected")), (Some(&1), Some(&1)));
        assert!(r.explanation[0].contains("lost") && r.explanation[0].contains('2'), "{:?}", r.explanation);
    }
}
