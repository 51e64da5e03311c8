//! The CASPaxos node binary: configuration from flags or the environment, HTTP to peers.

use caspaxos::{CasPaxos, Options, BUGS};
use node_common::server::{run, Startup};
use std::sync::Arc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    run("caspaxos", &BUGS, &[], |s: Startup| {
        let opts = Options { name: s.config.node, nodes: s.nodes, data: s.config.data, bugs: s.config.bugs, lose_unsynced: s.config.lose_unsynced };
        Ok(Arc::new(CasPaxos::open(opts, s.transport)?))
    })
    .await
}
