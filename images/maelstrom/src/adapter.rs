//! The controller's side (docs/ARCHITECTURE.md §10): [`MaelstromApi`] plays
//! Maelstrom's clients, one TCP connection to each node's shim, and its services:
//! a node's requests to `lin-kv`, `seq-kv`, `lww-kv` or `lin-tso` come back on that
//! connection and are answered from one [`Services`] for the whole cluster.

use crate::codec::Codec;
use crate::kafka::Consumers;
use crate::protocol::{Message, SERVICES};
use crate::services::Services;
use faultline_workloads::adapter::{Adapter, BoxFuture, CountMessages, MessageCounts, TxnOutcome};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// Answers awaited on one connection, by `msg_id`.
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Map<String, Value>>>>>;

/// One connection to a node's shim.
struct Connection {
    /// Lines to send.
    lines: mpsc::UnboundedSender<String>,
    /// Answers awaited.
    pending: Pending,
    /// Set when the shim closed the connection (a killed node): the next request
    /// reconnects instead of writing into a socket nobody reads.
    closed: Arc<AtomicBool>,
}

/// Maelstrom's clients and services, over the shims' TCP ports.
pub struct MaelstromApi {
    addrs: HashMap<String, String>,
    codec: Codec,
    connect_timeout: Duration,
    /// Per node, its connection; each behind a lock of its own, so a slow connect to
    /// one node holds up only that node's requests.
    connections: HashMap<String, tokio::sync::Mutex<Option<Arc<Connection>>>>,
    services: Arc<Mutex<Services>>,
    /// The kafka clients' positions (kafka only).
    consumers: Mutex<Consumers>,
    next_id: AtomicU64,
    /// Requests sent on behalf of clients.
    client_requests: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes an awaited answer when its request is given up (a client timeout drops the
/// future), so the table does not grow.
struct Forget(Pending, u64);

impl Drop for Forget {
    fn drop(&mut self) {
        lock(&self.0).remove(&self.1);
    }
}

impl MaelstromApi {
    /// Clients of Maelstrom workload `workload` for nodes at `addrs` (name → `ip:port`);
    /// services whose random choices follow `seed`.
    pub fn new(addrs: HashMap<String, String>, workload: &str, connect_timeout: Duration, seed: u64) -> Result<MaelstromApi, String> {
        Ok(MaelstromApi {
            connections: addrs.keys().map(|n| (n.clone(), tokio::sync::Mutex::new(None))).collect(),
            addrs,
            codec: Codec::of(workload)?,
            connect_timeout,
            services: Arc::new(Mutex::new(Services::new(seed))),
            consumers: Mutex::new(Consumers::default()),
            next_id: AtomicU64::new(1),
            client_requests: AtomicU64::new(0),
        })
    }

    /// The open connection to `node`, or a new one.
    async fn connection(&self, node: &str) -> Result<Arc<Connection>, String> {
        let (Some(slot), Some(addr)) = (self.connections.get(node), self.addrs.get(node)) else { return Err(format!("unknown node {node}")) };
        let mut slot = slot.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.lines.is_closed() && !c.closed.load(Ordering::Acquire)) {
            return Ok(c.clone());
        }
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("no connection to {node}'s shim at {addr} within {} ms", self.connect_timeout.as_millis()))?
            .map_err(|e| format!("cannot connect to {node}'s shim at {addr}: {e}"))?;
        let connection = Arc::new(self.serve(stream));
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Starts the tasks that write to and read from a shim: answers go to whoever
    /// awaits them, service requests to the services, whose answers go back.
    fn serve(&self, stream: TcpStream) -> Connection {
        let (read, mut write) = stream.into_split();
        let (lines, mut outgoing) = mpsc::unbounded_channel::<String>();
        let pending: Pending = Arc::default();
        tokio::spawn(async move {
            while let Some(mut line) = outgoing.recv().await {
                line.push('\n');
                if write.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
        let closed = Arc::new(AtomicBool::new(false));
        let (answers, services, back, gone) = (pending.clone(), self.services.clone(), lines.clone(), closed.clone());
        tokio::spawn(async move {
            let mut reader = BufReader::new(read).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let Ok(msg) = Message::parse(&line) else { continue };
                if SERVICES.contains(&msg.dest.as_str()) {
                    let answer = lock(&services).handle(&msg);
                    let _ = back.send(answer.to_line());
                } else if let Some(id) = msg.in_reply_to() {
                    if let Some(waiting) = lock(&answers).remove(&id) {
                        let _ = waiting.send(msg.body);
                    }
                }
            }
            // The connection is gone (a killed node): whoever waits learns it now.
            gone.store(true, Ordering::Release);
            lock(&answers).clear();
        });
        Connection { lines, pending, closed }
    }

    /// Sends `body` from `src` to `node` and awaits the answer's body.
    async fn request(&self, node: &str, src: &str, mut body: Map<String, Value>) -> Result<Map<String, Value>, Sent> {
        let connection = self.connection(node).await.map_err(Sent::No)?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        body.insert("msg_id".into(), id.into());
        let (tx, rx) = oneshot::channel();
        lock(&connection.pending).insert(id, tx);
        let _forget = Forget(connection.pending.clone(), id);
        if connection.closed.load(Ordering::Acquire) {
            return Err(Sent::No(format!("the connection to {node} had closed")));
        }
        if connection.lines.send(Message { src: src.to_owned(), dest: node.to_owned(), body }.to_line()).is_err() {
            return Err(Sent::Maybe(format!("the connection to {node} closed")));
        }
        rx.await.map_err(|_| Sent::Maybe(format!("the connection to {node} closed before an answer")))
    }
}

/// Why a request has no answer: it was never sent, or it may have been.
enum Sent {
    No(String),
    Maybe(String),
}

/// Maelstrom's name for faultline's process `p7`: client `c8` (`c0` is the shim's).
fn client_id(process: &str) -> String {
    match process.strip_prefix('p').and_then(|n| n.parse::<u64>().ok()) {
        Some(n) => format!("c{}", n + 1),
        None => process.to_owned(),
    }
}

impl Adapter for MaelstromApi {
    fn txn<'a>(&'a self, node: &'a str, client: &'a str, _seq: u64, ops: Vec<Value>) -> BoxFuture<'a, TxnOutcome> {
        Box::pin(async move {
            let client = client_id(client);
            let kafka = self.codec == Codec::Kafka;
            let body = match (kafka, ops.as_slice()) {
                (true, [op]) => lock(&self.consumers).request(&client, op),
                (true, _) => Err(format!("a kafka request carries one operation, not {}", ops.len())),
                (false, _) => self.codec.request(&ops),
            };
            let body = match body {
                Ok(b) => b,
                Err(e) => return TxnOutcome::Fail(format!("not sent: {e}")),
            };
            let answer = self.request(node, &client, body).await;
            if !matches!(answer, Err(Sent::No(_))) {
                self.client_requests.fetch_add(1, Ordering::Relaxed);
            }
            match answer {
                Ok(answer) if kafka => lock(&self.consumers).outcome(&client, &ops[0], &answer),
                Ok(answer) => self.codec.outcome(&ops, &answer),
                Err(Sent::No(e)) => TxnOutcome::Fail(e),
                Err(Sent::Maybe(e)) => TxnOutcome::Info(e),
            }
        })
    }
}

impl CountMessages for MaelstromApi {
    fn message_counts<'a>(&'a self, nodes: &'a [String]) -> BoxFuture<'a, Result<MessageCounts, String>> {
        Box::pin(async move {
            let mut between_nodes = 0;
            for node in nodes {
                let ask = self.request(node, "faultline", Map::from_iter([("type".to_owned(), json!("faultline_stats"))]));
                let answer = match tokio::time::timeout(Duration::from_secs(5), ask).await {
                    Ok(Ok(a)) => a,
                    Ok(Err(Sent::No(e) | Sent::Maybe(e))) => return Err(format!("{node}'s message counts: {e}")),
                    Err(_) => return Err(format!("{node} did not give its message counts within 5 s")),
                };
                between_nodes += answer.get("sent").and_then(Value::as_u64).unwrap_or(0);
            }
            let to_services = lock(&self.services).requests;
            Ok(MessageCounts { between_nodes, to_services, client_requests: self.client_requests.load(Ordering::Relaxed) })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_become_maelstrom_clients() {
        assert_eq!(client_id("p0"), "c1");
        assert_eq!(client_id("p41"), "c42");
        assert_eq!(client_id("faultline"), "faultline");
    }
}
