//! `set`: adds of unique elements to one set (appends to one key), reads of the whole
//! set now and then and once more at the end; checked by set-full (lost, stale,
//! never-read, duplicated elements). Maelstrom's `broadcast` and `g-set` are the same
//! operations on an eventually consistent set: a read may miss recent adds, but every
//! acknowledged add must show up and stay.

use crate::{final_reads, read, result_value, ReadShare, Workload};
use faultline_checkers::set_full::{self, SetFullOptions};
use faultline_checkers::{CheckError, CheckResult};
use faultline_history::generator::{from_fn, Gen};
use faultline_history::History;
use serde_json::{json, Value};

const KEY: &str = "set";
/// Its own mix: one read in ten operations.
pub(crate) const READS: ReadShare = ReadShare::new(1, 10);

/// The set workload, or one of Maelstrom's eventually consistent sets.
pub struct Set {
    name: &'static str,
    /// Whether a read must see every add acknowledged before it began.
    linearizable: bool,
    /// How many operations are reads.
    reads: ReadShare,
}

impl Set {
    /// `set`: reads see every add acknowledged before them.
    pub fn linearizable(reads: ReadShare) -> Set {
        Set { name: "set", linearizable: true, reads }
    }

    /// Maelstrom's `broadcast` or `g-set`: reads may lag, adds must not be lost.
    pub fn eventual(name: &'static str, reads: ReadShare) -> Set {
        Set { name, linearizable: false, reads }
    }
}

impl Workload for Set {
    fn name(&self) -> &'static str {
        self.name
    }

    fn generator(&self, seed: u64) -> Gen {
        let reads = self.reads;
        from_fn(seed, move |rng, n| if reads.draw(rng).is_none() { ("read".into(), Value::Null) } else { ("add".into(), json!(n)) })
    }

    fn final_generator(&self) -> Option<Gen> {
        Some(final_reads("read"))
    }

    fn to_txn(&self, f: &str, value: &Value) -> Result<Vec<Value>, String> {
        match f {
            "add" => Ok(vec![json!(["append", KEY, value])]),
            "read" => Ok(vec![read(KEY)]),
            other => Err(format!("{} has no operation {other:?}", self.name)),
        }
    }

    fn completion(&self, f: &str, invoked: &Value, results: &[Value]) -> Value {
        match (f, result_value(results, 0)) {
            ("read", Value::Null) => json!([]),
            ("read", v) => v,
            _ => invoked.clone(),
        }
    }

    fn check(&self, history: &History) -> Result<CheckResult, CheckError> {
        set_full::check(history, &SetFullOptions { single_key: true, linearizable: self.linearizable })
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["set-full"]
    }
}
