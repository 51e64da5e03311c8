//! The client protocol adapters a design can name (`[client] adapter`), and how one is
//! built for a run: `http-txn`, faultline's own node API (`POST /txn`, `GET /status`;
//! docs/ARCHITECTURE.md §3), for anyone writing a node; `etcd-json`, etcd v3's JSON
//! gateway; `resp`, Redis's protocol (the primary found through Sentinel when the
//! design names its master); `swift`, OpenStack Swift's object API; `maelstrom`,
//! Maelstrom's client protocol through faultline's shim (docs/ARCHITECTURE.md §10). Each
//! is a transaction [`Adapter`] and, for designs that report a leader, a [`LeaderQuery`].

use super::Launch;
use faultline_workloads::adapter::{Adapter, CountMessages, LeaderQuery, NodeApi};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The adapters' names.
pub const NAMES: [&str; 5] = ["http-txn", "etcd-json", "resp", "swift", "maelstrom"];

/// A run's way to its nodes: transactions, and the leader where the design has one.
#[derive(Clone)]
pub struct Client {
    /// Runs the workload's transactions.
    pub txn: Arc<dyn Adapter>,
    /// Asks a node whether it leads (designs with the `leader` capability).
    pub leader: Option<Arc<dyn LeaderQuery>>,
    /// Counts the messages the nodes exchanged (protocols whose messages faultline
    /// carries: Maelstrom's).
    pub messages: Option<Arc<dyn CountMessages>>,
}

/// A boolean adapter option (`true` or `false`).
fn flag(options: &std::collections::BTreeMap<String, String>, key: &str) -> Result<bool, String> {
    match options.get(key).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(format!("adapter option {key} is true or false, not {other:?}")),
    }
}

/// Builds the design's adapter for nodes at `addrs` (name → `ip:port`); every request
/// gives up after `timeout`; what an adapter draws at random (Maelstrom's services)
/// follows `seed`.
pub fn connect(launch: &Launch, addrs: HashMap<String, String>, timeout: Duration, seed: u64) -> Result<Client, String> {
    let options = launch.client_options()?;
    let leads = launch.spec.capabilities.leader;
    let known = |allowed: &[&str]| match options.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("adapter {} has no option {k:?}", launch.spec.client.adapter)),
        None => Ok(()),
    };
    match launch.spec.client.adapter.as_str() {
        "http-txn" => {
            known(&[])?;
            let api = Arc::new(NodeApi::new(addrs, timeout));
            Ok(Client { txn: api.clone(), leader: leads.then_some(api as Arc<dyn LeaderQuery>), messages: None })
        }
        "etcd-json" => {
            known(&["serializable-reads"])?;
            let api = Arc::new(etcd::EtcdApi::new(addrs, timeout, flag(&options, "serializable-reads")?));
            Ok(Client { txn: api.clone(), leader: leads.then_some(api as Arc<dyn LeaderQuery>), messages: None })
        }
        "resp" => {
            let api = Arc::new(faultline_redis::RespApi::new(addrs, timeout, faultline_redis::RespOptions::parse(&options)?));
            Ok(Client { txn: api.clone(), leader: leads.then_some(api as Arc<dyn LeaderQuery>), messages: None })
        }
        "swift" => {
            known(&["newest-reads"])?;
            let api = Arc::new(faultline_swift::SwiftApi::new(addrs, timeout, flag(&options, "newest-reads")?));
            Ok(Client { txn: api, leader: None, messages: None })
        }
        "maelstrom" => {
            known(&["workload"])?;
            let workload = options.get("workload").ok_or("adapter maelstrom needs the option workload")?;
            let api = Arc::new(faultline_maelstrom::MaelstromApi::new(addrs, workload, timeout, seed)?);
            Ok(Client { txn: api.clone(), leader: None, messages: Some(api as Arc<dyn CountMessages>) })
        }
        other => Err(format!("no client adapter {other:?}; one of {}", NAMES.join(", "))),
    }
}
