//! The client API's requests and answers.
//!
//! `POST /txn {"client": "p3", "seq": 17, "ops": [["r","x",null], ["w","y",2],
//! ["cas","z",[1,2]], ["append","x",5], ["incr","c",1]]}` answers
//! `200 {"ops": [...]}` with reads filled in, or an error
//! `{"error": "...", "definite": true|false, "leader": "n2"}`: `definite: true` means
//! the transaction certainly did not take effect.

pub use faultline_history::micro_op::{MicroOp, MicroOpError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Runs a transaction one micro-op at a time with `execute` (designs whose transactions
/// are not atomic). A failure after the first micro-op is indefinite: earlier ones
/// already took effect.
pub async fn per_micro_op<'a, F, Fut>(ops: &'a [MicroOp], mut execute: F) -> Result<Vec<Value>, NodeError>
where
    F: FnMut(&'a MicroOp) -> Fut,
    Fut: std::future::Future<Output = Result<Value, NodeError>>,
{
    let mut results = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        match execute(op).await {
            Ok(r) => results.push(r),
            Err(e) if i > 0 => return Err(NodeError::indefinite("partial", format!("micro-op {i} failed after earlier ones took effect: {e}"))),
            Err(e) => return Err(e),
        }
    }
    Ok(results)
}

/// A parsed `POST /txn` body.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnRequest {
    /// The client (session) id.
    pub client: String,
    /// The client's sequence number, for exactly-once application of retries.
    pub seq: u64,
    /// The micro-ops, in order.
    pub ops: Vec<MicroOp>,
}

/// Parses a `POST /txn` body; the error says what is wrong (for a 400).
pub fn parse_txn(body: &Value) -> Result<TxnRequest, String> {
    let client = body.get("client").and_then(Value::as_str).ok_or("\"client\" must be a string")?.to_owned();
    let seq = body.get("seq").and_then(Value::as_u64).ok_or("\"seq\" must be a non-negative integer")?;
    let ops = body.get("ops").and_then(Value::as_array).ok_or("\"ops\" must be a list of micro-ops")?;
    if ops.is_empty() {
        return Err("\"ops\" is empty".to_owned());
    }
    let ops = ops.iter().enumerate().map(|(i, m)| MicroOp::from_value(m).map_err(|e| format!("ops[{i}]: {e}"))).collect::<Result<_, _>>()?;
    Ok(TxnRequest { client, seq, ops })
}

impl From<MicroOpError> for NodeError {
    fn from(e: MicroOpError) -> NodeError {
        NodeError::definite(e.code, e.reason)
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}: {reason}")]
pub struct NodeError {
    /// A short code, e.g. `not-leader`, `unavailable`, `cas-mismatch`.
    pub error: String,
    /// True when the transaction certainly did not take effect.
    pub definite: bool,
    /// The leader, when known and relevant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// Why, in words.
    pub reason: String,
}

impl NodeError {
    /// An error that proves nothing happened.
    pub fn definite(error: &str, reason: impl Into<String>) -> NodeError {
        NodeError { error: error.to_owned(), definite: true, leader: None, reason: reason.into() }
    }

    /// An error after which the transaction may or may not have taken effect.
    pub fn indefinite(error: &str, reason: impl Into<String>) -> NodeError {
        NodeError { error: error.to_owned(), definite: false, leader: None, reason: reason.into() }
    }

    /// The same error, naming the leader to ask instead.
    pub fn with_leader(mut self, leader: Option<String>) -> NodeError {
        self.leader = leader;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_micro_op() {
        let req = parse_txn(&json!({"client": "p3", "seq": 17, "ops": [["r","x",null],["append","x",5],["w","y",2],["cas","z",[1,2]],["incr","c",1],["r",4,null]]})).unwrap();
        assert_eq!(req.client, "p3");
        assert_eq!(req.ops[3], MicroOp::Cas("z".into(), json!(1), json!(2)));
        assert_eq!(req.ops[5], MicroOp::Read("4".into()));
        for op in &req.ops {
            assert_eq!(&MicroOp::from_value(&op.to_value()).unwrap(), op, "the wire form round-trips");
        }
    }

    #[test]
    fn malformed_requests_say_why() {
        assert_eq!(parse_txn(&json!({"seq": 1, "ops": []})).unwrap_err(), "\"client\" must be a string");
        assert_eq!(parse_txn(&json!({"client": "a", "seq": 1, "ops": []})).unwrap_err(), "\"ops\" is empty");
        assert_eq!(parse_txn(&json!({"client": "a", "seq": 1, "ops": [["x","k",1]]})).unwrap_err(), "ops[0]: unknown micro-op \"x\"; one of r, w, cas, append, incr");
        assert!(parse_txn(&json!({"client": "a", "seq": 1, "ops": [["cas","k",1]]})).unwrap_err().contains("cas takes [old, new]"));
        assert!(parse_txn(&json!({"client": "a", "seq": -1, "ops": [["r","k",null]]})).is_err());
    }

    #[test]
    fn a_micro_op_that_cannot_apply_is_a_definite_error() {
        let err: NodeError = MicroOp::Cas("k".into(), json!(1), json!(2)).apply(&json!(3)).unwrap_err().into();
        assert!(err.definite && err.error == "cas-mismatch");
    }
}
