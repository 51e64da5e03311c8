//! etcd-node: starts Debian's etcd 3.4 as a faultline node. It reads the same flags
//! and `FAULTLINE_*` environment as the reference nodes, turns them into a static
//! bootstrap (every member's fixed IP, a cluster token unique to the run, the data
//! directory on the node's volume, heartbeat 100 ms, election timeout 1000 ms) and
//! replaces itself with etcd, so a kill strikes etcd itself. Clients use etcd's port as
//! the node API port; peers talk on 2380. A restart finds the data directory and
//! rejoins with it.

use clap::Parser;
use node_common::config::NodeConfig;
use sha2::{Digest, Sha256};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

/// The peer port etcd members replicate over.
const PEER_PORT: u16 = 2380;
/// Knobs this node accepts. `serializable-reads` is read by the controller's client
/// adapter (it changes how reads are sent, not how etcd runs), so it is accepted here.
const KNOBS: [&str; 3] = ["serializable-reads", "heartbeat-ms", "election-ms"];

/// etcd's command line for this node, or why it cannot start.
fn etcd_args(c: &NodeConfig, run: &str) -> Result<Vec<String>, String> {
    if !c.bugs.is_empty() {
        return Err(format!("etcd is a real system with no switchable bugs (asked for {})", c.bugs.join(", ")));
    }
    if c.lose_unsynced {
        return Err("etcd does not track what it fsynced, so --lose-unsynced cannot apply".into());
    }
    let knobs = c.knobs(&KNOBS)?;
    let knob = |k: &str, default: &str| knobs.iter().rev().find(|(key, _)| key == k).map_or(default.to_owned(), |(_, v)| v.clone());
    let peers = c.peers()?;
    let me = peers.iter().find(|p| p.name == c.node).ok_or_else(|| format!("{} is not among the peers {:?}", c.node, c.peers))?;
    let ip = |addr: &str| addr.rsplit_once(':').map_or(addr.to_owned(), |(ip, _)| ip.to_owned());
    let cluster = peers.iter().map(|p| format!("{}=http://{}:{PEER_PORT}", p.name, ip(&p.addr))).collect::<Vec<_>>().join(",");
    // One token per run and cluster: members of another run can never join this one.
    let token: String = Sha256::digest(format!("{run}\n{cluster}")).iter().take(8).map(|b| format!("{b:02x}")).collect();
    let my_ip = ip(&me.addr);
    Ok(vec![
        format!("--name={}", c.node),
        format!("--data-dir={}", c.data.join("etcd").display()),
        format!("--listen-client-urls=http://0.0.0.0:{}", c.port),
        format!("--advertise-client-urls=http://{my_ip}:{}", c.port),
        format!("--listen-peer-urls=http://0.0.0.0:{PEER_PORT}"),
        format!("--initial-advertise-peer-urls=http://{my_ip}:{PEER_PORT}"),
        format!("--initial-cluster={cluster}"),
        format!("--initial-cluster-token=faultline-{token}"),
        "--initial-cluster-state=new".to_owned(),
        format!("--heartbeat-interval={}", knob("heartbeat-ms", "100")),
        format!("--election-timeout={}", knob("election-ms", "1000")),
        "--logger=zap".to_owned(),
    ])
}

fn main() -> ExitCode {
    let config = NodeConfig::parse();
    let run = std::env::var("FAULTLINE_RUN").unwrap_or_default();
    let args = match etcd_args(&config, &run) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("etcd-node {}: {e}", config.node);
            return ExitCode::from(2);
        }
    };
    eprintln!("etcd-node {}: exec etcd {}", config.node, args.join(" "));
    let e = Command::new("etcd").args(&args).exec();
    eprintln!("etcd-node {}: cannot start etcd: {e} (the image needs Debian's etcd-server)", config.node);
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[&str]) -> NodeConfig {
        let mut args = vec!["etcd-node", "--node", "n2", "--peers", "n1=10.0.0.1,n2=10.0.0.2,n3=10.0.0.3", "--data", "/data", "--port", "8080"];
        args.extend_from_slice(extra);
        NodeConfig::parse_from(args)
    }

    #[test]
    fn a_static_bootstrap_from_the_peers() {
        let args = etcd_args(&config(&["--opt", "election-ms=2000"]), "run-1").unwrap();
        assert!(args.contains(&"--initial-cluster=n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380,n3=http://10.0.0.3:2380".to_owned()), "{args:?}");
        assert!(args.contains(&"--advertise-client-urls=http://10.0.0.2:8080".to_owned()));
        assert!(args.contains(&"--data-dir=/data/etcd".to_owned()) && args.contains(&"--election-timeout=2000".to_owned()) && args.contains(&"--heartbeat-interval=100".to_owned()));
        let token = |run| etcd_args(&config(&[]), run).unwrap().into_iter().find(|a| a.starts_with("--initial-cluster-token")).unwrap();
        assert_ne!(token("run-1"), token("run-2"), "each run its own cluster token");
    }

    #[test]
    fn what_etcd_cannot_do_is_refused() {
        assert!(etcd_args(&config(&["--bug", "no-noop"]), "r").unwrap_err().contains("no switchable bugs"));
        assert!(etcd_args(&config(&["--lose-unsynced"]), "r").unwrap_err().contains("--lose-unsynced"));
        assert!(etcd_args(&config(&["--opt", "r=1"]), "r").unwrap_err().contains("unknown option"));
        assert!(etcd_args(&config(&["--opt", "serializable-reads=true"]), "r").is_ok());
    }
}
