//! An in-process cluster on a [`SimNet`].

use node_common::api::{MicroOp, NodeError, TxnRequest};
use node_common::config::NodeOptions;
use node_common::server::Design;
use node_common::transport::{PeerHandler, SimNet, Transport};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// What a design needs to start one node.
pub struct Start {
    /// Name, peers, data directory (kept across restarts), bugs.
    pub node: NodeOptions,
    /// Its view of the network.
    pub transport: Arc<dyn Transport>,
}

/// Starts a node of the design under test (restarts always lose unsynced writes).
pub type Factory = Arc<dyn Fn(Start) -> Arc<dyn Design> + Send + Sync>;

/// A cluster of in-process nodes.
pub struct Cluster {
    /// The network, for partitions and dropped messages.
    pub net: Arc<SimNet>,
    /// The nodes' names, n1…
    pub names: Vec<String>,
    dirs: Vec<tempfile::TempDir>,
    bugs: Vec<String>,
    factory: Factory,
    nodes: Mutex<Vec<Option<Arc<dyn Design>>>>,
}

impl Cluster {
    /// Starts `n` nodes with `bugs`.
    pub fn new(n: usize, bugs: &[&str], factory: Factory) -> Arc<Cluster> {
        let cluster = Arc::new(Cluster {
            net: SimNet::new(),
            names: (1..=n).map(|i| format!("n{i}")).collect(),
            dirs: (0..n).map(|_| scratch_dir()).collect(),
            bugs: bugs.iter().map(|b| b.to_string()).collect(),
            factory,
            nodes: Mutex::new(vec![None; n]),
        });
        for i in 0..n {
            cluster.start(i);
        }
        cluster
    }

    /// Starts (or restarts, recovering from disk) node `i`.
    pub fn start(&self, i: usize) {
        let node = NodeOptions { name: self.names[i].clone(), nodes: self.names.clone(), data: self.dirs[i].path().to_owned(), bugs: self.bugs.clone(), lose_unsynced: true };
        let start = Start { node, transport: Arc::new(self.net.transport(&self.names[i])) };
        let node = (self.factory)(start);
        let handler: Arc<dyn PeerHandler> = node.clone();
        self.net.register(&self.names[i], handler);
        self.lock()[i] = Some(node);
    }

    /// Crashes node `i`: it stops and is cut off until [`Cluster::start`].
    pub fn crash(&self, i: usize) {
        self.net.set_down(&self.names[i], true);
        if let Some(node) = self.lock()[i].take() {
            node.stop();
        }
    }

    /// Cuts node `i` off from every other node.
    pub fn isolate(&self, i: usize) {
        for other in self.names.iter().filter(|n| **n != self.names[i]) {
            self.net.cut(&self.names[i], other);
        }
    }

    /// Node `i`, unless it is down.
    pub fn node(&self, i: usize) -> Option<Arc<dyn Design>> {
        self.lock()[i].clone()
    }

    /// Runs a transaction on node `i` as `client`.
    pub async fn txn(&self, i: usize, client: &str, seq: u64, ops: Vec<MicroOp>) -> Result<Vec<Value>, NodeError> {
        match self.node(i) {
            Some(n) => n.txn(TxnRequest { client: client.to_owned(), seq, ops }).await,
            None => Err(NodeError::definite("unavailable", "node is down")),
        }
    }

    /// Runs one micro-op on node `i`, returning its result.
    pub async fn run(&self, i: usize, op: MicroOp) -> Result<Value, NodeError> {
        let mut results = self.txn(i, "test", next_seq(), vec![op]).await?;
        Ok(results.pop().unwrap_or(Value::Null))
    }

    /// Stops every node (their tasks end).
    pub fn stop_all(&self) {
        for node in self.lock().iter().flatten() {
            node.stop();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<Arc<dyn Design>>>> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// A fresh sequence number for one-off test clients.
pub(crate) fn next_seq() -> u64 {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A data directory on tmpfs where there is one: the node logic under test is the same,
/// and thousands of fsyncs cost nothing.
fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() };
    dir.or_else(|_| tempfile::tempdir()).expect("a temporary directory for a test node")
}
