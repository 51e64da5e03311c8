//! The client API's requests and answers.
//!
//! `POST /txn {"client": "p3", "seq": 17, "ops": [["r","x",null], ["w","y",2],
//! ["cas","z",[1,2]], ["append","x",5], ["incr","c",1]]}` answers
//! `200 {"ops": [...]}` with reads filled in, or an error
//! `{"error": "...", "definite": true|false, "leader": "n2"}`: `definite: true` means
//! the transaction certainly did not take effect.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One micro-operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum MicroOp {
    /// Read the key.
    Read(String),
    /// Set the key.
    Write(String, Value),
    /// Set the key to `new` if it holds `old`.
    Cas(String, Value, Value),
    /// Append to the list at the key.
    Append(String, Value),
    /// Add to the integer at the key.
    Incr(String, i64),
}

impl MicroOp {
    /// The key it acts on.
    pub fn key(&self) -> &str {
        match self {
            MicroOp::Read(k) | MicroOp::Write(k, _) | MicroOp::Cas(k, _, _) | MicroOp::Append(k, _) | MicroOp::Incr(k, _) => k,
        }
    }

    /// Applies the operation to a key's current value: the new value, and the
    /// micro-op's result as sent back to the client. A cas whose expected value does
    /// not match is an error.
    pub fn apply(&self, current: &Value) -> Result<(Value, Value), NodeError> {
        Ok(match self {
            MicroOp::Read(k) => (current.clone(), json!(["r", k, current])),
            MicroOp::Write(k, v) => (v.clone(), json!(["w", k, v])),
            MicroOp::Cas(k, old, new) => {
                if current != old {
                    return Err(NodeError::definite("cas-mismatch", format!("key {k} holds {current}, not {old}")));
                }
                (new.clone(), json!(["cas", k, [old, new]]))
            }
            MicroOp::Append(k, v) => {
                let mut list = match current {
                    Value::Null => Vec::new(),
                    Value::Array(items) => items.clone(),
                    other => return Err(NodeError::definite("type-mismatch", format!("key {k} holds {other}, not a list"))),
                };
                list.push(v.clone());
                (Value::Array(list), json!(["append", k, v]))
            }
            MicroOp::Incr(k, d) => {
                let now = match current {
                    Value::Null => 0,
                    v => v.as_i64().ok_or_else(|| NodeError::definite("type-mismatch", format!("key {k} holds {v}, not an integer")))?,
                };
                (json!(now + d), json!(["incr", k, now + d]))
            }
        })
    }

    /// Whether it only reads.
    pub fn is_read(&self) -> bool {
        matches!(self, MicroOp::Read(_))
    }

    /// Its wire form, `[f, key, value]` (a read's value is null).
    pub fn to_value(&self) -> Value {
        match self {
            MicroOp::Read(k) => json!(["r", k, null]),
            MicroOp::Write(k, v) => json!(["w", k, v]),
            MicroOp::Cas(k, old, new) => json!(["cas", k, [old, new]]),
            MicroOp::Append(k, v) => json!(["append", k, v]),
            MicroOp::Incr(k, d) => json!(["incr", k, d]),
        }
    }

    /// Parses the wire form; the error says what is wrong.
    pub fn from_value(m: &Value) -> Result<MicroOp, String> {
        parse_mop(m)
    }
}

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
    let ops = ops.iter().enumerate().map(|(i, m)| parse_mop(m).map_err(|e| format!("ops[{i}]: {e}"))).collect::<Result<_, _>>()?;
    Ok(TxnRequest { client, seq, ops })
}

fn parse_mop(m: &Value) -> Result<MicroOp, String> {
    let Some([f, k, v]) = m.as_array().map(Vec::as_slice) else { return Err(format!("expected [f, key, value], got {m}")) };
    let key = match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => return Err(format!("key must be a string or a number, got {other}")),
    };
    match f.as_str() {
        Some("r") => Ok(MicroOp::Read(key)),
        Some("w") => Ok(MicroOp::Write(key, v.clone())),
        Some("append") => Ok(MicroOp::Append(key, v.clone())),
        Some("incr") => v.as_i64().map(|d| MicroOp::Incr(key, d)).ok_or_else(|| format!("incr takes an integer, got {v}")),
        Some("cas") => match v.as_array().map(Vec::as_slice) {
            Some([old, new]) => Ok(MicroOp::Cas(key, old.clone(), new.clone())),
            _ => Err(format!("cas takes [old, new], got {v}")),
        },
        _ => Err(format!("unknown micro-op {f}; one of r, w, cas, append, incr")),
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
    fn applies_changes() {
        assert_eq!(MicroOp::Append("k".into(), json!(1)).apply(&Value::Null).unwrap().0, json!([1]));
        assert_eq!(MicroOp::Incr("c".into(), 2).apply(&json!(3)).unwrap(), (json!(5), json!(["incr", "c", 5])));
        let err = MicroOp::Cas("k".into(), json!(1), json!(2)).apply(&json!(3)).unwrap_err();
        assert!(err.definite && err.error == "cas-mismatch");
        assert_eq!(MicroOp::Read("k".into()).apply(&json!(7)).unwrap().1, json!(["r", "k", 7]));
    }
}
