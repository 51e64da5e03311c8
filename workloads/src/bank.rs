//! `bank`: transfers between five accounts, each one transaction of two increments
//! (which must apply together), and reads of every balance in one transaction; the
//! total must stay 0 in every read. Accounts start empty and increments do not check
//! balances, so balances may go negative by design and are allowed to.

use crate::{final_reads, read, result_value, ReadShare, Workload};
use faultline_checkers::bank::{self, BankOptions};
use faultline_checkers::{CheckError, CheckResult};
use faultline_history::generator::{from_fn, Gen};
use faultline_history::History;
use serde_json::{json, Map, Value};

const ACCOUNTS: u64 = 5;
/// Its own mix: one read of every balance in three operations.
pub(crate) const READS: ReadShare = ReadShare::new(1, 3);

/// The bank workload.
pub struct Bank {
    /// How many operations are reads.
    pub reads: ReadShare,
}

fn account(i: u64) -> String {
    format!("account{i}")
}

impl Workload for Bank {
    fn name(&self) -> &'static str {
        "bank"
    }

    fn generator(&self, seed: u64) -> Gen {
        let reads = self.reads;
        from_fn(seed, move |rng, _| {
            if reads.draw(rng).is_none() {
                return ("read".into(), Value::Null);
            }
            let from = rng.below(ACCOUNTS);
            let to = (from + 1 + rng.below(ACCOUNTS - 1)) % ACCOUNTS;
            ("transfer".into(), json!({"from": account(from), "to": account(to), "amount": 1 + rng.below(5)}))
        })
    }

    fn final_generator(&self) -> Option<Gen> {
        Some(final_reads("read"))
    }

    fn to_txn(&self, f: &str, value: &Value) -> Result<Vec<Value>, String> {
        match f {
            "read" => Ok((0..ACCOUNTS).map(|i| read(&account(i))).collect()),
            "transfer" => {
                let amount = value["amount"].as_i64().ok_or("a transfer needs an integer amount")?;
                Ok(vec![json!(["incr", value["from"], -amount]), json!(["incr", value["to"], amount])])
            }
            other => Err(format!("bank has no operation {other:?}")),
        }
    }

    fn completion(&self, f: &str, invoked: &Value, results: &[Value]) -> Value {
        if f != "read" {
            return invoked.clone();
        }
        let balances: Map<String, Value> = (0..ACCOUNTS as usize).map(|i| (account(i as u64), match result_value(results, i) {
            Value::Null => json!(0),
            v => v,
        })).collect();
        Value::Object(balances)
    }

    fn check(&self, history: &History) -> Result<CheckResult, CheckError> {
        bank::check(history, &BankOptions { total: Some(0), negative_balances_ok: true })
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["bank (total conserved)"]
    }
}
