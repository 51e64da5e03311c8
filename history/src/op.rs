//! A single operation event and its JSON form.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// What an event says about its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// The operation began.
    Invoke,
    /// The operation certainly took effect.
    Ok,
    /// The operation certainly did not take effect.
    Fail,
    /// The outcome is unknown (timeout, dropped connection, crash), or a nemesis event.
    Info,
}

impl OpType {
    /// The lowercase name used in histories.
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

/// Who performed an operation: a numbered client process, or the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A client process; each process performs one operation at a time.
    Client(u64),
    /// The fault injector.
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n.as_u64().map(Process::Client).ok_or_else(|| {
                serde::de::Error::custom(format!("process must be a non-negative integer or \"nemesis\", got {n}"))
            }),
            Value::String(s) if s == "nemesis" => Ok(Process::Nemesis),
            other => Err(serde::de::Error::custom(format!(
                "process must be a non-negative integer or \"nemesis\", got {other}"
            ))),
        }
    }
}

/// One event of a history, as in one line of `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position of the event in its history (0-based, dense).
    #[serde(default)]
    pub index: u64,
    /// Nanoseconds since the test started, from a monotonic clock.
    #[serde(default)]
    pub time: i64,
    /// Invocation or kind of completion.
    #[serde(rename = "type")]
    pub kind: OpType,
    /// The process performing the operation.
    pub process: Process,
    /// The operation's function, e.g. `read`, `write`, `cas`, `add`, `txn`.
    pub f: String,
    /// The operation's argument (on invoke) or result (on completion).
    #[serde(default)]
    pub value: Value,
    /// The node the client sent the operation to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Why an operation failed or is indeterminate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

impl Op {
    /// A new event with no node and no error; `index` and `time` start at 0.
    pub fn new(kind: OpType, process: Process, f: impl Into<String>, value: Value) -> Op {
        Op { index: 0, time: 0, kind, process, f: f.into(), value, node: None, error: None }
    }

    /// Builder-style: set the time in nanoseconds.
    pub fn at(mut self, time: i64) -> Op {
        self.time = time;
        self
    }

    /// True for `ok`, `fail` and `info` events of client processes.
    pub fn is_client_completion(&self) -> bool {
        matches!(self.process, Process::Client(_)) && self.kind != OpType::Invoke
    }
}
