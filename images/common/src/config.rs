//! Node configuration, from flags or the environment faultline's runtime sets.

use clap::Parser;
use std::path::PathBuf;

/// A node's configuration.
#[derive(Debug, Clone, Parser)]
#[command(about = "A faultline reference node")]
pub struct NodeConfig {
    /// This node's name (n1, n2, …).
    #[arg(long, env = "FAULTLINE_NODE")]
    pub node: String,
    /// Every node of the cluster as `name=ip` pairs, comma-separated (this one included).
    #[arg(long, env = "FAULTLINE_PEERS", default_value = "")]
    pub peers: String,
    /// Where the node keeps its files.
    #[arg(long, env = "FAULTLINE_DATA", default_value = "/data")]
    pub data: PathBuf,
    /// The client API's port (peers are assumed to use the same).
    #[arg(long, env = "FAULTLINE_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Switch on a bug (several allowed).
    #[arg(long = "bug")]
    pub bugs: Vec<String>,
    /// At start, drop whatever was written but never fsynced.
    #[arg(long)]
    pub lose_unsynced: bool,
    /// A design knob as `key=value` (several allowed), e.g. `--opt r=1`.
    #[arg(long = "opt", value_name = "KEY=VALUE")]
    pub opts: Vec<String>,
}

/// What every design needs to start a node.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// This node's name.
    pub name: String,
    /// Every node's name, this one included.
    pub nodes: Vec<String>,
    /// Where the node keeps its files.
    pub data: PathBuf,
    /// Bugs switched on.
    pub bugs: Vec<String>,
    /// Drop unsynced writes at start.
    pub lose_unsynced: bool,
}

impl NodeOptions {
    /// Whether a bug is switched on.
    pub fn has_bug(&self, bug: &str) -> bool {
        self.bugs.iter().any(|b| b == bug)
    }

    /// This node's position among the nodes; an error if it is not one of them.
    pub fn index(&self) -> std::io::Result<usize> {
        self.nodes.iter().position(|n| *n == self.name).ok_or_else(|| std::io::Error::other(format!("{} is not among the nodes {:?}", self.name, self.nodes)))
    }
}

/// A peer: name and `ip:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its name.
    pub name: String,
    /// Its `ip:port`.
    pub addr: String,
}

impl NodeConfig {
    /// The cluster's nodes, this one included, in the order given.
    pub fn peers(&self) -> Result<Vec<Peer>, String> {
        self.peers
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((name, ip)) if !name.is_empty() && !ip.is_empty() => Ok(Peer { name: name.trim().to_owned(), addr: format!("{}:{}", ip.trim(), self.port) }),
                _ => Err(format!("peer {pair:?} is not name=ip")),
            })
            .collect()
    }

    /// The knobs given with `--opt`, checked against the keys the design knows.
    pub fn knobs(&self, known: &[&str]) -> Result<Vec<(String, String)>, String> {
        self.opts
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) if known.contains(&k) => Ok((k.to_owned(), v.to_owned())),
                Some((k, _)) => Err(format!("unknown option {k:?}; this design knows: {}", known.join(", "))),
                None => Err(format!("option {kv:?} is not key=value")),
            })
            .collect()
    }

    /// Rejects bugs the design does not know.
    pub fn check_bugs(&self, known: &[&str]) -> Result<(), String> {
        match self.bugs.iter().find(|b| !known.contains(&b.as_str())) {
            Some(b) => Err(format!("unknown bug {b:?}; this design knows: {}", known.join(", "))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_peers_and_bugs() {
        let c = NodeConfig::parse_from(["node", "--node", "n1", "--peers", "n1=10.0.0.1,n2=10.0.0.2", "--bug", "x"]);
        assert_eq!(c.peers().unwrap()[1], Peer { name: "n2".into(), addr: "10.0.0.2:8080".into() });
        assert_eq!(c.bugs, ["x"]);
        assert!(c.check_bugs(&["y"]).unwrap_err().contains("unknown bug \"x\""));
        let knobs = NodeConfig::parse_from(["node", "--node", "n1", "--opt", "r=1", "--opt", "w"]);
        assert!(knobs.knobs(&["r", "w"]).unwrap_err().contains("not key=value"));
        assert_eq!(NodeConfig::parse_from(["node", "--node", "n1", "--opt", "r=1"]).knobs(&["r"]).unwrap(), vec![("r".to_owned(), "1".to_owned())]);
        assert!(NodeConfig::parse_from(["node", "--node", "n1", "--opt", "q=1"]).knobs(&["r"]).unwrap_err().contains("unknown option"));
        let bad = NodeConfig::parse_from(["node", "--node", "n1", "--peers", "n1"]);
        assert!(bad.peers().is_err());
    }
}
