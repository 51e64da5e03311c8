//! The counter checker: every read lies within the values the counter could have had.
//!
//! Ops: `add` (or `incr`) with an integer delta, and `read` returning an integer; the
//! counter starts at 0. For a read, an increment that completed ok before the read began
//! certainly counts; one that was invoked before the read completed and is `ok` or
//! `info` may count. The read must lie between the certain sum plus every possible
//! negative delta and the certain sum plus every possible positive delta. Computed in
//! one sweep, O(n log n), in 128-bit arithmetic. A history with no ok read is valid
//! (Jepsen's convention: nothing contradicts it).

use crate::{CheckError, CheckResult, Validity};
use faultline_history::{History, OpType};
use serde::{Deserialize, Serialize};

/// A read outside its bounds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CounterError {
    /// History index of the read's invocation.
    pub index: u64,
    /// What it returned.
    pub value: i64,
    /// Lowest possible value (sums are taken in 128 bits: they may leave the 64-bit range).
    #[serde(with = "crate::wide")]
    pub lower: i128,
    /// Highest possible value.
    #[serde(with = "crate::wide")]
    pub upper: i128,
}

/// The counter checker's evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CounterEvidence {
    /// Ok reads checked.
    pub reads: usize,
    /// Reads outside their bounds (the first 100).
    pub errors: Vec<CounterError>,
    /// How many reads were outside their bounds.
    pub error_count: usize,
}

/// Checks a counter history: every ok read within its bounds.
pub fn check(history: &History) -> Result<CheckResult, CheckError> {
    check_reads(history, false)
}

/// Checks only the final reads, those that began after every add had ended (an
/// eventually consistent counter such as Maelstrom's `g-counter` may read stale values
/// while adds go on, but must converge): each within its bounds, and at least one.
pub fn check_final(history: &History) -> Result<CheckResult, CheckError> {
    check_reads(history, true)
}

fn check_reads(history: &History, final_only: bool) -> Result<CheckResult, CheckError> {
    let ops = history.ops();
    // Events of the sweep: (position, kind). Increments contribute when they may have
    // happened (invocation) and when they certainly happened (ok completion).
    let mut may: Vec<(usize, i128)> = Vec::new(); // (invoke position, delta) of ok/info adds
    let mut must: Vec<(usize, i128)> = Vec::new(); // (completion position, delta) of ok adds
    let mut reads: Vec<(usize, usize, i64)> = Vec::new(); // (invoke, completion, value)
    for (inv, comp) in history.client_ops() {
        let outcome = history.outcome_of(inv);
        match ops[inv].f.as_str() {
            "add" | "incr" => {
                let delta = ops[inv].value.as_i64().ok_or_else(|| {
                    CheckError::bad_op(history, inv, format!("{}: expected an integer delta, got {}", ops[inv].f, ops[inv].value))
                })?;
                if outcome == OpType::Fail {
                    continue;
                }
                may.push((inv, i128::from(delta)));
                if let (OpType::Ok, Some(c)) = (outcome, comp) {
                    must.push((c, i128::from(delta)));
                }
            }
            "read" => {
                let (OpType::Ok, Some(c)) = (outcome, comp) else { continue };
                let value = ops[c].value.as_i64().ok_or_else(|| {
                    CheckError::bad_op(history, c, format!("read: expected an integer, got {}", ops[c].value))
                })?;
                reads.push((inv, c, value));
            }
            f => return Err(CheckError::bad_op(history, inv, format!("f={f:?} is not an operation of the counter model (add, incr, read)"))),
        }
    }
    if final_only {
        // A failed add never happened, so it does not hold reads back; an unknown one
        // (info, or never completed) may still land after a read began, and the bounds
        // already allow for it either way.
        let last_add_end = history
            .client_ops()
            .filter(|(inv, _)| ops[*inv].f != "read" && history.outcome_of(*inv) != OpType::Fail)
            .map(|(inv, comp)| comp.unwrap_or(inv))
            .max();
        reads.retain(|(inv, _, _)| last_add_end.is_none_or(|end| *inv > end));
    }
    must.sort_unstable();
    let mut errors = Vec::new();
    let mut error_count = 0;
    // Certain sums at each read's invocation, possible sums at its completion.
    let mut by_invoke: Vec<usize> = (0..reads.len()).collect();
    by_invoke.sort_by_key(|&r| reads[r].0);
    let mut by_complete: Vec<usize> = (0..reads.len()).collect();
    by_complete.sort_by_key(|&r| reads[r].1);
    let mut certain = vec![(0i128, 0i128, 0i128); reads.len()]; // (sum, pos part, neg part) at invoke
    let (mut i, mut sum, mut pos_part, mut neg_part) = (0, 0i128, 0i128, 0i128);
    for &r in &by_invoke {
        while i < must.len() && must[i].0 < reads[r].0 {
            sum += must[i].1;
            pos_part += must[i].1.max(0);
            neg_part += must[i].1.min(0);
            i += 1;
        }
        certain[r] = (sum, pos_part, neg_part);
    }
    let (mut j, mut may_pos, mut may_neg) = (0, 0i128, 0i128);
    for &r in &by_complete {
        while j < may.len() && may[j].0 < reads[r].1 {
            may_pos += may[j].1.max(0);
            may_neg += may[j].1.min(0);
            j += 1;
        }
        let (sum, pos_part, neg_part) = certain[r];
        let lower = sum + (may_neg - neg_part);
        let upper = sum + (may_pos - pos_part);
        let (inv, _, value) = reads[r];
        if i128::from(value) < lower || i128::from(value) > upper {
            error_count += 1;
            if errors.len() < 100 {
                errors.push(CounterError { index: ops[inv].index, value, lower, upper });
            }
        }
    }
    errors.sort_by_key(|e| e.index);
    // No read, nothing to contradict: valid, as Jepsen's counter checker has it.
    let valid = if reads.is_empty() && !final_only { Validity::Valid } else { Validity::judge(error_count, reads.len()) };
    let summary = if reads.is_empty() && final_only {
        format!("no ok read began after the last of the {} adds: convergence unknown", may.len())
    } else if reads.is_empty() {
        format!("no ok reads: nothing contradicts the {} adds", may.len())
    } else {
        format!("{} of {} {}reads outside their possible bounds", error_count, reads.len(), if final_only { "final " } else { "" })
    };
    let explanation = errors
        .iter()
        .take(20)
        .map(|e| format!("read #{} returned {}, but the counter could only be within [{}, {}]", e.index, e.value, e.lower, e.upper))
        .collect();
    let witnesses: Vec<u64> = errors.iter().map(|e| e.index).collect();
    Ok(CheckResult::new("counter", valid, summary, explanation, CounterEvidence { reads: reads.len(), errors, error_count })
        .with_findings([("counter-read-out-of-bounds".to_owned(), error_count)], witnesses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testgen::{counter_history, SimConfig};
    use serde_json::json;

    use crate::test_support::history_of as hist;

    #[test]
    fn reads_within_bounds_are_valid() {
        let h = hist(&[
            (0, "invoke", "add", json!(2)),
            (0, "ok", "add", json!(2)),
            (0, "invoke", "add", json!(3)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(5)),
            (0, "info", "add", json!(3)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(2)),
        ]);
        let r = check(&h).unwrap();
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.explanation);
    }

    #[test]
    fn only_final_reads_count_for_an_eventually_consistent_counter() {
        let stale_then_converged = |last: i64| {
            hist(&[
                (0, "invoke", "add", json!(2)),
                (0, "ok", "add", json!(2)),
                (1, "invoke", "read", json!(null)),
                (1, "ok", "read", json!(0)),
                (0, "invoke", "add", json!(-1)),
                (0, "info", "add", json!(-1)),
                (1, "invoke", "read", json!(null)),
                (1, "ok", "read", json!(last)),
            ])
        };
        assert_eq!(check(&stale_then_converged(2)).unwrap().valid, Validity::Invalid, "the stale read counts in real time");
        assert_eq!(check_final(&stale_then_converged(2)).unwrap().valid, Validity::Valid);
        assert_eq!(check_final(&stale_then_converged(1)).unwrap().valid, Validity::Valid, "the unknown add may have landed");
        let lost = check_final(&stale_then_converged(0)).unwrap();
        assert_eq!(lost.valid, Validity::Invalid);
        assert_eq!(lost.evidence_json()["errors"][0]["lower"], json!(1));
        let no_final = hist(&[(1, "invoke", "read", json!(null)), (1, "ok", "read", json!(0)), (0, "invoke", "add", json!(1)), (0, "ok", "add", json!(1))]);
        assert_eq!(check_final(&no_final).unwrap().valid, Validity::Unknown);
        let after_a_failed_add = hist(&[(0, "invoke", "add", json!(1)), (0, "ok", "add", json!(1)), (1, "invoke", "read", json!(null)), (0, "invoke", "add", json!(5)), (1, "ok", "read", json!(0)), (0, "fail", "add", json!(5))]);
        let r = check_final(&after_a_failed_add).unwrap();
        assert_eq!(r.valid, Validity::Invalid, "a failed add does not stop the read from being final, and it missed the ok add");
    }

    #[test]
    fn read_above_upper_bound_is_invalid() {
        let h = hist(&[
            (0, "invoke", "add", json!(2)),
            (0, "ok", "add", json!(2)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(4)),
        ]);
        let r = check(&h).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.evidence_json()["errors"][0], json!({"index": 2, "value": 4, "lower": 2, "upper": 2}));
    }

    #[test]
    fn read_below_certain_sum_is_invalid_and_failed_adds_do_not_count() {
        let h = hist(&[
            (0, "invoke", "add", json!(2)),
            (0, "ok", "add", json!(2)),
            (0, "invoke", "add", json!(10)),
            (0, "fail", "add", json!(10)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(12)),
        ]);
        let r = check(&h).unwrap();
        assert_eq!(r.evidence_json()["error_count"], json!(2));
    }

    #[test]
    fn negative_deltas_widen_the_lower_bound() {
        let h = hist(&[
            (0, "invoke", "add", json!(5)),
            (0, "ok", "add", json!(5)),
            (0, "invoke", "add", json!(-3)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(2)),
        ]);
        assert_eq!(check(&h).unwrap().valid, Validity::Valid);
    }

    #[test]
    fn simulated_counters_are_valid() {
        let cfg = SimConfig { crash_rate: 0.1, ..SimConfig::new(10, 5_000, 1, 5) };
        let r = check(&History::new(counter_history(&cfg, 0.3)).unwrap()).unwrap();
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.explanation);
    }
}

#[cfg(test)]
mod overflow_tests {
    use super::*;
    use faultline_history::{Op, Process};
    use serde_json::json;

    fn pairs(events: &[(u64, &str, OpType, serde_json::Value)]) -> History {
        History::new(events.iter().map(|(p, f, t, v)| Op::new(*t, Process::Client(*p), *f, v.clone())).collect()).unwrap()
    }

    #[test]
    fn sums_beyond_64_bits_are_not_wrapped() {
        use OpType::*;
        let max = json!(i64::MAX);
        let h = pairs(&[(0, "add", Invoke, max.clone()), (0, "add", Ok, max.clone()), (0, "add", Invoke, max.clone()), (0, "add", Ok, max), (1, "read", Invoke, json!(null)), (1, "read", Ok, json!(-2))]);
        let r = check(&h).unwrap();
        assert_eq!(r.valid, Validity::Invalid, "-2 is what a wrapping counter would say; the sum is 2^64 - 2");
        assert!(r.explanation[0].contains("[18446744073709551614, 18446744073709551614]"), "{:?}", r.explanation);
        let e = r.evidence_json();
        assert_eq!(e["errors"][0]["upper"], json!("18446744073709551614"), "beyond 64 bits, written as digits: {e}");
        let back: crate::Evidence = serde_json::from_value(e).expect("reads back");
        assert!(matches!(back, crate::Evidence::Counter(c) if c.errors[0].lower == 18446744073709551614));
    }

    #[test]
    fn a_counter_with_no_reads_is_valid() {
        use OpType::*;
        let r = check(&pairs(&[(0, "add", Invoke, json!(1)), (0, "add", Ok, json!(1))])).unwrap();
        assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    }
}
