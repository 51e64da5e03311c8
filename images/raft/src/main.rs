//! The Raft node binary: configuration from flags or the environment, HTTP to peers.

use node_common::server::{run, Startup};
use raft::{Options, Raft, Timing, BUGS};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    run("raft", &BUGS, &[], |s: Startup| {
        Ok(Raft::start(Options { node: s.node, timing: Timing::default() }, s.transport)?)
    })
    .await
}
