//! The CASPaxos node binary: configuration from flags or the environment, HTTP to peers.

use caspaxos::{CasPaxos, Options, BUGS};
use clap::Parser;
use node_common::config::NodeConfig;
use node_common::server::{init_logging, serve};
use node_common::transport::HttpTransport;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    let config = NodeConfig::parse();
    init_logging(&config.node);
    let started = async {
        config.check_bugs(&BUGS)?;
        let peers = config.peers()?;
        let addrs = peers.iter().map(|p| (p.name.clone(), p.addr.clone())).collect();
        let transport = Arc::new(HttpTransport::new(addrs, Duration::from_millis(500)));
        let opts = Options {
            name: config.node.clone(),
            nodes: peers.iter().map(|p| p.name.clone()).collect(),
            data: config.data.clone(),
            bugs: config.bugs.clone(),
            lose_unsynced: config.lose_unsynced,
        };
        let node = CasPaxos::open(opts, transport).map_err(|e| format!("cannot start: {e}"))?;
        tracing::info!(node = %config.node, bugs = ?config.bugs, "caspaxos ready");
        serve(config.port, Arc::new(node)).await.map_err(|e| format!("cannot serve on port {}: {e}", config.port))
    };
    match started.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("caspaxos {}: {e}", config.node);
            ExitCode::FAILURE
        }
    }
}
