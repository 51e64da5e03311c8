//! The echo checker (Maelstrom's `echo` workload): every `echo` that completed ok
//! returned exactly what it sent.

use crate::{CheckError, CheckResult, Validity};
use faultline_history::{History, OpType};
use serde::{Deserialize, Serialize};

/// An echo that came back different.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WrongEcho {
    /// History index of the invocation.
    pub index: u64,
    /// What was sent.
    pub sent: serde_json::Value,
    /// What came back.
    pub received: serde_json::Value,
}

/// The echo checker's evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EchoEvidence {
    /// Echoes attempted.
    pub attempted: usize,
    /// Ok ones.
    pub acknowledged: usize,
    /// Ok echoes whose answer differed from the request (the first 100).
    pub wrong: Vec<WrongEcho>,
    /// How many ok echoes differed.
    pub wrong_count: usize,
}

/// Checks that every ok `echo` returned its own value.
pub fn check(history: &History) -> Result<CheckResult, CheckError> {
    let ops = history.ops();
    let (mut attempted, mut acknowledged, mut wrong, mut wrong_count) = (0, 0, Vec::new(), 0);
    for (inv, comp) in history.client_ops() {
        if ops[inv].f != "echo" {
            return Err(CheckError::bad_op(history, inv, format!("f={:?} is not an operation of the echo model (echo)", ops[inv].f)));
        }
        attempted += 1;
        let (OpType::Ok, Some(c)) = (history.outcome_of(inv), comp) else { continue };
        acknowledged += 1;
        if ops[c].value != ops[inv].value {
            wrong_count += 1;
            if wrong.len() < 100 {
                wrong.push(WrongEcho { index: ops[inv].index, sent: ops[inv].value.clone(), received: ops[c].value.clone() });
            }
        }
    }
    let valid = Validity::judge(wrong_count, acknowledged);
    let summary = format!("{acknowledged} echoes acknowledged of {attempted} attempted; {wrong_count} came back different");
    let explanation = wrong.iter().take(20).map(|w| format!("op {}: sent {}, received {}", w.index, w.sent, w.received)).collect();
    Ok(CheckResult::new("echo", valid, summary, explanation, EchoEvidence { attempted, acknowledged, wrong, wrong_count })
        .with_findings([("wrong-echo".to_owned(), wrong_count)], []))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::{Op, Process};
    use serde_json::json;

    fn echoes(pairs: &[(&str, &str)]) -> History {
        let mut ops = Vec::new();
        for (sent, got) in pairs {
            ops.push(Op::new(OpType::Invoke, Process::Client(0), "echo", json!(sent)));
            ops.push(Op::new(OpType::Ok, Process::Client(0), "echo", json!(got)));
        }
        History::new(ops).unwrap()
    }

    #[test]
    fn faithful_echoes_are_valid_and_altered_ones_are_not() {
        assert_eq!(check(&echoes(&[("a", "a"), ("b", "b")])).unwrap().valid, Validity::Valid);
        let r = check(&echoes(&[("a", "a"), ("b", "B")])).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.evidence_json()["wrong"][0]["received"], json!("B"));
        assert_eq!(check(&History::new(Vec::new()).unwrap()).unwrap().valid, Validity::Unknown);
    }
}
