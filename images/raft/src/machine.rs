//! The replicated state machine: a key-value map, and client sessions that make a
//! retried proposal apply once (the last sequence number and answer per client).

use crate::log::Command;
use node_common::api::{MicroOp, NodeError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What a transaction answered.
pub type Answer = Result<Vec<Value>, NodeError>;

/// A client's session: its last applied sequence number and that answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The last sequence number applied.
    pub seq: u64,
    /// What it answered.
    pub answer: Answer,
}

/// A snapshot of the state machine at a log position.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last log index it covers.
    pub index: u64,
    /// That entry's term.
    pub term: u64,
    /// The data.
    pub kv: BTreeMap<String, Value>,
    /// The client sessions.
    pub sessions: BTreeMap<String, Session>,
}

/// The state machine.
#[derive(Debug, Default)]
pub struct Machine {
    kv: BTreeMap<String, Value>,
    sessions: BTreeMap<String, Session>,
    /// Whether sessions deduplicate (off with the `retry-without-session` bug).
    pub dedup: bool,
}

impl Machine {
    /// A state machine from a snapshot.
    pub fn restore(snapshot: Option<Snapshot>, dedup: bool) -> Machine {
        let s = snapshot.unwrap_or_default();
        Machine { kv: s.kv, sessions: s.sessions, dedup }
    }

    /// Its state, as a snapshot at `index`/`term`.
    pub fn snapshot(&self, index: u64, term: u64) -> Snapshot {
        Snapshot { index, term, kv: self.kv.clone(), sessions: self.sessions.clone() }
    }

    /// Applies a committed command. A transaction is atomic: if any micro-op fails (a
    /// cas that does not match), none takes effect. A repeated (client, seq) gets the
    /// answer of its first application.
    pub fn apply(&mut self, cmd: &Command) -> Answer {
        let Command::Txn { client, seq, ops } = cmd else { return Ok(Vec::new()) };
        if self.dedup {
            if let Some(s) = self.sessions.get(client) {
                if s.seq == *seq {
                    return s.answer.clone();
                }
                if s.seq > *seq {
                    return Err(NodeError::definite("stale-seq", format!("client {client} is already at seq {}", s.seq)));
                }
            }
        }
        let answer = self.execute(ops);
        if self.dedup {
            self.sessions.insert(client.clone(), Session { seq: *seq, answer: answer.clone() });
        }
        answer
    }

    fn execute(&mut self, ops: &[Value]) -> Answer {
        let mut changed: BTreeMap<String, Value> = BTreeMap::new();
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let op = MicroOp::from_value(op).map_err(|e| NodeError::definite("bad-request", e))?;
            let current = changed.get(op.key()).or_else(|| self.kv.get(op.key())).cloned().unwrap_or(Value::Null);
            let (value, result) = op.apply(&current)?;
            if !op.is_read() {
                changed.insert(op.key().to_owned(), value);
            }
            results.push(result);
        }
        self.kv.extend(changed);
        Ok(results)
    }

    /// Answers read-only micro-ops from the current state, without the log.
    pub fn read(&self, ops: &[MicroOp]) -> Vec<Value> {
        ops.iter()
            .map(|op| op.apply(self.kv.get(op.key()).unwrap_or(&Value::Null)).map_or(Value::Null, |(_, result)| result))
            .collect()
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.kv.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.kv.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn txn(client: &str, seq: u64, ops: Value) -> Command {
        Command::Txn { client: client.into(), seq, ops: ops.as_array().unwrap().clone() }
    }

    #[test]
    fn transactions_are_atomic_and_sessions_apply_once() {
        let mut m = Machine::restore(None, true);
        let append = txn("p1", 1, json!([["append", "l", 1], ["r", "l", null]]));
        assert_eq!(m.apply(&append).unwrap(), vec![json!(["append", "l", 1]), json!(["r", "l", [1]])]);
        assert_eq!(m.apply(&append).unwrap()[1], json!(["r", "l", [1]]), "a retry gets the first answer");
        let failing = txn("p2", 1, json!([["append", "l", 2], ["cas", "x", [1, 2]]]));
        assert_eq!(m.apply(&failing).unwrap_err().error, "cas-mismatch");
        assert_eq!(m.read(&[MicroOp::Read("l".into())]), vec![json!(["r", "l", [1]])], "nothing of a failed txn applies");
        assert!(m.apply(&txn("p1", 0, json!([["r", "l", null]]))).is_err(), "an older seq is refused");
    }

    #[test]
    fn without_sessions_a_retry_applies_twice() {
        let mut m = Machine::restore(None, false);
        let incr = txn("p1", 1, json!([["incr", "c", 1]]));
        m.apply(&incr).unwrap();
        assert_eq!(m.apply(&incr).unwrap(), vec![json!(["incr", "c", 2])]);
        let restored = Machine::restore(Some(m.snapshot(2, 1)), false);
        assert_eq!(restored.read(&[MicroOp::Read("c".into())]), vec![json!(["r", "c", 2])]);
    }
}
