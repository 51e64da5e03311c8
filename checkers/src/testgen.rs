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

/// A simulated store: chooses operations and executes them atomically.
pub(crate) trait Store {
    /// What an operation carries privately from its invocation to its effect
    /// (e.g. a snapshot timestamp).
    type Private;
    /// Chooses the next operation: its function, its invocation value, its private state.
    fn invoke(&mut self, rng: &mut ChaCha8Rng) -> (&'static str, Value, Self::Private);
    /// Makes the operation take effect; returns its completion type (`ok` or `fail`)
    /// and value.
    fn apply(&mut self, rng: &mut ChaCha8Rng, f: &'static str, arg: &Value, private: Self::Private) -> (OpType, Value);
}

struct Pending<P> {
    process: u64,
    f: &'static str,
    invoke_value: Value,
    private: Option<P>,
    /// The completion once the operation took effect.
    result: Option<(OpType, Value)>,
}

/// Drives the invoke → effect → complete cycle shared by every simulation.
pub(crate) struct Driver<P> {
    cfg: SimConfig,
    rng: ChaCha8Rng,
    slots: Vec<Option<Pending<P>>>,
    process_ids: Vec<u64>,
    out: Vec<Op>,
    invoked: usize,
}

impl<P> Driver<P> {
    pub(crate) fn new(cfg: SimConfig) -> Driver<P> {
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

    /// Runs until `cfg.ops` operations were invoked and all completed.
    pub(crate) fn run(mut self, store: &mut impl Store<Private = P>) -> Vec<Op> {
        loop {
            let busy = self.slots.iter().any(Option::is_some);
            if self.invoked >= self.cfg.ops && !busy {
                return self.out;
            }
            let slot = self.rng.gen_range(0..self.slots.len());
            match self.slots[slot].take() {
                None if self.invoked < self.cfg.ops => {
                    let (f, value, private) = store.invoke(&mut self.rng);
                    let process = self.process_ids[slot];
                    self.emit(OpType::Invoke, process, f, value.clone());
                    self.invoked += 1;
                    self.slots[slot] = Some(Pending { process, f, invoke_value: value, private: Some(private), result: None });
                }
                None => {}
                Some(mut p) if p.result.is_none() => {
                    if self.rng.gen_bool(self.cfg.crash_rate) && self.rng.gen_bool(0.5) {
                        self.crash(slot, p); // crashed before taking effect
                    } else {
                        let private = p.private.take();
                        p.result = private.map(|private| store.apply(&mut self.rng, p.f, &p.invoke_value, private));
                        self.slots[slot] = Some(p);
                    }
                }
                Some(p) => {
                    let (kind, value) = p.result.clone().unwrap_or((OpType::Info, Value::Null));
                    if kind == OpType::Ok && self.rng.gen_bool(self.cfg.crash_rate) {
                        self.crash(slot, p); // took effect, but the client never heard
                    } else {
                        self.emit(kind, p.process, p.f, value);
                    }
                }
            }
        }
    }

    fn crash(&mut self, slot: usize, p: Pending<P>) {
        self.emit(OpType::Info, p.process, p.f, p.invoke_value);
        self.process_ids[slot] += self.cfg.processes as u64;
    }
}

/// Registers with unique written values per key.
struct RegisterStore {
    kinds: RegisterOps,
    cells: Vec<Value>,
    next_value: Vec<u64>,
}

impl Store for RegisterStore {
    type Private = ();

    fn invoke(&mut self, rng: &mut ChaCha8Rng) -> (&'static str, Value, ()) {
        let k = rng.gen_range(0..self.cells.len());
        let v = self.next_value[k];
        let roll = rng.gen_range(0..10);
        let (f, value) = match (self.kinds, roll) {
            (_, 0..=3) => return ("read", json!([k, null]), ()),
            (RegisterOps::ReadWriteCas, 4..=5) => ("cas", json!([k, [rng.gen_range(0..v.max(1)), v]])),
            (RegisterOps::ReadWriteAppend, 4..=6) => ("append", json!([k, v])),
            _ => ("write", json!([k, v])),
        };
        self.next_value[k] += 1;
        (f, value, ())
    }

    fn apply(&mut self, _: &mut ChaCha8Rng, f: &'static str, arg: &Value, _: ()) -> (OpType, Value) {
        let k = arg[0].as_u64().unwrap_or(0) as usize;
        let cell = &mut self.cells[k];
        match f {
            "read" => return (OpType::Ok, json!([k, cell.clone()])),
            "write" => *cell = arg[1].clone(),
            "append" => match cell {
                Value::Array(items) => items.push(arg[1].clone()),
                _ => *cell = json!([arg[1].clone()]),
            },
            _ if *cell == arg[1][0] => *cell = arg[1][1].clone(),
            _ => return (OpType::Fail, arg.clone()), // a cas that did not match
        }
        (OpType::Ok, arg.clone())
    }
}

/// A linearizable register history over `[key, value]` ops with unique written values.
pub fn register_history(cfg: &SimConfig, kinds: RegisterOps) -> Vec<Op> {
    let keys = cfg.keys.max(1);
    let mut store = RegisterStore { kinds, cells: vec![Value::Null; keys], next_value: vec![1; keys] };
    Driver::new(cfg.clone()).run(&mut store)
}

/// A key-value map of strings, as Porcupine's kv tests drive it.
struct StringKvStore {
    cells: Vec<String>,
    next: u64,
}

impl Store for StringKvStore {
    type Private = ();

    fn invoke(&mut self, rng: &mut ChaCha8Rng) -> (&'static str, Value, ()) {
        let k = rng.gen_range(0..self.cells.len()).to_string();
        self.next += 1;
        let v = format!("x {} y", self.next);
        match rng.gen_range(0..20) {
            0..=8 => ("get", json!([k, null]), ()),
            9..=10 => ("put", json!([k, v]), ()),
            _ => ("append", json!([k, v]), ()),
        }
    }

    fn apply(&mut self, _: &mut ChaCha8Rng, f: &'static str, arg: &Value, _: ()) -> (OpType, Value) {
        let k: usize = arg[0].as_str().and_then(|k| k.parse().ok()).unwrap_or(0);
        let cell = &mut self.cells[k];
        let v = arg[1].as_str().unwrap_or_default();
        match f {
            "get" => return (OpType::Ok, json!([arg[0], cell.clone()])),
            "put" => *cell = v.to_owned(),
            _ => cell.push_str(v),
        }
        (OpType::Ok, arg.clone())
    }
}

/// A linearizable key-value history of strings in the shape of Porcupine's kv tests:
/// `get`, `put` and `append` on string keys `"0"`…, every key starting as `""` (check
/// with `initial: ""`), 45% gets, 10% puts, 45% appends.
pub fn string_kv_history(cfg: &SimConfig) -> Vec<Op> {
    let mut store = StringKvStore { cells: vec![String::new(); cfg.keys.max(1)], next: 0 };
    Driver::new(cfg.clone()).run(&mut store)
}

/// Makes one ok `get` in the second half of a [`string_kv_history`] return what it
/// read less its last character: a string no sequence of puts and appends of
/// `"x N y"` makes, so the history is then not linearizable. Answers whether a get
/// was found.
pub fn plant_stale_get(ops: &mut [Op]) -> bool {
    let half = ops.len() / 2;
    for op in ops[half..].iter_mut() {
        if op.kind == OpType::Ok && op.f == "get" {
            if let Some(seen) = op.value[1].as_str().filter(|s| s.len() > 10) {
                let stale = seen[..seen.len() - 1].to_owned();
                op.value[1] = json!(stale);
                return true;
            }
        }
    }
    false
}

/// Grow-only sets over independent keys; see [`set_history`].
struct SetStore {
    per_key: u64,
    read_ratio: f64,
    sets: Vec<BTreeSet<u64>>,
    next_element: u64,
}

impl Store for SetStore {
    type Private = ();

    fn invoke(&mut self, rng: &mut ChaCha8Rng) -> (&'static str, Value, ()) {
        let current = self.next_element / self.per_key;
        if rng.gen_bool(self.read_ratio) {
            let k = current.saturating_sub(rng.gen_range(0..2));
            ("read", json!([k, null]), ())
        } else {
            self.next_element += 1;
            ("add", json!([current, self.next_element - 1]), ())
        }
    }

    fn apply(&mut self, _: &mut ChaCha8Rng, f: &'static str, arg: &Value, _: ()) -> (OpType, Value) {
        let k = arg[0].as_u64().unwrap_or(0) as usize;
        if self.sets.len() <= k {
            self.sets.resize_with(k + 1, BTreeSet::new);
        }
        if f == "add" {
            self.sets[k].insert(arg[1].as_u64().unwrap_or(0));
            (OpType::Ok, arg.clone())
        } else {
            (OpType::Ok, json!([k, self.sets[k].iter().collect::<Vec<_>>()]))
        }
    }
}

/// A linearizable grow-only set history over independent keys: `add [k, e]` with unique
/// elements and `read [k, [elements…]]`. Each key receives `per_key` adds, then the
/// workload moves to the next key; reads target the current or previous key.
pub fn set_history(cfg: &SimConfig, per_key: usize, read_ratio: f64) -> Vec<Op> {
    let mut store = SetStore { per_key: per_key.max(1) as u64, read_ratio, sets: Vec::new(), next_element: 0 };
    Driver::new(cfg.clone()).run(&mut store)
}

/// A counter; see [`counter_history`].
struct CounterStore {
    read_ratio: f64,
    total: i64,
}

impl Store for CounterStore {
    type Private = ();

    fn invoke(&mut self, rng: &mut ChaCha8Rng) -> (&'static str, Value, ()) {
        if rng.gen_bool(self.read_ratio) {
            ("read", Value::Null, ())
        } else {
            ("add", json!(rng.gen_range(1..=5)), ())
        }
    }

    fn apply(&mut self, _: &mut ChaCha8Rng, f: &'static str, arg: &Value, _: ()) -> (OpType, Value) {
        if f == "add" {
            self.total += arg.as_i64().unwrap_or(0);
            (OpType::Ok, arg.clone())
        } else {
            (OpType::Ok, json!(self.total))
        }
    }
}

/// A counter history: `add` of 1–5 and `read` of the current total.
pub fn counter_history(cfg: &SimConfig, read_ratio: f64) -> Vec<Op> {
    Driver::new(cfg.clone()).run(&mut CounterStore { read_ratio, total: 0 })
}

/// Which transactional workload to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnWorkload {
    /// `append` and list `r` micro-ops.
    ListAppend,
    /// `w` and register `r` micro-ops.
    RwRegister,
}

/// The isolation the simulated store provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Each transaction runs atomically at one instant within its invocation and
    /// completion: strict serializable.
    Serializable,
    /// Each transaction reads the snapshot committed when it was invoked, and commits at
    /// its effect unless a key it wrote was committed by another transaction since its
    /// snapshot (first committer wins); else it fails. Allows write skew (G2-item).
    SnapshotIsolation,
}

/// The shape of a generated transactional history.
#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// Processes, transactions (`ops`), crash rate and seed.
    pub sim: SimConfig,
    /// list-append or rw-register.
    pub workload: TxnWorkload,
    /// The store's isolation.
    pub isolation: Isolation,
    /// How many keys are in use at once.
    pub active_keys: usize,
    /// Writes a key receives before it is retired for a fresh one.
    pub writes_per_key: u64,
    /// Micro-ops per transaction, at most (at least 1).
    pub max_mops: usize,
}

impl TxnConfig {
    /// Elle-like defaults: 10 active keys, 32 writes per key, 1–6 micro-ops.
    pub fn new(sim: SimConfig, workload: TxnWorkload, isolation: Isolation) -> TxnConfig {
        TxnConfig { sim, workload, isolation, active_keys: 10, writes_per_key: 32, max_mops: 6 }
    }
}

/// A multi-version store of lists (a register is a list of at most one value).
struct TxnStore {
    cfg: TxnConfig,
    /// The keys in use, and how many writes each received.
    pool: Vec<(u64, u64)>,
    next_key: u64,
    /// key → committed versions (commit time, contents), oldest first.
    versions: std::collections::HashMap<u64, Vec<(u64, Vec<u64>)>>,
    clock: u64,
}

impl TxnStore {
    fn read_at(&self, key: u64, snapshot: u64) -> Option<&Vec<u64>> {
        const EMPTY: &Vec<u64> = &Vec::new();
        match self.versions.get(&key) {
            None => Some(EMPTY),
            Some(vs) => match vs.iter().rev().find(|(ts, _)| *ts <= snapshot) {
                Some((_, contents)) => Some(contents),
                // Older versions were discarded: the snapshot can no longer be served.
                None if vs.first().is_some_and(|(ts, _)| *ts > snapshot) && vs.len() >= KEPT_VERSIONS => None,
                None => Some(EMPTY),
            },
        }
    }
}

/// Versions kept per key (older snapshots abort).
const KEPT_VERSIONS: usize = 40;

impl Store for TxnStore {
    type Private = u64;

    fn invoke(&mut self, rng: &mut ChaCha8Rng) -> (&'static str, Value, u64) {
        let n = rng.gen_range(1..=self.cfg.max_mops.max(1));
        let mut mops = Vec::with_capacity(n);
        for _ in 0..n {
            let slot = rng.gen_range(0..self.pool.len());
            let (key, writes) = self.pool[slot];
            if rng.gen_bool(0.5) {
                mops.push(json!(["r", key, null]));
            } else {
                let f = if self.cfg.workload == TxnWorkload::ListAppend { "append" } else { "w" };
                mops.push(json!([f, key, writes + 1]));
                self.pool[slot].1 += 1;
                if writes + 1 >= self.cfg.writes_per_key {
                    self.pool[slot] = (self.next_key, 0);
                    self.next_key += 1;
                }
            }
        }
        ("txn", Value::Array(mops), self.clock)
    }

    fn apply(&mut self, _: &mut ChaCha8Rng, _: &'static str, arg: &Value, snapshot: u64) -> (OpType, Value) {
        let snapshot = if self.cfg.isolation == Isolation::Serializable { self.clock } else { snapshot };
        let mut local: std::collections::HashMap<u64, Vec<u64>> = std::collections::HashMap::new();
        let mut completed = Vec::new();
        let mops = arg.as_array().cloned().unwrap_or_default();
        for m in &mops {
            let (f, key) = (m[0].as_str().unwrap_or(""), m[1].as_u64().unwrap_or(0));
            if let std::collections::hash_map::Entry::Vacant(slot) = local.entry(key) {
                match self.read_at(key, snapshot) {
                    Some(contents) => slot.insert(contents.clone()),
                    None => return (OpType::Fail, arg.clone()),
                };
            }
            let contents = local.entry(key).or_default();
            match f {
                "r" if self.cfg.workload == TxnWorkload::ListAppend => completed.push(json!(["r", key, contents])),
                "r" => completed.push(json!(["r", key, contents.last()])),
                "append" => {
                    contents.push(m[2].as_u64().unwrap_or(0));
                    completed.push(m.clone());
                }
                _ => {
                    *contents = vec![m[2].as_u64().unwrap_or(0)];
                    completed.push(m.clone());
                }
            }
        }
        let written: Vec<u64> = mops.iter().filter(|m| m[0] != "r").filter_map(|m| m[1].as_u64()).collect();
        let conflict = written.iter().any(|k| self.versions.get(k).and_then(|vs| vs.last()).is_some_and(|(ts, _)| *ts > snapshot));
        if conflict {
            return (OpType::Fail, arg.clone());
        }
        self.clock += 1;
        for k in written {
            let vs = self.versions.entry(k).or_default();
            if vs.last().is_none_or(|(ts, _)| *ts != self.clock) {
                vs.push((self.clock, local[&k].clone()));
                if vs.len() > KEPT_VERSIONS {
                    vs.remove(0);
                }
            }
        }
        (OpType::Ok, Value::Array(completed))
    }
}

/// A transactional history from a simulated store; see [`TxnConfig`].
pub fn txn_history(cfg: &TxnConfig) -> Vec<Op> {
    let pool = (0..cfg.active_keys.max(1) as u64).map(|k| (k, 0)).collect();
    let mut store = TxnStore { cfg: cfg.clone(), pool, next_key: cfg.active_keys.max(1) as u64, versions: Default::default(), clock: 0 };
    Driver::new(cfg.sim.clone()).run(&mut store)
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
