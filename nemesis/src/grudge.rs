//! Partition shapes as grudges: for each node, the nodes whose packets it drops.

use faultline_history::generator::Rng;
use std::collections::BTreeMap;

/// For each node, the nodes whose packets it drops. A symmetric partition lists both
/// directions; a one-way partition only one.
pub type Grudge = BTreeMap<String, Vec<String>>;

/// The partition shapes (besides an explicit grudge).
pub const SHAPES: [&str; 6] = ["one", "halves", "majorities-ring", "bridge", "one-way", "isolate-leader"];

/// The shapes `--nemesis-targets` may name to make every partition that shape (as
/// Jepsen's partition targets do); `one` is not among them, since that target already
/// means one node for every fault.
pub const TARGET_SHAPES: [&str; 5] = ["halves", "majorities-ring", "bridge", "one-way", "isolate-leader"];

/// The partition shape that puts the leader at one end of a bridge (the scripted
/// `bridge-election`); like `isolate-leader`, its grudge is drawn when it strikes.
pub const BRIDGE_BESIDE_LEADER: &str = "bridge-beside-leader";

/// The shapes whose grudge is drawn around the leader when they strike (when no node
/// leads, around the node that led when a fault last asked: the one just bounced).
pub const AROUND_LEADER: [&str; 2] = ["isolate-leader", BRIDGE_BESIDE_LEADER];

/// The grudge of a shape of [`AROUND_LEADER`], `leader` being the leader.
pub fn around_leader(shape: &str, leader: &str, nodes: &[String]) -> Grudge {
    if shape == BRIDGE_BESIDE_LEADER {
        bridge_beside(leader, nodes)
    } else {
        isolate(leader, nodes)
    }
}

/// A grudge that cuts every node of `a` off from every node of `b`.
pub fn split(a: &[String], b: &[String]) -> Grudge {
    let mut g = Grudge::new();
    for x in a {
        g.insert(x.clone(), b.to_vec());
    }
    for y in b {
        g.insert(y.clone(), a.to_vec());
    }
    g
}

/// The node [`bridge_beside`] puts in the middle of a bridge beside `node`: the
/// first other node in name order.
pub fn bridge_node(node: &str, nodes: &[String]) -> Option<String> {
    nodes.iter().filter(|n| *n != node).min().cloned()
}

/// A bridge with `node` at one end: the first other node in name order is the
/// bridge, which hears everyone; `node` and the first half of the rest on one side,
/// the others on the other, the sides hearing each other only through the bridge.
pub fn bridge_beside(node: &str, nodes: &[String]) -> Grudge {
    let Some(bridge) = bridge_node(node, nodes) else { return Grudge::new() };
    let mut others: Vec<String> = nodes.iter().filter(|n| *n != node && **n != bridge).cloned().collect();
    others.sort();
    let (a, b) = others.split_at(others.len() / 2);
    let side: Vec<String> = std::iter::once(node.to_owned()).chain(a.iter().cloned()).collect();
    split(&side, b)
}

/// Cuts each link both ways: each end drops what the other sends it.
pub fn cut_links(links: &[(String, String)]) -> Grudge {
    let mut g = Grudge::new();
    for (a, b) in links {
        g.entry(a.clone()).or_default().push(b.clone());
        g.entry(b.clone()).or_default().push(a.clone());
    }
    for peers in g.values_mut() {
        peers.sort();
        peers.dedup();
    }
    g
}

/// `node` cut off from every other node.
pub fn isolate(node: &str, nodes: &[String]) -> Grudge {
    let others: Vec<String> = nodes.iter().filter(|n| *n != node).cloned().collect();
    split(&[node.to_owned()], &others)
}

fn shuffled(nodes: &[String], rng: &mut Rng) -> Vec<String> {
    let mut v = nodes.to_vec();
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i as u64 + 1) as usize);
    }
    v
}

/// The grudge of a shape (all but `isolate-leader`, which needs the leader).
pub fn shape(name: &str, nodes: &[String], rng: &mut Rng) -> Result<Grudge, String> {
    let v = shuffled(nodes, rng);
    let n = v.len();
    Ok(match name {
        "one" => isolate(&v[0], nodes),
        // One node hears nobody, but everyone hears it.
        "one-way" => Grudge::from([(v[0].clone(), v[1..].to_vec())]),
        "halves" => split(&v[..n / 2], &v[n / 2..]),
        "bridge" => {
            // Two halves that cannot talk, and one node between them that talks to both.
            let half = n / 2;
            split(&v[..half], v.get(half + 1..).unwrap_or(&[]))
        }
        "majorities-ring" => {
            // Each node keeps the nodes within distance m on a ring: a majority each,
            // but no two the same majority.
            let m = (n / 2).div_ceil(2);
            let mut g = Grudge::new();
            for (i, node) in v.iter().enumerate() {
                let dropped = v.iter().enumerate().filter(|(j, _)| {
                    let d = (i as isize - *j as isize).unsigned_abs();
                    d.min(n - d) > m
                });
                g.insert(node.clone(), dropped.map(|(_, x)| x.clone()).collect());
            }
            g
        }
        other => return Err(format!("unknown partition shape {other:?}; one of {}", SHAPES.join(", "))),
    })
}

/// Parses an explicit grudge, `{"n1": ["n2", "n3"], …}`, checking the node names.
pub fn parse_explicit(text: &str, nodes: &[String]) -> Result<Grudge, String> {
    let g: Grudge = serde_json::from_str(text).map_err(|e| format!("--nemesis-grudge must be a JSON object of node → nodes it drops packets from: {e}"))?;
    match g.iter().flat_map(|(k, v)| std::iter::once(k).chain(v)).find(|n| !nodes.contains(n)) {
        Some(n) => Err(format!("--nemesis-grudge names {n:?}, which is not a node ({})", nodes.join(", "))),
        None => Ok(g),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn shapes_cut_what_they_should() {
        let mut rng = Rng(1);
        let halves = shape("halves", &nodes(5), &mut rng).unwrap();
        let sizes: Vec<usize> = halves.values().map(Vec::len).collect();
        assert!(sizes.iter().all(|s| *s == 2 || *s == 3), "{halves:?}");
        let one = shape("one", &nodes(5), &mut rng).unwrap();
        assert_eq!(one.values().filter(|v| v.len() == 4).count(), 1);
        let ring = shape("majorities-ring", &nodes(5), &mut rng).unwrap();
        assert!(ring.values().all(|v| v.len() == 2), "each node sees itself and two others: {ring:?}");
        let one_way = shape("one-way", &nodes(5), &mut rng).unwrap();
        assert_eq!((one_way.len(), one_way.values().next().map(Vec::len)), (1, Some(4)));
        let bridge = shape("bridge", &nodes(5), &mut rng).unwrap();
        assert_eq!(bridge.len(), 4, "the bridge node keeps everyone: {bridge:?}");
        assert!(shape("star", &nodes(3), &mut rng).is_err());
        let beside_n3 = bridge_beside("n3", &nodes(5));
        assert_eq!(beside_n3, split(&["n3".into(), "n2".into()], &["n4".into(), "n5".into()]), "n1 hears everyone, the two sides only it");
        assert_eq!(bridge_beside("n1", &nodes(3)), split(&nodes(1), &["n3".into()]), "n2 is the bridge");
        assert!(bridge_beside("n1", &nodes(1)).is_empty());
        assert_eq!(parse_explicit(r#"{"n1":["n2"]}"#, &nodes(3)).unwrap().len(), 1);
        assert!(parse_explicit(r#"{"n1":["n9"]}"#, &nodes(3)).unwrap_err().contains("not a node"));
        assert!(parse_explicit("[1]", &nodes(3)).is_err());
    }
}
