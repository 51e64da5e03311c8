//! How a workload's transactions reach a system: an [`Adapter`] runs micro-ops on a
//! node and says what became of them; [`LeaderQuery`], an optional power, asks a node
//! whether it leads. [`NodeApi`] speaks the reference nodes' `POST /txn` and
//! `GET /status` (docs/ARCHITECTURE.md §3); other systems (etcd) bring adapters of
//! their own, and a design file names its adapter (§9).

use crate::http::{NodeClient, RequestError};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future, so adapters can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What became of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum TxnOutcome {
    /// It took effect; the micro-ops' results.
    Ok(Vec<Value>),
    /// It certainly did not take effect; why.
    Fail(String),
    /// Unknown (timeout, lost connection, an indefinite error); why.
    Info(String),
}

/// Runs transactions on a system's nodes.
pub trait Adapter: Send + Sync {
    /// Runs `ops` on `node` for session `client` with sequence number `seq`.
    fn txn<'a>(&'a self, node: &'a str, client: &'a str, seq: u64, ops: Vec<Value>) -> BoxFuture<'a, TxnOutcome>;
}

/// What a node says of its own role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct Role {
    /// Whether it believes it leads.
    pub leads: bool,
    /// The term (epoch) it believes in; of two leaders, the higher term's is current.
    pub term: u64,
    /// Whether it is a candidate, asking for votes, right now. Designs that do not say
    /// answer false: a fault aimed at a voter may then strike a candidate.
    #[serde(default)]
    pub campaigning: bool,
    /// Whether it gave its vote in its term to another node, when the design says
    /// (`None` when it does not).
    #[serde(default)]
    pub voted: Option<bool>,
}

/// An adapter's optional power, for designs with a leader: asking a node its role.
pub trait LeaderQuery: Send + Sync {
    /// `node`'s role, or why it did not say.
    fn role<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Role, String>>;
}

/// Messages counted over a run, for systems whose messages faultline carries
/// (Maelstrom nodes): Maelstrom's "messages per operation".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MessageCounts {
    /// Messages the nodes sent one another (whether or not a fault dropped them).
    pub between_nodes: u64,
    /// Requests the nodes made of the services faultline plays (`lin-kv`, …).
    pub to_services: u64,
    /// Requests clients sent the nodes.
    pub client_requests: u64,
}

/// An adapter's optional power: counting the messages the system exchanged.
pub trait CountMessages: Send + Sync {
    /// The counts so far, asked of `nodes`.
    fn message_counts<'a>(&'a self, nodes: &'a [String]) -> BoxFuture<'a, Result<MessageCounts, String>>;
}

/// The part of a reference node's `GET /status` that names its role.
#[derive(Debug, serde::Deserialize)]
struct StatusAnswer {
    role: String,
    #[serde(default)]
    term: u64,
    #[serde(default)]
    voted: Option<bool>,
}

/// The reference nodes' HTTP API.
pub struct NodeApi {
    client: NodeClient,
    addrs: HashMap<String, String>,
}

impl NodeApi {
    /// Nodes by name → `ip:port`; every request gives up after `timeout`.
    pub fn new(addrs: HashMap<String, String>, timeout: Duration) -> NodeApi {
        NodeApi { client: NodeClient::new(timeout), addrs }
    }

    fn url(&self, node: &str, path: &str) -> Result<String, String> {
        self.addrs.get(node).map(|a| format!("http://{a}{path}")).ok_or_else(|| format!("unknown node {node}"))
    }
}

/// Maps an HTTP answer of `POST /txn` to an outcome: 200 is ok; an error body says
/// whether it is definite; a connection that could not even be made is a failure
/// (nothing was sent); anything else (no answer, garbage) is unknown.
pub fn txn_outcome(answer: Result<(u16, Value), RequestError>) -> TxnOutcome {
    match answer {
        Ok((200, body)) => match body["ops"].as_array() {
            Some(ops) => TxnOutcome::Ok(ops.clone()),
            None => TxnOutcome::Info(format!("200 without ops: {body}")),
        },
        Ok((status, body)) => {
            let why = match body["reason"].as_str() {
                Some(reason) => format!("{}: {reason}", body["error"].as_str().unwrap_or("error")),
                None => format!("HTTP {status}: {body}"),
            };
            if body["definite"] == true {
                TxnOutcome::Fail(why)
            } else {
                TxnOutcome::Info(why)
            }
        }
        Err(e) if e.not_sent => TxnOutcome::Fail(e.message),
        Err(e) => TxnOutcome::Info(e.message),
    }
}

impl Adapter for NodeApi {
    fn txn<'a>(&'a self, node: &'a str, client: &'a str, seq: u64, ops: Vec<Value>) -> BoxFuture<'a, TxnOutcome> {
        Box::pin(async move {
            let url = match self.url(node, "/txn") {
                Ok(u) => u,
                Err(e) => return TxnOutcome::Fail(e),
            };
            txn_outcome(self.client.post_json(&url, &json!({"client": client, "seq": seq, "ops": ops})).await)
        })
    }
}

impl LeaderQuery for NodeApi {
    fn role<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Role, String>> {
        Box::pin(async move {
            let (_, body) = self.client.get_json(&self.url(node, "/status")?).await.map_err(String::from)?;
            let status: StatusAnswer = serde_json::from_value(body).map_err(|e| format!("{node}'s /status names no role: {e}"))?;
            Ok(Role { leads: status.role == "leader", term: status.term, campaigning: status.role == "candidate", voted: status.voted })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_outcomes() {
        assert_eq!(txn_outcome(Ok((200, json!({"ops": [["r", "x", 1]]})))), TxnOutcome::Ok(vec![json!(["r", "x", 1])]));
        assert_eq!(txn_outcome(Ok((409, json!({"error": "not-leader", "definite": true, "reason": "n2 leads"})))), TxnOutcome::Fail("not-leader: n2 leads".into()));
        assert!(matches!(txn_outcome(Ok((500, json!({"error": "timeout", "definite": false, "reason": "slow"})))), TxnOutcome::Info(_)));
        assert!(matches!(txn_outcome(Err(RequestError { message: "connection reset".into(), not_sent: false })), TxnOutcome::Info(_)));
        assert!(matches!(txn_outcome(Err(RequestError { message: "connection refused".into(), not_sent: true })), TxnOutcome::Fail(_)));
        assert!(matches!(txn_outcome(Ok((200, json!({"weird": 1})))), TxnOutcome::Info(_)));
    }
}
