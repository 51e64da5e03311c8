//! The `topology` message Maelstrom's broadcast workload sends each node: who its
//! neighbours are. Shapes as Maelstrom names them.

use std::collections::BTreeMap;

/// A shape of neighbourhoods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// Nodes in rows of ⌈√n⌉; neighbours above, below, left and right.
    Grid,
    /// A chain.
    Line,
    /// Everyone neighbours everyone.
    Total,
    /// A tree in which each node has up to k children (`tree2`, `tree3`, `tree4`).
    Tree(usize),
}

impl Topology {
    /// Parses Maelstrom's name for it.
    pub fn parse(name: &str) -> Result<Topology, String> {
        Ok(match name {
            "grid" => Topology::Grid,
            "line" => Topology::Line,
            "total" => Topology::Total,
            "tree2" => Topology::Tree(2),
            "tree3" => Topology::Tree(3),
            "tree4" => Topology::Tree(4),
            other => return Err(format!("no topology {other:?}; one of grid, line, total, tree2, tree3, tree4")),
        })
    }

    /// Each node's neighbours.
    pub fn neighbours(self, nodes: &[String]) -> BTreeMap<String, Vec<String>> {
        let n = nodes.len();
        let links: Vec<Vec<usize>> = (0..n)
            .map(|i| match self {
                Topology::Total => (0..n).filter(|&j| j != i).collect(),
                Topology::Line => [i.checked_sub(1), Some(i + 1).filter(|&j| j < n)].into_iter().flatten().collect(),
                Topology::Grid => {
                    let width = (1..=n).find(|w| w * w >= n).unwrap_or(1);
                    let (row, col) = (i / width, i % width);
                    let mut near = Vec::new();
                    if col > 0 {
                        near.push(i - 1);
                    }
                    if col + 1 < width && i + 1 < n {
                        near.push(i + 1);
                    }
                    if row > 0 {
                        near.push(i - width);
                    }
                    if i + width < n {
                        near.push(i + width);
                    }
                    near
                }
                Topology::Tree(k) => {
                    let parent = (i > 0).then(|| (i - 1) / k);
                    parent.into_iter().chain((i * k + 1..=i * k + k).filter(|&c| c < n)).collect()
                }
            })
            .collect();
        nodes.iter().zip(links).map(|(node, near)| (node.clone(), near.into_iter().map(|j| nodes[j].clone()).collect())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn shapes_are_symmetric_and_connected() {
        for shape in ["grid", "line", "total", "tree2", "tree3", "tree4"] {
            for n in 1..=9 {
                let t = Topology::parse(shape).unwrap().neighbours(&nodes(n));
                for (a, near) in &t {
                    assert!(!near.contains(a), "{shape}/{n}: {a} is not its own neighbour");
                    for b in near {
                        assert!(t[b].contains(a), "{shape}/{n}: {a}→{b} but not back");
                    }
                }
                let mut seen = vec!["n1".to_owned()];
                let mut i = 0;
                while i < seen.len() {
                    for b in &t[&seen[i]] {
                        if !seen.contains(b) {
                            seen.push(b.clone());
                        }
                    }
                    i += 1;
                }
                assert_eq!(seen.len(), n, "{shape}/{n} is connected");
            }
        }
        let grid = Topology::Grid.neighbours(&nodes(5));
        assert_eq!(grid["n1"], ["n2", "n4"]);
        assert_eq!(grid["n5"], ["n4", "n2"]);
        assert!(Topology::parse("star").is_err());
    }
}
