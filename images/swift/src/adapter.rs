//! The `swift` adapter: each operation one object or container request through the
//! proxy of the node a client is bound to ([`crate::mapping`] says which). Containers
//! are created (`PUT`, idempotent) before the first object goes into them; a creation
//! that fails fails the operation, whose own request was never sent. Nothing is
//! retried.
//!
//! With `newest-reads` a read sends `X-Newest: true`: the proxy asks every replica
//! and answers the newest, instead of the first that answers (Swift's default).

use crate::mapping::{self, Plan, ACCOUNT};
use bytes::Bytes;
use faultline_history::micro_op::MicroOp;
use faultline_workloads::adapter::{Adapter, BoxFuture, TxnOutcome};
use faultline_workloads::http::{NodeClient, RequestError};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

/// Swift's object API through every node's proxy.
pub struct SwiftApi {
    client: NodeClient,
    addrs: HashMap<String, String>,
    newest_reads: bool,
    created: Mutex<HashSet<String>>,
}

/// Why a request failed, as the outcome of an operation that `writes` or not.
fn unanswered(e: RequestError, writes: bool) -> TxnOutcome {
    if e.not_sent || !writes {
        TxnOutcome::Fail(e.message)
    } else {
        TxnOutcome::Info(e.message)
    }
}

impl SwiftApi {
    /// Nodes by name → `ip:port` of their proxy; every request gives up after
    /// `timeout`; `newest_reads` sends reads with `X-Newest`.
    pub fn new(addrs: HashMap<String, String>, timeout: Duration, newest_reads: bool) -> SwiftApi {
        SwiftApi { client: NodeClient::new(timeout), addrs, newest_reads, created: Mutex::new(HashSet::new()) }
    }

    async fn send(&self, node: &str, method: &str, path: &str, headers: &[(&str, &str)], body: String) -> Result<(u16, Bytes), RequestError> {
        let Some(addr) = self.addrs.get(node) else { return Err(RequestError { message: format!("unknown node {node}"), not_sent: true }) };
        self.client.request(method, &format!("http://{addr}{path}"), headers, Bytes::from(body)).await
    }

    /// Creates `container` unless this run already has; why not, if it could not.
    async fn ensure_container(&self, node: &str, container: &str) -> Result<(), String> {
        if self.created.lock().map_err(|_| "a client panicked holding the containers".to_owned())?.contains(container) {
            return Ok(());
        }
        match self.send(node, "PUT", &format!("{ACCOUNT}/{container}"), &[], String::new()).await {
            Ok((200..=299, _)) => {
                if let Ok(mut created) = self.created.lock() {
                    created.insert(container.to_owned());
                }
                Ok(())
            }
            Ok((status, body)) => Err(format!("creating container {container}: HTTP {status}: {}", String::from_utf8_lossy(&body).trim())),
            Err(e) => Err(format!("creating container {container}: {e}")),
        }
    }

    async fn read(&self, node: &str, key: &str, object: &str, listing: &str) -> TxnOutcome {
        let headers: &[(&str, &str)] = if self.newest_reads { &[("x-newest", "true")] } else { &[] };
        let value = match self.send(node, "GET", object, headers, String::new()).await {
            Ok((200, body)) => mapping::object_value(&body),
            Ok((404, _)) => match self.send(node, "GET", listing, headers, String::new()).await {
                Ok((200, body)) => mapping::listed_values(&body).map(Value::from),
                Ok((204 | 404, _)) => Ok(Value::Null),
                Ok((status, body)) => Err(format!("listing {listing}: HTTP {status}: {}", String::from_utf8_lossy(&body).trim())),
                Err(e) => Err(e.message),
            },
            Ok((status, body)) => Err(format!("GET {object}: HTTP {status}: {}", String::from_utf8_lossy(&body).trim())),
            Err(e) => Err(e.message),
        };
        match value {
            Ok(v) => TxnOutcome::Ok(vec![json!(["r", key, v])]),
            Err(why) => TxnOutcome::Fail(why),
        }
    }

    async fn run(&self, node: &str, ops: &[MicroOp]) -> TxnOutcome {
        match mapping::plan(ops) {
            Plan::Refuse(why) => TxnOutcome::Fail(why),
            Plan::Read { object, listing } => self.read(node, ops[0].key(), &object, &listing).await,
            Plan::Put { container, path, body, create_only } => {
                if let Err(why) = self.ensure_container(node, &container).await {
                    return TxnOutcome::Fail(why);
                }
                let headers: &[(&str, &str)] = if create_only { &[("if-none-match", "*")] } else { &[] };
                match self.send(node, "PUT", &path, headers, body).await {
                    Ok((status, answer)) => mapping::put_outcome(&ops[0], status, &answer),
                    Err(e) => unanswered(e, true),
                }
            }
        }
    }
}

impl Adapter for SwiftApi {
    fn txn<'a>(&'a self, node: &'a str, _client: &'a str, _seq: u64, ops: Vec<Value>) -> BoxFuture<'a, TxnOutcome> {
        Box::pin(async move {
            let parsed: Result<Vec<MicroOp>, String> = ops.iter().map(MicroOp::from_value).collect();
            match parsed {
                Ok(ops) => self.run(node, &ops).await,
                Err(why) => TxnOutcome::Fail(why),
            }
        })
    }
}
