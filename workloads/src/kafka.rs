//! Maelstrom's `kafka`: append-only logs per key. Clients `send` messages (each
//! unique) to a few keys that rotate as the test goes, `poll` as consumers that read on
//! from where they left off, `commit_offsets` of what they read and
//! `list_committed_offsets`; after the heal, final polls read every log from its start.
//! Where a consumer stands is the adapter's to keep (a client's state, as in
//! Maelstrom); the history records what each poll returned. Checked by the kafka checker.

use crate::{result_value, Workload};
use faultline_checkers::{kafka, CheckError, CheckResult};
use faultline_history::generator::{clients, delay, from_fn, from_fn_progress, limit, time_limit, Gen};
use faultline_history::History;
use serde_json::{json, Value};

/// Keys in use at once, and operations that took effect (or may have) before the keys
/// move on by one.
const ACTIVE_KEYS: u64 = 3;
const OPS_PER_KEY_SHIFT: u64 = 200;

/// The kafka workload.
pub struct Kafka;

impl Workload for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn generator(&self, seed: u64) -> Gen {
        from_fn_progress(seed, |rng, progress| {
            let n = progress.invoked;
            let key = format!("k{}", progress.effective / OPS_PER_KEY_SHIFT + rng.below(ACTIVE_KEYS));
            match rng.below(20) {
                0..=9 => ("send".into(), json!([key, n])),
                10..=16 => ("poll".into(), Value::Null),
                17..=18 => ("commit_offsets".into(), Value::Null),
                _ => ("list_committed_offsets".into(), Value::Null),
            }
        })
    }

    /// Five polls of every log from its start, 300 ms apart, on any clients.
    fn final_generator(&self) -> Option<Gen> {
        Some(clients(time_limit(30_000_000_000, limit(5, delay(300_000_000, from_fn(0, |_, _| ("poll".into(), json!("all"))))))))
    }

    /// One micro-op: `["send", key, msg]`, `["poll", null, null | "all"]`,
    /// `["commit_offsets", null, null]`, `["list_committed_offsets", null, null]`.
    fn to_txn(&self, f: &str, value: &Value) -> Result<Vec<Value>, String> {
        match f {
            "send" => Ok(vec![json!(["send", value[0], value[1]])]),
            "poll" | "commit_offsets" | "list_committed_offsets" => Ok(vec![json!([f, null, value])]),
            other => Err(format!("kafka has no operation {other:?}")),
        }
    }

    /// A send's completion is `[key, msg, offset]`; the others', what the node answered.
    fn completion(&self, f: &str, invoked: &Value, results: &[Value]) -> Value {
        match f {
            "send" => json!([invoked[0], invoked[1], result_value(results, 0)]),
            _ => result_value(results, 0),
        }
    }

    fn check(&self, history: &History) -> Result<CheckResult, CheckError> {
        kafka::check(history)
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["kafka"]
    }

    fn transactional(&self) -> bool {
        false
    }
}
