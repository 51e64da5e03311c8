//! CASPaxos: a leaderless, linearizable key-value store (docs/ARCHITECTURE.md §3).
//!
//! Every key is its own Synod instance. Any node proposes: a client operation becomes a
//! *change function* (write, cas, append, incr; a read is the identity) applied in one
//! round: **prepare** with a fresh ballot to every acceptor; on a majority of promises,
//! take the value accepted with the highest ballot, apply the change; **accept** the new
//! value with the same ballot; on a majority of acceptances the change is chosen. An
//! acceptor persists its promise and its accepted value before answering. A proposer that
//! meets a higher ballot fast-forwards its own. Failure before any accept was sent is
//! definite; an accept a majority did not confirm may still take effect, so it is not —
//! unless every acceptor refused it, in which case none holds the value, it can never
//! be chosen, and the proposer simply runs another round.
//!
//! A node runs one round at a time per key, for every micro-op waiting on that key: the
//! round applies their changes in turn to the value it found and accepts the result
//! (they were all pending together, so any order of them is linearizable). Without
//! that, every client thread ran its own round and concurrent proposers on a hot key
//! kept pre-empting each other: 0 of 5 acceptors accepted, most operations ended
//! `info` (docs/ARCHITECTURE.md §3). A multi-key transaction runs one round per
//! micro-op: it is not atomic.
//!
//! Each phase collects every acceptor's answer, waiting up to the peer timeout (the knob
//! `peer-timeout-ms`, 500 ms) for each: under a partition a round pays it for the
//! acceptors cut off at both phases.
//!
//! Bugs: `read-no-writeback` answers reads from the prepare phase without the accept
//! phase (a read can see a value no majority accepted, then an older one);
//! `volatile-acceptor` keeps acceptor state in memory only (a restarted acceptor forgets
//! its promises and accepted values, so two values can be chosen).

use node_common::api::{per_micro_op, MicroOp, NodeError, TxnRequest};
use node_common::config::NodeOptions;
use node_common::server::Design;
use node_common::storage::{GroupCommit, KeyedStore};
use node_common::transport::{BoxFuture, PeerHandler, Transport};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::oneshot;

/// The bugs this design can switch on.
pub const BUGS: [&str; 2] = ["read-no-writeback", "volatile-acceptor"];
/// The knobs it takes (`--opt key=value`): `peer-timeout-ms`, how long a proposer
/// waits for an acceptor's answer.
pub const KNOBS: [&str; 1] = ["peer-timeout-ms"];
/// How long a proposer waits for an acceptor's answer unless told otherwise.
pub const PEER_TIMEOUT: Duration = Duration::from_millis(500);

/// The peer timeout the knobs set (the last `peer-timeout-ms` given), or
/// [`PEER_TIMEOUT`].
pub fn peer_timeout(knobs: &[(String, String)]) -> Result<Duration, String> {
    match knobs.iter().rev().find(|(k, _)| k == "peer-timeout-ms") {
        None => Ok(PEER_TIMEOUT),
        Some((_, v)) => match v.parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
            _ => Err(format!("peer-timeout-ms is a number of milliseconds above 0, not {v:?}")),
        },
    }
}

/// Prepare attempts before giving up under contention.
const ATTEMPTS: u32 = 8;

/// A ballot: a round number, with the proposer's index to break ties.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ballot {
    /// The round.
    pub round: u64,
    /// The proposer's index (1-based; 0 for "never").
    pub node: u64,
}

/// One key's acceptor state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Slot {
    promised: Ballot,
    accepted: Ballot,
    value: Value,
}

/// The acceptor: per-key state, persisted before it answers (kept in memory only with
/// `volatile-acceptor`).
struct Acceptor {
    /// Set when the node is stopped (a crash in tests): it answers nothing more.
    stopped: bool,
    slots: KeyedStore<Slot>,
}

/// What a micro-op's round answers.
type Outcome = Result<Value, NodeError>;

/// The micro-ops waiting on one key for this node's next round, and whether a round
/// on the key is running.
#[derive(Default)]
struct KeyQueue {
    waiting: Vec<(MicroOp, oneshot::Sender<Outcome>)>,
    running: bool,
}

/// A CASPaxos node: acceptor and proposer.
pub struct CasPaxos {
    name: String,
    index: u64,
    nodes: Vec<String>,
    transport: Arc<dyn Transport>,
    acceptor: Mutex<Acceptor>,
    round: AtomicU64,
    group_commit: GroupCommit,
    read_no_writeback: bool,
    /// How long a round waits for each acceptor: a cut-off acceptor costs a round this
    /// much, since a round collects every answer (it may pre-empt a rival meanwhile).
    peer_timeout: Duration,
    queues: Mutex<HashMap<String, KeyQueue>>,
    /// Rounds run as tasks of their own, which hold the node.
    me: Weak<CasPaxos>,
}

impl CasPaxos {
    /// Starts a node, recovering its acceptor state from disk; its rounds wait up to
    /// `peer_timeout` for each acceptor.
    pub fn open(opts: NodeOptions, transport: Arc<dyn Transport>, peer_timeout: Duration) -> std::io::Result<Arc<CasPaxos>> {
        let index = opts.index()? as u64 + 1;
        let volatile = opts.has_bug("volatile-acceptor");
        let read_no_writeback = opts.has_bug("read-no-writeback");
        let slots: KeyedStore<Slot> = KeyedStore::open(&opts.data, "acceptor", opts.lose_unsynced, !volatile)?;
        let round = slots.iter().map(|(_, s)| s.promised.round.max(s.accepted.round)).max().unwrap_or(0);
        Ok(Arc::new_cyclic(|me| CasPaxos {
            name: opts.name,
            index,
            nodes: opts.nodes,
            transport,
            acceptor: Mutex::new(Acceptor { stopped: false, slots }),
            round: AtomicU64::new(round),
            group_commit: GroupCommit::default(),
            read_no_writeback,
            peer_timeout,
            queues: Mutex::new(HashMap::new()),
            me: me.clone(),
        }))
    }

    fn acceptor(&self) -> std::sync::MutexGuard<'_, Acceptor> {
        self.acceptor.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The acceptor, unless the node was stopped.
    fn live_acceptor(&self) -> Result<std::sync::MutexGuard<'_, Acceptor>, String> {
        let a = self.acceptor();
        if a.stopped {
            return Err(format!("{} is stopped", self.name));
        }
        Ok(a)
    }

    /// Phase 1 at this acceptor: the answer, and the ticket of the state change that
    /// must be durable before it is sent.
    fn prepare(&self, key: &str, ballot: Ballot) -> Result<(Value, u64), String> {
        let mut a = self.live_acceptor()?;
        let mut slot = a.slots.get(key).cloned().unwrap_or_default();
        if ballot > slot.promised && ballot > slot.accepted {
            slot.promised = ballot;
            let answer = json!({"ok": true, "accepted": slot.accepted, "value": slot.value});
            let ticket = a.slots.put(key, slot, false).map_err(|e| format!("persisting acceptor state: {e}"))?;
            Ok((answer, ticket))
        } else {
            Ok((json!({"ok": false, "promised": slot.promised.max(slot.accepted)}), 0))
        }
    }

    /// Phase 2 at this acceptor (answer and ticket, as for [`CasPaxos::prepare`]).
    fn accept(&self, key: &str, ballot: Ballot, value: Value) -> Result<(Value, u64), String> {
        let mut a = self.live_acceptor()?;
        let slot = a.slots.get(key).cloned().unwrap_or_default();
        if ballot >= slot.promised && ballot > slot.accepted {
            let ticket = a.slots.put(key, Slot { promised: ballot, accepted: ballot, value }, false).map_err(|e| format!("persisting acceptor state: {e}"))?;
            Ok((json!({"ok": true}), ticket))
        } else {
            Ok((json!({"ok": false, "promised": slot.promised.max(slot.accepted)}), 0))
        }
    }

    /// Sends a message to every node (this one directly) and collects the answers.
    async fn broadcast(&self, kind: &str, body: Value) -> Vec<Value> {
        let calls = self.nodes.iter().map(|n| {
            let body = body.clone();
            async move {
                if *n == self.name {
                    self.handle(kind, body).await
                } else {
                    self.transport.call_within(n, kind, body, self.peer_timeout).await
                }
            }
        });
        futures_util::future::join_all(calls).await.into_iter().filter_map(Result::ok).collect()
    }

    /// Runs one micro-op in this node's next round on its key.
    pub async fn execute(&self, op: &MicroOp) -> Outcome {
        let (tx, rx) = oneshot::channel();
        let key = op.key().to_owned();
        let start = {
            let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
            let q = queues.entry(key.clone()).or_default();
            q.waiting.push((op.clone(), tx));
            !std::mem::replace(&mut q.running, true)
        };
        if start {
            if let Some(me) = self.me.upgrade() {
                tokio::spawn(async move { me.drain(key).await });
            }
        }
        rx.await.unwrap_or_else(|_| Err(NodeError::indefinite("stopped", "the node stopped during the round; it may have taken effect")))
    }

    /// Runs rounds on `key` while micro-ops wait for one.
    async fn drain(&self, key: String) {
        loop {
            let batch = {
                let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
                let Some(q) = queues.get_mut(&key) else { return };
                if q.waiting.is_empty() {
                    queues.remove(&key);
                    return;
                }
                std::mem::take(&mut q.waiting)
            };
            let (ops, answers): (Vec<MicroOp>, Vec<_>) = batch.into_iter().unzip();
            for (answer, outcome) in answers.into_iter().zip(self.round(&key, &ops).await) {
                let _ = answer.send(outcome);
            }
        }
    }

    /// One CASPaxos round on `key` that applies `ops` in turn, retried (up to
    /// [`ATTEMPTS`]) while it is pre-empted before anything was accepted anywhere.
    async fn round(&self, key: &str, ops: &[MicroOp]) -> Vec<Outcome> {
        let majority = self.nodes.len() / 2 + 1;
        let every = |e: NodeError| vec![Err(e); ops.len()];
        for attempt in 1..=ATTEMPTS {
            // Random and exponential: a proposer that fast-forwards its ballot and comes
            // straight back pre-empts the one that beat it, and the two duel on.
            let backoff = || Duration::from_millis(rand::thread_rng().gen_range(1..=4u64 << attempt.min(7)));
            let ballot = Ballot { round: self.round.fetch_add(1, Ordering::SeqCst) + 1, node: self.index };
            let answers = self.broadcast("prepare", json!({"key": key, "ballot": ballot})).await;
            let mut promises: Vec<(Ballot, Value)> = Vec::new();
            let mut conflict = 0;
            for a in answers {
                if a["ok"] == true {
                    promises.push((serde_json::from_value(a["accepted"].clone()).unwrap_or_default(), a["value"].clone()));
                } else if let Ok(b) = serde_json::from_value::<Ballot>(a["promised"].clone()) {
                    conflict = conflict.max(b.round);
                }
            }
            self.round.fetch_max(conflict, Ordering::SeqCst);
            if promises.len() < majority {
                if conflict > 0 && attempt < ATTEMPTS {
                    tokio::time::sleep(backoff()).await;
                    continue;
                }
                return every(NodeError::definite("unavailable", format!("{} of {} acceptors promised for key {key}", promises.len(), self.nodes.len())));
            }
            let mut value = promises.into_iter().max_by_key(|(b, _)| *b).map(|(_, v)| v).unwrap_or(Value::Null);
            let outcomes: Vec<Outcome> = ops
                .iter()
                .map(|op| {
                    let (next, result) = op.apply(&value)?;
                    value = next;
                    Ok(result)
                })
                .collect();
            if self.read_no_writeback && ops.iter().all(MicroOp::is_read) {
                return outcomes;
            }
            let answers = self.broadcast("accept", json!({"key": key, "ballot": ballot, "value": value})).await;
            let accepted = answers.iter().filter(|a| a["ok"] == true).count();
            if accepted >= majority {
                return outcomes;
            }
            if accepted == 0 && answers.len() == self.nodes.len() && attempt < ATTEMPTS {
                // Every acceptor refused: none holds the value, so it can never be
                // chosen, and another round is as if this one never happened.
                tokio::time::sleep(backoff()).await;
                continue;
            }
            // What the round read may not be what was chosen either: nothing is certain.
            return every(NodeError::indefinite("accept-unconfirmed", format!("{accepted} of {} acceptors accepted for key {key}", self.nodes.len())));
        }
        every(NodeError::definite("contention", format!("no ballot won key {key} in {ATTEMPTS} attempts")))
    }
}

impl PeerHandler for CasPaxos {
    fn handle(&self, kind: &str, body: Value) -> BoxFuture<'_, Result<Value, String>> {
        let kind = kind.to_owned();
        Box::pin(async move {
            let key = body["key"].as_str().ok_or("message has no key")?.to_owned();
            let ballot: Ballot = serde_json::from_value(body["ballot"].clone()).map_err(|e| format!("bad ballot: {e}"))?;
            let (answer, ticket) = match kind.as_str() {
                "prepare" => self.prepare(&key, ballot)?,
                "accept" => self.accept(&key, ballot, body["value"].clone())?,
                other => return Err(format!("unknown message {other}")),
            };
            // Persisted before answering: one fsync for every change made meanwhile.
            let begin = || self.live_acceptor().map_err(std::io::Error::other)?.slots.begin_sync();
            let finish = |done| self.live_acceptor().map_err(std::io::Error::other)?.slots.finish_sync(done);
            self.group_commit.wait(ticket, begin, finish).await.map_err(|e| format!("persisting acceptor state: {e}"))?;
            Ok(answer)
        })
    }
}

impl Design for CasPaxos {
    fn txn(&self, req: TxnRequest) -> BoxFuture<'_, Result<Vec<Value>, NodeError>> {
        Box::pin(async move { per_micro_op(&req.ops, |op| self.execute(op)).await })
    }

    fn status(&self) -> Value {
        let a = self.acceptor();
        json!({
            "node": self.name,
            "role": "acceptor-proposer",
            "keys": a.slots.len(),
            "round": self.round.load(Ordering::SeqCst),
            "durable": a.slots.is_durable(),
        })
    }

    fn stop(&self) {
        self.acceptor().stopped = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_timeout_is_the_last_knob_given_or_500_ms() {
        let knobs = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert_eq!(peer_timeout(&[]), Ok(Duration::from_millis(500)));
        assert_eq!(peer_timeout(&knobs(&[("peer-timeout-ms", "300"), ("peer-timeout-ms", "200")])), Ok(Duration::from_millis(200)));
        for bad in ["0", "fast", "-5"] {
            assert!(peer_timeout(&knobs(&[("peer-timeout-ms", bad)])).unwrap_err().contains(bad), "{bad}");
        }
    }
}
