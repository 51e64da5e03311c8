//! Executing fault operations against a cluster, and healing everything at the end.

use crate::catalogue::FaultKind;
use crate::grudge::{self, Grudge};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// A boxed future, so a cluster can be a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the nemesis needs from a cluster. Errors say what failed, in words.
pub trait ClusterControl: Send + Sync {
    /// The nodes' names.
    fn nodes(&self) -> Vec<String>;
    /// Whether this cluster can do faults of `kind`; if not, why.
    fn supports(&self, kind: FaultKind) -> Result<(), String>;
    /// Replaces every network fault by `grudge` plus random loss of the given share of
    /// incoming packets per node.
    fn set_network<'a>(&'a self, grudge: &'a Grudge, loss_percent: &'a BTreeMap<String, u32>) -> BoxFuture<'a, Result<(), String>>;
    /// SIGKILLs a node's process.
    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// Starts a killed node again (its files kept).
    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// Freezes or thaws a node.
    fn pause<'a>(&'a self, node: &'a str, paused: bool) -> BoxFuture<'a, Result<(), String>>;
    /// Sets a node's wall-clock offset, in seconds.
    fn set_clock<'a>(&'a self, node: &'a str, offset_s: i64) -> BoxFuture<'a, Result<(), String>>;
    /// The node that says it leads the highest term, if any.
    fn leader(&self) -> BoxFuture<'_, Option<String>>;
}

/// What is currently broken.
#[derive(Debug, Default)]
struct Faults {
    grudge: Grudge,
    loss: BTreeMap<String, u32>,
    killed: BTreeSet<String>,
    paused: BTreeSet<String>,
    skewed: BTreeSet<String>,
    /// Clock strobes running; `stop-clock` ends them.
    strobes: Vec<tokio::task::JoinHandle<()>>,
}

/// Runs fault operations and remembers what it broke, so `stop-*` and
/// [`Executor::heal_all`] undo exactly that.
pub struct Executor {
    control: Arc<dyn ClusterControl>,
    faults: Mutex<Faults>,
}

impl Executor {
    /// An executor for `control`; refuses kinds the cluster cannot do.
    pub fn new(control: Arc<dyn ClusterControl>, kinds: &[FaultKind]) -> Result<Executor, String> {
        for kind in kinds {
            control.supports(*kind).map_err(|why| format!("the {kind} fault cannot run here: {why}"))?;
        }
        Ok(Executor { control, faults: Mutex::new(Faults::default()) })
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The nodes a start operation names, or the leader it asks for.
    async fn targets(&self, value: &Value) -> Result<Vec<String>, String> {
        match value["target"].as_str() {
            Some("leader") => self.control.leader().await.map(|l| vec![l]).ok_or_else(|| "no node leads right now".to_owned()),
            Some("explicit") => {
                let nodes = self.control.nodes();
                let named: Vec<String> = value["nodes"].as_array().into_iter().flatten().filter_map(|n| n.as_str().map(str::to_owned)).collect();
                match named.iter().find(|n| !nodes.contains(n)) {
                    Some(n) => Err(format!("{n} is not a node of this cluster")),
                    None => Ok(named),
                }
            }
            Some("one-alive") => {
                let killed = self.faults().killed.clone();
                self.control.nodes().into_iter().find(|n| !killed.contains(n)).map(|n| vec![n]).ok_or_else(|| "every node is down".to_owned())
            }
            _ => value["nodes"].as_array().map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect()).ok_or_else(|| format!("no targets in {value}")),
        }
    }

    async fn apply_network(&self) -> Result<(), String> {
        let (grudge, loss) = {
            let f = self.faults();
            (f.grudge.clone(), f.loss.clone())
        };
        self.control.set_network(&grudge, &loss).await
    }

    /// Runs one fault operation; answers what was done (for the history).
    pub async fn execute(&self, f: &str, value: &Value) -> Result<Value, String> {
        match f {
            "start-partition" => {
                let grudge: Grudge = match value["shape"].as_str() {
                    Some("isolate-leader") => {
                        let leader = self.targets(&json!({"target": "leader"})).await?.remove(0);
                        grudge::isolate(&leader, &self.control.nodes())
                    }
                    _ => serde_json::from_value(value["grudge"].clone()).map_err(|e| format!("bad grudge in {value}: {e}"))?,
                };
                self.faults().grudge = grudge.clone();
                self.apply_network().await?;
                Ok(json!({"shape": value["shape"], "grudge": grudge}))
            }
            "stop-partition" => {
                self.faults().grudge.clear();
                self.apply_network().await?;
                Ok(json!("network healed"))
            }
            "start-packet" => {
                let targets = self.targets(value).await?;
                let percent = value["loss_percent"].as_u64().unwrap_or(20) as u32;
                self.faults().loss.extend(targets.iter().map(|t| (t.clone(), percent)));
                self.apply_network().await?;
                Ok(json!({"nodes": targets, "loss_percent": percent}))
            }
            "stop-packet" => {
                self.faults().loss.clear();
                self.apply_network().await?;
                Ok(json!("packet loss cleared"))
            }
            "start-kill" => {
                let targets = self.targets(value).await?;
                for t in &targets {
                    self.control.kill(t).await?;
                    self.faults().killed.insert(t.clone());
                }
                Ok(json!({"killed": targets}))
            }
            "stop-kill" => {
                let killed = std::mem::take(&mut self.faults().killed);
                for t in &killed {
                    self.control.start(t).await?;
                }
                Ok(json!({"restarted": killed}))
            }
            "bounce" => {
                let targets = self.targets(value).await?;
                for t in &targets {
                    self.control.kill(t).await?;
                    self.control.start(t).await?;
                }
                Ok(json!({"bounced": targets}))
            }
            "start-pause" => {
                let targets = self.targets(value).await?;
                for t in &targets {
                    self.control.pause(t, true).await?;
                    self.faults().paused.insert(t.clone());
                }
                Ok(json!({"paused": targets}))
            }
            "stop-pause" => {
                let paused = std::mem::take(&mut self.faults().paused);
                for t in &paused {
                    self.control.pause(t, false).await?;
                }
                Ok(json!({"resumed": paused}))
            }
            "start-clock" => {
                let targets = self.targets(value).await?;
                let offset = value["offset_s"].as_i64().unwrap_or(30);
                for t in &targets {
                    self.control.set_clock(t, offset).await?;
                    self.faults().skewed.insert(t.clone());
                }
                if let Some(period) = value["strobe_ms"].as_u64() {
                    self.strobe(targets.clone(), offset, std::time::Duration::from_millis(period.max(10)));
                }
                Ok(json!({"nodes": targets, "offset_s": offset, "strobe_ms": value["strobe_ms"]}))
            }
            "stop-clock" => {
                let skewed = {
                    let mut f = self.faults();
                    for strobe in f.strobes.drain(..) {
                        strobe.abort();
                    }
                    std::mem::take(&mut f.skewed)
                };
                for t in &skewed {
                    self.control.set_clock(t, 0).await?;
                }
                Ok(json!({"reset": skewed}))
            }
            other => Err(format!("unknown fault operation {other:?}")),
        }
    }

    /// Flips the targets' clocks between `offset` and none every `period` until the
    /// next `stop-clock` (a strobe).
    fn strobe(&self, targets: Vec<String>, offset: i64, period: std::time::Duration) {
        let control = self.control.clone();
        let task = tokio::spawn(async move {
            let mut on = true;
            loop {
                tokio::time::sleep(period).await;
                on = !on;
                for t in &targets {
                    let _ = control.set_clock(t, if on { offset } else { 0 }).await;
                }
            }
        });
        self.faults().strobes.push(task);
    }

    /// Undoes every fault still in force: network, kills, pauses, clocks. Every step is
    /// tried; the errors are joined.
    pub async fn heal_all(&self) -> Result<Value, String> {
        let mut done = Vec::new();
        let mut errors = Vec::new();
        for f in ["stop-pause", "stop-kill", "stop-clock", "stop-packet", "stop-partition"] {
            match self.execute(f, &Value::Null).await {
                Ok(v) => done.push(v),
                Err(e) => errors.push(format!("{f}: {e}")),
            }
        }
        if errors.is_empty() {
            Ok(Value::Array(done))
        } else {
            Err(errors.join("; "))
        }
    }
}
