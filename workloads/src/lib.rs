//! faultline's workloads (docs/ARCHITECTURE.md §1, §7): for each, the operations clients run (a
//! generator), the final reads after the faults heal, how each operation maps onto a
//! transaction of the node API (`POST /txn` micro-ops) and back, and the checkers that
//! judge the history. Systems plug in through an [`adapter::Adapter`].
//!
//! Maelstrom's workloads are here under Maelstrom's names ([`MAELSTROM`]): most are
//! faultline's own with Maelstrom's checking (`lin-kv` is `register`, `broadcast` and
//! `g-set` are an eventually consistent `set`, `g-counter` and `pn-counter` a counter
//! held to its bounds at the final reads, `txn-list-append` and `txn-rw-register` the
//! transactional ones); `echo`, `unique-ids` and `kafka` are not transactions, so only an
//! adapter that speaks Maelstrom runs them ([`Workload::transactional`]).

pub mod adapter;
pub mod http;
mod bank;
mod counter;
mod echo;
mod kafka;
mod read_share;
mod register;
mod set;
mod txn;
mod unique_ids;

use faultline_checkers::{CheckError, CheckResult};
use faultline_history::generator::Gen;
use faultline_history::History;
use serde_json::Value;

pub use read_share::ReadShare;

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
    /// Whether its operations are transactions of micro-ops over keys, which any
    /// transactional store can run; if not, only an adapter that knows its operations
    /// does (Maelstrom's `echo`, `unique-ids`).
    fn transactional(&self) -> bool {
        true
    }
}

/// The workloads, by name.
pub const NAMES: [&str; 16] = [
    "register", "set", "counter", "bank", "list-append", "rw-register",
    "echo", "unique-ids", "broadcast", "g-set", "g-counter", "pn-counter", "lin-kv", "txn-list-append", "txn-rw-register", "kafka",
];

/// Maelstrom's workloads that faultline runs, by Maelstrom's names.
pub const MAELSTROM: [&str; 10] = ["echo", "unique-ids", "broadcast", "g-set", "g-counter", "pn-counter", "lin-kv", "txn-list-append", "txn-rw-register", "kafka"];

/// Options every workload understands.
#[derive(Debug, Clone)]
pub struct WorkloadOptions {
    /// The consistency model transactional workloads are checked against.
    pub consistency_model: faultline_checkers::elle::ConsistencyModel,
    /// The share of operations that are reads, if not the workload's own.
    pub read_share: Option<ReadShare>,
}

impl Default for WorkloadOptions {
    fn default() -> WorkloadOptions {
        WorkloadOptions { consistency_model: faultline_checkers::elle::ConsistencyModel::StrictSerializable, read_share: None }
    }
}

/// Looks a workload up by name.
pub fn by_name(name: &str, opts: &WorkloadOptions) -> Result<Box<dyn Workload>, String> {
    let reads = |default: ReadShare| opts.read_share.unwrap_or(default);
    let model = opts.consistency_model;
    Ok(match name {
        "register" => Box::new(register::Register { name: "register", reads: reads(register::READS) }),
        "lin-kv" => Box::new(register::Register { name: "lin-kv", reads: reads(register::READS) }),
        "set" => Box::new(set::Set::linearizable(reads(set::READS))),
        "counter" => Box::new(counter::Counter::LINEARIZABLE.with_reads(reads(counter::READS))),
        "bank" => Box::new(bank::Bank { reads: reads(bank::READS) }),
        "list-append" => Box::new(txn::Transactions::list_append(model, reads(txn::READS))),
        "rw-register" => Box::new(txn::Transactions::rw_register(model, reads(txn::READS))),
        "broadcast" => Box::new(set::Set::eventual("broadcast", reads(set::READS))),
        "g-set" => Box::new(set::Set::eventual("g-set", reads(set::READS))),
        "g-counter" => Box::new(counter::Counter::GROW_ONLY.with_reads(reads(counter::READS))),
        "pn-counter" => Box::new(counter::Counter::POSITIVE_NEGATIVE.with_reads(reads(counter::READS))),
        "txn-list-append" => Box::new(txn::Transactions::list_append(model, reads(txn::READS)).named_as_maelstrom()),
        "txn-rw-register" => Box::new(txn::Transactions::rw_register(model, reads(txn::READS)).named_as_maelstrom()),
        "echo" | "unique-ids" | "kafka" if opts.read_share.is_some() => {
            return Err(format!("workload {name} has no reads to set a share of; --read-share applies to register, set, counter, bank, list-append, rw-register and their Maelstrom names"))
        }
        "echo" => Box::new(echo::Echo),
        "unique-ids" => Box::new(unique_ids::UniqueIds),
        "kafka" => Box::new(kafka::Kafka),
        other => return Err(format!("unknown workload {other:?}; one of {}", NAMES.join(", "))),
    })
}

/// Whether the workload named `name` is made of transactions any transactional store
/// can run (unknown names: yes, and `by_name` says what is wrong with them).
pub fn is_transactional(name: &str) -> bool {
    by_name(name, &WorkloadOptions::default()).map_or(true, |w| w.transactional())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_a_workload_of_that_name() {
        for name in NAMES {
            assert_eq!(by_name(name, &WorkloadOptions::default()).unwrap().name(), name);
        }
        assert!(MAELSTROM.iter().all(|m| NAMES.contains(m)));
        assert!(!is_transactional("echo") && !is_transactional("unique-ids") && !is_transactional("kafka") && is_transactional("lin-kv"));
    }

    #[test]
    fn a_read_share_changes_the_mix_and_is_refused_where_there_are_no_reads() {
        let opts = WorkloadOptions { read_share: Some(ReadShare::from_fraction(0.9).unwrap()), ..WorkloadOptions::default() };
        let reads = |name: &str, opts: &WorkloadOptions| {
            let ops = faultline_history::generator::simulate(by_name(name, opts).unwrap().generator(3), 1, 1_000_000, 1000, |_| faultline_history::generator::EventKind::Ok);
            ops.iter().filter(|op| op.f == "read").count()
        };
        assert!(reads("register", &opts) > 850 && reads("register", &WorkloadOptions::default()) < 600);
        assert!(reads("set", &opts) > 850 && reads("set", &WorkloadOptions::default()) < 150);
        for name in ["echo", "unique-ids", "kafka"] {
            assert!(by_name(name, &opts).err().unwrap_or_default().contains("no reads to set a share of"), "{name}");
        }
    }
}
