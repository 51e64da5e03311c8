//! The records of a stored run, as typed values every reader shares.

use crate::design::Design;
use crate::runtime::probe::Probe;
use faultline_checkers::{CheckResult, Validity};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Client operations per second a test asks for unless told (`--rate`): 250 gives the
/// checkers thousands of operations in a 30 s run (the README's raft test completes
/// about 6,000, 3,300–4,300 of them ok under partitions and kills) while leaving most
/// of a 2-core machine to the cluster; 0 asks for as many as the system answers
/// (docs/ARCHITECTURE.md §1).
pub const DEFAULT_RATE: f64 = 250.0;

/// Everything a test run is told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestOptions {
    /// The run's name in the store (default `<design>-<workload>`).
    pub name: String,
    /// The design under test: a built-in name or a design file's path.
    pub design: String,
    /// Bugs switched on in the nodes.
    pub bugs: Vec<String>,
    /// Design knobs, `key=value`.
    pub node_opts: Vec<String>,
    /// The workload.
    pub workload: String,
    /// The consistency model for transactional workloads.
    pub consistency_model: Option<String>,
    /// The share of operations that are reads, when not the workload's own
    /// (`--read-share`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_share: Option<f64>,
    /// Fault kinds (`partition,kill`), a scripted schedule, or `none`.
    pub nemesis: String,
    /// Seconds between a fault's start and stop, and between faults.
    pub nemesis_interval_s: f64,
    /// Which nodes faults strike: target kinds (one, minority, majority, all, leader)
    /// or node names (empty: any target kind).
    pub nemesis_targets: Vec<String>,
    /// An explicit grudge every partition uses, as JSON (`{"n1": ["n2"]}`).
    #[serde(default)]
    pub nemesis_grudge: Option<String>,
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Client threads.
    pub concurrency: usize,
    /// Client operations per second, all threads together (0: as fast as they go).
    pub rate: f64,
    /// Seconds of workload under faults.
    pub time_limit_s: f64,
    /// The seed of every random choice.
    pub seed: u64,
    /// Nodes drop unsynced writes whenever they start (with kill: a power loss).
    pub lose_unsynced: bool,
    /// Leave the cluster running at the end.
    pub leave_running: bool,
    /// The results store.
    pub store: PathBuf,
    /// Seconds a client operation may take before it is `info`.
    pub op_timeout_s: f64,
    /// Seconds to let the cluster recover after healing, before final reads.
    pub recovery_s: f64,
    /// Use this image as the base instead of faultline's own.
    pub base_image: Option<String>,
    /// Replay the faults of this stored run.
    pub replay: Option<PathBuf>,
    /// The Docker Engine the run used, when not the default (`--docker-host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_host: Option<String>,
    /// Reach the nodes through ports published on the engine's host even where their
    /// network routes here (`--publish-ports`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub publish_ports: bool,
    /// The Maelstrom node under test, when the run was `--maelstrom` (docs/ARCHITECTURE.md
    /// §10); `design` then only names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maelstrom: Option<crate::design::MaelstromSpec>,
}

impl TestOptions {
    /// The design the options name: the Maelstrom node's, or the built-in or file design.
    pub fn resolve_design(&self) -> Result<crate::design::Design, crate::design::DesignError> {
        match &self.maelstrom {
            Some(m) => m.design(),
            None => crate::design::resolve(&self.design),
        }
    }
}

/// The images a run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImagesUsed {
    /// The holders' image.
    pub base: String,
    /// The nodes' image.
    pub node: String,
}

/// `test.json`: what a run was told and what it ran on, written before it starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestRecord {
    /// The options.
    pub options: TestOptions,
    /// The design, as it was resolved (a design file's content is kept here).
    pub design: Design,
    /// The run id every Docker object was labelled with.
    pub run: String,
    /// faultline's version.
    pub faultline: String,
    /// The images.
    pub images: ImagesUsed,
    /// What this machine could do.
    pub probe: Probe,
    /// When it started (RFC 3339).
    pub started: String,
}

/// Counts of client completions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Took effect.
    pub ok: usize,
    /// Certainly did not.
    pub fail: usize,
    /// Unknown.
    pub info: usize,
}

impl Counts {
    /// The client completions of a history.
    pub fn of(ops: &[faultline_history::Op]) -> Counts {
        use faultline_history::{OpType, Process};
        let mut c = Counts::default();
        for op in ops.iter().filter(|o| matches!(o.process, Process::Client(_))) {
            match op.kind {
                OpType::Ok => c.ok += 1,
                OpType::Fail => c.fail += 1,
                OpType::Info => c.info += 1,
                OpType::Invoke => {}
            }
        }
        c
    }
}

/// How many faults a history's nemesis started (each `start-*` or `bounce`).
pub fn count_faults(ops: &[faultline_history::Op]) -> usize {
    use faultline_history::{OpType, Process};
    ops.iter().filter(|o| o.process == Process::Nemesis && o.kind == OpType::Invoke && (o.f.starts_with("start-") || o.f == "bounce")).count()
}

/// How long one stage of a run took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// setup, run, heal and final reads, teardown, check.
    pub stage: String,
    /// Seconds.
    pub seconds: f64,
}

/// `results.json`: a run's verdict, written after the check (and again by `analyze`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultsRecord {
    /// The verdict.
    pub valid: Validity,
    /// The checkers' result, with its evidence.
    pub result: CheckResult,
    /// Client completions.
    pub counts: Counts,
    /// Faults executed.
    pub faults: usize,
    /// Seconds of each stage.
    pub stages: Vec<Stage>,
    /// Seconds from start to verdict.
    pub wall_s: f64,
    /// The leaders the run saw in turn, for designs that report one (absent otherwise,
    /// and in runs stored before faultline watched leaders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaders: Option<Vec<Leadership>>,
    /// What the controller spent driving the run phase (absent in older runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<ControllerCost>,
    /// Messages the nodes exchanged, for protocols whose messages faultline carries
    /// (Maelstrom nodes); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<faultline_workloads::adapter::MessageCounts>,
}

/// The controller's own cost during the run phase: its CPU time and the client
/// operations completed meanwhile (docs/ARCHITECTURE.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ControllerCost {
    /// Seconds of the run phase.
    pub run_s: f64,
    /// Controller CPU seconds (user + system, every thread) in it.
    pub cpu_s: f64,
    /// Client operations completed in it (ok, fail or info).
    pub completed: u64,
    /// Of which ok.
    pub ok: u64,
}

impl ControllerCost {
    /// Controller CPU microseconds per completed operation.
    pub fn us_per_op(&self) -> Option<f64> {
        (self.completed > 0).then(|| self.cpu_s * 1e6 / self.completed as f64)
    }

    /// Ok operations per second of the run phase.
    pub fn ok_per_s(&self) -> f64 {
        if self.run_s > 0.0 {
            self.ok as f64 / self.run_s
        } else {
            0.0
        }
    }

    /// One line for the summary: `3983 ok ops/s; controller 45 µs CPU per completed op (4.7 s CPU for 102820 ops in 20.0 s)`.
    pub fn describe(&self) -> String {
        let per_op = self.us_per_op().map_or("no completed ops".to_owned(), |us| format!("{us:.0} µs CPU per completed op"));
        format!("{:.0} ok ops/s; controller {per_op} ({:.1} s CPU for {} ops in {:.1} s)", self.ok_per_s(), self.cpu_s, self.completed, self.run_s)
    }
}

/// A node seen leading in a term, from the first time it was seen so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leadership {
    /// The node.
    pub node: String,
    /// Its term.
    pub term: u64,
    /// When it was first seen leading in that term (s since the run began).
    pub since_s: f64,
}

/// How many times leadership moved to another node (a re-election of the same node
/// in a new term is not a change: no failover was exercised by it).
pub fn leader_changes(leaders: &[Leadership]) -> usize {
    leaders.windows(2).filter(|w| w[0].node != w[1].node).count()
}

/// One line on the messages of a run (Maelstrom's figures): `1,204 messages between
/// nodes, 3.6 per client request; 310 service requests`.
pub fn describe_messages(m: &faultline_workloads::adapter::MessageCounts) -> String {
    let per_request = if m.client_requests == 0 { String::new() } else { format!(", {:.1} per client request", m.between_nodes as f64 / m.client_requests as f64) };
    format!("{} messages between nodes{per_request}; {} service requests; {} client requests", m.between_nodes, m.to_services, m.client_requests)
}

/// One line on what a run saw of leadership: `n3 led throughout (term 2)`, or the
/// leaders in turn.
pub fn describe_leaders(leaders: &[Leadership]) -> String {
    match leaders {
        [] => "no node was seen leading".to_owned(),
        [only] => format!("{} led throughout (term {})", only.node, only.term),
        _ => {
            let changes = leader_changes(leaders);
            let shown: Vec<String> = leaders.iter().take(8).map(|l| format!("{} (term {}, {:.1} s)", l.node, l.term, l.since_s)).collect();
            let more = if leaders.len() > 8 { format!(", … {} more", leaders.len() - 8) } else { String::new() };
            format!("{changes} leader change{}, {} terms: {}{more}", if changes == 1 { "" } else { "s" }, leaders.len(), shown.join(" → "))
        }
    }
}

/// Records of a made-up run, for tests of their readers.
#[cfg(test)]
pub(crate) mod sample {
    use super::*;

    /// The options of a 5-node raft register run.
    pub fn options() -> TestOptions {
        TestOptions {
            name: "raft-register".into(),
            design: "raft".into(),
            bugs: vec![],
            node_opts: vec![],
            workload: "register".into(),
            consistency_model: None,
            read_share: None,
            nemesis: "partition".into(),
            nemesis_interval_s: 5.0,
            nemesis_targets: vec![],
            nemesis_grudge: None,
            nodes: 5,
            concurrency: 10,
            rate: 100.0,
            time_limit_s: 30.0,
            seed: 1,
            lose_unsynced: false,
            leave_running: false,
            store: "store".into(),
            op_timeout_s: 2.0,
            recovery_s: 3.0,
            base_image: None,
            replay: None,
            docker_host: None,
            publish_ports: false,
            maelstrom: None,
        }
    }

    /// `test.json` of that run.
    pub fn test_record() -> TestRecord {
        TestRecord {
            options: options(),
            design: crate::design::resolve("raft").expect("built-in"),
            run: "raft-1-1".into(),
            faultline: "0.1.0".into(),
            images: ImagesUsed { base: "faultline-base:1".into(), node: "faultline-raft:1".into() },
            probe: Probe { docker_version: "28".into(), api_version: "1.49".into(), kernel: "6".into(), base_image: "faultline-base:1".into(), capabilities: vec![] },
            started: "2026-12-01T00:00:00Z".into(),
        }
    }

    /// `results.json` for `result`.
    pub fn results_record(result: CheckResult) -> ResultsRecord {
        ResultsRecord { valid: result.valid, result, counts: Counts { ok: 2, fail: 0, info: 0 }, faults: 1, stages: vec![], wall_s: 1.0, leaders: None, controller: None, messages: None }
    }
}
