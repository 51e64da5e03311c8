//! The nemesis's view of a Docker cluster: [`ClusterControl`] over the runtime.

use crate::runtime::cluster::{Cluster, NodeNetwork};
use crate::runtime::probe::Probe;
use faultline_nemesis::execute::BoxFuture;
use faultline_nemesis::{ClusterControl, FaultKind, Network, NodeRole};
use faultline_workloads::adapter::LeaderQuery;
use std::sync::Arc;

/// A Docker cluster, the capabilities probed on this machine, and how to ask nodes
/// whether they lead (for designs that report a leader).
pub struct DockerControl {
    /// The cluster.
    pub cluster: Arc<Cluster>,
    /// What this machine can do.
    pub probe: Probe,
    /// Asks a node its role; `None` for a design without a leader.
    pub leader: Option<Arc<dyn LeaderQuery>>,
}

/// How long a node may take to say its role before the nemesis counts it silent: short,
/// since a fault aimed at a voter asks every few milliseconds (a paused node never answers).
const ROLE_WITHIN: std::time::Duration = std::time::Duration::from_millis(200);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl ClusterControl for DockerControl {
    fn nodes(&self) -> Vec<String> {
        self.cluster.nodes.iter().map(|n| n.name.clone()).collect()
    }

    fn supports(&self, kind: FaultKind) -> Result<(), String> {
        let need = |cap: &str| if self.probe.has(cap) { Ok(()) } else { Err(format!("this machine lacks {cap} (see `faultline doctor`)")) };
        match kind {
            FaultKind::Partition => need("iptables"),
            FaultKind::Packet if self.probe.has("netem") => Ok(()),
            FaultKind::Packet => need("iptables-statistic"),
            FaultKind::Clock => need("libfaketime"),
            FaultKind::Delay => need("nfqueue"),
            FaultKind::Duplicate => need("tee"),
            FaultKind::Rate => need("tbf"),
            FaultKind::Kill | FaultKind::Pause => Ok(()),
        }
    }

    fn set_network<'a>(&'a self, network: &'a Network) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let changes = self.cluster.nodes.iter().map(|node| async move {
                let faults = NodeNetwork {
                    drop_from: network.grudge.get(&node.name).into_iter().flatten().filter_map(|p| self.cluster.node(p).ok()).collect(),
                    loss_percent: network.loss.get(&node.name).copied().unwrap_or(0),
                    netem: self.probe.has("netem"),
                    delay: network.delay.get(&node.name).copied(),
                    duplicate_percent: network.duplicate.get(&node.name).copied().unwrap_or(0),
                    rate_kbit: network.rate.get(&node.name).copied(),
                    // A node whose faults strike some links only (`n1:n2` targets).
                    peers: self.cluster.nodes.iter().filter(|p| p.name != node.name && network.scope.get(&node.name).is_none_or(|s| s.contains(&p.name))).collect(),
                    loss_from_peers_only: network.scope.contains_key(&node.name),
                };
                self.cluster.set_network(node, &faults).await.map_err(err)
            });
            futures_util::future::join_all(changes).await.into_iter().collect::<Result<Vec<()>, String>>().map(|_| ())
        })
    }

    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.cluster.kill(self.cluster.node(node).map_err(err)?, "SIGKILL").await.map_err(err) })
    }

    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.cluster.restart(self.cluster.node(node).map_err(err)?).await.map_err(err) })
    }

    fn pause<'a>(&'a self, node: &'a str, paused: bool) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let n = self.cluster.node(node).map_err(err)?;
            if paused { self.cluster.pause(n).await } else { self.cluster.unpause(n).await }.map_err(err)
        })
    }

    fn set_clock<'a>(&'a self, node: &'a str, offset_s: i64) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.cluster.set_clock(self.cluster.node(node).map_err(err)?, offset_s).await.map_err(err) })
    }

    fn roles(&self) -> BoxFuture<'_, Vec<NodeRole>> {
        Box::pin(async move {
            match self.leader.as_ref() {
                Some(query) => super::leaders::roles(&**query, &self.nodes(), ROLE_WITHIN).await,
                None => Vec::new(),
            }
        })
    }
}
