//! Jepsen's long-fork checker, for parallel snapshot isolation's one anomaly that
//! snapshot isolation forbids. Writes are single-insert transactions (`[["w", k, v]]`,
//! each key written once); reads read a group of keys together
//! (`[["r", k1, v1], ["r", k2, v2], …]`). Under snapshot isolation every read sees a
//! prefix of one order of inserts, so the sets of keys two reads of the same group
//! saw are ordered by inclusion. Two reads that saw each other's missing insert (one
//! saw `a` and not `b`, the other `b` and not `a`) are a long fork.
//!
//! Per group, reads are sorted by how many keys they saw; the sets form a chain
//! exactly when each is a subset of the next, so one pass finds a fork if any.

use crate::{CheckError, CheckResult, Validity};
use faultline_history::{History, OpType};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Two reads that saw two inserts in different orders.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LongFork {
    /// History indices of the two reads.
    pub reads: [u64; 2],
    /// A key the first saw and the second did not.
    pub only_first: String,
    /// A key the second saw and the first did not.
    pub only_second: String,
}

/// The long-fork checker's evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LongForkEvidence {
    /// Ok read transactions checked.
    pub reads: usize,
    /// Groups of keys read together.
    pub groups: usize,
    /// The forks found (one per group at most).
    pub forks: Vec<LongFork>,
}

/// Checks a long-fork history.
pub fn check(history: &History) -> Result<CheckResult, CheckError> {
    let ops = history.ops();
    // Group (its keys) → each ok read's (index, keys it saw).
    let mut groups: BTreeMap<Vec<String>, Vec<(u64, BTreeSet<String>)>> = BTreeMap::new();
    let mut reads = 0;
    for (inv, comp) in history.client_ops() {
        let (OpType::Ok, Some(c)) = (history.outcome_of(inv), comp) else { continue };
        let mops = ops[c].value.as_array().ok_or_else(|| CheckError::bad_op(history, c, format!("txn: expected a list of micro-ops, got {}", ops[c].value)))?;
        let mut keys = Vec::new();
        let mut seen = BTreeSet::new();
        let mut writes = 0;
        for m in mops {
            let Some([f, k, v]) = m.as_array().map(Vec::as_slice) else { return Err(CheckError::bad_op(history, c, format!("micro-op must be [f, key, value], got {m}"))) };
            let key = k.as_str().map_or_else(|| k.to_string(), str::to_owned);
            match f.as_str() {
                Some("r" | "read") => {
                    if !v.is_null() {
                        seen.insert(key.clone());
                    }
                    keys.push(key);
                }
                Some("w" | "write" | "append") => writes += 1,
                _ => return Err(CheckError::bad_op(history, c, format!("micro-op must be r or w, got {f}"))),
            }
        }
        if writes > 0 && !keys.is_empty() {
            return Err(CheckError::bad_op(history, c, "long-fork transactions either insert one key or read a group, not both"));
        }
        if !keys.is_empty() {
            keys.sort();
            keys.dedup();
            groups.entry(keys).or_default().push((ops[inv].index, seen));
            reads += 1;
        }
    }
    let mut forks = Vec::new();
    for group in groups.values_mut() {
        group.sort_by_key(|(index, seen)| (seen.len(), *index));
        for pair in group.windows(2) {
            let ((a, sa), (b, sb)) = (&pair[0], &pair[1]);
            if let Some(only_a) = sa.difference(sb).next() {
                let only_b = sb.difference(sa).next().cloned().unwrap_or_default();
                forks.push(LongFork { reads: [*a, *b], only_first: only_a.clone(), only_second: only_b });
                break;
            }
        }
    }
    let valid = if reads == 0 { Validity::Unknown } else if forks.is_empty() { Validity::Valid } else { Validity::Invalid };
    let summary = format!("{reads} reads of {} groups: {} long forks", groups.len(), forks.len());
    let explanation = forks
        .iter()
        .take(20)
        .map(|f| format!("reads #{} and #{} forked: #{} saw key {} but not {}, #{} saw {} but not {}", f.reads[0], f.reads[1], f.reads[0], f.only_first, f.only_second, f.reads[1], f.only_second, f.only_first))
        .collect();
    let witnesses: Vec<u64> = forks.iter().flat_map(|f| f.reads).collect();
    let count = forks.len();
    Ok(CheckResult::new("long-fork", valid, summary, explanation, LongForkEvidence { reads, groups: groups.len(), forks }).with_findings([("long-fork".to_owned(), count)], witnesses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::{Op, Process};
    use serde_json::json;

    fn txns(values: &[serde_json::Value]) -> History {
        let mut ops = Vec::new();
        for (p, v) in values.iter().enumerate() {
            ops.push(Op::new(OpType::Invoke, Process::Client(p as u64), "txn", v.clone()));
            ops.push(Op::new(OpType::Ok, Process::Client(p as u64), "txn", v.clone()));
        }
        History::new(ops).unwrap()
    }

    #[test]
    fn reads_that_see_a_prefix_of_one_order_are_valid() {
        let h = txns(&[json!([["w", 1, 1]]), json!([["r", 1, 1], ["r", 2, null]]), json!([["w", 2, 1]]), json!([["r", 1, 1], ["r", 2, 1]])]);
        assert_eq!(check(&h).unwrap().valid, Validity::Valid);
    }

    #[test]
    fn two_reads_that_order_two_inserts_differently_are_a_long_fork() {
        let h = txns(&[json!([["w", 1, 1]]), json!([["w", 2, 1]]), json!([["r", 1, 1], ["r", 2, null]]), json!([["r", 1, null], ["r", 2, 1]])]);
        let r = check(&h).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies.get("long-fork"), Some(&1));
        assert!(r.explanation[0].contains("saw key 1 but not 2"), "{:?}", r.explanation);
    }
}
