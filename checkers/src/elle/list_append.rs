//! List-append analysis: appends of unique values per key, reads of whole lists.
//!
//! The version order of a key is its longest read; every other read must be a prefix
//! of it. From it: ww (consecutive appends), wr (a read's last element's appender →
//! reader) and rw (reader → the appender of the element right after what it read).

use super::graph::{GraphBuilder, RW, WR, WW};
use super::txn::{Mop, Status, Txns};
use super::{Analysis, OpAnomaly};
use rustc_hash::FxHashMap as HashMap;

/// Where an appended element stands.
#[derive(Debug, Clone, Copy)]
struct Element {
    writer: u32,
    /// The writer's last append to this key.
    final_in_txn: bool,
}

/// The inferred version orders and element facts of a list-append history.
pub(crate) struct ListAppend {
    version: HashMap<u32, Vec<u32>>,
    elements: HashMap<(u32, u32), Element>,
}

/// Analyzes the transactions: adds dependency edges to `graph`, returns the non-cycle
/// anomalies, or an error message when an element was appended twice.
pub(crate) fn analyze(t: &Txns, graph: &mut GraphBuilder) -> Result<(ListAppend, Vec<OpAnomaly>), (usize, String)> {
    let mut anomalies = Vec::new();
    let mut elements: HashMap<(u32, u32), Element> = HashMap::default();
    for (i, txn) in t.txns.iter().enumerate() {
        let mut last_append: HashMap<u32, u32> = HashMap::default();
        for m in &txn.mops {
            if let Mop::Append(k, v) = *m {
                last_append.insert(k, v);
                if let Some(prev) = elements.insert((k, v), Element { writer: i as u32, final_in_txn: false }) {
                    let other = &t.txns[prev.writer as usize];
                    return Err((
                        txn.invoke,
                        format!(
                            "value {} is appended to key {} twice (also by the operation at position {}); list-append needs unique values per key",
                            t.values.value(v),
                            t.keys.value(k),
                            other.invoke
                        ),
                    ));
                }
            }
        }
        for (k, v) in last_append {
            if let Some(e) = elements.get_mut(&(k, v)) {
                e.final_in_txn = true;
            }
        }
    }
    let la = ListAppend { version: version_orders(t, &mut anomalies), elements };
    la.internal(t, &mut anomalies);
    la.reads(t, graph, &mut anomalies);
    la.write_order(t, graph, &mut anomalies);
    la.lost_updates(t, &mut anomalies);
    Ok((la, anomalies))
}

/// Reads of ok transactions: (txn, key, list).
fn ok_reads(t: &Txns) -> impl Iterator<Item = (u32, u32, &Vec<u32>)> {
    t.txns.iter().enumerate().filter(|(_, x)| x.status == Status::Ok).flat_map(|(i, x)| {
        x.mops.iter().filter_map(move |m| match m {
            Mop::ReadList(k, Some(list)) => Some((i as u32, *k, list)),
            _ => None,
        })
    })
}

/// The longest read of each key; reports duplicate elements and reads that are not
/// prefixes of it.
fn version_orders(t: &Txns, anomalies: &mut Vec<OpAnomaly>) -> HashMap<u32, Vec<u32>> {
    let mut longest: HashMap<u32, (u32, &Vec<u32>)> = HashMap::default();
    for (txn, k, list) in ok_reads(t) {
        let mut sorted = list.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            anomalies.push(OpAnomaly::new(
                t,
                "duplicate-elements",
                txn,
                Some(k),
                format!("read key {} = {} with an element twice", t.keys.value(k), show_list(t, list)),
            ));
        }
        match longest.get(&k) {
            Some((_, l)) if l.len() >= list.len() => {}
            _ => {
                longest.insert(k, (txn, list));
            }
        }
    }
    for (txn, k, list) in ok_reads(t) {
        let (other, l) = longest[&k];
        if !l.starts_with(list) {
            anomalies.push(OpAnomaly::new(
                t,
                "incompatible-order",
                txn,
                Some(k),
                format!(
                    "read key {} = {}, which is not a prefix of {} read by T{}",
                    t.keys.value(k),
                    show_list(t, list),
                    show_list(t, l),
                    t.txns[other as usize].index
                ),
            ).with_others(t, [other]));
        }
    }
    longest.into_iter().map(|(k, (_, l))| (k, l.clone())).collect()
}

impl ListAppend {
    /// Within one transaction, each read must show the previous read plus the
    /// transaction's own appends since (or end with its own appends, if it had not read).
    fn internal(&self, t: &Txns, anomalies: &mut Vec<OpAnomaly>) {
        for (i, txn) in t.txns.iter().enumerate().filter(|(_, x)| x.status == Status::Ok) {
            // key → (known whole list?, expected list or expected suffix)
            let mut expect: HashMap<u32, (bool, Vec<u32>)> = HashMap::default();
            for m in &txn.mops {
                match m {
                    Mop::Append(k, v) => expect.entry(*k).or_insert((false, Vec::new())).1.push(*v),
                    Mop::ReadList(k, Some(list)) => {
                        if let Some((whole, e)) = expect.get(k) {
                            let ok = if *whole { list == e } else { list.ends_with(e) };
                            if !ok {
                                let wanted = if *whole { show_list(t, e) } else { format!("a list ending in {}", show_list(t, e)) };
                                anomalies.push(OpAnomaly::new(
                                    t,
                                    "internal",
                                    i as u32,
                                    Some(*k),
                                    format!("read key {} = {}, but its own earlier operations imply {wanted}", t.keys.value(*k), show_list(t, list)),
                                ));
                            }
                        }
                        expect.insert(*k, (true, list.clone()));
                    }
                    _ => {}
                }
            }
        }
    }

    /// wr and rw edges from reads, and aborted, intermediate and garbage reads.
    fn reads(&self, t: &Txns, graph: &mut GraphBuilder, anomalies: &mut Vec<OpAnomaly>) {
        for (reader, k, list) in ok_reads(t) {
            for &e in list {
                match self.elements.get(&(k, e)) {
                    None => anomalies.push(OpAnomaly::new(
                        t,
                        "garbage-read",
                        reader,
                        Some(k),
                        format!("read key {} = {}, but no transaction appended {}", t.keys.value(k), show_list(t, list), t.values.value(e)),
                    )),
                    Some(el) if t.txns[el.writer as usize].status == Status::Fail => {
                        anomalies.push(OpAnomaly::new(
                            t,
                            "G1a",
                            reader,
                            Some(k),
                            format!(
                                "read key {} = {}, including {} appended by the aborted T{}",
                                t.keys.value(k),
                                show_list(t, list),
                                t.values.value(e),
                                t.txns[el.writer as usize].index
                            ),
                        ).with_others(t, [el.writer]));
                    }
                    Some(_) => {}
                }
            }
            if let Some(&last) = list.last() {
                if let Some(el) = self.elements.get(&(k, last)) {
                    if el.writer != reader && !el.final_in_txn && t.txns[el.writer as usize].status != Status::Fail {
                        anomalies.push(OpAnomaly::new(
                            t,
                            "G1b",
                            reader,
                            Some(k),
                            format!(
                                "read key {} = {}, ending in {}, an intermediate append of T{} (which appended to key {} again afterwards)",
                                t.keys.value(k),
                                show_list(t, list),
                                t.values.value(last),
                                t.txns[el.writer as usize].index,
                                t.keys.value(k)
                            ),
                        ).with_others(t, [el.writer]));
                    }
                    if t.txns[el.writer as usize].status != Status::Fail {
                        graph.add(el.writer, reader, WR);
                    }
                }
            }
            let order = &self.version[&k];
            if order.starts_with(list) {
                if let Some(el) = order.get(list.len()).and_then(|next| self.elements.get(&(k, *next))) {
                    if t.txns[el.writer as usize].status != Status::Fail {
                        graph.add(reader, el.writer, RW);
                    }
                }
            }
        }
    }

    /// ww edges between consecutive appends; a committed append after an aborted one is
    /// a dirty update.
    fn write_order(&self, t: &Txns, graph: &mut GraphBuilder, anomalies: &mut Vec<OpAnomaly>) {
        for (&k, order) in &self.version {
            let mut aborted_before: Option<u32> = None;
            for pair in order.windows(2) {
                let (Some(a), Some(b)) = (self.elements.get(&(k, pair[0])), self.elements.get(&(k, pair[1]))) else { continue };
                let (sa, sb) = (t.txns[a.writer as usize].status, t.txns[b.writer as usize].status);
                if sa == Status::Fail {
                    aborted_before.get_or_insert(a.writer);
                }
                if sa != Status::Fail && sb != Status::Fail {
                    graph.add(a.writer, b.writer, WW);
                }
                if let (Some(aborted), true) = (aborted_before, sb != Status::Fail) {
                    anomalies.push(OpAnomaly::new(
                        t,
                        "dirty-update",
                        b.writer,
                        Some(k),
                        format!(
                            "appended {} to key {} after {} of the aborted T{}",
                            t.values.value(pair[1]),
                            t.keys.value(k),
                            show_list(t, order),
                            t.txns[aborted as usize].index
                        ),
                    ).with_others(t, [aborted]));
                    break;
                }
            }
        }
    }

    /// Two committed transactions that read the same version of a key and both appended
    /// to it: one update is lost.
    fn lost_updates(&self, t: &Txns, anomalies: &mut Vec<OpAnomaly>) {
        let mut by_version: HashMap<(u32, Option<u32>), Vec<u32>> = HashMap::default();
        for (i, txn) in t.txns.iter().enumerate().filter(|(_, x)| x.status == Status::Ok) {
            let mut first_read: HashMap<u32, Option<u32>> = HashMap::default();
            let mut touched: Vec<u32> = Vec::new();
            for m in &txn.mops {
                match m {
                    Mop::ReadList(k, Some(list)) if !touched.contains(k) => {
                        touched.push(*k);
                        first_read.insert(*k, list.last().copied());
                    }
                    Mop::Append(k, _) => {
                        touched.push(*k);
                        if let Some(version) = first_read.remove(k) {
                            by_version.entry((*k, version)).or_default().push(i as u32);
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut groups: Vec<_> = by_version.into_iter().filter(|(_, txns)| txns.len() > 1).collect();
        groups.sort_by_key(|((k, _), txns)| (*k, txns[0]));
        for ((k, version), txns) in groups {
            let others: Vec<String> = txns[1..].iter().map(|&x| format!("T{}", t.txns[x as usize].index)).collect();
            let seen = version.map_or("the empty list".to_owned(), |v| format!("the version ending in {}", t.values.value(v)));
            anomalies.push(OpAnomaly::new(
                t,
                "lost-update",
                txns[0],
                Some(k),
                format!("read {} of key {} and then appended to it, as did {}", seen, t.keys.value(k), others.join(", ")),
            ).with_others(t, txns[1..].iter().copied()));
        }
    }
}

impl Analysis for ListAppend {
    fn explain(&self, t: &Txns, a: u32, b: u32, kind: u8) -> Option<(serde_json::Value, String)> {
        let (ta, tb) = (&t.txns[a as usize], &t.txns[b as usize]);
        match kind {
            WW => ta.mops.iter().find_map(|m| {
                let Mop::Append(k, x) = *m else { return None };
                let order = self.version.get(&k)?;
                let pos = order.iter().position(|&e| e == x)?;
                let y = *order.get(pos + 1)?;
                (self.elements.get(&(k, y))?.writer == b).then(|| {
                    (
                        t.keys.value(k).clone(),
                        format!("T{} appended {} to key {} right after T{}'s {}", tb.index, t.values.value(y), t.keys.value(k), ta.index, t.values.value(x)),
                    )
                })
            }),
            WR => tb.mops.iter().find_map(|m| {
                let Mop::ReadList(k, Some(list)) = m else { return None };
                let last = *list.last()?;
                (self.elements.get(&(*k, last))?.writer == a).then(|| {
                    (
                        t.keys.value(*k).clone(),
                        format!("T{} read key {} = {}, whose last element {} T{} appended", tb.index, t.keys.value(*k), show_list(t, list), t.values.value(last), ta.index),
                    )
                })
            }),
            RW => ta.mops.iter().find_map(|m| {
                let Mop::ReadList(k, Some(list)) = m else { return None };
                let next = *self.version.get(k)?.get(list.len())?;
                (self.elements.get(&(*k, next))?.writer == b).then(|| {
                    (
                        t.keys.value(*k).clone(),
                        format!(
                            "T{} read key {} = {}, and T{} appended {} right after that, which T{} did not see",
                            ta.index,
                            t.keys.value(*k),
                            show_list(t, list),
                            tb.index,
                            t.values.value(next),
                            ta.index
                        ),
                    )
                })
            }),
            _ => None,
        }
    }
}

/// A list of interned values as JSON text.
pub(crate) fn show_list(t: &Txns, list: &[u32]) -> String {
    serde_json::Value::Array(list.iter().map(|&v| t.values.value(v).clone()).collect()).to_string()
}
