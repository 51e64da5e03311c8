//! Linearizability checking for registers and key-value maps.
//!
//! The history is split per key (linearizability is compositional, so each key can be
//! checked alone). Each key first tries the zone fast path (read/write registers with
//! unique written values), then the WGL search; the searches take turns on the
//! machine's cores (`schedule`), so a key that fails fast settles the verdict even
//! while another key's search is exploding, and the rest then stop. `fail`
//! operations are dropped; `info` operations may take effect at any time after their
//! invocation, or never; `info` reads are dropped, since they constrain nothing.
//!
//! Values follow docs/ARCHITECTURE.md §2: `[key, value]` for reads and writes, `[key, [old, new]]` for
//! cas. With `single_key`, values are bare and all operations act on one register.

mod hash;
mod model;
mod schedule;
mod wgl;
mod zones;

use crate::value::{describe_op, split_keyed};
use crate::{CheckError, CheckResult, Validity};
use faultline_history::{History, OpType, Value};
use model::{Action, KeyOp, Model};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Which operations the model accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterModel {
    /// `read` and `write`.
    Register,
    /// `read`, `write` and `cas`.
    CasRegister,
    /// A key-value map: `read`/`get`, `write`/`put`, `append`, `cas`.
    Kv,
    /// Knossos's mutex: `acquire` succeeds when the lock is free, `release` when it
    /// is held. One lock; values are ignored.
    Mutex,
    /// Knossos's multi-register: `txn` ops of `[read k v]` / `[write k v]` micro-ops
    /// over several registers, linearizable as one object.
    MultiRegister,
}

impl RegisterModel {
    /// The model's name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            RegisterModel::Register => "register",
            RegisterModel::CasRegister => "cas-register",
            RegisterModel::Kv => "kv",
            RegisterModel::Mutex => "mutex",
            RegisterModel::MultiRegister => "multi-register",
        }
    }

    /// Whether the model is one object, with no keys to split by.
    fn is_one_object(self) -> bool {
        matches!(self, RegisterModel::Mutex | RegisterModel::MultiRegister)
    }
}

/// Options of the linearizability checker.
#[derive(Debug, Clone)]
pub struct LinearOptions {
    /// Which operations are allowed.
    pub model: RegisterModel,
    /// Values are bare (one register) instead of `[key, value]`.
    pub single_key: bool,
    /// Every key's initial value (`null`: absent).
    pub initial: Value,
    /// Wall-clock budget for the whole check; past it the verdict is `unknown`.
    pub time_budget: Duration,
    /// Memory budget of all keys' searches together (caches, stacks, model states);
    /// past it a key is `unknown`. 0 allows no search at all (the fast path still
    /// decides what it can).
    pub memory_budget_bytes: usize,
    /// Skip the zone fast path (for cross-checking the two algorithms).
    pub disable_fast_path: bool,
    /// Keep checking every key after one is proven not linearizable (for the report);
    /// by default the others stop, since the verdict is already known.
    pub all_keys: bool,
}

impl LinearOptions {
    /// Defaults for `model`: independent keys, absent initial value, 5 minutes, 4 GiB.
    pub fn new(model: RegisterModel) -> LinearOptions {
        LinearOptions {
            model,
            single_key: false,
            initial: Value::Null,
            time_budget: Duration::from_secs(300),
            memory_budget_bytes: 4 << 30,
            disable_fast_path: false,
            all_keys: false,
        }
    }
}

/// The ops of one key, ready to check, with the positions of their invocations.
pub(crate) struct KeyHistory {
    key: Value,
    model: Model,
    ops: Vec<KeyOp>,
}

/// Evidence for a key that is not linearizable.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyFailure {
    /// The key.
    pub key: Value,
    /// How many operations the longest linearizable prefix holds (0 when the fast
    /// path decided and the search was not run to completion).
    pub prefix_len: usize,
    /// History indices of the last operations of that prefix, in linearization order.
    pub prefix_tail: Vec<u64>,
    /// The key's value after the prefix.
    pub state: Value,
    /// History index of the operation that could not be placed.
    pub blocking: Option<u64>,
    /// History indices of the concurrent operations that could have gone next.
    pub candidates: Vec<u64>,
    /// The explanation in words.
    pub explanation: Vec<String>,
}

/// The linearizability checker's evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearEvidence {
    /// The model used.
    pub model: String,
    /// Number of keys checked.
    pub keys: usize,
    /// Number of client operations considered (excluding `fail` and unknown reads).
    pub ops: usize,
    /// Keys the fast path settled.
    pub fast_path_keys: usize,
    /// Keys that are not linearizable, with why.
    pub failures: Vec<KeyFailure>,
    /// Keys the checker could not decide, with why.
    pub unknown: Vec<(Value, String)>,
    /// Keys whose search was stopped because another key had already settled the
    /// verdict (see `all_keys`).
    #[serde(default)]
    pub stopped: Vec<Value>,
}

/// `1 key`, `2 keys`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Checks that the history is linearizable under `opts.model`.
pub fn check(history: &History, opts: &LinearOptions) -> Result<CheckResult, CheckError> {
    let started = Instant::now();
    let mut keys = split_by_key(history, opts)?;
    let total_ops: usize = keys.iter().map(|k| k.ops.len()).sum();
    let limits = schedule::Limits { deadline: started + opts.time_budget, memory_bytes: opts.memory_budget_bytes, all_keys: opts.all_keys };
    let outcomes = schedule::run(history, &mut keys, opts.disable_fast_path, &limits);

    let mut evidence = LinearEvidence {
        model: opts.model.name().to_owned(),
        keys: keys.len(),
        ops: total_ops,
        fast_path_keys: outcomes.iter().filter(|o| o.fast).count(),
        failures: Vec::new(),
        unknown: Vec::new(),
        stopped: Vec::new(),
    };
    for (o, key) in outcomes.into_iter().zip(&keys) {
        match o.outcome {
            KeyOutcome::Linearizable => {}
            KeyOutcome::Failure(f) => evidence.failures.push(f),
            KeyOutcome::Unknown(why) => evidence.unknown.push((key.key.clone(), why)),
            KeyOutcome::Stopped => evidence.stopped.push(key.key.clone()),
        }
    }
    evidence.failures.sort_by_key(|f| f.key.to_string());
    let valid = if !evidence.failures.is_empty() {
        Validity::Invalid
    } else if !evidence.unknown.is_empty() {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    let mut summary = match valid {
        Validity::Valid => format!("{} on {} {} linearizable ({})", plural(total_ops, "op"), plural(keys.len(), "key"), if total_ops == 1 { "is" } else { "are" }, opts.model.name()),
        Validity::Invalid => format!("{} of {} not linearizable ({})", evidence.failures.len(), plural(keys.len(), "key"), opts.model.name()),
        Validity::Unknown => format!("{} of {} could not be decided", evidence.unknown.len(), plural(keys.len(), "key")),
    };
    if !evidence.stopped.is_empty() {
        summary.push_str(&format!("; {} not searched to the end once the verdict was known (--all-keys checks every key)", plural(evidence.stopped.len(), "key")));
    }
    let mut explanation: Vec<String> = evidence.failures.iter().flat_map(|f| f.explanation.clone()).collect();
    for (key, why) in &evidence.unknown {
        explanation.push(format!("key {key}: unknown: {why}"));
    }
    let witnesses: Vec<u64> = evidence.failures.iter().flat_map(|f| f.blocking.into_iter().chain(f.candidates.iter().copied())).collect();
    let counts = [("nonlinearizable-key".to_owned(), evidence.failures.len())];
    Ok(CheckResult::new("linearizable", valid, summary, explanation, evidence).with_findings(counts, witnesses))
}

/// What was found of one key.
pub(crate) enum KeyOutcome {
    Linearizable,
    Failure(KeyFailure),
    Unknown(String),
    /// Not searched to the end: another key had already settled the verdict.
    Stopped,
}

/// Why a search gave up, in words.
fn exhausted_reason(exhausted: &wgl::Exhausted, budget_bytes: usize) -> String {
    match exhausted {
        wgl::Exhausted::Time => "the time budget ran out during the search".to_owned(),
        wgl::Exhausted::Memory { configurations, bytes } => format!(
            "the memory budget ran out ({} MB for all keys' searches) after {configurations} explored configurations ({:.1} MB in this key's search)",
            budget_bytes >> 20,
            *bytes as f64 / (1 << 20) as f64
        ),
    }
}

/// A key the fast path proved not linearizable, without a search's prefix to show.
fn zone_failure(key: &Value, reason: &str, why_no_prefix: &str) -> KeyFailure {
    KeyFailure {
        key: key.clone(),
        prefix_len: 0,
        prefix_tail: Vec::new(),
        state: Value::Null,
        blocking: None,
        candidates: Vec::new(),
        explanation: vec![format!("key {key} is not linearizable: {reason}"), format!("  (no linearization prefix shown: {why_no_prefix})")],
    }
}

/// Turns the search's deepest point into readable evidence.
fn explain(history: &History, key: &Value, ops: &[KeyOp], model: &Model, f: &wgl::Failure) -> KeyFailure {
    let index_of = |op: usize| history.ops()[ops[op].call as usize].index;
    let state = model.value(f.state);
    let mut lines = vec![format!("key {key} is not linearizable.")];
    lines.push(format!(
        "  The longest linearizable prefix holds {} operation(s){}",
        f.depth,
        if f.tail.is_empty() { "." } else { "; its last ones, in linearization order:" }
    ));
    for &op in &f.tail {
        lines.push(format!("    {}", describe_op(history, ops[op].call as usize)));
    }
    lines.push(format!("  After it the value is {state}."));
    lines.push(format!(
        "  Cannot place {}: it completed before any order of the operations concurrent with it could make it legal.",
        describe_op(history, ops[f.blocking].call as usize)
    ));
    let others: Vec<usize> = f.candidates.iter().copied().filter(|&c| c != f.blocking).collect();
    if !others.is_empty() {
        lines.push("  Operations that could have gone next:".to_owned());
        for &op in &others {
            lines.push(format!("    {}", describe_op(history, ops[op].call as usize)));
        }
    }
    KeyFailure {
        key: key.clone(),
        prefix_len: f.depth,
        prefix_tail: f.tail.iter().map(|&o| index_of(o)).collect(),
        state,
        blocking: Some(index_of(f.blocking)),
        candidates: others.iter().map(|&o| index_of(o)).collect(),
        explanation: lines,
    }
}

/// Groups the history's client operations by key, as model actions.
fn split_by_key(history: &History, opts: &LinearOptions) -> Result<Vec<KeyHistory>, CheckError> {
    let mut keys: BTreeMap<String, KeyHistory> = BTreeMap::new();
    let ops = history.ops();
    for (inv, comp) in history.client_ops() {
        let outcome = history.outcome_of(inv);
        if outcome == OpType::Fail {
            continue;
        }
        let f = ops[inv].f.as_str();
        let is_read = matches!(f, "read" | "get");
        if is_read && outcome != OpType::Ok {
            continue; // an indeterminate read constrains nothing
        }
        // Reads are judged by what they returned, transactions by what they returned
        // when they completed; everything else by what it asked.
        let source = match (is_read || f == "txn", comp, outcome) {
            (true, Some(c), OpType::Ok) => c,
            _ => inv,
        };
        let (key, arg) = if opts.single_key || opts.model.is_one_object() {
            (&Value::Null, &ops[source].value)
        } else {
            split_keyed(&ops[source].value).ok_or_else(|| {
                CheckError::bad_op(history, source, format!("{f}: expected [key, value], got {} (for a history of one register or one set with bare values, pass --single-key)", ops[source].value))
            })?
        };
        // A mutex starts free; every other model from the initial value.
        let initial = if opts.model == RegisterModel::Mutex { Value::Bool(false) } else { opts.initial.clone() };
        let entry = keys.entry(key.to_string()).or_insert_with(|| KeyHistory { key: key.clone(), model: Model::new(&initial), ops: Vec::new() });
        let known = outcome == OpType::Ok;
        let action = parse_action(history, source, f, arg, opts.model, known, &mut entry.model)?;
        entry.ops.push(KeyOp {
            call: inv as u32,
            ret: if outcome == OpType::Ok { comp.map(|c| c as u32) } else { None },
            action,
        });
    }
    Ok(keys.into_values().collect())
}

/// The model action of one operation. `known`: it completed ok, so a transaction's
/// reads are what it saw (an indeterminate one's reads constrain nothing).
fn parse_action(history: &History, position: usize, f: &str, arg: &Value, model: RegisterModel, known: bool, values: &mut Model) -> Result<Action, CheckError> {
    use RegisterModel::*;
    let allowed = matches!(
        (model, f),
        (Register | CasRegister | Kv, "read" | "write") | (CasRegister | Kv, "cas") | (Kv, "get" | "put" | "append") | (Mutex, "acquire" | "release") | (MultiRegister, "txn")
    );
    if !allowed {
        return Err(CheckError::bad_op(history, position, format!("f={f:?} is not an operation of the {} model", model.name())));
    }
    let (free, held) = (Value::Bool(false), Value::Bool(true));
    Ok(match f {
        "acquire" => Action::Cas(values.intern(&free), values.intern(&held)),
        "release" => Action::Cas(values.intern(&held), values.intern(&free)),
        "txn" => {
            let mops = parse_register_txn(arg, known).map_err(|m| CheckError::bad_op(history, position, m))?;
            Action::Txn(values.add_txn(mops))
        }
        "read" | "get" => Action::Read(values.intern(arg)),
        "write" | "put" => Action::Write(values.intern(arg)),
        "append" => Action::Append(values.intern(arg)),
        _ => match arg.as_array().map(Vec::as_slice) {
            Some([old, new]) => Action::Cas(values.intern(old), values.intern(new)),
            _ => return Err(CheckError::bad_op(history, position, format!("cas: expected [old, new], got {arg}"))),
        },
    })
}

/// A multi-register transaction's micro-ops: `[read k v]` / `[write k v]` (also `r`
/// and `w`). Reads of an op whose outcome is unknown are dropped.
fn parse_register_txn(arg: &Value, known: bool) -> Result<Vec<model::RegisterMop>, String> {
    let mops = arg.as_array().ok_or_else(|| format!("txn: expected a list of [read k v] / [write k v], got {arg}"))?;
    let mut out = Vec::with_capacity(mops.len());
    for m in mops {
        let Some([f, k, v]) = m.as_array().map(Vec::as_slice) else { return Err(format!("micro-op must be [f, key, value], got {m}")) };
        let key = k.as_str().map_or_else(|| k.to_string(), str::to_owned);
        match f.as_str() {
            Some("read" | "r") if known => out.push(model::RegisterMop::Read(key, v.clone())),
            Some("read" | "r") => {}
            Some("write" | "w") => out.push(model::RegisterMop::Write(key, v.clone())),
            _ => return Err(format!("micro-op must be read or write, got {f}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
