//! `counter`: increments by small positive amounts and reads of one counter; every read
//! must lie within the bounds the acknowledged and unknown increments allow.

use crate::{final_reads, read, result_value, Workload};
use faultline_checkers::{counter, CheckError, CheckResult};
use faultline_history::generator::{from_fn, Gen};
use faultline_history::History;
use serde_json::{json, Value};

const KEY: &str = "counter";

/// The counter workload.
pub struct Counter;

impl Workload for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }

    fn generator(&self, seed: u64) -> Gen {
        from_fn(seed, |rng, _| if rng.below(4) == 0 { ("read".into(), Value::Null) } else { ("add".into(), json!(1 + rng.below(5))) })
    }

    fn final_generator(&self) -> Option<Gen> {
        Some(final_reads("read"))
    }

    fn to_txn(&self, f: &str, value: &Value) -> Result<Vec<Value>, String> {
        match f {
            "add" => Ok(vec![json!(["incr", KEY, value])]),
            "read" => Ok(vec![read(KEY)]),
            other => Err(format!("counter has no operation {other:?}")),
        }
    }

    fn completion(&self, f: &str, invoked: &Value, results: &[Value]) -> Value {
        match (f, result_value(results, 0)) {
            ("read", Value::Null) => json!(0),
            ("read", v) => v,
            _ => invoked.clone(),
        }
    }

    fn check(&self, history: &History) -> Result<CheckResult, CheckError> {
        counter::check(history)
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["counter"]
    }
}
