//! Maelstrom's `unique-ids`: `generate` requests, each answered with an id no other
//! `generate` got, whatever the faults (the nodes cannot rely on each other). Its
//! operations are not transactions: only an adapter that speaks Maelstrom runs it.

use crate::{result_value, Workload};
use faultline_checkers::{unique_ids, CheckError, CheckResult};
use faultline_history::generator::{from_fn, Gen};
use faultline_history::History;
use serde_json::{json, Value};

/// The unique-ids workload.
pub struct UniqueIds;

impl Workload for UniqueIds {
    fn name(&self) -> &'static str {
        "unique-ids"
    }

    fn generator(&self, seed: u64) -> Gen {
        from_fn(seed, |_, _| ("generate".into(), Value::Null))
    }

    fn final_generator(&self) -> Option<Gen> {
        None
    }

    /// One micro-op `["generate", null, null]`; its result carries the id.
    fn to_txn(&self, f: &str, _: &Value) -> Result<Vec<Value>, String> {
        match f {
            "generate" => Ok(vec![json!(["generate", null, null])]),
            other => Err(format!("unique-ids has no operation {other:?}")),
        }
    }

    fn completion(&self, _: &str, _: &Value, results: &[Value]) -> Value {
        result_value(results, 0)
    }

    fn check(&self, history: &History) -> Result<CheckResult, CheckError> {
        unique_ids::check(history)
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["unique-ids"]
    }

    fn transactional(&self) -> bool {
        false
    }
}
