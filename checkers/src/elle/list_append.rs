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

/// Within one transaction, what a key's next read must show: (key, the list last read
/// if any, the transaction's appends since).
type Expected<'a> = (u32, Option<&'a [u32]>, Vec<u32>);

/// The inferred version orders and element facts of a list-append history.
pub(crate) struct ListAppend {
    version: HashMap<u32, Vec<u32>>,
    elements: HashMap<(u32, u32), Element>,
}

/// Analyzes the transactions: adds dependency edges to `graph`, returns the non-cycle
/// anomalies, or an error message when an element was appended twice.
pub(crate) fn analyze(t: &Txns, graph: &mut GraphBuilder) -> Result<(ListAppend, Vec<OpAnomaly>), (usize, String)> {
    let mut elements: HashMap<(u32, u32), Element> = HashMap::default();
    for (i, txn) in t.txns.iter().enumerate() {
        for (j, m) in txn.mops.iter().enumerate() {
            let Mop::Append(k, v) = *m else { continue };
            let final_in_txn = !txn.mops[j + 1..].iter().any(|later| matches!(*later, Mop::Append(key, _) if key == k));
            if let Some(prev) = elements.insert((k, v), Element { writer: i as u32, final_in_txn }) {
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
    let mut anomalies = Vec::new();
    let la = ListAppend { version: version_orders(t, &mut anomalies), elements };
    // The passes are independent: run them side by side, then join their findings in
    // a fixed order so the report does not depend on which finished first.
    let ((internal, (reads, read_edges)), ((writes, write_edges), lost)) = rayon::join(
        || rayon::join(|| la.internal(t), || la.reads(t, graph.nodes())),
        || rayon::join(|| la.write_order(t, graph.nodes()), || la.lost_updates(t)),
    );
    anomalies.extend(internal.into_iter().chain(reads).chain(writes).chain(lost));
    graph.extend(read_edges);
    graph.extend(write_edges);
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
        match longest.get(&k) {
            Some((_, l)) if l.len() >= list.len() => {}
            _ => {
                longest.insert(k, (txn, list));
            }
        }
    }
    // A prefix of a list without duplicates has none: only the other reads need sorting.
    let clean: rustc_hash::FxHashSet<u32> = longest.iter().filter(|(_, (_, l))| !has_duplicates(l)).map(|(&k, _)| k).collect();
    for (txn, k, list) in ok_reads(t) {
        let settled = clean.contains(&k) && longest[&k].1.starts_with(list);
        if !settled && has_duplicates(list) {
            anomalies.push(OpAnomaly::new(
                t,
                "duplicate-elements",
                txn,
                Some(k),
                format!("read key {} = {} with an element twice", t.keys.value(k), show_list(t, list)),
            ));
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

fn has_duplicates(list: &[u32]) -> bool {
    let mut sorted = list.to_vec();
    sorted.sort_unstable();
    sorted.windows(2).any(|w| w[0] == w[1])
}

impl ListAppend {
    /// Within one transaction, each read must show the previous read plus the
    /// transaction's own appends since (or end with its own appends, if it had not read).
    fn internal(&self, t: &Txns) -> Vec<OpAnomaly> {
        let mut anomalies = Vec::new();
        for (i, txn) in t.txns.iter().enumerate().filter(|(_, x)| x.status == Status::Ok) {
            // Per key touched so far: the list last read (if any) and the appends since.
            // A transaction has a handful of micro-ops, so a list beats a map.
            let mut expect: Vec<Expected> = Vec::new();
            for m in &txn.mops {
                match m {
                    Mop::Append(k, v) => match expect.iter_mut().find(|(key, _, _)| key == k) {
                        Some((_, _, appended)) => appended.push(*v),
                        None => expect.push((*k, None, vec![*v])),
                    },
                    Mop::ReadList(k, Some(list)) => {
                        let slot = expect.iter().position(|(key, _, _)| key == k);
                        if let Some(&(_, base, ref appended)) = slot.map(|s| &expect[s]) {
                            let ok = match base {
                                Some(b) => list.len() == b.len() + appended.len() && list.starts_with(b) && list.ends_with(appended),
                                None => list.ends_with(appended),
                            };
                            if !ok {
                                let wanted = match base {
                                    Some(b) => show_list(t, &[b, appended.as_slice()].concat()),
                                    None => format!("a list ending in {}", show_list(t, appended)),
                                };
                                anomalies.push(OpAnomaly::new(
                                    t,
                                    "internal",
                                    i as u32,
                                    Some(*k),
                                    format!("read key {} = {}, but its own earlier operations imply {wanted}", t.keys.value(*k), show_list(t, list)),
                                ));
                            }
                        }
                        match slot {
                            Some(s) => {
                                expect[s].1 = Some(list);
                                expect[s].2.clear();
                            }
                            None => expect.push((*k, Some(list), Vec::new())),
                        }
                    }
                    _ => {}
                }
            }
        }
        anomalies
    }

    /// wr and rw edges from reads, and aborted, intermediate and garbage reads.
    fn reads(&self, t: &Txns, nodes: usize) -> (Vec<OpAnomaly>, GraphBuilder) {
        let (mut anomalies, mut graph) = (Vec::new(), GraphBuilder::new(nodes));
        // Per key, where its version order holds an element no committed transaction
        // appended: a read that is a prefix of the order need look only there.
        let mut suspect: HashMap<u32, Vec<usize>> = HashMap::default();
        for (&k, order) in &self.version {
            let bad: Vec<usize> = (0..order.len())
                .filter(|&p| self.elements.get(&(k, order[p])).is_none_or(|el| t.txns[el.writer as usize].status == Status::Fail))
                .collect();
            if !bad.is_empty() {
                suspect.insert(k, bad);
            }
        }
        for (reader, k, list) in ok_reads(t) {
            let order = &self.version[&k];
            let prefix = order.starts_with(list);
            let positions = suspect.get(&k).map_or(&[][..], Vec::as_slice);
            let suspects = prefix.then(|| positions.iter().take_while(|&&p| p < list.len()).map(|&p| list[p]));
            let everything = (!prefix).then(|| list.iter().copied());
            for e in suspects.into_iter().flatten().chain(everything.into_iter().flatten()) {
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
            if prefix {
                if let Some(el) = order.get(list.len()).and_then(|next| self.elements.get(&(k, *next))) {
                    if t.txns[el.writer as usize].status != Status::Fail {
                        graph.add(reader, el.writer, RW);
                    }
                }
            }
        }
        (anomalies, graph)
    }

    /// ww edges between consecutive appends; a committed append after an aborted one is
    /// a dirty update.
    fn write_order(&self, t: &Txns, nodes: usize) -> (Vec<OpAnomaly>, GraphBuilder) {
        let (mut anomalies, mut graph) = (Vec::new(), GraphBuilder::new(nodes));
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
        (anomalies, graph)
    }

    /// Two committed transactions that read the same version of a key and both appended
    /// to it: one update is lost.
    fn lost_updates(&self, t: &Txns) -> Vec<OpAnomaly> {
        // (key, version first read, transaction) for every transaction that read a key
        // and then appended to it; sorted, equal versions sit together.
        let mut read_then_appended: Vec<(u32, Option<u32>, u32)> = Vec::new();
        for (i, txn) in t.txns.iter().enumerate().filter(|(_, x)| x.status == Status::Ok) {
            let mut first_read: Vec<(u32, Option<u32>)> = Vec::new();
            let mut touched: Vec<u32> = Vec::new();
            for m in &txn.mops {
                match m {
                    Mop::ReadList(k, Some(list)) if !touched.contains(k) => {
                        touched.push(*k);
                        first_read.push((*k, list.last().copied()));
                    }
                    Mop::Append(k, _) => {
                        touched.push(*k);
                        if let Some(at) = first_read.iter().position(|(key, _)| key == k) {
                            let (_, version) = first_read.swap_remove(at);
                            read_then_appended.push((*k, version, i as u32));
                        }
                    }
                    _ => {}
                }
            }
        }
        read_then_appended.sort_unstable();
        let mut anomalies = Vec::new();
        let mut groups: Vec<&[(u32, Option<u32>, u32)]> = read_then_appended.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)).filter(|g| g.len() > 1).collect();
        groups.sort_unstable_by_key(|g| (g[0].0, g[0].2));
        for group in groups {
            let (k, version, first) = group[0];
            let others: Vec<String> = group[1..].iter().map(|&(_, _, x)| format!("T{}", t.txns[x as usize].index)).collect();
            let seen = version.map_or("the empty list".to_owned(), |v| format!("the version ending in {}", t.values.value(v)));
            anomalies.push(OpAnomaly::new(
                t,
                "lost-update",
                first,
                Some(k),
                format!("read {} of key {} and then appended to it, as did {}", seen, t.keys.value(k), others.join(", ")),
            ).with_others(t, group[1..].iter().map(|&(_, _, x)| x)));
        }
        anomalies
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
    let items: Vec<String> = list.iter().map(|&v| t.values.text(v).to_string()).collect();
    format!("[{}]", items.join(","))
}
