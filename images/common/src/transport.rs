//! How nodes talk to their peers: named messages with JSON bodies. [`HttpTransport`]
//! posts them to `/peer/<kind>` over HTTP; [`SimNet`] delivers them in memory, with
//! partitions, dropped message kinds and downed nodes, for tests without Docker.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A boxed future (so the traits below can be used as trait objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Answers peer messages; implemented by each design.
pub trait PeerHandler: Send + Sync + 'static {
    /// Handles message `kind` with `body`.
    fn handle(&self, kind: &str, body: Value) -> BoxFuture<'_, Result<Value, String>>;
}

/// Sends peer messages.
pub trait Transport: Send + Sync + 'static {
    /// Sends `kind` with `body` to peer `to` and waits for its answer.
    fn call(&self, to: &str, kind: &str, body: Value) -> BoxFuture<'_, Result<Value, String>>;

    /// As [`Transport::call`], waiting up to `timeout` instead of the transport's own
    /// (a forwarded client request may take as long as a client waits).
    fn call_within(&self, to: &str, kind: &str, body: Value, timeout: Duration) -> BoxFuture<'_, Result<Value, String>> {
        let _ = timeout;
        self.call(to, kind, body)
    }
}

/// Peer messages over HTTP (`POST http://<peer>/peer/<kind>`), with a timeout.
pub struct HttpTransport {
    client: Client<HttpConnector, Full<Bytes>>,
    addrs: HashMap<String, String>,
    timeout: Duration,
}

impl HttpTransport {
    /// A transport to the peers at `addrs` (name → `ip:port`).
    pub fn new(addrs: HashMap<String, String>, timeout: Duration) -> HttpTransport {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        HttpTransport { client: Client::builder(TokioExecutor::new()).build(connector), addrs, timeout }
    }
}

impl HttpTransport {
    /// Posts `body` to `path` on node `to`; a non-2xx answer is an error carrying its body.
    pub fn post(&self, to: &str, path: &str, body: Value) -> BoxFuture<'_, Result<Value, String>> {
        self.post_within(to, path, body, self.timeout)
    }

    /// As [`HttpTransport::post`], giving up after `timeout`.
    pub fn post_within(&self, to: &str, path: &str, body: Value, timeout: Duration) -> BoxFuture<'_, Result<Value, String>> {
        let url = self.addrs.get(to).map(|a| format!("http://{a}{path}"));
        Box::pin(async move {
            let url = url.ok_or("unknown peer")?;
            let request = hyper::Request::post(&url)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body.to_string())))
                .map_err(|e| e.to_string())?;
            let exchange = async {
                let response = self.client.request(request).await.map_err(|e| e.to_string())?;
                let ok = response.status().is_success();
                let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
                let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
                if ok {
                    Ok(v)
                } else {
                    Err(v.to_string())
                }
            };
            tokio::time::timeout(timeout, exchange).await.map_err(|_| format!("{url}: timed out"))?
        })
    }
}

impl Transport for HttpTransport {
    fn call(&self, to: &str, kind: &str, body: Value) -> BoxFuture<'_, Result<Value, String>> {
        self.post(to, &format!("/peer/{kind}"), body)
    }

    fn call_within(&self, to: &str, kind: &str, body: Value, timeout: Duration) -> BoxFuture<'_, Result<Value, String>> {
        self.post_within(to, &format!("/peer/{kind}"), body, timeout)
    }
}

/// An in-memory network of nodes for tests: messages are delivered by calling the
/// target's handler, unless a partition, a dropped kind or a downed node stops them.
#[derive(Default)]
pub struct SimNet {
    state: Mutex<SimState>,
}

#[derive(Default)]
struct SimState {
    handlers: HashMap<String, Arc<dyn PeerHandler>>,
    down: HashSet<String>,
    cut: HashSet<(String, String)>,
    dropped: HashSet<(String, String, String)>,
}

impl SimNet {
    /// A new, empty network.
    pub fn new() -> Arc<SimNet> {
        Arc::new(SimNet::default())
    }

    /// Connects (or replaces, after a restart) the node `name`.
    pub fn register(&self, name: &str, handler: Arc<dyn PeerHandler>) {
        let mut s = self.lock();
        s.handlers.insert(name.to_owned(), handler);
        s.down.remove(name);
    }

    /// Takes a node down (its messages and messages to it fail) or brings it back.
    pub fn set_down(&self, name: &str, down: bool) {
        let mut s = self.lock();
        if down {
            s.down.insert(name.to_owned());
        } else {
            s.down.remove(name);
        }
    }

    /// Cuts the link between `a` and `b`, both ways.
    pub fn cut(&self, a: &str, b: &str) {
        let mut s = self.lock();
        s.cut.insert((a.to_owned(), b.to_owned()));
        s.cut.insert((b.to_owned(), a.to_owned()));
    }

    /// Drops messages of `kind` from `from` to `to`.
    pub fn drop_kind(&self, from: &str, to: &str, kind: &str) {
        self.lock().dropped.insert((from.to_owned(), to.to_owned(), kind.to_owned()));
    }

    /// Removes every cut and dropped kind.
    pub fn heal(&self) {
        let mut s = self.lock();
        s.cut.clear();
        s.dropped.clear();
    }

    /// The transport node `from` uses.
    pub fn transport(self: &Arc<Self>, from: &str) -> SimTransport {
        SimTransport { net: Arc::clone(self), from: from.to_owned() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn route(&self, from: &str, to: &str, kind: &str) -> Option<Arc<dyn PeerHandler>> {
        let s = self.lock();
        let blocked = s.down.contains(from)
            || s.down.contains(to)
            || s.cut.contains(&(from.to_owned(), to.to_owned()))
            || s.dropped.contains(&(from.to_owned(), to.to_owned(), kind.to_owned()));
        if blocked {
            None
        } else {
            s.handlers.get(to).cloned()
        }
    }
}

/// One node's view of a [`SimNet`].
pub struct SimTransport {
    net: Arc<SimNet>,
    from: String,
}

impl Transport for SimTransport {
    fn call(&self, to: &str, kind: &str, body: Value) -> BoxFuture<'_, Result<Value, String>> {
        let handler = self.net.route(&self.from, to, kind);
        let kind = kind.to_owned();
        let to = to.to_owned();
        Box::pin(async move {
            tokio::task::yield_now().await;
            match handler {
                Some(h) => h.handle(&kind, body).await,
                None => {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    Err(format!("{to} unreachable"))
                }
            }
        })
    }
}
