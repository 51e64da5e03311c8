//! A Dynamo node: replica for the keys the ring gives it, coordinator for any key.

use crate::cell::{Add, Cell, Register, Resolution, Stamp};
use crate::ring::Ring;
use crate::{Knobs, ReadRepair};
use node_common::api::{per_micro_op, MicroOp, NodeError, TxnRequest};
use node_common::config::NodeOptions;
use node_common::server::Design;
use node_common::storage::KeyedStore;
use node_common::transport::{BoxFuture, PeerHandler, Transport};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// How to start a node.
#[derive(Debug, Clone)]
pub struct Options {
    /// Name, peers, data directory (its bugs are already in the knobs).
    pub node: NodeOptions,
    /// The design's knobs.
    pub knobs: Knobs,
    /// Added to the wall clock, for in-process tests (in Docker, libfaketime skews it).
    pub clock_skew_ms: i64,
}

/// A replica's state.
struct Replica {
    stopped: bool,
    data: KeyedStore<Cell>,
    /// Writes held for an unreachable home replica, keyed `home \0 key`.
    hints: KeyedStore<Cell>,
    /// A counter bumped by every change, the version each key last changed at, and
    /// per peer the version anti-entropy last delivered.
    version: u64,
    changed: HashMap<String, u64>,
    delivered: HashMap<String, u64>,
}

/// A Dynamo node.
pub struct Dynamo {
    name: String,
    ring: Ring,
    knobs: Knobs,
    transport: Arc<dyn Transport>,
    replica: Mutex<Replica>,
    seq: AtomicU64,
    clock_skew_ns: i64,
    me: Weak<Dynamo>,
}

impl Dynamo {
    /// Starts a node: recovers its data and hints, starts hinted handoff and
    /// anti-entropy.
    pub fn start(opts: Options, transport: Arc<dyn Transport>) -> std::io::Result<Arc<Dynamo>> {
        let node = &opts.node;
        node.index()?;
        if opts.knobs.n > node.nodes.len() {
            return Err(std::io::Error::other(format!("n={} is more than the {} nodes", opts.knobs.n, node.nodes.len())));
        }
        let data: KeyedStore<Cell> = KeyedStore::open(&node.data, "data", node.lose_unsynced, true)?;
        let hints = KeyedStore::open(&node.data, "hints", node.lose_unsynced, true)?;
        let changed = data.iter().map(|(k, _)| (k.clone(), 1)).collect();
        let node = Arc::new_cyclic(|me| Dynamo {
            ring: Ring::new(&opts.node.nodes),
            name: opts.node.name,
            knobs: opts.knobs,
            transport,
            replica: Mutex::new(Replica { stopped: false, data, hints, version: 1, changed, delivered: HashMap::new() }),
            seq: AtomicU64::new(0),
            clock_skew_ns: opts.clock_skew_ms.saturating_mul(1_000_000),
            me: me.clone(),
        });
        tokio::spawn(background(Arc::downgrade(&node)));
        Ok(node)
    }

    fn lock(&self) -> MutexGuard<'_, Replica> {
        self.replica.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live(&self) -> Result<MutexGuard<'_, Replica>, String> {
        let r = self.lock();
        if r.stopped {
            return Err(format!("{} is stopped", self.name));
        }
        Ok(r)
    }

    fn stamp(&self) -> Stamp {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
        let ts = now.saturating_add(self.clock_skew_ns).max(0) as u64;
        Stamp { ts, node: self.name.clone(), seq: self.seq.fetch_add(1, Ordering::Relaxed) }
    }

    // ---- replica side ----

    /// Merges a cell into this replica's data (or its hints for `home`), durably.
    fn store(&self, key: &str, cell: &Cell, hint: Option<&str>) -> Result<(), String> {
        let mut r = self.live()?;
        let r = &mut *r;
        let (store, id) = match hint {
            Some(home) => (&mut r.hints, format!("{home}\0{key}")),
            None => (&mut r.data, key.to_owned()),
        };
        let mut merged = store.get(&id).cloned().unwrap_or_default();
        if merged.merge(cell, self.knobs.resolution) {
            store.put(&id, merged, true).map_err(|e| format!("cannot persist {key}: {e}"))?;
            if hint.is_none() {
                r.version += 1;
                r.changed.insert(key.to_owned(), r.version);
            }
        }
        Ok(())
    }

    /// This replica's cell for `key`, with any hinted writes it holds for it.
    fn fetch(&self, key: &str) -> Result<Cell, String> {
        let r = self.live()?;
        let mut cell = r.data.get(key).cloned().unwrap_or_default();
        for (id, hinted) in r.hints.iter() {
            if id.split_once('\0').is_some_and(|(_, k)| k == key) {
                cell.merge(hinted, self.knobs.resolution);
            }
        }
        Ok(cell)
    }

    // ---- coordinator side ----

    async fn call(&self, node: &str, kind: &str, body: Value) -> Result<Value, String> {
        match self.me.upgrade() {
            Some(me) if node == self.name => me.handle(kind, body).await,
            _ => self.transport.call(node, kind, body).await,
        }
    }

    /// Reads `key` from its home replicas until R answer (then fallbacks, with a sloppy
    /// quorum); merges the answers and repairs stale replicas as configured.
    async fn quorum_read(&self, key: &str) -> Result<Cell, NodeError> {
        let walk = self.ring.walk(key);
        let (home, fallbacks) = walk.split_at(self.knobs.n);
        let mut answers = self.gather(home, "get", json!({"key": key}), self.knobs.r).await;
        if self.knobs.sloppy_quorum {
            for node in fallbacks {
                if answers.len() >= self.knobs.r {
                    break;
                }
                if let Ok(v) = self.call(node, "get", json!({"key": key})).await {
                    answers.push((node.to_string(), v));
                }
            }
        }
        if answers.len() < self.knobs.r {
            return Err(NodeError::definite("unavailable", format!("{} of {} replicas answered a read of {key}; r={}", answers.len(), self.knobs.n, self.knobs.r)));
        }
        let cells: Vec<(String, Cell)> = answers.into_iter().filter_map(|(n, v)| serde_json::from_value(v["cell"].clone()).ok().map(|c| (n, c))).collect();
        let mut merged = Cell::default();
        for (_, c) in &cells {
            merged.merge(c, self.knobs.resolution);
        }
        let stale: Vec<String> = cells.iter().filter(|(_, c)| *c != merged).map(|(n, _)| n.clone()).collect();
        if !stale.is_empty() {
            let body = json!({"key": key, "cell": merged});
            match self.knobs.read_repair {
                ReadRepair::Blocking => {
                    for n in &stale {
                        let _ = self.call(n, "put", body.clone()).await;
                    }
                }
                ReadRepair::Async => {
                    for n in stale {
                        let (transport, body) = (self.transport.clone(), body.clone());
                        tokio::spawn(async move { transport.call(&n, "put", body).await });
                    }
                }
                ReadRepair::Off => {}
            }
        }
        Ok(merged)
    }

    /// Sends `kind` to every node of `nodes` at once (each in its own task, so a slow
    /// replica still gets it) and returns the first `need` answers.
    async fn gather(&self, nodes: &[&str], kind: &str, body: Value, need: usize) -> Vec<(String, Value)> {
        let (tx, mut rx) = mpsc::channel(nodes.len().max(1));
        for node in nodes {
            let (tx, node, kind, body, me) = (tx.clone(), node.to_string(), kind.to_owned(), body.clone(), self.me.clone());
            tokio::spawn(async move {
                let Some(me) = me.upgrade() else { return };
                let answer = me.call(&node, &kind, body).await;
                let _ = tx.send((node, answer)).await;
            });
        }
        drop(tx);
        let mut ok = Vec::new();
        while ok.len() < need {
            match rx.recv().await {
                Some((node, Ok(v))) => ok.push((node, v)),
                Some((_, Err(_))) => {}
                None => break,
            }
        }
        ok
    }

    /// Writes a cell for `key` to its home replicas until W acknowledge (then to
    /// fallbacks with a hint naming the home replica, with a sloppy quorum).
    async fn quorum_write(&self, key: &str, cell: Cell) -> Result<(), NodeError> {
        let walk = self.ring.walk(key);
        let (home, fallbacks) = walk.split_at(self.knobs.n);
        let body = json!({"key": key, "cell": cell});
        let acked = self.gather(home, "put", body.clone(), self.knobs.w).await;
        let mut count = acked.len();
        if self.knobs.sloppy_quorum && count < self.knobs.w {
            let missing: Vec<&str> = home.iter().copied().filter(|h| !acked.iter().any(|(n, _)| n == h)).collect();
            for (fallback, home) in fallbacks.iter().zip(missing) {
                if count >= self.knobs.w {
                    break;
                }
                if self.call(fallback, "put", json!({"key": key, "cell": cell, "hint": home})).await.is_ok() {
                    count += 1;
                }
            }
        }
        if count < self.knobs.w {
            return Err(NodeError::indefinite("write-unconfirmed", format!("{count} of {} replicas acknowledged a write of {key}; w={}", self.knobs.n, self.knobs.w)));
        }
        Ok(())
    }

    /// Runs one micro-op as quorum reads and writes.
    async fn execute(&self, op: &MicroOp) -> Result<Value, NodeError> {
        let key = op.key();
        match op {
            MicroOp::Read(_) => Ok(json!(["r", key, self.quorum_read(key).await?.value()])),
            MicroOp::Append(_, v) if !self.knobs.rmw => {
                self.quorum_write(key, Cell { reg: None, adds: vec![(self.stamp(), Add::Append(v.clone()))] }).await?;
                Ok(op.apply(&Value::Null)?.1)
            }
            MicroOp::Incr(_, d) if !self.knobs.rmw => {
                self.quorum_write(key, Cell { reg: None, adds: vec![(self.stamp(), Add::Incr(*d))] }).await?;
                Ok(json!(["incr", key, null]))
            }
            MicroOp::Write(_, v) if self.knobs.resolution == Resolution::Lww => {
                self.write_register(key, v.clone(), Default::default()).await?;
                Ok(op.apply(&Value::Null)?.1)
            }
            // Read first: cas and read-modify-write need the value, version vectors the
            // causal context.
            _ => {
                let current = self.quorum_read(key).await?;
                let (value, result) = op.apply(&current.value())?;
                self.write_register(key, value, current.vv()).await?;
                Ok(result)
            }
        }
    }

    async fn write_register(&self, key: &str, value: Value, mut vv: std::collections::BTreeMap<String, u64>) -> Result<(), NodeError> {
        let stamp = self.stamp();
        *vv.entry(self.name.clone()).or_insert(0) += 1;
        self.quorum_write(key, Cell { reg: Some(Register { stamp, vv, value }), adds: Vec::new() }).await
    }

    // ---- background ----

    /// Hands hinted writes to their home replicas once reachable.
    async fn hand_off(&self) {
        let hints: Vec<(String, Cell)> = match self.live() {
            Ok(r) => r.hints.iter().map(|(k, c)| (k.clone(), c.clone())).collect(),
            Err(_) => return,
        };
        for (id, cell) in hints {
            let Some((home, key)) = id.split_once('\0') else { continue };
            if self.call(home, "put", json!({"key": key, "cell": cell})).await.is_ok() {
                if let Ok(mut r) = self.live() {
                    if r.hints.get(&id) == Some(&cell) {
                        let _ = r.hints.remove(&id, true);
                    }
                }
            }
        }
    }

    /// Anti-entropy: sends each peer the cells changed since its last delivery, for the
    /// keys both replicate.
    async fn anti_entropy(&self) {
        for peer in self.ring.walk("").into_iter().filter(|p| *p != self.name) {
            let (batch, version) = match self.live() {
                Ok(r) => {
                    let since = r.delivered.get(peer).copied().unwrap_or(0);
                    let batch: Vec<(String, Cell)> = r
                        .changed
                        .iter()
                        .filter(|(k, v)| **v > since && self.ring.walk(k)[..self.knobs.n].contains(&peer))
                        .filter_map(|(k, _)| r.data.get(k).map(|c| (k.clone(), c.clone())))
                        .collect();
                    (batch, r.version)
                }
                Err(_) => return,
            };
            if batch.is_empty() || self.transport.call(peer, "sync", json!({ "cells": batch })).await.is_ok() {
                if let Ok(mut r) = self.live() {
                    r.delivered.insert(peer.to_owned(), version);
                }
            }
        }
    }
}

async fn background(me: Weak<Dynamo>) {
    let mut since_sync = Duration::ZERO;
    let tick = Duration::from_millis(100);
    loop {
        tokio::time::sleep(tick).await;
        let Some(node) = me.upgrade() else { return };
        if node.live().is_err() {
            return;
        }
        node.hand_off().await;
        since_sync += tick;
        if since_sync >= node.knobs.anti_entropy {
            since_sync = Duration::ZERO;
            node.anti_entropy().await;
        }
    }
}

impl PeerHandler for Dynamo {
    fn handle(&self, kind: &str, body: Value) -> BoxFuture<'_, Result<Value, String>> {
        let kind = kind.to_owned();
        Box::pin(async move {
            let cell = |v: &Value| serde_json::from_value::<Cell>(v.clone()).map_err(|e| format!("malformed cell: {e}"));
            match kind.as_str() {
                "get" => {
                    let key = body["key"].as_str().ok_or("get without a key")?;
                    Ok(json!({ "cell": self.fetch(key)? }))
                }
                "put" => {
                    let key = body["key"].as_str().ok_or("put without a key")?;
                    self.store(key, &cell(&body["cell"])?, body["hint"].as_str())?;
                    Ok(json!({"ok": true}))
                }
                "sync" => {
                    for pair in body["cells"].as_array().ok_or("sync without cells")? {
                        let key = pair[0].as_str().ok_or("sync entry without a key")?;
                        self.store(key, &cell(&pair[1])?, None)?;
                    }
                    Ok(json!({"ok": true}))
                }
                other => Err(format!("unknown message {other}")),
            }
        })
    }
}

impl Design for Dynamo {
    fn txn(&self, req: TxnRequest) -> BoxFuture<'_, Result<Vec<Value>, NodeError>> {
        Box::pin(async move { per_micro_op(&req.ops, |op| self.execute(op)).await })
    }

    fn status(&self) -> Value {
        let r = self.lock();
        let k = &self.knobs;
        json!({
            "node": self.name,
            "role": "replica-coordinator",
            "keys": r.data.len(),
            "hints": r.hints.len(),
            "n": k.n, "r": k.r, "w": k.w,
            "read_repair": format!("{:?}", k.read_repair).to_lowercase(),
            "sloppy_quorum": k.sloppy_quorum,
            "resolution": if k.resolution == Resolution::Lww { "lww" } else { "vv" },
            "rmw": k.rmw,
        })
    }

    fn stop(&self) {
        self.lock().stopped = true;
    }
}
