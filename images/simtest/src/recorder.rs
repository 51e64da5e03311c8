//! Records what clients saw as a faultline history, the way the runner does.

use crate::cluster::{next_seq, Cluster};
use faultline_checkers::linear::{self, LinearOptions, RegisterModel};
use faultline_checkers::{CheckResult, History};
use faultline_history::{Op, OpType, Process};
use node_common::api::{MicroOp, NodeError};
use serde_json::{json, Value};
use std::sync::Mutex;

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

/// A history being recorded.
#[derive(Default)]
pub struct Recorder(Mutex<Vec<Op>>);

impl Recorder {
    fn push(&self, kind: OpType, process: u64, f: &str, value: Value) {
        let mut ops = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut op = Op::new(kind, Process::Client(process), f, value);
        op.index = ops.len() as u64;
        ops.push(op);
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
        let ops = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        History::new(ops).expect("the recorder pairs every invoke with one completion")
    }

    /// The kinds of every event so far.
    pub fn kinds(&self) -> Vec<OpType> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|o| o.kind).collect()
    }

    /// Checks the register history for linearizability (cas-register model).
    pub fn check_register(&self) -> CheckResult {
        linear::check(&self.history(), &LinearOptions::new(RegisterModel::CasRegister)).expect("a register history")
    }
}
