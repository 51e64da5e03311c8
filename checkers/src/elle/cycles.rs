//! Finding and classifying dependency cycles.
//!
//! For each *variant* (dependencies only; plus process order; plus real-time order) the
//! graph restricted to the variant's relations is split into strongly connected
//! components (petgraph's Tarjan). Inside each component the shortest cycle of each
//! class is searched by breadth-first search from the edges that define the class:
//! - **G0**: only ww edges;
//! - **G1c**: ww and wr edges, at least one wr;
//! - **G-single**: exactly one rw edge;
//! - **G-nonadjacent**: at least two rw edges, no two adjacent (cyclically);
//! - **G2-item**: at least two rw edges, some two adjacent.
//!
//! Every cycle falls in exactly one class. Cycles found with process or real-time edges
//! get a `-process` or `-realtime` suffix. A class already found with fewer relations
//! is reported again in a richer variant only for components whose shortest cycle
//! needs the added relation (as Elle reports `G2-item` and `G2-item-realtime` apart).

use super::graph::{DepGraph, DEPS, PROCESS, REALTIME, RW, WR, WW};
use rustc_hash::FxHashMap as HashMap;
use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

/// The cycle classes, in the order they are searched.
pub(crate) const CLASSES: [&str; 5] = ["G0", "G1c", "G-single", "G-nonadjacent", "G2-item"];

/// A cycle: the transactions in order; the cycle closes from the last to the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cycle {
    pub anomaly: String,
    pub txns: Vec<u32>,
}

/// What the search found.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// Up to `per_type` shortest cycles of each anomaly name.
    pub cycles: BTreeMap<String, Vec<Cycle>>,
    /// How many components hold a cycle of each anomaly name.
    pub counts: BTreeMap<String, usize>,
    /// Components that hold a cycle the search could not classify before the deadline.
    pub unclassified: usize,
}

/// Searches `graph` for cycles of every class and variant.
pub(crate) fn search(graph: &DepGraph, per_type: usize, deadline: Instant) -> Found {
    let mut found = Found::default();
    let mut classes_done: Vec<&str> = Vec::new();
    // Each variant adds one relation; a cycle that needs it is named by its suffix.
    for (mask, added) in [(DEPS, ""), (DEPS | PROCESS, "-process"), (DEPS | PROCESS | REALTIME, "-realtime")] {
        let mut component = vec![u32::MAX; graph.node_count()];
        let mut members = Vec::new();
        let mut components = 0;
        for scc in graph.components(mask) {
            for &n in &scc {
                component[n as usize] = components;
            }
            members.extend_from_slice(&scc);
            components += 1;
        }
        let mut classified = vec![false; components as usize];
        let mut found_here: Vec<&str> = Vec::new();
        for class in CLASSES {
            let search = ClassSearch { graph, mask, component: &component, members: &members, deadline };
            let cycles = search.find(class);
            for c in &cycles {
                classified[component[c[0] as usize] as usize] = true;
            }
            if cycles.is_empty() {
                continue;
            }
            // A class already found with fewer relations counts again only where its
            // cycle needs the relation this variant adds, as Elle and adya report
            // `G2-item` and `G2-item-realtime` side by side.
            let seen_before = classes_done.contains(&class);
            if !seen_before {
                found_here.push(class);
            }
            for txns in cycles {
                let suffix = variant_suffix(graph, &txns);
                if seen_before && suffix != added {
                    continue;
                }
                let c = Cycle { anomaly: format!("{class}{suffix}"), txns };
                *found.counts.entry(c.anomaly.clone()).or_default() += 1;
                let list = found.cycles.entry(c.anomaly.clone()).or_default();
                if list.len() < per_type {
                    list.push(c);
                }
            }
        }
        classes_done.extend(found_here);
        found.unclassified += classified.iter().filter(|c| !**c).count();
        if Instant::now() >= deadline {
            break;
        }
    }
    found
}

/// `-realtime` or `-process` if the cycle needs such edges: a step with no dependency
/// needs process order if its transactions share a process, else real time.
fn variant_suffix(graph: &DepGraph, txns: &[u32]) -> &'static str {
    let mut suffix = "";
    for (i, &a) in txns.iter().enumerate() {
        let label = graph.label(a, txns[(i + 1) % txns.len()]);
        if label & DEPS == 0 {
            if label & PROCESS == 0 {
                return "-realtime";
            }
            suffix = "-process";
        }
    }
    suffix
}

struct ClassSearch<'a> {
    graph: &'a DepGraph,
    mask: u8,
    component: &'a [u32],
    /// The nodes that belong to some component.
    members: &'a [u32],
    deadline: Instant,
}

/// A BFS state: (node, last edge was rw, took a second rw, took two adjacent rw edges).
type State = (u32, bool, bool, bool);

/// How many start edges to try per component and class.
const STARTS_PER_COMPONENT: usize = 32;

impl ClassSearch<'_> {
    /// The shortest cycle of `class` in each component that has one, shortest first.
    fn find(&self, class: &str) -> Vec<Vec<u32>> {
        let orders = self.mask & !DEPS;
        let allowed_rest = match class {
            "G0" => WW | orders,
            "G1c" => WW | WR | orders,
            _ => DEPS | orders,
        };
        // Start edges grouped by component, then by target node.
        let mut starts: HashMap<u32, BTreeMap<u32, Vec<u32>>> = HashMap::default();
        for &n in self.members {
            let c = self.component[n as usize];
            for (t, k) in self.graph.out(n) {
                if self.component[t as usize] == c && self.defines(k, class) {
                    starts.entry(c).or_default().entry(t).or_default().push(n);
                }
            }
        }
        let mut cycles: Vec<Vec<u32>> = Vec::new();
        let mut comps: Vec<_> = starts.into_iter().collect();
        comps.sort_by_key(|(c, _)| *c);
        for (_, by_target) in comps {
            let mut best: Option<Vec<u32>> = None;
            for (target, sources) in by_target.into_iter().take(STARTS_PER_COMPONENT) {
                if Instant::now() >= self.deadline {
                    break;
                }
                if let Some(path) = self.shortest_back(class, target, &sources, allowed_rest) {
                    if best.as_ref().is_none_or(|b| path.len() < b.len()) {
                        best = Some(path);
                    }
                }
            }
            if let Some(b) = best {
                cycles.push(b);
            }
        }
        cycles.sort_by_key(Vec::len);
        cycles
    }

    /// Whether an edge labelled `k` is the class's defining edge: ww for G0; wr (and not
    /// ww, which would make it G0's) for G1c; rw with no weaker reading for the others.
    fn defines(&self, k: u8, class: &str) -> bool {
        match class {
            "G0" => k & WW != 0,
            "G1c" => k & WR != 0 && k & WW == 0,
            _ => k & RW != 0 && k & (WW | WR) == 0 && k & self.mask & !DEPS == 0,
        }
    }

    /// BFS from `start` (reached by a defining edge from one of `sources`) back to any
    /// source, within the component, under the class's rules. Returns the cycle as
    /// `[source, start, …]`.
    fn shortest_back(&self, class: &str, start: u32, sources: &[u32], allowed: u8) -> Option<Vec<u32>> {
        let comp = self.component[start as usize];
        let first_rw = !matches!(class, "G0" | "G1c");
        let init: State = (start, first_rw, false, false);
        let mut parent: HashMap<State, State> = HashMap::default();
        let mut queue = VecDeque::from([init]);
        parent.insert(init, init);
        let mut steps = 0u32;
        while let Some(state @ (n, last_rw, second, adjacent)) = queue.pop_front() {
            steps += 1;
            if steps.is_multiple_of(1024) && Instant::now() >= self.deadline {
                return None;
            }
            if sources.contains(&n) && n != start && self.closes(class, last_rw, second, adjacent) {
                let cycle = rebuild(&parent, state, n);
                if is_simple(&cycle) {
                    return Some(cycle);
                }
            }
            for (t, k) in self.graph.out(n) {
                // Walking back into the start would repeat it: cycles must be simple.
                if self.component[t as usize] != comp || t == start {
                    continue;
                }
                // An edge that is also a ww/wr/order edge counts as that, never as rw.
                let non_rw = k & allowed & !RW != 0;
                let rw_ok = !non_rw && k & allowed & RW != 0 && class != "G-single";
                let mut nexts: [Option<State>; 2] = [None, None];
                if non_rw {
                    nexts[0] = Some((t, false, second, adjacent));
                }
                if rw_ok && !(class == "G-nonadjacent" && last_rw) {
                    nexts[1] = Some((t, true, true, adjacent || last_rw));
                }
                for next in nexts.into_iter().flatten() {
                    if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(next) {
                        e.insert(state);
                        queue.push_back(next);
                    }
                }
            }
        }
        None
    }

    /// Whether reaching a source in this state closes a cycle of the class (the closing
    /// edge is the defining edge, which is rw for the rw classes).
    fn closes(&self, class: &str, last_rw: bool, second: bool, adjacent: bool) -> bool {
        match class {
            "G-single" => true,
            "G-nonadjacent" => second && !last_rw && !adjacent,
            "G2-item" => second && (adjacent || last_rw),
            _ => true,
        }
    }
}

/// True when no transaction appears twice (a walk in the BFS state space may revisit
/// a node in another state).
fn is_simple(cycle: &[u32]) -> bool {
    let mut sorted = cycle.to_vec();
    sorted.sort_unstable();
    sorted.windows(2).all(|w| w[0] != w[1])
}

/// The path from the BFS root to `end`, prefixed by the source that closes the cycle.
fn rebuild(parent: &HashMap<State, State>, end: State, source: u32) -> Vec<u32> {
    let mut path = vec![end.0];
    let mut s = end;
    while parent[&s] != s {
        s = parent[&s];
        path.push(s.0);
    }
    path.reverse();
    // path = [start, …, source]; the cycle reads source → start → … → back to source.
    path.pop();
    let mut cycle = vec![source];
    cycle.extend(path);
    cycle
}
