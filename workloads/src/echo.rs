//! Maelstrom's `echo`: each request carries a unique text and must come back with it.
//! Its operations are not transactions: only an adapter that speaks Maelstrom runs it.

use crate::{result_value, Workload};
use faultline_checkers::{echo, CheckError, CheckResult};
use faultline_history::generator::{from_fn, Gen};
use faultline_history::History;
use serde_json::{json, Value};

/// The echo workload.
pub struct Echo;

impl Workload for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn generator(&self, seed: u64) -> Gen {
        from_fn(seed, |rng, n| ("echo".into(), json!(format!("Please echo {n}-{}", rng.below(1000)))))
    }

    fn final_generator(&self) -> Option<Gen> {
        None
    }

    /// One micro-op `["echo", null, text]`, which the Maelstrom adapter sends as an
    /// `echo` request.
    fn to_txn(&self, f: &str, value: &Value) -> Result<Vec<Value>, String> {
        match f {
            "echo" => Ok(vec![json!(["echo", null, value])]),
            other => Err(format!("echo has no operation {other:?}")),
        }
    }

    fn completion(&self, _: &str, _: &Value, results: &[Value]) -> Value {
        result_value(results, 0)
    }

    fn check(&self, history: &History) -> Result<CheckResult, CheckError> {
        echo::check(history)
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["echo"]
    }

    fn transactional(&self) -> bool {
        false
    }
}
