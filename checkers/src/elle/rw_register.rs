//! rw-register analysis: writes of unique values per key, reads of single values.
//!
//! A read names the write it saw (wr). The version order of a key is only partly known:
//! the initial (nil) version precedes every write, and, as options, a transaction's
//! write follows what it read (wfr), each process sees versions in order (sequential
//! keys), or versions follow real time (linearizable keys). From each known pair a < b:
//! ww (writer of a → writer of b) and rw (every reader of a → writer of b).

use super::graph::{interval_order, GraphBuilder, RW, WR, WW};
use super::txn::{Mop, Status, Txns};
use super::{Analysis, OpAnomaly};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// Which extra version-order assumptions to make.
#[derive(Debug, Clone, Copy, Default)]
pub struct RwOptions {
    /// Each key is linearizable: versions follow real time.
    pub linearizable_keys: bool,
    /// Each key is sequentially consistent: each process sees versions in order.
    pub sequential_keys: bool,
    /// A transaction's write to a key follows the version it read of it.
    pub wfr_keys: bool,
}

/// The inferred facts of an rw-register history.
pub(crate) struct RwRegister {
    /// (key, value) → (writer, it was the writer's last write to the key).
    writers: HashMap<(u32, u32), (u32, bool)>,
    /// Known version pairs (key, earlier, later); `None` is the initial version.
    version_edges: HashSet<(u32, Option<u32>, u32)>,
    /// Per transaction: its first access to each key when that was a read.
    external_reads: HashMap<u32, ExternalReads>,
}

/// A transaction's external reads: (key, version read; `None` the initial one).
type ExternalReads = Vec<(u32, Option<u32>)>;

/// Analyzes the transactions; see the module docs.
pub(crate) fn analyze(t: &Txns, graph: &mut GraphBuilder, opts: RwOptions) -> Result<(RwRegister, Vec<OpAnomaly>), (usize, String)> {
    let mut anomalies = Vec::new();
    let mut writers: HashMap<(u32, u32), (u32, bool)> = HashMap::default();
    let mut final_writes: HashMap<u32, Vec<(u32, u32)>> = HashMap::default();
    for (i, txn) in t.txns.iter().enumerate() {
        let mut last: HashMap<u32, u32> = HashMap::default();
        for m in &txn.mops {
            if let Mop::Write(k, v) = *m {
                last.insert(k, v);
                if let Some((other, _)) = writers.insert((k, v), (i as u32, false)) {
                    return Err((
                        txn.invoke,
                        format!(
                            "value {} is written to key {} twice (also by the operation at position {}); rw-register needs unique values per key",
                            t.values.value(v),
                            t.keys.value(k),
                            t.txns[other as usize].invoke
                        ),
                    ));
                }
            }
        }
        for (k, v) in last {
            if let Some(w) = writers.get_mut(&(k, v)) {
                w.1 = true;
            }
            if txn.status != Status::Fail {
                final_writes.entry(i as u32).or_default().push((k, v));
            }
        }
    }
    let mut r = RwRegister { writers, version_edges: HashSet::default(), external_reads: HashMap::default() };
    r.internal_and_external(t, &mut anomalies);
    r.reads(t, graph, &mut anomalies);
    r.infer_versions(t, &final_writes, opts);
    r.version_dependencies(t, graph);
    Ok((r, anomalies))
}

impl RwRegister {
    /// Records each ok transaction's external reads, and checks that later reads agree
    /// with the transaction's own earlier reads and writes.
    fn internal_and_external(&mut self, t: &Txns, anomalies: &mut Vec<OpAnomaly>) {
        for (i, txn) in t.txns.iter().enumerate().filter(|(_, x)| x.status == Status::Ok) {
            let mut state: HashMap<u32, Option<u32>> = HashMap::default();
            for m in &txn.mops {
                match *m {
                    Mop::Write(k, v) => {
                        state.insert(k, Some(v));
                    }
                    Mop::ReadReg(k, Some(v)) => match state.get(&k) {
                        None => {
                            self.external_reads.entry(i as u32).or_default().push((k, v));
                            state.insert(k, v);
                        }
                        Some(expected) if *expected != v => anomalies.push(OpAnomaly::new(
                            t,
                            "internal",
                            i as u32,
                            Some(k),
                            format!("read key {} = {}, but its own earlier operations imply {}", t.keys.value(k), show(t, v), show(t, *expected)),
                        )),
                        Some(_) => {}
                    },
                    _ => {}
                }
            }
        }
    }

    /// wr edges, and aborted, intermediate and garbage reads.
    fn reads(&self, t: &Txns, graph: &mut GraphBuilder, anomalies: &mut Vec<OpAnomaly>) {
        let mut readers: Vec<(&u32, &ExternalReads)> = self.external_reads.iter().collect();
        readers.sort_by_key(|(r, _)| **r);
        for (&reader, reads) in readers {
            for &(k, v) in reads {
                let Some(v) = v else { continue };
                let name = |w: u32| t.txns[w as usize].index;
                match self.writers.get(&(k, v)) {
                    None => anomalies.push(OpAnomaly::new(
                        t,
                        "garbage-read",
                        reader,
                        Some(k),
                        format!("read key {} = {}, which no transaction wrote", t.keys.value(k), t.values.value(v)),
                    )),
                    Some(&(w, _)) if t.txns[w as usize].status == Status::Fail => {
                        anomalies.push(OpAnomaly::new(
                            t,
                            "G1a",
                            reader,
                            Some(k),
                            format!("read key {} = {}, written by the aborted T{}", t.keys.value(k), t.values.value(v), name(w)),
                        ).with_others(t, [w]));
                    }
                    Some(&(w, is_final)) => {
                        if !is_final && w != reader {
                            anomalies.push(OpAnomaly::new(
                                t,
                                "G1b",
                                reader,
                                Some(k),
                                format!(
                                    "read key {} = {}, an intermediate write of T{} (which wrote key {} again afterwards)",
                                    t.keys.value(k),
                                    t.values.value(v),
                                    name(w),
                                    t.keys.value(k)
                                ),
                            ).with_others(t, [w]));
                        }
                        graph.add(w, reader, WR);
                    }
                }
            }
        }
    }

    /// Collects the known version pairs of every key.
    fn infer_versions(&mut self, t: &Txns, final_writes: &HashMap<u32, Vec<(u32, u32)>>, opts: RwOptions) {
        // The initial version precedes every write.
        for (&(k, v), &(w, _)) in &self.writers {
            if t.txns[w as usize].status != Status::Fail {
                self.version_edges.insert((k, None, v));
            }
        }
        // The version of each key each transaction leaves (its final write) or saw.
        let version_of = |txn: u32, k: u32| -> Option<Option<u32>> {
            let written = final_writes.get(&txn).and_then(|ws| ws.iter().find(|(wk, _)| *wk == k)).map(|&(_, v)| Some(v));
            written.or_else(|| self.external_reads.get(&txn)?.iter().find(|(rk, _)| *rk == k).map(|&(_, v)| v))
        };
        let mut extra: Vec<(u32, Option<u32>, u32)> = Vec::new();
        if opts.wfr_keys {
            for (&txn, reads) in &self.external_reads {
                for &(k, read) in reads {
                    if let Some(Some(written)) = final_writes.get(&txn).and_then(|ws| ws.iter().find(|(wk, _)| *wk == k)).map(|&(_, v)| Some(v)) {
                        if read != Some(written) {
                            extra.push((k, read, written));
                        }
                    }
                }
            }
        }
        if opts.sequential_keys {
            // Each process sees a key's versions in order: a version it writes follows
            // every version it read or wrote before.
            let mut last: HashMap<(u64, u32), Option<u32>> = HashMap::default();
            for (i, txn) in t.txns.iter().enumerate().filter(|(_, x)| x.status == Status::Ok) {
                let i = i as u32;
                let keys: HashSet<u32> = txn.mops.iter().map(Mop::key).collect();
                for k in keys {
                    if let Some(&(_, read)) = self.external_reads.get(&i).and_then(|rs| rs.iter().find(|(rk, _)| *rk == k)) {
                        last.insert((txn.process, k), read);
                    }
                    if let Some(&(_, written)) = final_writes.get(&i).and_then(|ws| ws.iter().find(|(wk, _)| *wk == k)) {
                        if let Some(prev) = last.insert((txn.process, k), Some(written)) {
                            if prev != Some(written) {
                                extra.push((k, prev, written));
                            }
                        }
                    }
                }
            }
        }
        if opts.linearizable_keys {
            let mut by_key: HashMap<u32, Vec<(usize, Option<usize>, u32)>> = HashMap::default();
            for (i, txn) in t.txns.iter().enumerate().filter(|(_, x)| x.status == Status::Ok) {
                let keys: HashSet<u32> = txn.mops.iter().map(Mop::key).collect();
                for k in keys {
                    by_key.entry(k).or_default().push((txn.invoke, txn.complete, i as u32));
                }
            }
            // A version written later in real time follows every version written or read
            // before it. (A read after a write says nothing certain about which came
            // first, so reads are never the later side.)
            for (k, intervals) in by_key {
                let writes_key = |txn: u32| final_writes.get(&txn).is_some_and(|ws| ws.iter().any(|(wk, _)| *wk == k));
                let writes: Vec<_> = intervals.iter().copied().filter(|&(_, _, txn)| writes_key(txn)).collect();
                let pairs = interval_order(intervals.into_iter()).into_iter().chain(interval_order(writes.into_iter()));
                for (a, b) in pairs {
                    if let (Some(va), Some(Some(vb)), true) = (version_of(a, k), version_of(b, k), writes_key(b)) {
                        if va != Some(vb) {
                            extra.push((k, va, vb));
                        }
                    }
                }
            }
        }
        self.version_edges.extend(extra);
    }

    /// ww and rw edges from the known version pairs.
    fn version_dependencies(&self, t: &Txns, graph: &mut GraphBuilder) {
        let mut readers: HashMap<(u32, Option<u32>), Vec<u32>> = HashMap::default();
        for (&txn, reads) in &self.external_reads {
            for &(k, v) in reads {
                readers.entry((k, v)).or_default().push(txn);
            }
        }
        let live = |w: u32| t.txns[w as usize].status != Status::Fail;
        for &(k, a, b) in &self.version_edges {
            let Some(&(wb, _)) = self.writers.get(&(k, b)) else { continue };
            if !live(wb) {
                continue;
            }
            if let Some(&(wa, _)) = a.and_then(|a| self.writers.get(&(k, a))) {
                if live(wa) {
                    graph.add(wa, wb, WW);
                }
            }
            for &r in readers.get(&(k, a)).map(Vec::as_slice).unwrap_or_default() {
                graph.add(r, wb, RW);
            }
        }
    }
}

impl Analysis for RwRegister {
    fn explain(&self, t: &Txns, a: u32, b: u32, kind: u8) -> Option<(serde_json::Value, String)> {
        let (na, nb) = (t.txns[a as usize].index, t.txns[b as usize].index);
        let written_by = |txn: u32| self.writers.iter().filter(move |(_, (w, _))| *w == txn).map(|(&(k, v), _)| (k, v));
        match kind {
            WW => written_by(a).find_map(|(k, x)| {
                written_by(b).find(|&(kb, y)| kb == k && self.version_edges.contains(&(k, Some(x), y))).map(|(_, y)| {
                    (
                        t.keys.value(k).clone(),
                        format!("T{nb} overwrote T{na}'s write of {} to key {} with {}", t.values.value(x), t.keys.value(k), t.values.value(y)),
                    )
                })
            }),
            WR => self.external_reads.get(&b)?.iter().find_map(|&(k, v)| {
                let v = v?;
                (self.writers.get(&(k, v))?.0 == a)
                    .then(|| (t.keys.value(k).clone(), format!("T{nb} read key {} = {}, which T{na} wrote", t.keys.value(k), t.values.value(v))))
            }),
            RW => self.external_reads.get(&a)?.iter().find_map(|&(k, v)| {
                written_by(b).find(|&(kb, y)| kb == k && self.version_edges.contains(&(k, v, y))).map(|(_, y)| {
                    (
                        t.keys.value(k).clone(),
                        format!("T{na} read key {} = {}, which T{nb} overwrote with {}", t.keys.value(k), show(t, v), t.values.value(y)),
                    )
                })
            }),
            _ => None,
        }
    }
}

fn show(t: &Txns, v: Option<u32>) -> String {
    v.map_or("nil".to_owned(), |v| t.values.value(v).to_string())
}
