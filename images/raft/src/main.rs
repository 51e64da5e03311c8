//! The Raft node binary: configuration from flags or the environment, HTTP to peers.

use node_common::server::{run, Startup};
use raft::{Options, Raft, Timing, BUGS};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    run("raft", &BUGS, &[], |s: Startup| {
        let opts = Options { name: s.config.node, nodes: s.nodes, data: s.config.data, bugs: s.config.bugs, lose_unsynced: s.config.lose_unsynced, timing: Timing::default() };
        Ok(Raft::start(opts, s.transport)?)
    })
    .await
}
