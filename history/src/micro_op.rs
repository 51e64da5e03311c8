//! Micro-operations: the steps of a transaction on a key-value store (`r`, `w`,
//! `cas`, `append`, `incr`), their wire form `[f, key, value]`, and what each does to
//! a key's value. The reference nodes apply them; adapters for real systems (etcd)
//! apply them to what they read, so every system gives a micro-op the same meaning.

use serde_json::{json, Value};

/// Why a micro-op could not apply; it certainly took no effect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {reason}")]
pub struct MicroOpError {
    /// `cas-mismatch` or `type-mismatch`.
    pub code: &'static str,
    /// What the key held.
    pub reason: String,
}

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
    pub fn apply(&self, current: &Value) -> Result<(Value, Value), MicroOpError> {
        Ok(match self {
            MicroOp::Read(k) => (current.clone(), json!(["r", k, current])),
            MicroOp::Write(k, v) => (v.clone(), json!(["w", k, v])),
            MicroOp::Cas(k, old, new) => {
                if current != old {
                    return Err(MicroOpError { code: "cas-mismatch", reason: format!("key {k} holds {current}, not {old}") });
                }
                (new.clone(), json!(["cas", k, [old, new]]))
            }
            MicroOp::Append(k, v) => {
                let mut list = match current {
                    Value::Null => Vec::new(),
                    Value::Array(items) => items.clone(),
                    other => return Err(MicroOpError { code: "type-mismatch", reason: format!("key {k} holds {other}, not a list") }),
                };
                list.push(v.clone());
                (Value::Array(list), json!(["append", k, v]))
            }
            MicroOp::Incr(k, d) => {
                let now = match current {
                    Value::Null => 0,
                    v => v.as_i64().ok_or_else(|| MicroOpError { code: "type-mismatch", reason: format!("key {k} holds {v}, not an integer") })?,
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


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_changes() {
        assert_eq!(MicroOp::Append("k".into(), json!(1)).apply(&Value::Null).unwrap().0, json!([1]));
        assert_eq!(MicroOp::Incr("c".into(), 2).apply(&json!(3)).unwrap(), (json!(5), json!(["incr", "c", 5])));
        let err = MicroOp::Cas("k".into(), json!(1), json!(2)).apply(&json!(3)).unwrap_err();
        assert_eq!(err.code, "cas-mismatch");
        assert_eq!(MicroOp::Read("k".into()).apply(&json!(7)).unwrap().1, json!(["r", "k", 7]));
        assert_eq!(MicroOp::from_value(&json!(["w", 3, 1])).unwrap(), MicroOp::Write("3".into(), json!(1)), "numeric keys become strings");
    }
}
