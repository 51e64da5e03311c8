//! Records what clients saw as a faultline history, the way the runner does.

use crate::cluster::{next_seq, Cluster};
use faultline_checkers::linear::{self, LinearOptions, RegisterModel};
use faultline_checkers::{CheckResult, History};
use faultline_history::{Op, OpType, Process};
use node_common::api::{MicroOp, NodeError};
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::Instant;

/// How an operation ended, for the client that ran it.
#[derive(Debug)]
pub enum Outcome {
    /// It took effect (`ok`).
    Done,
    /// It certainly did not (`fail`), with the node's error.
    Failed(NodeError),
    /// Unknown (`info`): the process must move on to a new id.
    Unknown,
}

impl Outcome {
    /// Whether the outcome is unknown.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Outcome::Unknown)
    }
}

/// A history being recorded, with times from a monotonic clock.
pub struct Recorder {
    ops: Mutex<Vec<Op>>,
    started: Instant,
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder { ops: Mutex::new(Vec::new()), started: Instant::now() }
    }
}

impl Recorder {
    fn push(&self, kind: OpType, process: u64, f: &str, value: Value) {
        let mut ops = self.lock();
        let mut op = Op::new(kind, Process::Client(process), f, value);
        op.index = ops.len() as u64;
        op.time = self.started.elapsed().as_nanos() as i64;
        ops.push(op);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Op>> {
        self.ops.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a counter op on key `c` (f `add` with the delta, or `read` of the total) on
    /// node `node` as `process`, recording invoke and completion.
    pub async fn counter(&self, cluster: &Cluster, process: u64, node: usize, delta: Option<i64>) -> Outcome {
        let (f, invoke, op) = match delta {
            Some(d) => ("add", json!(d), MicroOp::Incr("c".into(), d)),
            None => ("read", Value::Null, MicroOp::Read("c".into())),
        };
        self.push(OpType::Invoke, process, f, invoke.clone());
        let outcome = cluster.txn(node, &format!("p{process}"), next_seq(), vec![op]).await;
        self.complete(process, f, invoke, outcome.map(|mut r| if f == "read" { r.pop().map_or(Value::Null, |m| m[2].clone()) } else { Value::Null }))
    }

    /// Runs a register op (read, write or cas, on `[key, value]`) on node `node` as
    /// `process`, recording invoke and completion.
    pub async fn register(&self, cluster: &Cluster, process: u64, node: usize, op: MicroOp) -> Outcome {
        let (f, invoke) = match &op {
            MicroOp::Read(k) => ("read", json!([k, null])),
            MicroOp::Write(k, v) => ("write", json!([k, v])),
            MicroOp::Cas(k, old, new) => ("cas", json!([k, [old, new]])),
            other => panic!("{other:?} is not a register op"),
        };
        self.push(OpType::Invoke, process, f, invoke.clone());
        let outcome = cluster.txn(node, &format!("p{process}"), next_seq(), vec![op]).await;
        self.complete(process, f, invoke, outcome.map(|mut r| match f {
            "read" => {
                let result = r.pop().unwrap_or(Value::Null);
                json!([result[1], result[2]])
            }
            _ => Value::Null,
        }))
    }

    /// Runs a transaction on node `node` as `process` (f `txn`, value the micro-ops),
    /// recording invoke and completion (the micro-ops with reads filled in).
    pub async fn txn(&self, cluster: &Cluster, process: u64, node: usize, ops: Vec<MicroOp>) -> Outcome {
        let invoke = Value::Array(ops.iter().map(MicroOp::to_value).collect());
        self.push(OpType::Invoke, process, "txn", invoke.clone());
        let outcome = cluster.txn(node, &format!("p{process}"), next_seq(), ops).await;
        self.complete(process, "txn", invoke, outcome.map(Value::Array))
    }

    fn complete(&self, process: u64, f: &str, invoke: Value, outcome: Result<Value, NodeError>) -> Outcome {
        match outcome {
            Ok(v) => {
                self.push(OpType::Ok, process, f, if v.is_null() { invoke } else { v });
                Outcome::Done
            }
            Err(e) if e.definite => {
                self.push(OpType::Fail, process, f, invoke);
                Outcome::Failed(e)
            }
            Err(_) => {
                self.push(OpType::Info, process, f, invoke);
                Outcome::Unknown
            }
        }
    }

    /// The history so far.
    pub fn history(&self) -> History {
        let ops = self.lock().clone();
        History::new(ops).expect("the recorder pairs every invoke with one completion")
    }

    /// The kinds of every event so far.
    pub fn kinds(&self) -> Vec<OpType> {
        self.lock().iter().map(|o| o.kind).collect()
    }

    /// Checks the register history for linearizability (cas-register model).
    pub fn check_register(&self) -> CheckResult {
        linear::check(&self.history(), &LinearOptions::new(RegisterModel::CasRegister)).expect("a register history")
    }
}
