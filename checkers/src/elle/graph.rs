//! The transaction dependency graph: one node per transaction, one edge per ordered
//! pair, labelled with the set of relations (ww, wr, rw, process, realtime) that order
//! the pair. Stored as a compressed sparse row graph (petgraph `Csr`).

use super::txn::{Status, Txn};
use petgraph::csr::Csr;
use petgraph::visit::EdgeRef;

/// Write-write: the second transaction overwrote (or appended after) the first.
pub(crate) const WW: u8 = 1;
/// Write-read: the second transaction read what the first wrote.
pub(crate) const WR: u8 = 2;
/// Read-write (anti-dependency): the first read a version the second overwrote.
pub(crate) const RW: u8 = 4;
/// The same process ran the first, then the second.
pub(crate) const PROCESS: u8 = 8;
/// The first completed before the second was invoked.
pub(crate) const REALTIME: u8 = 16;
/// The data dependencies.
pub(crate) const DEPS: u8 = WW | WR | RW;

/// Name of the most basic relation in a label (dependencies before orders).
pub(crate) fn relation_name(kinds: u8) -> &'static str {
    if kinds & WW != 0 {
        "ww"
    } else if kinds & WR != 0 {
        "wr"
    } else if kinds & RW != 0 {
        "rw"
    } else if kinds & PROCESS != 0 {
        "process"
    } else {
        "realtime"
    }
}

/// Collects edges, then freezes them into a [`DepGraph`]. Passes that run side by side
/// each fill a builder of their own; [`GraphBuilder::extend`] keeps their edge lists
/// apart until [`GraphBuilder::build`], so no list is ever copied into a bigger one.
pub(crate) struct GraphBuilder {
    nodes: usize,
    edges: Vec<(u32, u32, u8)>,
    /// Edge lists taken from other builders.
    parts: Vec<Vec<(u32, u32, u8)>>,
}

impl GraphBuilder {
    pub(crate) fn new(nodes: usize) -> GraphBuilder {
        GraphBuilder { nodes, edges: Vec::new(), parts: Vec::new() }
    }

    /// How many nodes the graph has.
    pub(crate) fn nodes(&self) -> usize {
        self.nodes
    }

    /// Takes every edge of `other` (built for the same nodes, by another pass).
    pub(crate) fn extend(&mut self, other: GraphBuilder) {
        self.parts.push(other.edges);
        self.parts.extend(other.parts);
    }

    /// Adds `from → to` with relation `kind`; self-edges are ignored.
    pub(crate) fn add(&mut self, from: u32, to: u32, kind: u8) {
        if from != to {
            self.edges.push((from, to, kind));
        }
    }

    /// Adds process-order edges: each transaction to the next one of its process
    /// (aborted transactions are skipped: they had no effects to order).
    pub(crate) fn add_process_order(&mut self, txns: &[Txn]) {
        let mut last: rustc_hash::FxHashMap<u64, u32> = Default::default();
        for (i, t) in txns.iter().enumerate() {
            if t.status == Status::Fail {
                continue;
            }
            if let Some(prev) = last.insert(t.process, i as u32) {
                self.add(prev, i as u32, PROCESS);
            }
        }
    }

    /// Adds real-time edges (see [`interval_order`]) between transactions: only ok
    /// transactions precede, since only they have a known completion.
    pub(crate) fn add_realtime_order(&mut self, txns: &[Txn]) {
        let intervals = txns.iter().enumerate().filter(|(_, t)| t.status != Status::Fail).map(|(i, t)| {
            let end = if t.status == Status::Ok { t.complete } else { None };
            (t.invoke, end, i as u32)
        });
        for (a, b) in interval_order(intervals) {
            self.add(a, b, REALTIME);
        }
    }

    /// Merges parallel edges (unioning their labels) and builds the graph.
    pub(crate) fn build(mut self) -> DepGraph {
        // Sorted by a counting sort on the source, then each node's few edges by
        // target: linear, where sorting millions of edges whole was a tenth of a large
        // check.
        self.parts.push(std::mem::take(&mut self.edges));
        let mut starts = vec![0usize; self.nodes + 1];
        for &(a, _, _) in self.parts.iter().flatten() {
            starts[a as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut sorted = vec![(0u32, 0u32, 0u8); starts[self.nodes]];
        let mut next = starts.clone();
        for part in std::mem::take(&mut self.parts) {
            for edge in part {
                sorted[next[edge.0 as usize]] = edge;
                next[edge.0 as usize] += 1;
            }
        }
        for node in starts.windows(2) {
            sorted[node[0]..node[1]].sort_unstable_by_key(|&(_, b, _)| b);
        }
        sorted.dedup_by(|later, kept| {
            let same = later.0 == kept.0 && later.1 == kept.1;
            if same {
                kept.2 |= later.2;
            }
            same
        });
        // `from_sorted_edges` is linear; `add_edge` would shift the arrays on every insert.
        let mut csr: Csr<(), u8, petgraph::Directed, u32> = match Csr::from_sorted_edges(&sorted) {
            Ok(csr) => csr,
            Err(_) => unreachable!("edges were sorted just above"),
        };
        while csr.node_count() < self.nodes {
            csr.add_node(());
        }
        DepGraph { csr }
    }
}

const UNSEEN: u32 = u32::MAX;

/// The state of an iterative Tarjan run.
struct Tarjan {
    index: Vec<u32>,
    low: Vec<u32>,
    on_stack: Vec<bool>,
    stack: Vec<u32>,
    /// The simulated call stack: (node, next edge to look at).
    calls: Vec<(u32, usize)>,
    next: u32,
}

impl Tarjan {
    fn enter(&mut self, v: u32) {
        self.index[v as usize] = self.next;
        self.low[v as usize] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v as usize] = true;
        self.calls.push((v, 0));
    }
}

/// The frozen dependency graph.
pub(crate) struct DepGraph {
    pub csr: Csr<(), u8, petgraph::Directed, u32>,
}

impl DepGraph {
    /// Successors of `n` with their labels.
    pub(crate) fn out(&self, n: u32) -> impl Iterator<Item = (u32, u8)> + '_ {
        self.csr.edges(n).map(|e| (e.target(), *e.weight()))
    }

    /// The label of `a → b` (0 when there is no edge).
    pub(crate) fn label(&self, a: u32, b: u32) -> u8 {
        self.out(a).find(|&(t, _)| t == b).map_or(0, |(_, k)| k)
    }

    /// Strongly connected components of more than one node, in the graph restricted to
    /// edges whose label intersects `mask`. Tarjan's algorithm with an explicit stack:
    /// petgraph's `tarjan_scc` recurses once per node and overflows the thread's stack on
    /// the long real-time chains of large histories.
    pub(crate) fn components(&self, mask: u8) -> Vec<Vec<u32>> {
        let n = self.node_count();
        let mut t = Tarjan { index: vec![UNSEEN; n], low: vec![0; n], on_stack: vec![false; n], stack: Vec::new(), calls: Vec::new(), next: 0 };
        let mut components = Vec::new();
        for root in 0..n as u32 {
            if t.index[root as usize] != UNSEEN {
                continue;
            }
            t.enter(root);
            while let Some(&(v, pos)) = t.calls.last() {
                let (targets, labels) = (self.csr.neighbors_slice(v), self.csr.edges_slice(v));
                if pos < targets.len() {
                    if let Some(top) = t.calls.last_mut() {
                        top.1 += 1;
                    }
                    let w = targets[pos];
                    if labels[pos] & mask == 0 {
                        continue;
                    }
                    if t.index[w as usize] == UNSEEN {
                        t.enter(w);
                    } else if t.on_stack[w as usize] {
                        t.low[v as usize] = t.low[v as usize].min(t.index[w as usize]);
                    }
                    continue;
                }
                t.calls.pop();
                if let Some(&(parent, _)) = t.calls.last() {
                    t.low[parent as usize] = t.low[parent as usize].min(t.low[v as usize]);
                }
                if t.low[v as usize] == t.index[v as usize] {
                    let mut component = Vec::new();
                    while let Some(w) = t.stack.pop() {
                        t.on_stack[w as usize] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        components.push(component);
                    }
                }
            }
        }
        components
    }

    pub(crate) fn node_count(&self) -> usize {
        self.csr.node_count()
    }

    pub(crate) fn edge_count(&self) -> usize {
        self.csr.edge_count()
    }
}

/// The transitive reduction of the real-time order of intervals `(start, end, id)`:
/// `a → b` when `a` ended before `b` started and no interval lies wholly between them.
/// Intervals with no end precede nothing. A *frontier* holds the ended intervals not yet
/// implied by a later one; each start links from the frontier, and each end replaces
/// the frontier members its own start saw. Edges: O(n × concurrency).
pub(crate) fn interval_order(intervals: impl Iterator<Item = (usize, Option<usize>, u32)>) -> Vec<(u32, u32)> {
    let mut events: Vec<(usize, u32, bool)> = Vec::new();
    for (start, end, id) in intervals {
        events.push((start, id, true));
        if let Some(end) = end {
            events.push((end, id, false));
        }
    }
    events.sort_unstable();
    let mut edges = Vec::new();
    let mut frontier: Vec<u32> = Vec::new();
    let mut seen_at_start: rustc_hash::FxHashMap<u32, Vec<u32>> = Default::default();
    for (_, id, is_start) in events {
        if is_start {
            edges.extend(frontier.iter().map(|&p| (p, id)));
            seen_at_start.insert(id, frontier.clone());
        } else {
            let mut covered = seen_at_start.remove(&id).unwrap_or_default();
            covered.sort_unstable();
            frontier.retain(|x| covered.binary_search(x).is_err());
            frontier.push(id);
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_follow_the_mask_and_survive_long_chains() {
        let mut b = GraphBuilder::new(5);
        b.add(0, 1, WW);
        b.add(1, 0, RW);
        b.add(2, 3, WW);
        b.add(3, 4, WW);
        b.add(4, 2, REALTIME);
        let g = b.build();
        let mut all: Vec<Vec<u32>> = g.components(DEPS | REALTIME).into_iter().map(|mut c| { c.sort(); c }).collect();
        all.sort();
        assert_eq!(all, vec![vec![0, 1], vec![2, 3, 4]]);
        assert!(g.components(WW).is_empty());
        // A million-node chain closed into one cycle: no stack overflow.
        let n = 1_000_000u32;
        let mut b = GraphBuilder::new(n as usize);
        for i in 0..n {
            b.add(i, (i + 1) % n, REALTIME);
        }
        assert_eq!(b.build().components(REALTIME)[0].len(), n as usize);
    }

    #[test]
    fn interval_order_is_a_transitive_reduction() {
        // a=[0,1] b=[2,3] c=[4,5]: a→b→c, not a→c. d=[2,6] overlaps b and c: a→d only.
        let edges = interval_order([(0, Some(1), 0), (2, Some(3), 1), (4, Some(5), 2), (2, Some(6), 3)].into_iter());
        let mut e = edges.clone();
        e.sort_unstable();
        assert_eq!(e, vec![(0, 1), (0, 3), (1, 2)]);
        // An interval that never ends precedes nothing.
        let edges = interval_order([(0, None, 0), (2, Some(3), 1)].into_iter());
        assert!(edges.is_empty());
    }
}
