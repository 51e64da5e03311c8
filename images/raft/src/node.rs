//! The driver around [`Core`]: a thread that owns the core and does its IO.
//!
//! Every input — a client request, a peer's request, the reply to one of ours, time
//! passing — is a message on one channel to the node's event loop, a plain thread
//! (the leader's fsync never blocks the async runtime). The loop takes everything
//! waiting, steps the core with each, then calls [`Core::ready`] once: inputs that
//! arrived together share one fsync and one round of appends, which is where the
//! throughput comes from (docs/ARCHITECTURE.md §3). Network calls run as tasks on
//! the async runtime and come back as inputs.

use crate::core::{Bugs, Config, Core, Outgoing, Reply, Request, Role, Sent, Status, Timing, Token};
use crate::log::Command;
use crate::machine::Answer;
use crate::store::Store;
use node_common::api::{MicroOp, NodeError, TxnRequest};
use node_common::config::NodeOptions;
use node_common::server::Design;
use node_common::transport::{BoxFuture, PeerHandler, Transport};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The bugs this design can switch on (docs/ARCHITECTURE.md §4).
pub const BUGS: [&str; 8] = [
    "stale-follower-read",
    "stale-leader-read",
    "no-noop",
    "async-commit",
    "no-fsync",
    "forget-vote",
    "no-vote-restriction",
    "retry-without-session",
];

/// Knobs this design accepts (`--opt key=value`).
pub const KNOBS: [&str; 1] = ["forward"];

/// How to start a node.
#[derive(Debug, Clone)]
pub struct Options {
    /// Name, peers, data directory, bugs.
    pub node: NodeOptions,
    /// The clocks.
    pub timing: Timing,
    /// Followers forward client requests to the leader they know (as etcd does),
    /// instead of answering `not-leader`.
    pub forward: bool,
}

/// Where the event loop sends a client request.
enum Routed {
    /// Answered (at once or later).
    Done(Answer),
    /// Not the leader, forwarding on: send it to this leader.
    Forward(String, TxnRequest),
}

/// The event loop's inputs.
enum Input {
    /// A client transaction; `may_forward` is false for one forwarded to us.
    Client { req: TxnRequest, may_forward: bool, answer: oneshot::Sender<Routed> },
    /// A peer's request.
    Request { request: Request, answer: oneshot::Sender<Result<Reply, String>> },
    /// The reply to a request we sent (or `None`: no reply).
    Reply { peer: String, sent: Sent, reply: Option<Reply> },
    /// Stop: drop the core, write nothing more.
    Stop,
}

/// A Raft node: the channel to its event loop, and what `/status` shows.
pub struct Raft {
    name: String,
    request_timeout: Duration,
    inputs: mpsc::Sender<Input>,
    status: Arc<Mutex<Status>>,
    stopped: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    transport: Arc<dyn Transport>,
}

impl Raft {
    /// Starts a node: recovers its state from disk and starts its event loop. Must be
    /// called inside a tokio runtime (network calls run on it).
    pub fn start(opts: Options, transport: Arc<dyn Transport>) -> std::io::Result<Arc<Raft>> {
        let Options { node: opts, timing, forward } = opts;
        opts.index()?;
        let has = |bug: &str| opts.has_bug(bug);
        let (store, recovered) = Store::open(&opts.data, opts.lose_unsynced, !has("no-fsync"), !has("forget-vote"))?;
        let config = Config { name: opts.name.clone(), nodes: opts.nodes.clone(), timing: timing.clone(), bugs: Bugs::from(has), seed: rand::random() };
        let core = Core::new(config, store, recovered, !has("retry-without-session"), Instant::now());
        let status = Arc::new(Mutex::new(core.status()));
        let (inputs, rx) = mpsc::channel();
        let event_loop = EventLoop { core, forward, tokio: tokio::runtime::Handle::current(), transport: transport.clone(), peer_timeout: timing.peer, inputs: inputs.clone(), clients: HashMap::new(), next_token: 0, status: status.clone() };
        let thread = std::thread::Builder::new().name(format!("raft-{}", opts.name)).spawn(move || event_loop.run(rx))?;
        Ok(Arc::new(Raft { name: opts.name, request_timeout: timing.request, inputs, status, stopped: AtomicBool::new(false), thread: Mutex::new(Some(thread)), transport }))
    }

    /// Its role and term, and the leader it knows.
    pub fn role(&self) -> (Role, u64, Option<String>) {
        let s = self.lock_status();
        (s.role, s.term, s.leader.clone())
    }

    fn lock_status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    fn send(&self, input: Input) -> bool {
        !self.is_stopped() && self.inputs.send(input).is_ok()
    }

    /// Serves a client transaction here, or (when not leading, with forwarding on and
    /// `may_forward`) at the leader.
    async fn serve(&self, req: TxnRequest, may_forward: bool) -> Answer {
        let stopped = || NodeError::definite("unavailable", "the node is stopped");
        let (tx, rx) = oneshot::channel();
        if !self.send(Input::Client { req, may_forward, answer: tx }) {
            return Err(stopped());
        }
        // The core answers by its own deadline; this one only guards a loop that died.
        match tokio::time::timeout(self.request_timeout + Duration::from_secs(1), rx).await {
            Ok(Ok(Routed::Done(answer))) => answer,
            Ok(Ok(Routed::Forward(leader, req))) => self.forward_to(&leader, &req).await,
            Ok(Err(_)) => Err(NodeError::indefinite("unavailable", "the node stopped before answering; the request may have been applied")),
            Err(_) => Err(NodeError::indefinite("timeout", "no answer in time; it may still commit")),
        }
    }

    /// Sends a client request to `leader` and relays its answer. No answer means the
    /// request may or may not have been applied there: indefinite.
    async fn forward_to(&self, leader: &str, req: &TxnRequest) -> Answer {
        let body = json!({"client": req.client, "seq": req.seq, "ops": req.ops.iter().map(MicroOp::to_value).collect::<Vec<_>>()});
        let answer = self.transport.call_within(leader, "forward", body, self.request_timeout).await;
        match answer.map(serde_json::from_value::<Forwarded>) {
            Ok(Ok(Forwarded::Served { ops })) => Ok(ops),
            Ok(Ok(Forwarded::Refused { refused })) => Err(refused),
            Ok(Err(e)) => Err(NodeError::indefinite("forward-failed", format!("{leader} answered the forwarded request with something unreadable: {e}"))),
            Err(e) => Err(NodeError::indefinite("forward-failed", format!("no answer from the leader {leader}: {e}; the request may have been applied"))),
        }
    }

    /// Hands a peer's request to the event loop and waits for the core's reply.
    async fn peer_request(&self, request: Request) -> Result<Reply, String> {
        let (tx, rx) = oneshot::channel();
        if !self.send(Input::Request { request, answer: tx }) {
            return Err(format!("{} is stopped", self.name));
        }
        rx.await.map_err(|_| format!("{} stopped", self.name))?
    }
}

/// A leader's answer to a forwarded request.
#[derive(Deserialize)]
#[serde(untagged)]
enum Forwarded {
    Served { ops: Vec<Value> },
    Refused { refused: NodeError },
}

/// The thread that owns the core.
struct EventLoop {
    core: Core,
    forward: bool,
    tokio: tokio::runtime::Handle,
    transport: Arc<dyn Transport>,
    /// How long a request to a peer may go unanswered ([`Timing::peer`]).
    peer_timeout: Duration,
    /// For replies to come back as inputs.
    inputs: mpsc::Sender<Input>,
    /// Clients waiting for an answer, by token.
    clients: HashMap<Token, oneshot::Sender<Routed>>,
    next_token: Token,
    status: Arc<Mutex<Status>>,
}

/// Most inputs stepped before the core's output is flushed (bounds a client's wait
/// behind a flood of others).
const MOST_PER_ROUND: usize = 4096;

impl EventLoop {
    fn run(mut self, rx: mpsc::Receiver<Input>) {
        loop {
            let now = Instant::now();
            let wait = self.core.next_deadline(now).saturating_duration_since(now);
            match rx.recv_timeout(wait) {
                Ok(Input::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(input) => {
                    if !self.step(input) {
                        return;
                    }
                    for input in rx.try_iter().take(MOST_PER_ROUND) {
                        if !self.step(input) {
                            return;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            self.core.tick(now);
            let ready = self.core.ready(now);
            for (token, answer) in ready.answers {
                if let Some(client) = self.clients.remove(&token) {
                    let _ = client.send(Routed::Done(answer));
                }
            }
            for out in ready.messages {
                self.send(out);
            }
            *self.status.lock().unwrap_or_else(|p| p.into_inner()) = self.core.status();
        }
    }

    /// Steps the core with one input; false on `Stop`.
    fn step(&mut self, input: Input) -> bool {
        let now = Instant::now();
        match input {
            Input::Stop => return false,
            Input::Request { request, answer } => {
                let _ = answer.send(self.core.on_request(request, now));
            }
            Input::Reply { peer, sent, reply } => self.core.on_reply(&peer, sent, reply, now),
            Input::Client { req, may_forward, answer } => self.client(req, may_forward, answer, now),
        }
        true
    }

    fn client(&mut self, req: TxnRequest, may_forward: bool, answer: oneshot::Sender<Routed>, now: Instant) {
        let read_only = req.ops.iter().all(MicroOp::is_read);
        // The stale-read bugs serve locally whatever the role: forwarding does not
        // hide them.
        if read_only {
            if let Some(stale) = self.core.local_read(&req.ops) {
                let _ = answer.send(Routed::Done(stale));
                return;
            }
        }
        if may_forward && self.forward {
            if let Some(leader) = self.core.leader_elsewhere() {
                let _ = answer.send(Routed::Forward(leader.to_owned(), req));
                return;
            }
        }
        let token = self.next_token;
        self.next_token += 1;
        let started = if read_only {
            self.core.read(token, req.ops, now)
        } else {
            let cmd = Command::Txn { client: req.client, seq: req.seq, ops: req.ops.iter().map(MicroOp::to_value).collect() };
            self.core.propose(token, cmd, now)
        };
        match started {
            Ok(()) => {
                self.clients.insert(token, answer);
            }
            Err(e) => {
                let _ = answer.send(Routed::Done(Err(e)));
            }
        }
    }

    /// Sends one request on the runtime; its reply comes back as an input.
    fn send(&self, out: Outgoing) {
        let Outgoing { to, request, sent } = out;
        let (transport, inputs, timeout) = (self.transport.clone(), self.inputs.clone(), self.peer_timeout);
        self.tokio.spawn(async move {
            let body = match &request {
                Request::Append(r) => json!(r),
                Request::Vote(r) => json!(r),
                Request::Snapshot(r) => json!(r),
            };
            let reply = transport.call_within(&to, request.kind(), body, timeout).await.ok().and_then(|v| serde_json::from_value::<Reply>(v).ok());
            let _ = inputs.send(Input::Reply { peer: to, sent, reply });
        });
    }
}

impl PeerHandler for Raft {
    fn handle(&self, kind: &str, body: Value) -> BoxFuture<'_, Result<Value, String>> {
        let kind = kind.to_owned();
        Box::pin(async move {
            if self.is_stopped() {
                return Err(format!("{} is stopped", self.name));
            }
            let bad = |e: serde_json::Error| format!("malformed {kind} message: {e}");
            let request = match kind.as_str() {
                "vote" => Request::Vote(serde_json::from_value(body).map_err(bad)?),
                "append" => Request::Append(serde_json::from_value(body).map_err(bad)?),
                "snapshot" => Request::Snapshot(serde_json::from_value(body).map_err(bad)?),
                "forward" => {
                    // A follower's client request: served here, never forwarded again.
                    let req = node_common::api::parse_txn(&body)?;
                    return Ok(match self.serve(req, false).await {
                        Ok(ops) => json!({ "ops": ops }),
                        Err(e) => json!({ "refused": e }),
                    });
                }
                other => return Err(format!("unknown message {other}")),
            };
            Ok(json!(self.peer_request(request).await?))
        })
    }
}

impl Design for Raft {
    fn txn(&self, req: TxnRequest) -> BoxFuture<'_, Answer> {
        Box::pin(self.serve(req, true))
    }

    fn status(&self) -> Value {
        json!(*self.lock_status())
    }

    /// Stops the event loop and waits for it, so a stopped node writes nothing more to
    /// disk (its restarted successor owns the files).
    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let _ = self.inputs.send(Input::Stop);
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!("{}'s event loop panicked", self.name);
            }
        }
    }
}

impl Drop for Raft {
    fn drop(&mut self) {
        let _ = self.inputs.send(Input::Stop);
    }
}
