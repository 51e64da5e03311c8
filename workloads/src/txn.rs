//! `list-append` and `rw-register`: random transactions of 1–6 micro-ops over a pool
//! of keys that rotates as the test goes (so each key sees a bounded number of
//! writes), every written value unique; checked by the Elle-style cycle checker against
//! a consistency model (strict serializable unless told otherwise).

use crate::{ReadShare, Workload};
use faultline_checkers::elle::{self, ConsistencyModel, ElleOptions, TxnKind};
use faultline_checkers::{CheckError, CheckResult};
use faultline_history::generator::{from_fn_progress, Gen};
use faultline_history::History;
use serde_json::{json, Value};

/// Keys in use at once, and transactions that took effect (or may have) before the
/// pool moves on by one key: refused ones leave it where it is, so after an outage
/// the workload still reads what it wrote before it.
const ACTIVE_KEYS: u64 = 8;
const TXNS_PER_KEY_SHIFT: u64 = 40;
/// Its own mix: half the micro-ops are reads.
pub(crate) const READS: ReadShare = ReadShare::new(1, 2);

/// A transactional workload.
pub struct Transactions {
    kind: TxnKind,
    model: ConsistencyModel,
    /// Maelstrom's name for it (`txn-list-append`, `txn-rw-register`), if run as such.
    maelstrom: bool,
    /// How many micro-ops are reads.
    reads: ReadShare,
}

impl Transactions {
    /// list-append: reads and appends, `reads` of the micro-ops reads.
    pub fn list_append(model: ConsistencyModel, reads: ReadShare) -> Transactions {
        Transactions { kind: TxnKind::ListAppend, model, maelstrom: false, reads }
    }

    /// The same, under Maelstrom's name (`txn-` before it).
    pub fn named_as_maelstrom(self) -> Transactions {
        Transactions { maelstrom: true, ..self }
    }

    /// rw-register: reads and blind writes, `reads` of the micro-ops reads.
    pub fn rw_register(model: ConsistencyModel, reads: ReadShare) -> Transactions {
        Transactions { kind: TxnKind::RwRegister, model, maelstrom: false, reads }
    }
}

impl Workload for Transactions {
    fn name(&self) -> &'static str {
        match (self.kind, self.maelstrom) {
            (TxnKind::ListAppend, false) => "list-append",
            (TxnKind::RwRegister, false) => "rw-register",
            (TxnKind::ListAppend, true) => "txn-list-append",
            (TxnKind::RwRegister, true) => "txn-rw-register",
        }
    }

    fn generator(&self, seed: u64) -> Gen {
        let write = match self.kind {
            TxnKind::ListAppend => "append",
            TxnKind::RwRegister => "w",
        };
        let reads = self.reads;
        from_fn_progress(seed, move |rng, progress| {
            let (n, base) = (progress.invoked, progress.effective / TXNS_PER_KEY_SHIFT);
            let len = 1 + rng.below(6);
            let ops: Vec<Value> = (0..len)
                .map(|i| {
                    let key = format!("k{}", base + rng.below(ACTIVE_KEYS));
                    if reads.draw(rng).is_none() {
                        json!(["r", key, null])
                    } else {
                        json!([write, key, n * 8 + i + 1])
                    }
                })
                .collect();
            ("txn".into(), Value::Array(ops))
        })
    }

    fn final_generator(&self) -> Option<Gen> {
        None
    }

    fn to_txn(&self, f: &str, value: &Value) -> Result<Vec<Value>, String> {
        match (f, value.as_array()) {
            ("txn", Some(ops)) => Ok(ops.clone()),
            _ => Err(format!("{} runs txn operations with a list of micro-ops, not {f} {value}", self.name())),
        }
    }

    fn completion(&self, _: &str, invoked: &Value, results: &[Value]) -> Value {
        let ops = invoked.as_array().cloned().unwrap_or_default();
        Value::Array(ops.iter().enumerate().map(|(i, op)| match (op[0].as_str(), results.get(i)) {
            (Some("r"), Some(r)) => json!(["r", op[1], r[2]]),
            _ => op.clone(),
        }).collect())
    }

    fn check(&self, history: &History) -> Result<CheckResult, CheckError> {
        let mut opts = ElleOptions::new(self.kind);
        opts.consistency_model = self.model;
        opts.time_budget = std::time::Duration::from_secs(120);
        elle::check(history, &opts)
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["elle (cycles, anomalies, consistency models)"]
    }
}
