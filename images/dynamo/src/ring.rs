//! The consistent-hash ring: each node owns several points; a key's preference list is
//! the distinct nodes met walking clockwise from the key's hash.

/// Points per node on the ring.
const POINTS_PER_NODE: usize = 32;

/// The ring of a fixed set of nodes (every node computes the same one).
#[derive(Debug, Clone)]
pub struct Ring {
    points: Vec<(u64, usize)>,
    nodes: Vec<String>,
}

impl Ring {
    /// The ring of `nodes`.
    pub fn new(nodes: &[String]) -> Ring {
        let mut points: Vec<(u64, usize)> = nodes.iter().enumerate().flat_map(|(i, n)| (0..POINTS_PER_NODE).map(move |p| (fnv1a(format!("{n}#{p}").as_bytes()), i))).collect();
        points.sort_unstable();
        Ring { points, nodes: nodes.to_vec() }
    }

    /// Every node, in the order the key's preference list visits them: the first N are
    /// its home replicas, the rest its fallbacks.
    pub fn walk(&self, key: &str) -> Vec<&str> {
        let h = fnv1a(key.as_bytes());
        let start = self.points.partition_point(|(p, _)| *p < h);
        let mut seen = vec![false; self.nodes.len()];
        let mut order = Vec::with_capacity(self.nodes.len());
        for k in 0..self.points.len() {
            let (_, node) = self.points[(start + k) % self.points.len()];
            if !seen[node] {
                seen[node] = true;
                order.push(self.nodes[node].as_str());
            }
        }
        order
    }
}

/// 64-bit FNV-1a with a final avalanche (splitmix64's), so short, similar names spread
/// evenly; stable across builds and machines, unlike the standard hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3));
    let h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_visits_every_node_once_and_keys_spread() {
        let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        let ring = Ring::new(&nodes);
        let mut first = std::collections::HashMap::new();
        for k in 0..1000 {
            let walk = ring.walk(&format!("k{k}"));
            assert_eq!(walk.len(), 5);
            *first.entry(walk[0].to_owned()).or_insert(0) += 1;
        }
        assert!(first.values().all(|c| *c > 100), "keys spread over the nodes: {first:?}");
        assert_eq!(ring.walk("x"), Ring::new(&nodes).walk("x"), "deterministic");
    }
}
