//! The stats checker: ok / fail / info counts per operation function.
//!
//! As in Jepsen, the history is invalid when some function never succeeded: a workload
//! in which, say, no write was ever acknowledged tests nothing about writes.

use crate::{CheckResult, Validity};
use faultline_history::{History, OpType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counts for one function (or for all).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    /// Operations invoked.
    pub count: usize,
    /// Completed ok.
    pub ok: usize,
    /// Completed fail.
    pub fail: usize,
    /// Indeterminate (info, or never completed).
    pub info: usize,
}

/// The stats checker's evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatsEvidence {
    /// All client operations.
    pub total: Counts,
    /// Per function.
    pub by_f: BTreeMap<String, Counts>,
}

/// Counts client operations by function and outcome.
pub fn counts(history: &History) -> StatsEvidence {
    let mut total = Counts::default();
    let mut by_f: BTreeMap<String, Counts> = BTreeMap::new();
    for (inv, _) in history.client_ops() {
        let outcome = history.outcome_of(inv);
        for c in [&mut total, by_f.entry(history.ops()[inv].f.clone()).or_default()] {
            c.count += 1;
            match outcome {
                OpType::Ok => c.ok += 1,
                OpType::Fail => c.fail += 1,
                _ => c.info += 1,
            }
        }
    }
    StatsEvidence { total, by_f }
}

/// Checks that every function succeeded at least once.
pub fn check(history: &History) -> CheckResult {
    let ev = counts(history);
    let never_ok: Vec<&String> = ev.by_f.iter().filter(|(_, c)| c.ok == 0).map(|(f, _)| f).collect();
    let valid = if ev.total.count == 0 { Validity::Unknown } else { Validity::from_ok(never_ok.is_empty()) };
    let summary = format!("{} ops: {} ok, {} fail, {} info", ev.total.count, ev.total.ok, ev.total.fail, ev.total.info);
    let mut explanation: Vec<String> = ev
        .by_f
        .iter()
        .map(|(f, c)| format!("{f}: {} ok, {} fail, {} info of {}", c.ok, c.fail, c.info, c.count))
        .collect();
    explanation.extend(never_ok.iter().map(|f| format!("{f} never succeeded")));
    CheckResult::new("stats", valid, summary, explanation, ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::{Op, Process};
    use serde_json::json;

    #[test]
    fn counts_per_f_and_flags_functions_that_never_succeeded() {
        let p = Process::Client(0);
        let h = History::new(vec![
            Op::new(OpType::Invoke, p, "read", json!(null)),
            Op::new(OpType::Ok, p, "read", json!(1)),
            Op::new(OpType::Invoke, p, "write", json!(1)),
            Op::new(OpType::Fail, p, "write", json!(1)),
            Op::new(OpType::Invoke, p, "write", json!(2)),
        ])
        .unwrap();
        let r = check(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.evidence_json()["by_f"]["write"], json!({"count": 2, "ok": 0, "fail": 1, "info": 1}));
        assert!(r.explanation.contains(&"write never succeeded".to_owned()));
    }
}
