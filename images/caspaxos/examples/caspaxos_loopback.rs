//! Write throughput of a 5-node CASPaxos cluster over HTTP on loopback, data on disk:
//! `cargo run --release -p faultline-caspaxos --example caspaxos_loopback [clients] [seconds]`.

use caspaxos::CasPaxos;
use simtest::{loopback, Factory, Start};
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().unwrap_or(0));
    let (clients, seconds) = (args.next().unwrap_or(20).max(1), args.next().unwrap_or(10).max(1));
    let factory: Factory = Arc::new(|s: Start| {
        CasPaxos::open(s.node, s.transport, caspaxos::PEER_TIMEOUT).expect("a caspaxos node starts")
    });
    let t = loopback::write_throughput(factory, 5, clients as usize, Duration::from_secs(seconds)).await?;
    println!("caspaxos, 5 nodes, {clients} clients: {:.0} acknowledged writes/s ({} ok, {} errors in {:.1} s)", t.ops_per_sec(), t.ok, t.errors, t.elapsed.as_secs_f64());
    Ok(())
}
