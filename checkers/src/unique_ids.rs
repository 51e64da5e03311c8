//! The unique-ids checker: every `generate` that succeeded returned a distinct id.

use crate::{CheckError, CheckResult, Validity};
use faultline_history::{History, OpType};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The unique-ids checker's evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UniqueIdsEvidence {
    /// `generate` operations attempted.
    pub attempted: usize,
    /// Ok ones.
    pub acknowledged: usize,
    /// Ids returned more than once, with how often (the first 100).
    pub duplicated: Vec<(serde_json::Value, usize)>,
    /// How many distinct ids were duplicated.
    pub duplicated_count: usize,
}

/// Checks that ok `generate` operations returned unique ids.
pub fn check(history: &History) -> Result<CheckResult, CheckError> {
    let ops = history.ops();
    let mut seen: HashMap<String, (serde_json::Value, usize)> = HashMap::new();
    let (mut attempted, mut acknowledged) = (0, 0);
    for (inv, comp) in history.client_ops() {
        if ops[inv].f != "generate" {
            return Err(CheckError::bad_op(history, inv, format!("f={:?} is not an operation of the unique-ids model (generate)", ops[inv].f)));
        }
        attempted += 1;
        let (OpType::Ok, Some(c)) = (history.outcome_of(inv), comp) else { continue };
        acknowledged += 1;
        seen.entry(ops[c].value.to_string()).or_insert_with(|| (ops[c].value.clone(), 0)).1 += 1;
    }
    let mut duplicated: Vec<(serde_json::Value, usize)> = seen.into_values().filter(|(_, n)| *n > 1).collect();
    duplicated.sort_by_key(|(v, n)| (std::cmp::Reverse(*n), v.to_string()));
    let duplicated_count = duplicated.len();
    duplicated.truncate(100);
    let valid = Validity::judge(duplicated_count, acknowledged);
    let summary = format!("{acknowledged} ids acknowledged of {attempted} attempted; {duplicated_count} duplicated");
    let explanation = duplicated.iter().take(20).map(|(v, n)| format!("id {v} returned {n} times")).collect();
    Ok(CheckResult::new("unique-ids", valid, summary, explanation, UniqueIdsEvidence { attempted, acknowledged, duplicated, duplicated_count })
        .with_findings([("duplicated-id".to_owned(), duplicated_count)], []))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::{Op, Process};
    use serde_json::json;

    fn generated(ids: &[i64]) -> History {
        let mut ops = Vec::new();
        for id in ids {
            ops.push(Op::new(OpType::Invoke, Process::Client(0), "generate", json!(null)));
            ops.push(Op::new(OpType::Ok, Process::Client(0), "generate", json!(id)));
        }
        History::new(ops).unwrap()
    }

    #[test]
    fn distinct_ids_are_valid_and_duplicates_are_not() {
        assert_eq!(check(&generated(&[1, 2, 3])).unwrap().valid, Validity::Valid);
        let r = check(&generated(&[1, 2, 1, 1])).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.evidence_json()["duplicated"], json!([[1, 3]]));
    }
}
