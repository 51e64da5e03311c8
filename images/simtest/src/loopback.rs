//! A cluster of real HTTP servers on loopback ports, with data on disk, for measuring
//! a design's throughput the way it runs in Docker (minus the containers).

use crate::cluster::{Factory, Start};
use node_common::config::NodeOptions;
use node_common::server::router;
use node_common::transport::HttpTransport;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a throughput run measured.
#[derive(Debug)]
pub struct Throughput {
    /// Acknowledged writes.
    pub ok: u64,
    /// Errors (refusals, timeouts).
    pub errors: u64,
    /// How long the clients ran.
    pub elapsed: Duration,
}

impl Throughput {
    /// Acknowledged writes per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// Starts `nodes` nodes on 127.0.0.1 (data under the system's temporary directory, on
/// disk), lets `clients` clients write single keys (16 of their own each) over HTTP for `duration` (each
/// following `not-leader` answers to the leader they name), and counts what succeeded.
pub async fn write_throughput(factory: Factory, nodes: usize, clients: usize, duration: Duration) -> std::io::Result<Throughput> {
    let names: Vec<String> = (1..=nodes).map(|i| format!("n{i}")).collect();
    let mut listeners = Vec::new();
    let mut addrs = HashMap::new();
    for name in &names {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        addrs.insert(name.clone(), listener.local_addr()?.to_string());
        listeners.push(listener);
    }
    let dirs: Vec<tempfile::TempDir> = names.iter().map(|_| tempfile::tempdir()).collect::<Result<_, _>>()?;
    let mut servers = Vec::new();
    for ((name, listener), dir) in names.iter().zip(listeners).zip(&dirs) {
        let transport = Arc::new(HttpTransport::new(addrs.clone(), Duration::from_millis(500)));
        let options = NodeOptions { name: name.clone(), nodes: names.clone(), data: dir.path().to_owned(), bugs: Vec::new(), lose_unsynced: false };
        let node = factory(Start { node: options, transport });
        servers.push(tokio::spawn(async move { axum::serve(listener, router(node)).await }));
    }
    let http = Arc::new(HttpTransport::new(addrs, Duration::from_secs(2)));
    tokio::time::sleep(Duration::from_secs(2)).await; // elections, for designs that have them
    let (ok, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            let (http, ok, errors, names) = (http.clone(), ok.clone(), errors.clone(), names.clone());
            tokio::spawn(async move {
                let mut target = names[c % names.len()].clone();
                let mut seq = 0u64;
                while started.elapsed() < duration {
                    seq += 1;
                    let body = json!({"client": format!("c{c}"), "seq": seq, "ops": [["w", format!("c{c}k{}", seq % 16), seq]]});
                    match http.post(&target, "/txn", body).await {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            if let Some(leader) = serde_json::from_str::<Value>(&e).ok().and_then(|v| v["leader"].as_str().map(str::to_owned)) {
                                target = leader;
                            } else {
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                            errors.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let elapsed = started.elapsed();
    for s in servers {
        s.abort();
    }
    Ok(Throughput { ok: ok.load(Ordering::Relaxed), errors: errors.load(Ordering::Relaxed), elapsed })
}
