//! `register`: reads, writes and compare-and-sets on independent keys, every written
//! value unique per key; checked linearizable (cas-register model) key by key.
//! Maelstrom's `lin-kv` is the same workload under its own name.

use crate::{read, result_value, ReadShare, Workload};
use faultline_checkers::linear::{self, LinearOptions, RegisterModel};
use faultline_checkers::{CheckError, CheckResult};
use faultline_history::generator::{from_fn_progress, Gen};
use faultline_history::History;
use serde_json::{json, Value};

/// Keys in use at once; they rotate every [`OPS_PER_KEY_SET`] operations that took
/// effect (or may have) so each key's history stays short enough to check quickly,
/// while refused operations leave the keys where they are: after an outage the
/// workload still reads what it wrote before it.
const ACTIVE_KEYS: u64 = 3;
const OPS_PER_KEY_SET: u64 = 300;
/// Its own mix: half reads; of the rest, three writes to every two compare-and-sets.
pub(crate) const READS: ReadShare = ReadShare::new(5, 10);

/// The register workload (`register`, or Maelstrom's `lin-kv`).
pub struct Register {
    /// Its name.
    pub name: &'static str,
    /// How many operations are reads.
    pub reads: ReadShare,
}

impl Workload for Register {
    fn name(&self) -> &'static str {
        self.name
    }

    fn generator(&self, seed: u64) -> Gen {
        let reads = self.reads;
        from_fn_progress(seed, move |rng, progress| {
            let key = (progress.effective / OPS_PER_KEY_SET) * ACTIVE_KEYS + rng.below(ACTIVE_KEYS);
            let fresh = progress.invoked + 1;
            match reads.draw(rng) {
                None => ("read".into(), json!([key, null])),
                Some((rank, updates)) if rank * 5 < updates * 3 => ("write".into(), json!([key, fresh])),
                Some(_) => ("cas".into(), json!([key, [fresh.saturating_sub(1 + rng.below(8)), fresh]])),
            }
        })
    }

    fn final_generator(&self) -> Option<Gen> {
        None
    }

    fn to_txn(&self, f: &str, value: &Value) -> Result<Vec<Value>, String> {
        let key = format!("r{}", value[0]);
        Ok(match f {
            "read" => vec![read(&key)],
            "write" => vec![json!(["w", key, value[1]])],
            "cas" => vec![json!(["cas", key, value[1]])],
            other => return Err(format!("{} has no operation {other:?}", self.name)),
        })
    }

    fn completion(&self, f: &str, invoked: &Value, results: &[Value]) -> Value {
        match f {
            "read" => json!([invoked[0], result_value(results, 0)]),
            _ => invoked.clone(),
        }
    }

    fn check(&self, history: &History) -> Result<CheckResult, CheckError> {
        let mut opts = LinearOptions::new(RegisterModel::CasRegister);
        opts.time_budget = std::time::Duration::from_secs(120);
        // A run's report and its time to detect want every failing key, not only the
        // first one found; a key that explodes still ends at the budgets.
        opts.all_keys = true;
        linear::check(history, &opts)
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["linearizable (cas-register, per key)"]
    }
}
