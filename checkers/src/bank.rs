//! The bank checker: transfers between accounts conserve the total, and no balance is
//! negative.
//!
//! Ops: `transfer` (ignored here) and `read`, whose ok value is an object mapping each
//! account to its balance. Every ok read must sum to the expected total; if no total is
//! given, the first ok read's sum is used and the evidence says so.

use crate::{CheckError, CheckResult, Validity};
use faultline_history::{History, OpType};
use serde::{Deserialize, Serialize};

/// Options of the bank checker.
#[derive(Debug, Clone, Default)]
pub struct BankOptions {
    /// The total every read must show; inferred from the first read when absent.
    pub total: Option<i64>,
    /// Allow negative balances.
    pub negative_balances_ok: bool,
}

/// A read that breaks an invariant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankError {
    /// History index of the read's invocation.
    pub index: u64,
    /// `wrong-total` or `negative-balance`.
    pub kind: String,
    /// The balances read.
    pub balances: serde_json::Value,
    /// Their sum (in 128 bits: balances near the 64-bit limits may sum beyond them).
    #[serde(with = "crate::wide")]
    pub total: i128,
}

/// The bank checker's evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankEvidence {
    /// Ok reads checked.
    pub reads: usize,
    /// The total checked against.
    #[serde(with = "crate::wide::option")]
    pub expected_total: Option<i128>,
    /// Whether the total was inferred from the first read.
    pub total_inferred: bool,
    /// Reads with the wrong total.
    pub wrong_total_count: usize,
    /// Reads with a negative balance.
    pub negative_count: usize,
    /// The first 100 bad reads.
    pub errors: Vec<BankError>,
}

/// Checks a bank history.
pub fn check(history: &History, opts: &BankOptions) -> Result<CheckResult, CheckError> {
    let ops = history.ops();
    let mut ev = BankEvidence {
        reads: 0,
        expected_total: opts.total.map(i128::from),
        total_inferred: false,
        wrong_total_count: 0,
        negative_count: 0,
        errors: Vec::new(),
    };
    for (inv, comp) in history.client_ops() {
        match ops[inv].f.as_str() {
            "transfer" => continue,
            "read" => {}
            f => return Err(CheckError::bad_op(history, inv, format!("f={f:?} is not an operation of the bank model (transfer, read)"))),
        }
        let (OpType::Ok, Some(c)) = (history.outcome_of(inv), comp) else { continue };
        let balances = ops[c].value.as_object().ok_or_else(|| {
            CheckError::bad_op(history, c, format!("read: expected an object of account balances, got {}", ops[c].value))
        })?;
        let mut total = 0i128;
        let mut negative = false;
        for (account, balance) in balances {
            let b = balance.as_i64().ok_or_else(|| {
                CheckError::bad_op(history, c, format!("read: balance of account {account} is not an integer: {balance}"))
            })?;
            total += i128::from(b);
            negative |= b < 0;
        }
        ev.reads += 1;
        let expected = *ev.expected_total.get_or_insert_with(|| {
            ev.total_inferred = true;
            total
        });
        let mut record = |kind| {
            if ev.errors.len() < 100 {
                ev.errors.push(BankError { index: ops[inv].index, kind, balances: ops[c].value.clone(), total });
            }
        };
        if total != expected {
            record("wrong-total".to_owned());
            ev.wrong_total_count += 1;
        }
        if negative && !opts.negative_balances_ok {
            record("negative-balance".to_owned());
            ev.negative_count += 1;
        }
    }
    let valid = Validity::judge(ev.wrong_total_count + ev.negative_count, ev.reads);
    let summary = format!(
        "{} reads: {} with a wrong total{}, {} with a negative balance",
        ev.reads,
        ev.wrong_total_count,
        match (ev.expected_total, ev.total_inferred) {
            (Some(t), true) => format!(" (expected {t}, inferred from the first read)"),
            (Some(t), false) => format!(" (expected {t})"),
            (None, _) => String::new(),
        },
        ev.negative_count
    );
    let explanation = ev
        .errors
        .iter()
        .take(20)
        .map(|e| format!("read #{}: {} (sum {}): {}", e.index, e.kind, e.total, e.balances))
        .collect();
    let counts = [("wrong-total".to_owned(), ev.wrong_total_count), ("negative-balance".to_owned(), ev.negative_count)];
    let witnesses: Vec<u64> = ev.errors.iter().map(|e| e.index).collect();
    Ok(CheckResult::new("bank", valid, summary, explanation, ev).with_findings(counts, witnesses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::{Op, Process, Value};
    use serde_json::json;

    fn reads(values: &[Value]) -> History {
        let mut ops = Vec::new();
        for v in values {
            ops.push(Op::new(OpType::Invoke, Process::Client(0), "read", Value::Null));
            ops.push(Op::new(OpType::Ok, Process::Client(0), "read", v.clone()));
        }
        ops.push(Op::new(OpType::Invoke, Process::Client(1), "transfer", json!({"from": "a", "to": "b", "amount": 5})));
        for (i, op) in ops.iter_mut().enumerate() {
            op.index = i as u64;
        }
        History::new(ops).unwrap()
    }

    #[test]
    fn conserved_totals_are_valid() {
        let h = reads(&[json!({"a": 10, "b": 10}), json!({"a": 5, "b": 15})]);
        let r = check(&h, &BankOptions { total: Some(20), ..Default::default() }).unwrap();
        assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    }

    #[test]
    fn changed_total_and_negative_balance_are_invalid() {
        let h = reads(&[json!({"a": 10, "b": 10}), json!({"a": 5, "b": 10}), json!({"a": -5, "b": 25})]);
        let r = check(&h, &BankOptions::default()).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.evidence_json()["total_inferred"], json!(true));
        assert_eq!((r.evidence_json()["wrong_total_count"].clone(), r.evidence_json()["negative_count"].clone()), (json!(1), json!(1)));
        assert_eq!(r.evidence_json()["errors"][0]["index"], json!(2));
        let lenient = BankOptions { negative_balances_ok: true, ..Default::default() };
        assert_eq!(check(&h, &lenient).unwrap().evidence_json()["negative_count"], json!(0));
    }

    #[test]
    fn malformed_reads_are_errors() {
        let h = reads(&[json!([10, 10])]);
        assert!(check(&h, &BankOptions::default()).unwrap_err().to_string().contains("expected an object of account balances"));
    }
}

#[cfg(test)]
mod overflow_tests {
    use super::*;
    use faultline_history::{Op, Process};
    use serde_json::json;

    #[test]
    fn totals_near_the_64_bit_limit_do_not_wrap() {
        let read = |p, balances: serde_json::Value| [Op::new(OpType::Invoke, Process::Client(p), "read", json!(null)), Op::new(OpType::Ok, Process::Client(p), "read", balances)];
        let mut ops = read(0, json!({"a": i64::MAX, "b": i64::MAX}).clone()).to_vec();
        ops.extend(read(1, json!({"a": -2, "b": 0})));
        let r = check(&History::new(ops).unwrap(), &BankOptions::default()).unwrap();
        assert_eq!(r.valid, Validity::Invalid, "a total of 2^64 - 2 is not -2");
        let e = r.evidence_json();
        assert_eq!(e["expected_total"], json!("18446744073709551614"), "{e}");
    }
}
