//! Transactions parsed from a history into compact form: keys and values interned to
//! small integers, micro-ops as enums.

use crate::{CheckError, History, OpType, Value};
use rustc_hash::FxHashMap as HashMap;

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    /// Indeterminate: it may or may not have committed; its reads are unknown.
    Info,
    /// Certainly aborted.
    Fail,
}

/// One micro-operation, with interned key and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mop {
    /// `["append", k, v]`
    Append(u32, u32),
    /// `["w", k, v]`
    Write(u32, u32),
    /// `["r", k, [..]]` in list-append; `None` when the result is unknown.
    ReadList(u32, Option<Vec<u32>>),
    /// `["r", k, v]` in rw-register: `Some(None)` read the initial (nil) value;
    /// `None` when the result is unknown.
    ReadReg(u32, Option<Option<u32>>),
}

impl Mop {
    pub(crate) fn key(&self) -> u32 {
        match self {
            Mop::Append(k, _) | Mop::Write(k, _) | Mop::ReadList(k, _) | Mop::ReadReg(k, _) => *k,
        }
    }
}

/// A transaction: one client operation with `f = "txn"`.
#[derive(Debug, Clone)]
pub(crate) struct Txn {
    /// The invocation's `index` field: how reports name the transaction (`T12`).
    pub index: u64,
    /// Position of the invocation in the history.
    pub invoke: usize,
    /// Position of the completion, if any.
    pub complete: Option<usize>,
    pub status: Status,
    pub process: u64,
    pub mops: Vec<Mop>,
}

/// Interns keys and values; id → original value for explanations.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    ids: HashMap<Atom, u32>,
    values: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Atom {
    Int(i64),
    Other(String),
}

impl Interner {
    pub(crate) fn intern(&mut self, v: &Value) -> u32 {
        let atom = v.as_i64().map_or_else(|| Atom::Other(v.to_string()), Atom::Int);
        if let Some(&id) = self.ids.get(&atom) {
            return id;
        }
        let id = self.values.len() as u32;
        self.ids.insert(atom, id);
        self.values.push(v.clone());
        id
    }

    pub(crate) fn value(&self, id: u32) -> &Value {
        &self.values[id as usize]
    }
}

/// Which kind of transactions to expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnKind {
    /// `append` and list `r`.
    ListAppend,
    /// `w` and register `r`.
    RwRegister,
}

/// All transactions of a history, in invocation order, with interners.
pub(crate) struct Txns {
    pub txns: Vec<Txn>,
    pub keys: Interner,
    pub values: Interner,
}

/// Parses every client operation of `history` as a transaction.
pub(crate) fn parse(history: &History, kind: TxnKind) -> Result<Txns, CheckError> {
    let ops = history.ops();
    let mut out = Txns { txns: Vec::new(), keys: Interner::default(), values: Interner::default() };
    for (inv, comp) in history.client_ops() {
        let op = &ops[inv];
        if op.f != "txn" {
            return Err(CheckError::bad_op(history, inv, format!("f={:?}: transactional models expect f=\"txn\"", op.f)));
        }
        let status = match history.outcome_of(inv) {
            OpType::Ok => Status::Ok,
            OpType::Fail => Status::Fail,
            _ => Status::Info,
        };
        // Ok transactions are described by their completion (reads filled in);
        // the others by their invocation.
        let source = match (status, comp) {
            (Status::Ok, Some(c)) => c,
            _ => inv,
        };
        let mops = parse_mops(&ops[source].value, kind, status == Status::Ok, &mut out)
            .map_err(|m| CheckError::bad_op(history, source, m))?;
        let Some(process) = (match op.process {
            crate::Process::Client(p) => Some(p),
            crate::Process::Nemesis => None,
        }) else {
            continue;
        };
        out.txns.push(Txn { index: op.index, invoke: inv, complete: comp, status, process, mops });
    }
    Ok(out)
}

fn parse_mops(value: &Value, kind: TxnKind, reads_known: bool, out: &mut Txns) -> Result<Vec<Mop>, String> {
    let list = value.as_array().ok_or_else(|| format!("txn: expected a list of micro-ops, got {value}"))?;
    list.iter()
        .map(|m| {
            let parts = m.as_array().map(Vec::as_slice);
            let Some([Value::String(f), k, v]) = parts else {
                return Err(format!("micro-op must be [f, key, value], got {m}"));
            };
            let key = out.keys.intern(k);
            match (kind, f.as_str()) {
                (TxnKind::ListAppend, "append") => Ok(Mop::Append(key, out.values.intern(v))),
                (TxnKind::RwRegister, "w") => Ok(Mop::Write(key, out.values.intern(v))),
                (TxnKind::ListAppend, "r") => {
                    if !reads_known {
                        return Ok(Mop::ReadList(key, None));
                    }
                    match v {
                        Value::Null => Ok(Mop::ReadList(key, Some(Vec::new()))),
                        Value::Array(items) => Ok(Mop::ReadList(key, Some(items.iter().map(|i| out.values.intern(i)).collect()))),
                        other => Err(format!("list-append read must return a list, got {other}")),
                    }
                }
                (TxnKind::RwRegister, "r") => {
                    if !reads_known {
                        return Ok(Mop::ReadReg(key, None));
                    }
                    Ok(Mop::ReadReg(key, Some((!v.is_null()).then(|| out.values.intern(v)))))
                }
                (TxnKind::ListAppend, other) => Err(format!("micro-op {other:?} is not part of list-append (append, r)")),
                (TxnKind::RwRegister, other) => Err(format!("micro-op {other:?} is not part of rw-register (w, r)")),
            }
        })
        .collect()
}
