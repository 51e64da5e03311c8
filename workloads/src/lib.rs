//! faultline's workloads (docs/ARCHITECTURE.md §1, §7): for each, the operations clients run (a
//! generator), the final reads after the faults heal, how each operation maps onto a
//! transaction of the node API (`POST /txn` micro-ops) and back, and the checkers that
//! judge the history. Systems plug in through an [`adapter::Adapter`].

pub mod adapter;
pub mod http;
mod bank;
mod counter;
mod register;
mod set;
mod txn;

use faultline_checkers::{CheckError, CheckResult};
use faultline_history::generator::Gen;
use faultline_history::History;
use serde_json::Value;

/// A workload.
pub trait Workload: Send + Sync {
    /// Its name on the command line.
    fn name(&self) -> &'static str;
    /// The clients' operations while faults run (unbounded: the runner limits it).
    fn generator(&self, seed: u64) -> Gen;
    /// Reads after the faults heal, if the checker needs them.
    fn final_generator(&self) -> Option<Gen>;
    /// The micro-ops of the transaction an operation runs.
    fn to_txn(&self, f: &str, value: &Value) -> Result<Vec<Value>, String>;
    /// The value of an `ok` completion, from the invocation and the micro-ops' results.
    fn completion(&self, f: &str, invoked: &Value, results: &[Value]) -> Value;
    /// Judges a history.
    fn check(&self, history: &History) -> Result<CheckResult, CheckError>;
    /// The checkers it runs, by name (for reports).
    fn checkers(&self) -> &'static [&'static str];
}

/// The workloads, by name.
pub const NAMES: [&str; 6] = ["register", "set", "counter", "bank", "list-append", "rw-register"];

/// Options every workload understands.
#[derive(Debug, Clone)]
pub struct WorkloadOptions {
    /// The consistency model transactional workloads are checked against.
    pub consistency_model: faultline_checkers::elle::ConsistencyModel,
}

impl Default for WorkloadOptions {
    fn default() -> WorkloadOptions {
        WorkloadOptions { consistency_model: faultline_checkers::elle::ConsistencyModel::StrictSerializable }
    }
}

/// Looks a workload up by name.
pub fn by_name(name: &str, opts: &WorkloadOptions) -> Result<Box<dyn Workload>, String> {
    Ok(match name {
        "register" => Box::new(register::Register),
        "set" => Box::new(set::Set),
        "counter" => Box::new(counter::Counter),
        "bank" => Box::new(bank::Bank),
        "list-append" => Box::new(txn::Transactions::list_append(opts.consistency_model)),
        "rw-register" => Box::new(txn::Transactions::rw_register(opts.consistency_model)),
        other => return Err(format!("unknown workload {other:?}; one of {}", NAMES.join(", "))),
    })
}

/// The micro-op `["r", key, null]`.
pub(crate) fn read(key: &str) -> Value {
    serde_json::json!(["r", key, null])
}

/// The value a micro-op result carries (`["r", k, v]` → v).
pub(crate) fn result_value(results: &[Value], i: usize) -> Value {
    results.get(i).and_then(|r| r.get(2)).cloned().unwrap_or(Value::Null)
}

/// Final reads: a read every 200 ms on a random client thread (so on a random node:
/// a follower may refuse, the leader answers), each a new recorded operation, until
/// one succeeds, for at most 30 s.
pub(crate) fn final_reads(f: &'static str) -> Gen {
    use faultline_history::generator::{clients, delay, from_fn, time_limit, until_ok};
    clients(time_limit(30_000_000_000, until_ok(delay(200_000_000, from_fn(0, move |_, _| (f.to_owned(), Value::Null))))))
}
