//! Elle-style transactional checking for list-append and rw-register histories.
//!
//! Dependencies between transactions (ww, wr, rw) are inferred from the values they
//! wrote and read; process and real-time orders are added; cycles in the resulting graph
//! are found and classified (G0, G1c, G-single, G-nonadjacent, G2-item, with `-process`
//! and `-realtime` variants). Anomalies visible in single operations (G1a, G1b,
//! internal, dirty-update, duplicate-elements, incompatible-order, garbage-read,
//! lost-update) are found directly. The history is judged against a consistency model,
//! and the weakest models it rules out are named. Every cycle comes with a step-by-step
//! explanation, as data and as text.

mod cycles;
mod graph;
mod list_append;
mod load;
mod models;
mod raw;
mod rw_register;
#[cfg(test)]
mod tests;
mod txn;

pub use load::{TxnHistory, TxnHistoryReader};
pub use models::{ruled_out, ConsistencyModel, ALL_MODELS};
pub use rw_register::RwOptions;
pub use txn::TxnKind;

use crate::{CheckError, CheckResult, History, Validity};
use graph::{relation_name, DepGraph, GraphBuilder, DEPS, PROCESS, REALTIME, RW, WR, WW};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use txn::{Status, Txns};

/// Options of the transactional checker.
#[derive(Debug, Clone)]
pub struct ElleOptions {
    /// list-append or rw-register.
    pub kind: TxnKind,
    /// The model the history must satisfy.
    pub consistency_model: ConsistencyModel,
    /// rw-register version-order assumptions.
    pub rw: RwOptions,
    /// Budget for the cycle search; past it, unclassified cycles make the verdict unknown.
    pub time_budget: Duration,
    /// How many examples of each anomaly type to report.
    pub per_type: usize,
}

impl ElleOptions {
    /// Strict serializability, no extra assumptions, 5 minutes, 8 examples per type.
    pub fn new(kind: TxnKind) -> ElleOptions {
        ElleOptions {
            kind,
            consistency_model: ConsistencyModel::StrictSerializable,
            rw: RwOptions::default(),
            time_budget: Duration::from_secs(300),
            per_type: 8,
        }
    }
}

/// How an analysis explains one dependency edge.
pub(crate) trait Analysis {
    /// For `a → b` with relation `kind` (ww, wr or rw): the key and a sentence.
    fn explain(&self, t: &Txns, a: u32, b: u32, kind: u8) -> Option<(serde_json::Value, String)>;
}

/// An analysis, with the single-operation anomalies it found.
type Analyzed = (Box<dyn Analysis + Send>, Vec<OpAnomaly>);

/// An anomaly visible in single operations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpAnomaly {
    /// Its name, e.g. `G1a`.
    pub anomaly: String,
    /// The transaction it was seen in (history index of its invocation).
    pub txn: u64,
    /// The key involved.
    pub key: Option<serde_json::Value>,
    /// Other transactions involved.
    pub others: Vec<u64>,
    /// What happened, in words.
    pub text: String,
}

impl OpAnomaly {
    pub(crate) fn new(t: &Txns, anomaly: &str, txn: u32, key: Option<u32>, text: String) -> OpAnomaly {
        let index = t.txns[txn as usize].index;
        OpAnomaly {
            anomaly: anomaly.to_owned(),
            txn: index,
            key: key.map(|k| t.keys.value(k).clone()),
            others: Vec::new(),
            text: format!("T{index} {text}"),
        }
    }

    /// Names the other transactions involved (by their ids in `t`).
    pub(crate) fn with_others(mut self, t: &Txns, txns: impl IntoIterator<Item = u32>) -> OpAnomaly {
        self.others.extend(txns.into_iter().map(|x| t.txns[x as usize].index));
        self
    }
}

/// A transaction as shown in a cycle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxnNode {
    /// History index of its invocation (`T<index>`).
    pub index: u64,
    /// Its process.
    pub process: u64,
    /// `ok` or `info`.
    pub status: String,
    /// Its micro-ops, with the values it read when it completed ok.
    pub value: serde_json::Value,
}

/// One step of a cycle: `from` precedes `to` because of `relation`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CycleStep {
    /// History index of the earlier transaction.
    pub from: u64,
    /// History index of the later transaction.
    pub to: u64,
    /// `ww`, `wr`, `rw`, `process` or `realtime`.
    pub relation: String,
    /// The key the dependency is on.
    pub key: Option<serde_json::Value>,
    /// Why, in words.
    pub text: String,
}

/// A dependency cycle, ready to be printed or drawn (nodes and edges).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CycleReport {
    /// Its anomaly name, e.g. `G-single-realtime`.
    pub anomaly: String,
    /// The transactions, in cycle order.
    pub txns: Vec<TxnNode>,
    /// The edges, in cycle order; the last one closes the cycle.
    pub steps: Vec<CycleStep>,
    /// The explanation as lines of text.
    pub text: Vec<String>,
}

/// The transactional checker's evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ElleEvidence {
    /// The model checked against.
    pub consistency_model: String,
    /// Transactions in the history.
    pub txns: usize,
    /// Dependency graph size.
    pub graph_nodes: usize,
    /// Dependency graph edges (after merging parallel ones).
    pub graph_edges: usize,
    /// Every anomaly type found.
    pub anomaly_types: Vec<String>,
    /// The found types the chosen model forbids.
    pub forbidden: Vec<String>,
    /// The weakest models the history rules out.
    pub not: Vec<String>,
    /// Every model it rules out.
    pub also_not: Vec<String>,
    /// How many of each type were found (cycles: one per component at most).
    pub counts: BTreeMap<String, usize>,
    /// Example cycles, shortest first within each type.
    pub cycles: Vec<CycleReport>,
    /// Example single-operation anomalies.
    pub anomalies: Vec<OpAnomaly>,
    /// Components holding a cycle the search could not classify in time.
    pub unclassified_components: usize,
}

/// Checks a list-append or rw-register history.
pub fn check(history: &History, opts: &ElleOptions) -> Result<CheckResult, CheckError> {
    check_txns(&TxnHistory::from_history(history, opts.kind)?, opts)
}

/// Checks a transactional history already in compact form (see [`TxnHistory`]).
pub fn check_txns(history: &TxnHistory, opts: &ElleOptions) -> Result<CheckResult, CheckError> {
    let deadline = Instant::now() + opts.time_budget;
    let t = &history.txns;
    let bad = |(position, message): (usize, String)| history.bad_op(position, message);
    // The data dependencies and the orders are independent: build them side by side.
    let (analyzed, orders) = rayon::join(
        || {
            let mut deps = GraphBuilder::new(t.txns.len());
            let analyzed: Result<Analyzed, (usize, String)> = match opts.kind {
                TxnKind::ListAppend => list_append::analyze(t, &mut deps).map(|(a, an)| (Box::new(a) as Box<dyn Analysis + Send>, an)),
                TxnKind::RwRegister => rw_register::analyze(t, &mut deps, opts.rw).map(|(a, an)| (Box::new(a) as Box<dyn Analysis + Send>, an)),
            };
            analyzed.map(|a| (a, deps))
        },
        || {
            let mut orders = GraphBuilder::new(t.txns.len());
            orders.add_process_order(&t.txns);
            orders.add_realtime_order(&t.txns);
            orders
        },
    );
    let ((analysis, op_anomalies), mut builder) = analyzed.map_err(bad)?;
    builder.extend(orders);
    let graph = builder.build();
    let found = cycles::search(&graph, opts.per_type, deadline);

    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for a in &op_anomalies {
        *counts.entry(a.anomaly.clone()).or_default() += 1;
    }
    let mut reports = Vec::new();
    for (name, n) in &found.counts {
        *counts.entry(name.clone()).or_default() += n;
    }
    for list in found.cycles.values() {
        reports.extend(list.iter().map(|c| explain_cycle(t, &graph, analysis.as_ref(), c)));
    }
    let mut anomalies: Vec<OpAnomaly> = Vec::new();
    let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &op_anomalies {
        let n = shown.entry(a.anomaly.as_str()).or_default();
        if *n < opts.per_type {
            *n += 1;
            anomalies.push(a.clone());
        }
    }
    let types: Vec<String> = counts.keys().cloned().collect();
    let forbidden: Vec<String> = types.iter().filter(|a| opts.consistency_model.forbids(a)).cloned().collect();
    let (weakest, all) = ruled_out(types.iter().map(String::as_str));
    let valid = if !forbidden.is_empty() {
        Validity::Invalid
    } else if found.unclassified > 0 {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    let summary = match valid {
        Validity::Valid if types.is_empty() => format!("{} transactions: no anomalies; {} holds", t.txns.len(), opts.consistency_model),
        Validity::Valid => format!(
            "{} transactions: {} holds; found {} (allowed by it)",
            t.txns.len(),
            opts.consistency_model,
            types.join(", ")
        ),
        Validity::Invalid => format!(
            "{} transactions: {} violates {}; rules out {}",
            t.txns.len(),
            forbidden.join(", "),
            opts.consistency_model,
            weakest.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
        ),
        Validity::Unknown => format!(
            "{} transactions: {} component(s) hold a cycle that was not classified in time",
            t.txns.len(),
            found.unclassified
        ),
    };
    let mut explanation = Vec::new();
    for r in &reports {
        explanation.extend(r.text.iter().cloned());
    }
    for a in &anomalies {
        explanation.push(format!("{}: {}", a.anomaly, a.text));
    }
    if found.unclassified > 0 {
        explanation.push(format!("{} component(s): cycle exists but not classified in time", found.unclassified));
    }
    let evidence = ElleEvidence {
        consistency_model: opts.consistency_model.name().to_owned(),
        txns: t.txns.len(),
        graph_nodes: graph.node_count(),
        graph_edges: graph.edge_count(),
        anomaly_types: types,
        forbidden,
        not: weakest.iter().map(|m| m.name().to_owned()).collect(),
        also_not: all.iter().map(|m| m.name().to_owned()).collect(),
        counts,
        cycles: reports,
        anomalies,
        unclassified_components: found.unclassified,
    };
    let name = match opts.kind {
        TxnKind::ListAppend => "elle-list-append",
        TxnKind::RwRegister => "elle-rw-register",
    };
    let witnesses: Vec<u64> = evidence
        .cycles
        .iter()
        .flat_map(|c| c.txns.iter().map(|t| t.index))
        .chain(evidence.anomalies.iter().flat_map(|a| std::iter::once(a.txn).chain(a.others.iter().copied())))
        .collect();
    let counts = evidence.counts.clone();
    Ok(CheckResult::new(name, valid, summary, explanation, evidence).with_findings(counts, witnesses))
}

/// Explains each step of a cycle: its relation, its key and a sentence.
fn explain_cycle(t: &Txns, graph: &DepGraph, analysis: &dyn Analysis, c: &cycles::Cycle) -> CycleReport {
    let txns: Vec<TxnNode> = c
        .txns
        .iter()
        .map(|&i| {
            let x = &t.txns[i as usize];
            TxnNode {
                index: x.index,
                process: x.process,
                status: if x.status == Status::Ok { "ok" } else { "info" }.to_owned(),
                value: t.mops_value(x),
            }
        })
        .collect();
    let mut steps = Vec::new();
    for (i, &a) in c.txns.iter().enumerate() {
        let b = c.txns[(i + 1) % c.txns.len()];
        let label = graph.label(a, b);
        let (ta, tb) = (&t.txns[a as usize], &t.txns[b as usize]);
        let dep = [WW, WR, RW].into_iter().filter(|k| label & k != 0).find_map(|k| Some((k, analysis.explain(t, a, b, k)?)));
        let (relation, key, text) = match dep {
            Some((k, (key, text))) => (relation_name(k), Some(key), text),
            None if label & PROCESS != 0 => {
                ("process", None, format!("process {} ran T{} and then T{}", ta.process, ta.index, tb.index))
            }
            None if label & REALTIME != 0 => (
                "realtime",
                None,
                format!("T{} completed (event {}) before T{} was invoked (event {})", ta.index, ta.complete.unwrap_or(0), tb.index, tb.invoke),
            ),
            None => (relation_name(label & DEPS), None, "a dependency whose key could not be recovered".to_owned()),
        };
        steps.push(CycleStep { from: ta.index, to: tb.index, relation: relation.to_owned(), key, text });
    }
    let mut text = vec![format!(
        "{}: {}",
        c.anomaly,
        c.txns.iter().chain(c.txns.first()).map(|&i| format!("T{}", t.txns[i as usize].index)).collect::<Vec<_>>().join(" < ")
    )];
    for s in &steps {
        text.push(format!("  T{} < T{} ({}): {}", s.from, s.to, s.relation, s.text));
    }
    let first = t.txns[c.txns[0] as usize].index;
    text.push(format!("  Hence T{first} < T{first}: a cycle."));
    for n in &txns {
        text.push(format!("  T{} (process {}, {}): {}", n.index, n.process, n.status, n.value));
    }
    CycleReport { anomaly: c.anomaly.clone(), txns, steps, text }
}
