//! `counter`: increments by small positive amounts and reads of one counter; every read
//! must lie within the bounds the acknowledged and unknown increments allow.
//! Maelstrom's `g-counter` (positive adds) and `pn-counter` (adds of either sign) are
//! eventually consistent: only the final reads, after every add, are held to the bounds.

use crate::{final_reads, read, result_value, ReadShare, Workload};
use faultline_checkers::{counter, CheckError, CheckResult};
use faultline_history::generator::{from_fn, Gen};
use faultline_history::History;
use serde_json::{json, Value};

const KEY: &str = "counter";
/// Its own mix: one read in four operations.
pub(crate) const READS: ReadShare = ReadShare::new(1, 4);

/// The counter workload, or one of Maelstrom's eventually consistent counters.
pub struct Counter {
    name: &'static str,
    /// Whether adds may be negative.
    negative: bool,
    /// Whether only the reads after every add count.
    final_only: bool,
    /// How many operations are reads.
    reads: ReadShare,
}

impl Counter {
    /// `counter`: positive adds, every read in real time.
    pub const LINEARIZABLE: Counter = Counter { name: "counter", negative: false, final_only: false, reads: READS };
    /// Maelstrom's `g-counter`.
    pub const GROW_ONLY: Counter = Counter { name: "g-counter", negative: false, final_only: true, reads: READS };
    /// Maelstrom's `pn-counter`.
    pub const POSITIVE_NEGATIVE: Counter = Counter { name: "pn-counter", negative: true, final_only: true, reads: READS };

    /// The same counter with `reads` of its operations reads.
    pub fn with_reads(self, reads: ReadShare) -> Counter {
        Counter { reads, ..self }
    }
}

impl Workload for Counter {
    fn name(&self) -> &'static str {
        self.name
    }

    fn generator(&self, seed: u64) -> Gen {
        let (negative, reads) = (self.negative, self.reads);
        from_fn(seed, move |rng, _| match reads.draw(rng) {
            None => ("read".into(), Value::Null),
            _ if negative && rng.below(3) == 0 => ("add".into(), json!(-1 - rng.below(5) as i64)),
            _ => ("add".into(), json!(1 + rng.below(5))),
        })
    }

    fn final_generator(&self) -> Option<Gen> {
        Some(final_reads("read"))
    }

    fn to_txn(&self, f: &str, value: &Value) -> Result<Vec<Value>, String> {
        match f {
            "add" => Ok(vec![json!(["incr", KEY, value])]),
            "read" => Ok(vec![read(KEY)]),
            other => Err(format!("{} has no operation {other:?}", self.name)),
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
        if self.final_only {
            counter::check_final(history)
        } else {
            counter::check(history)
        }
    }

    fn checkers(&self) -> &'static [&'static str] {
        if self.final_only {
            &["counter (final reads)"]
        } else {
            &["counter"]
        }
    }
}
