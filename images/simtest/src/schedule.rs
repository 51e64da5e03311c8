//! Seeded random fault schedules against a register workload.

use crate::cluster::{Cluster, Factory};
use crate::recorder::{Outcome, Recorder};
use faultline_checkers::CheckResult;
use faultline_history::OpType;
use node_common::api::MicroOp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The size and pace of a schedule.
#[derive(Debug, Clone)]
pub struct ScheduleShape {
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Concurrent clients.
    pub clients: u64,
    /// Operations each client runs.
    pub ops_per_client: u64,
    /// Nemesis steps (cut a link, heal, crash, restart).
    pub fault_steps: u32,
    /// The pause between two nemesis steps is drawn from this range, in ms.
    pub fault_pause_ms: (u64, u64),
    /// Each client pauses between two operations for a time drawn from this range, in ms.
    pub op_pause_ms: (u64, u64),
    /// Whether clients also run cas (else only reads and blind writes).
    pub cas: bool,
    /// Registers the clients share.
    pub keys: u32,
}

/// What a schedule produced.
pub struct ScheduleOutcome {
    /// The linearizability verdict on the history.
    pub result: CheckResult,
    /// Every event's kind (to count ok/fail/info).
    pub kinds: Vec<OpType>,
}

/// Runs one seeded schedule: clients on random nodes (or the leader a refusal named)
/// running reads, writes and cas on
/// a few registers, while a nemesis cuts links, isolates nodes, heals, crashes and restarts nodes
/// (never more than a minority down at once); then heals everything and checks the
/// history with the cas-register linearizability checker.
pub async fn random_register_schedule(factory: Factory, shape: &ScheduleShape, seed: u64, bugs: &[&str]) -> ScheduleOutcome {
    let cluster = Cluster::new(shape.nodes, bugs, factory);
    let recorder = Arc::new(Recorder::default());
    let next_value = Arc::new(Mutex::new(1u64));
    let mut clients = Vec::new();
    for c in 0..shape.clients {
        let (cluster, recorder, next_value, shape) = (cluster.clone(), recorder.clone(), next_value.clone(), shape.clone());
        clients.push(tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(seed * 1000 + c);
            let mut process = c;
            let mut leader_hint = None;
            for _ in 0..shape.ops_per_client {
                let key = format!("k{}", rng.gen_range(0..shape.keys));
                let fresh = {
                    let mut n = next_value.lock().unwrap_or_else(|p| p.into_inner());
                    *n += 1;
                    *n
                };
                let op = match rng.gen_range(0..if shape.cas { 3 } else { 2 }) {
                    0 => MicroOp::Read(key),
                    1 => MicroOp::Write(key, json!(fresh)),
                    _ => MicroOp::Cas(key, json!(rng.gen_range(0..fresh)), json!(fresh)),
                };
                let node = match leader_hint.take() {
                    Some(i) => i,
                    None => rng.gen_range(0..shape.nodes),
                };
                match recorder.register(&cluster, process, node, op).await {
                    Outcome::Unknown => process += shape.clients,
                    Outcome::Failed(e) => leader_hint = e.leader.and_then(|l| cluster.names.iter().position(|n| *n == l)),
                    Outcome::Done => {}
                }
                let pause = rng.gen_range(shape.op_pause_ms.0..=shape.op_pause_ms.1);
                if pause > 0 {
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            }
        }));
    }
    let nemesis = {
        let (cluster, shape) = (cluster.clone(), shape.clone());
        tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut down: Vec<usize> = Vec::new();
            for _ in 0..shape.fault_steps {
                tokio::time::sleep(Duration::from_millis(rng.gen_range(shape.fault_pause_ms.0..=shape.fault_pause_ms.1))).await;
                match rng.gen_range(0..5) {
                    0 => {
                        let (a, b) = (rng.gen_range(0..shape.nodes), rng.gen_range(0..shape.nodes));
                        cluster.net.cut(&cluster.names[a], &cluster.names[b]);
                    }
                    4 => cluster.isolate(rng.gen_range(0..shape.nodes)),
                    1 => cluster.net.heal(),
                    2 if down.len() < (shape.nodes - 1) / 2 => {
                        let i = rng.gen_range(0..shape.nodes);
                        if !down.contains(&i) {
                            cluster.crash(i);
                            down.push(i);
                        }
                    }
                    _ => {
                        if let Some(i) = down.pop() {
                            cluster.start(i);
                        }
                    }
                }
            }
            cluster.net.heal();
            for i in down {
                cluster.start(i);
            }
        })
    };
    for c in clients {
        c.await.expect("a client task");
    }
    nemesis.await.expect("the nemesis task");
    cluster.stop_all();
    ScheduleOutcome { result: recorder.check_register(), kinds: recorder.kinds() }
}

/// Totals over many schedules, each required to be linearizable.
#[derive(Debug, Default)]
pub struct Tally {
    /// Completions of each kind, and events in all.
    pub ok: usize,
    /// Definite failures.
    pub fail: usize,
    /// Unknown outcomes.
    pub info: usize,
    /// Every event.
    pub events: usize,
}

impl Tally {
    /// Counts a schedule's events; panics, naming the seed and the evidence, if its
    /// history was not linearizable.
    pub fn add(&mut self, seed: u64, outcome: &ScheduleOutcome) {
        let r = &outcome.result;
        assert_eq!(r.valid, faultline_checkers::Validity::Valid, "seed {seed}: {}\n{}", r.summary, r.explanation.join("\n"));
        for kind in &outcome.kinds {
            match kind {
                OpType::Ok => self.ok += 1,
                OpType::Fail => self.fail += 1,
                OpType::Info => self.info += 1,
                OpType::Invoke => {}
            }
        }
        self.events += outcome.kinds.len();
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} events ({} ok, {} fail, {} info)", self.events, self.ok, self.fail, self.info)
    }
}
