//! CASPaxos in process, on a simulated network: seeded random schedules of partitions,
//! crashes and restarts must leave correct CASPaxos linearizable (checked by faultline's
//! own checker); scripted scenarios show each bug's anomaly.

use caspaxos::{CasPaxos, Options};
use faultline_checkers::linear::{self, LinearOptions, RegisterModel};
use faultline_checkers::{History, Validity};
use faultline_history::{Op, OpType, Process};
use node_common::api::{MicroOp, NodeError};
use node_common::transport::SimNet;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A cluster of in-process nodes on a [`SimNet`], with on-disk acceptor state.
struct Sim {
    net: Arc<SimNet>,
    names: Vec<String>,
    dirs: Vec<tempfile::TempDir>,
    bugs: Vec<String>,
    nodes: Mutex<Vec<Option<Arc<CasPaxos>>>>,
}

impl Sim {
    fn new(n: usize, bugs: &[&str]) -> Arc<Sim> {
        let sim = Arc::new(Sim {
            net: SimNet::new(),
            names: (1..=n).map(|i| format!("n{i}")).collect(),
            dirs: (0..n).map(|_| scratch_dir()).collect(),
            bugs: bugs.iter().map(|b| b.to_string()).collect(),
            nodes: Mutex::new(vec![None; n]),
        });
        for i in 0..n {
            sim.start(i);
        }
        sim
    }

    /// Starts (or restarts, recovering from disk) node `i`.
    fn start(&self, i: usize) {
        let opts = Options {
            name: self.names[i].clone(),
            nodes: self.names.clone(),
            data: self.dirs[i].path().to_owned(),
            bugs: self.bugs.clone(),
            lose_unsynced: true,
        };
        let node = Arc::new(CasPaxos::open(opts, Arc::new(self.net.transport(&self.names[i]))).unwrap());
        self.net.register(&self.names[i], node.clone());
        self.nodes.lock().unwrap()[i] = Some(node);
    }

    fn crash(&self, i: usize) {
        self.net.set_down(&self.names[i], true);
        self.nodes.lock().unwrap()[i] = None;
    }

    fn node(&self, i: usize) -> Option<Arc<CasPaxos>> {
        self.nodes.lock().unwrap()[i].clone()
    }

    async fn run(&self, i: usize, op: MicroOp) -> Result<Value, NodeError> {
        match self.node(i) {
            Some(n) => n.execute(&op).await,
            None => Err(NodeError::definite("unavailable", "node is down")),
        }
    }
}

/// A data directory on tmpfs where there is one: the node logic under test is the same,
/// and thousands of fsyncs cost nothing.
fn scratch_dir() -> tempfile::TempDir {
    match std::path::Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm").unwrap(),
        false => tempfile::tempdir().unwrap(),
    }
}

/// Records a register history in faultline's format, as the runner does.
#[derive(Default)]
struct Recorder(Mutex<Vec<Op>>);

impl Recorder {
    fn push(&self, kind: OpType, process: u64, f: &str, value: Value) {
        let mut ops = self.0.lock().unwrap();
        let mut op = Op::new(kind, Process::Client(process), f, value);
        op.index = ops.len() as u64;
        ops.push(op);
    }

    /// Runs `op` on node `i` as client `process`, recording invoke and completion.
    /// Returns whether the process must move on to a new id (an indeterminate outcome).
    async fn call(&self, sim: &Sim, process: u64, i: usize, op: MicroOp) -> bool {
        let (f, invoke) = match &op {
            MicroOp::Read(k) => ("read", json!([k, null])),
            MicroOp::Write(k, v) => ("write", json!([k, v])),
            MicroOp::Cas(k, old, new) => ("cas", json!([k, [old, new]])),
            _ => unreachable!("register ops only"),
        };
        self.push(OpType::Invoke, process, f, invoke.clone());
        match sim.run(i, op).await {
            Ok(result) => {
                let value = if f == "read" { json!([result[1], result[2]]) } else { invoke };
                self.push(OpType::Ok, process, f, value);
                false
            }
            Err(e) if e.definite => {
                self.push(OpType::Fail, process, f, invoke);
                false
            }
            Err(_) => {
                self.push(OpType::Info, process, f, invoke);
                true
            }
        }
    }

    fn check(&self) -> faultline_checkers::CheckResult {
        let h = History::new(self.0.lock().unwrap().clone()).unwrap();
        linear::check(&h, &LinearOptions::new(RegisterModel::CasRegister)).unwrap()
    }
}

/// One seeded schedule: clients on random nodes, a nemesis cutting links and crashing
/// and restarting nodes (never more than a minority down at once).
async fn random_schedule(seed: u64, bugs: &[&str]) -> (faultline_checkers::CheckResult, Vec<OpType>) {
    const NODES: usize = 5;
    const CLIENTS: u64 = 6;
    const OPS_PER_CLIENT: u64 = 25;
    let sim = Sim::new(NODES, bugs);
    let recorder = Arc::new(Recorder::default());
    let next_value = Arc::new(Mutex::new(1u64));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (sim, recorder, next_value) = (sim.clone(), recorder.clone(), next_value.clone());
        clients.push(tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(seed * 100 + c);
            let mut process = c;
            for _ in 0..OPS_PER_CLIENT {
                let key = format!("k{}", rng.gen_range(0..2));
                let fresh = {
                    let mut n = next_value.lock().unwrap();
                    *n += 1;
                    *n
                };
                let op = match rng.gen_range(0..3) {
                    0 => MicroOp::Read(key),
                    1 => MicroOp::Write(key, json!(fresh)),
                    _ => MicroOp::Cas(key, json!(rng.gen_range(0..fresh)), json!(fresh)),
                };
                if recorder.call(&sim, process, rng.gen_range(0..NODES), op).await {
                    process += CLIENTS;
                }
            }
        }));
    }
    let nemesis = {
        let sim = sim.clone();
        tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut down: Vec<usize> = Vec::new();
            for _ in 0..40 {
                tokio::time::sleep(Duration::from_millis(rng.gen_range(1..4))).await;
                match rng.gen_range(0..4) {
                    0 => {
                        let (a, b) = (rng.gen_range(0..NODES), rng.gen_range(0..NODES));
                        sim.net.cut(&sim.names[a], &sim.names[b]);
                    }
                    1 => sim.net.heal(),
                    2 if down.len() < NODES / 2 => {
                        let i = rng.gen_range(0..NODES);
                        if !down.contains(&i) {
                            sim.crash(i);
                            down.push(i);
                        }
                    }
                    _ => {
                        if let Some(i) = down.pop() {
                            sim.start(i);
                        }
                    }
                }
            }
            sim.net.heal();
            for i in down {
                sim.start(i);
            }
        })
    };
    for c in clients {
        c.await.unwrap();
    }
    nemesis.await.unwrap();
    let kinds = recorder.0.lock().unwrap().iter().map(|o| o.kind).collect();
    (recorder.check(), kinds)
}

/// How many random schedules the fault test runs.
const SCHEDULES: u64 = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_caspaxos_stays_linearizable_under_random_faults() {
    let mut kinds: Vec<OpType> = Vec::new();
    let started = std::time::Instant::now();
    for seed in 0..SCHEDULES {
        let (result, k) = random_schedule(seed, &[]).await;
        assert_eq!(result.valid, Validity::Valid, "seed {seed}: {}\n{}", result.summary, result.explanation.join("\n"));
        kinds.extend(k);
    }
    let count = |t: OpType| kinds.iter().filter(|k| **k == t).count();
    let (ok, fail, info) = (count(OpType::Ok), count(OpType::Fail), count(OpType::Info));
    eprintln!("{SCHEDULES} schedules, {} events ({ok} ok, {fail} fail, {info} info), all linearizable, in {:.1} s", kinds.len(), started.elapsed().as_secs_f64());
    assert!(fail > 100 && info > 10, "the faults must bite: {fail} fail, {info} info");
}

/// A write accepted by only one acceptor (n1), then reads through two quorums.
async fn minority_accept_then_two_reads(bugs: &[&str]) -> Validity {
    let sim = Sim::new(3, bugs);
    let rec = Recorder::default();
    rec.call(&sim, 0, 0, MicroOp::Write("x".into(), json!(1))).await;
    sim.net.drop_kind("n1", "n2", "accept");
    sim.net.drop_kind("n1", "n3", "accept");
    rec.call(&sim, 1, 0, MicroOp::Write("x".into(), json!(2))).await; // accepted by n1 alone: info
    sim.net.heal();
    sim.net.cut("n1", "n3");
    rec.call(&sim, 2, 0, MicroOp::Read("x".into())).await; // quorum n1, n2: sees 2
    sim.net.heal();
    sim.net.cut("n3", "n1");
    rec.call(&sim, 3, 2, MicroOp::Read("x".into())).await; // quorum n3, n2
    rec.check().valid
}

#[tokio::test]
async fn read_no_writeback_lets_a_read_go_back_in_time() {
    assert_eq!(minority_accept_then_two_reads(&[]).await, Validity::Valid);
    assert_eq!(minority_accept_then_two_reads(&["read-no-writeback"]).await, Validity::Invalid);
}

/// A write accepted by n1 and n2 (n3 cut off); n2 restarts; a read through n2 and n3.
async fn restarted_acceptor_then_read(bugs: &[&str]) -> Validity {
    let sim = Sim::new(3, bugs);
    let rec = Recorder::default();
    sim.net.cut("n1", "n3");
    rec.call(&sim, 0, 0, MicroOp::Write("x".into(), json!(1))).await;
    sim.net.heal();
    sim.crash(1);
    sim.start(1);
    sim.net.cut("n3", "n1");
    rec.call(&sim, 1, 2, MicroOp::Read("x".into())).await;
    rec.check().valid
}

#[tokio::test]
async fn volatile_acceptor_loses_an_acknowledged_write() {
    assert_eq!(restarted_acceptor_then_read(&[]).await, Validity::Valid);
    assert_eq!(restarted_acceptor_then_read(&["volatile-acceptor"]).await, Validity::Invalid);
}

#[tokio::test]
async fn transactions_and_the_http_api() {
    use node_common::server::router;
    let sim = Sim::new(3, &[]);
    let node: Arc<dyn node_common::server::Design> = sim.node(0).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(node)).await });
    let post = |body: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("POST /txn HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        tokio::io::AsyncWriteExt::write_all(&mut s, req.as_bytes()).await.unwrap();
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut s, &mut out).await.unwrap();
        out
    };
    let ok = post(r#"{"client":"p1","seq":1,"ops":[["append","l",1],["append","l",2],["r","l",null],["incr","c",3],["w","y",2],["cas","y",[2,3]]]}"#).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains(r#"["r","l",[1,2]]"#) && ok.contains(r#"["incr","c",3]"#), "{ok}");
    let cas = post(r#"{"client":"p1","seq":2,"ops":[["cas","y",[9,4]]]}"#).await;
    assert!(cas.starts_with("HTTP/1.1 409") && cas.contains(r#""definite":true"#) && cas.contains("cas-mismatch"), "{cas}");
    let bad = post(r#"{"client":"p1","seq":3,"ops":[["zap","y",1]]}"#).await;
    assert!(bad.starts_with("HTTP/1.1 400") && bad.contains("unknown micro-op"), "{bad}");
    let garbage = post("{not json").await;
    assert!(garbage.starts_with("HTTP/1.1 400") && garbage.contains("body is not JSON"), "{garbage}");
}

#[tokio::test]
async fn a_restarted_node_recovers_its_state_from_disk() {
    let sim = Sim::new(3, &[]);
    sim.run(0, MicroOp::Write("x".into(), json!(7))).await.unwrap();
    for i in 0..3 {
        sim.crash(i);
    }
    for i in 0..3 {
        sim.start(i);
    }
    assert_eq!(sim.run(1, MicroOp::Read("x".into())).await.unwrap(), json!(["r", "x", 7]));
}
