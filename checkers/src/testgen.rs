//! Seeded generators of synthetic histories, for property tests and benchmarks.
//!
//! Each generator simulates a correct store: every operation takes effect atomically
//! at a random moment between its invocation and its completion, so real-time overlap
//! is random but the history is, by construction, linearizable. Crashed operations
//! (`info`) may or may not have taken effect; the crashed process continues under a new
//! id (old id + processes), as faultline's runner does.

use faultline_history::{Op, OpType, Process, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::collections::BTreeSet;

/// The shape of a generated history.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Concurrent client processes.
    pub processes: usize,
    /// Number of operations (invocations) to generate.
    pub ops: usize,
    /// Number of independent keys.
    pub keys: usize,
    /// Probability that an operation's outcome is lost (`info`).
    pub crash_rate: f64,
    /// Random seed.
    pub seed: u64,
}

impl SimConfig {
    /// A configuration with no crashes.
    pub fn new(processes: usize, ops: usize, keys: usize, seed: u64) -> SimConfig {
        SimConfig { processes, ops, keys, crash_rate: 0.0, seed }
    }
}

/// Which register operations to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterOps {
    /// read and write.
    ReadWrite,
    /// read, write and cas.
    ReadWriteCas,
    /// read, write and append (a kv map of lists).
    ReadWriteAppend,
}

struct Pending {
    process: u64,
    f: &'static str,
    invoke_value: Value,
    /// The completion value once the operation took effect.
    result: Option<Value>,
}

/// Drives the invoke → effect → complete cycle shared by every simulation.
struct Driver {
    cfg: SimConfig,
    rng: ChaCha8Rng,
    slots: Vec<Option<Pending>>,
    process_ids: Vec<u64>,
    out: Vec<Op>,
    invoked: usize,
}

impl Driver {
    fn new(cfg: SimConfig) -> Driver {
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let n = cfg.processes.max(1);
        Driver { cfg, rng, slots: (0..n).map(|_| None).collect(), process_ids: (0..n as u64).collect(), out: Vec::new(), invoked: 0 }
    }

    fn emit(&mut self, kind: OpType, process: u64, f: &str, value: Value) {
        let index = self.out.len() as u64;
        let mut op = Op::new(kind, Process::Client(process), f, value).at(index as i64 * 1_000);
        op.index = index;
        self.out.push(op);
    }

    /// Runs until `cfg.ops` operations were invoked and all completed. `invoke` picks the
    /// next operation; `apply` makes it take effect on the simulated store and returns
    /// its completion value.
    fn run(
        mut self,
        mut invoke: impl FnMut(&mut ChaCha8Rng) -> (&'static str, Value),
        mut apply: impl FnMut(&mut ChaCha8Rng, &'static str, &Value) -> Value,
    ) -> Vec<Op> {
        loop {
            let busy = self.slots.iter().any(Option::is_some);
            if self.invoked >= self.cfg.ops && !busy {
                return self.out;
            }
            let slot = self.rng.gen_range(0..self.slots.len());
            match self.slots[slot].take() {
                None if self.invoked < self.cfg.ops => {
                    let (f, value) = invoke(&mut self.rng);
                    let process = self.process_ids[slot];
                    self.emit(OpType::Invoke, process, f, value.clone());
                    self.invoked += 1;
                    self.slots[slot] = Some(Pending { process, f, invoke_value: value, result: None });
                }
                None => {}
                Some(mut p) if p.result.is_none() => {
                    if self.rng.gen_bool(self.cfg.crash_rate) && self.rng.gen_bool(0.5) {
                        self.crash(slot, p); // crashed before taking effect
                    } else {
                        p.result = Some(apply(&mut self.rng, p.f, &p.invoke_value));
                        self.slots[slot] = Some(p);
                    }
                }
                Some(p) => {
                    if self.rng.gen_bool(self.cfg.crash_rate) {
                        self.crash(slot, p); // took effect, but the client never heard
                    } else {
                        let result = p.result.unwrap_or(Value::Null);
                        self.emit(OpType::Ok, p.process, p.f, result);
                    }
                }
            }
        }
    }

    fn crash(&mut self, slot: usize, p: Pending) {
        self.emit(OpType::Info, p.process, p.f, p.invoke_value);
        self.process_ids[slot] += self.cfg.processes as u64;
    }
}

/// A linearizable register history over `[key, value]` ops with unique written values.
pub fn register_history(cfg: &SimConfig, kinds: RegisterOps) -> Vec<Op> {
    let keys = cfg.keys.max(1);
    let mut store: Vec<Value> = vec![Value::Null; keys];
    let mut next_value = vec![1u64; keys];
    let invoke = move |rng: &mut ChaCha8Rng| {
        let k = rng.gen_range(0..keys);
        let roll = rng.gen_range(0..10);
        let v = next_value[k];
        match (kinds, roll) {
            (_, 0..=3) => ("read", json!([k, null])),
            (RegisterOps::ReadWriteCas, 4..=5) => {
                next_value[k] += 1;
                ("cas", json!([k, [rng.gen_range(0..v.max(1)), v]]))
            }
            (RegisterOps::ReadWriteAppend, 4..=6) => {
                next_value[k] += 1;
                ("append", json!([k, v]))
            }
            _ => {
                next_value[k] += 1;
                ("write", json!([k, v]))
            }
        }
    };
    let apply = move |_: &mut ChaCha8Rng, f: &'static str, arg: &Value| {
        let k = arg[0].as_u64().unwrap_or(0) as usize;
        let cell = &mut store[k];
        match f {
            "read" => json!([k, cell.clone()]),
            "write" => {
                *cell = arg[1].clone();
                arg.clone()
            }
            "append" => {
                match cell {
                    Value::Array(items) => items.push(arg[1].clone()),
                    _ => *cell = json!([arg[1].clone()]),
                }
                arg.clone()
            }
            _ => {
                // cas: records the ok completion even when it did not match would be wrong,
                // so a mismatching cas keeps the value and reports its arguments; the
                // caller turns it into a fail below.
                if *cell == arg[1][0] {
                    *cell = arg[1][1].clone();
                    arg.clone()
                } else {
                    json!({"cas-failed": arg.clone()})
                }
            }
        }
    };
    let mut ops = Driver::new(cfg.clone()).run(invoke, apply);
    // A cas that did not match completes as a definite failure with its arguments.
    for op in &mut ops {
        if op.kind == OpType::Ok {
            if let Some(arg) = op.value.get("cas-failed").cloned() {
                op.kind = OpType::Fail;
                op.value = arg;
            }
        }
    }
    ops
}

/// A linearizable grow-only set history over independent keys: `add [k, e]` with unique
/// elements and `read [k, [elements…]]`. Each key receives `per_key` adds, then the
/// workload moves to the next key; reads target the current or previous key.
pub fn set_history(cfg: &SimConfig, per_key: usize, read_ratio: f64) -> Vec<Op> {
    let per_key = per_key.max(1) as u64;
    let mut sets: Vec<BTreeSet<u64>> = Vec::new();
    let mut next_element = 0u64;
    let invoke = move |rng: &mut ChaCha8Rng| {
        let current = next_element / per_key;
        if rng.gen_bool(read_ratio) {
            let k = current.saturating_sub(rng.gen_range(0..2));
            ("read", json!([k, null]))
        } else {
            next_element += 1;
            ("add", json!([current, next_element - 1]))
        }
    };
    let apply = move |_: &mut ChaCha8Rng, f: &'static str, arg: &Value| {
        let k = arg[0].as_u64().unwrap_or(0) as usize;
        if sets.len() <= k {
            sets.resize_with(k + 1, BTreeSet::new);
        }
        if f == "add" {
            sets[k].insert(arg[1].as_u64().unwrap_or(0));
            arg.clone()
        } else {
            json!([k, sets[k].iter().collect::<Vec<_>>()])
        }
    };
    Driver::new(cfg.clone()).run(invoke, apply)
}

/// A counter history: `add` of 1–5 and `read` of the current total.
pub fn counter_history(cfg: &SimConfig, read_ratio: f64) -> Vec<Op> {
    let mut total = 0i64;
    let invoke = move |rng: &mut ChaCha8Rng| {
        if rng.gen_bool(read_ratio) {
            ("read", Value::Null)
        } else {
            ("add", json!(rng.gen_range(1..=5)))
        }
    };
    let apply = move |_: &mut ChaCha8Rng, f: &'static str, arg: &Value| {
        if f == "add" {
            total += arg.as_i64().unwrap_or(0);
            arg.clone()
        } else {
            json!(total)
        }
    };
    Driver::new(cfg.clone()).run(invoke, apply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::History;

    #[test]
    fn generated_histories_are_well_formed_and_deterministic() {
        let cfg = SimConfig { crash_rate: 0.1, ..SimConfig::new(5, 200, 3, 7) };
        let a = register_history(&cfg, RegisterOps::ReadWriteCas);
        let b = register_history(&cfg, RegisterOps::ReadWriteCas);
        assert_eq!(a, b);
        let h = History::new(a).unwrap();
        assert_eq!(h.client_ops().count(), 200);
        assert!(h.ops().iter().any(|o| o.kind == OpType::Info));
        History::new(set_history(&cfg, 20, 0.2)).unwrap();
        History::new(counter_history(&cfg, 0.3)).unwrap();
    }
}
