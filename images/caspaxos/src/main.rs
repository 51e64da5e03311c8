//! The CASPaxos node binary: configuration from flags or the environment, HTTP to peers.

use caspaxos::{CasPaxos, BUGS};
use node_common::server::{run, Startup};
use std::sync::Arc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    run("caspaxos", &BUGS, &[], |s: Startup| {
        Ok(Arc::new(CasPaxos::open(s.node, s.transport)?))
    })
    .await
}
