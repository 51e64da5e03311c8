//! Transactions in compact form: keys and values interned to small integers,
//! micro-ops as enums. [`Builder`] makes them from events one at a time, in history
//! order, so that a history need not be held whole (docs/ARCHITECTURE.md §7).

use super::raw::{Atom, ListOr, MopName, RawMop, TxnValue};
use crate::stats::{Counts, StatsEvidence};
use crate::{OpType, Process};
use faultline_history::HistoryError;
use rustc_hash::FxHashMap as HashMap;
use serde_json::Value;

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
    atoms: Vec<Atom>,
}

impl Interner {
    pub(crate) fn intern(&mut self, atom: Atom) -> u32 {
        if let Some(&id) = self.ids.get(&atom) {
            return id;
        }
        let id = self.atoms.len() as u32;
        self.atoms.push(atom.clone());
        self.ids.insert(atom, id);
        id
    }

    /// The value interned as `id`.
    pub(crate) fn value(&self, id: u32) -> Value {
        self.atoms[id as usize].to_value()
    }

    /// The value interned as `id`, as text.
    pub(crate) fn text(&self, id: u32) -> &Atom {
        &self.atoms[id as usize]
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

impl Txns {
    /// A transaction's micro-ops as written: `[f, key, value]`, reads unknown as null.
    pub(crate) fn mops_value(&self, txn: &Txn) -> Value {
        let read = |known: Option<Value>| known.unwrap_or(Value::Null);
        Value::Array(
            txn.mops
                .iter()
                .map(|m| match m {
                    Mop::Append(k, v) => serde_json::json!(["append", self.keys.value(*k), self.values.value(*v)]),
                    Mop::Write(k, v) => serde_json::json!(["w", self.keys.value(*k), self.values.value(*v)]),
                    Mop::ReadList(k, list) => {
                        let list = list.as_ref().map(|l| Value::Array(l.iter().map(|&v| self.values.value(v)).collect()));
                        serde_json::json!(["r", self.keys.value(*k), read(list)])
                    }
                    Mop::ReadReg(k, v) => serde_json::json!(["r", self.keys.value(*k), read(v.flatten().map(|v| self.values.value(v)))]),
                })
                .collect(),
        )
    }
}

/// Why an event cannot be part of a transactional history.
#[derive(Debug)]
pub(crate) enum BuildError {
    /// The events do not pair up (see [`HistoryError`]).
    History(HistoryError),
    /// The event at `position` is not a transaction of the expected kind.
    BadOp { position: usize, index: u64, message: String },
}

/// One event, as much of it as the transactional checkers read.
pub(crate) struct Event<'a> {
    pub position: usize,
    pub index: u64,
    pub kind: OpType,
    pub process: Process,
    pub f: &'a str,
    pub value: TxnValue,
}

struct Pending {
    position: usize,
    index: u64,
    txn: u32,
    value: TxnValue,
}

/// Builds [`Txns`] from events in history order: pairs each invocation with its
/// completion (checking what [`faultline_history::History::new`] checks), and keeps
/// an ok transaction's completed micro-ops (reads filled in) and any other's invoked ones.
pub(crate) struct Builder {
    kind: TxnKind,
    out: Txns,
    /// Pending invocation per process: its position, its transaction and its value,
    /// made into micro-ops only if the transaction does not complete ok (the completion
    /// describes an ok one, so most invocations are never converted).
    pending: HashMap<u64, Pending>,
    events: usize,
}

impl Builder {
    pub(crate) fn new(kind: TxnKind) -> Builder {
        Builder {
            kind,
            out: Txns { txns: Vec::new(), keys: Interner::default(), values: Interner::default() },
            pending: HashMap::default(),
            events: 0,
        }
    }

    /// Takes the next event.
    pub(crate) fn push(&mut self, e: Event<'_>) -> Result<(), BuildError> {
        self.events += 1;
        let Process::Client(p) = e.process else { return Ok(()) };
        let bad = |message: String| BuildError::BadOp { position: e.position, index: e.index, message };
        if e.kind == OpType::Invoke {
            if let Some(pending) = self.pending.get(&p) {
                return Err(BuildError::History(HistoryError::DoubleInvoke { position: e.position, process: p.to_string(), pending: pending.position }));
            }
            if e.f != "txn" {
                return Err(bad(format!("f={:?}: transactional models expect f=\"txn\"", e.f)));
            }
            let txn = self.out.txns.len() as u32;
            self.out.txns.push(Txn { index: e.index, invoke: e.position, complete: None, status: Status::Info, process: p, mops: Vec::new() });
            self.pending.insert(p, Pending { position: e.position, index: e.index, txn, value: e.value });
            return Ok(());
        }
        let Some(pending) = self.pending.remove(&p) else {
            return Err(BuildError::History(HistoryError::OrphanCompletion { position: e.position, process: p.to_string() }));
        };
        if e.f != "txn" {
            return Err(BuildError::History(HistoryError::MismatchedF {
                position: e.position,
                invoke: pending.position,
                invoke_f: "txn".to_owned(),
                completion_f: e.f.to_owned(),
            }));
        }
        let status = match e.kind {
            OpType::Ok => Status::Ok,
            OpType::Fail => Status::Fail,
            _ => Status::Info,
        };
        // An ok transaction is described by its completion, reads filled in; any other
        // by its invocation, reads unknown.
        let mops = if status == Status::Ok { self.mops(e.value, true).map_err(bad)? } else { self.invoked(pending.value, pending.position, pending.index)? };
        let txn = &mut self.out.txns[pending.txn as usize];
        txn.complete = Some(e.position);
        txn.status = status;
        txn.mops = mops;
        Ok(())
    }

    /// The transactions, and how many events were read. Invocations that never
    /// completed are indeterminate, described by what they invoked.
    pub(crate) fn finish(mut self) -> Result<(Txns, usize), BuildError> {
        let mut open: Vec<Pending> = std::mem::take(&mut self.pending).into_values().collect();
        open.sort_unstable_by_key(|p| p.position);
        for p in open {
            let mops = self.invoked(p.value, p.position, p.index)?;
            self.out.txns[p.txn as usize].mops = mops;
        }
        Ok((self.out, self.events))
    }

    fn invoked(&mut self, value: TxnValue, position: usize, index: u64) -> Result<Vec<Mop>, BuildError> {
        self.mops(value, false).map_err(|message| BuildError::BadOp { position, index, message })
    }

    fn mops(&mut self, value: TxnValue, reads_known: bool) -> Result<Vec<Mop>, String> {
        let list = match value {
            ListOr::List(list) => list,
            ListOr::Null => return Err("txn: expected a list of micro-ops, got null".to_owned()),
            ListOr::One(v) => return Err(format!("txn: expected a list of micro-ops, got {v}")),
        };
        let (kind, out) = (self.kind, &mut self.out);
        // Pushed into an exact allocation rather than collected in place (see below).
        let mut mops = Vec::with_capacity(list.len());
        for m in list {
            mops.push({
                let (name, key, arg) = match m {
                    RawMop::Mop { name, key, arg } => (name, key, arg),
                    RawMop::Malformed(text) => return Err(format!("micro-op must be [f, key, value], got {text}")),
                };
                let key = out.keys.intern(key);
                let mop: Result<Mop, String> = match (kind, name) {
                    (TxnKind::ListAppend, MopName::Append) => Ok(Mop::Append(key, out.values.intern(arg.into_atom().unwrap_or_else(null)))),
                    (TxnKind::RwRegister, MopName::Write) => Ok(Mop::Write(key, out.values.intern(arg.into_atom().unwrap_or_else(null)))),
                    (TxnKind::ListAppend, MopName::Read) if !reads_known => Ok(Mop::ReadList(key, None)),
                    (TxnKind::ListAppend, MopName::Read) => match arg {
                        ListOr::Null => Ok(Mop::ReadList(key, Some(Vec::new()))),
                        ListOr::List(items) => {
                            // Not `collect()`: from a `Vec<Atom>` it would reuse the four
                            // times larger buffer, and a million reads would keep the slack.
                            let mut ids = Vec::with_capacity(items.len());
                            ids.extend(items.into_iter().map(|i| out.values.intern(i)));
                            Ok(Mop::ReadList(key, Some(ids)))
                        }
                        ListOr::One(other) => Err(format!("list-append read must return a list, got {other}")),
                    },
                    (TxnKind::RwRegister, MopName::Read) if !reads_known => Ok(Mop::ReadReg(key, None)),
                    (TxnKind::RwRegister, MopName::Read) => Ok(Mop::ReadReg(key, Some(arg.into_atom().map(|v| out.values.intern(v))))),
                    (TxnKind::ListAppend, other) => Err(format!("micro-op {:?} is not part of list-append (append, r)", other.to_string())),
                    (TxnKind::RwRegister, other) => Err(format!("micro-op {:?} is not part of rw-register (w, r)", other.to_string())),
                };
                mop
            }?);
        }
        Ok(mops)
    }
}

fn null() -> Atom {
    Atom::Text("null".into())
}

/// ok / fail / info counts of the transactions (all are `f = "txn"`).
pub(crate) fn stats(txns: &[Txn]) -> StatsEvidence {
    let mut total = Counts::default();
    for t in txns {
        total.count += 1;
        match t.status {
            Status::Ok => total.ok += 1,
            Status::Fail => total.fail += 1,
            Status::Info => total.info += 1,
        }
    }
    let by_f = if total.count == 0 { Default::default() } else { [("txn".to_owned(), total)].into() };
    StatsEvidence { total, by_f }
}
