//! CASPaxos in process, on a simulated network: seeded random schedules of partitions,
//! crashes and restarts must leave correct CASPaxos linearizable (checked by faultline's
//! own checker); scripted scenarios show each bug's anomaly.

use caspaxos::CasPaxos;
use faultline_checkers::Validity;
use node_common::api::MicroOp;
use serde_json::json;
use simtest::{random_register_schedule, Cluster, Factory, Recorder, ScheduleShape, Start, Tally};
use std::sync::Arc;

fn factory() -> Factory {
    Arc::new(|s: Start| {
        CasPaxos::open(s.node, s.transport, caspaxos::PEER_TIMEOUT).expect("a CASPaxos node starts")
    })
}

fn cluster(n: usize, bugs: &[&str]) -> Arc<Cluster> {
    Cluster::new(n, bugs, factory())
}

/// How many random schedules the fault test runs, and how many at once.
const SCHEDULES: u64 = 200;
const AT_ONCE: u64 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_caspaxos_stays_linearizable_under_random_faults() {
    let shape = ScheduleShape { nodes: 5, clients: 6, ops_per_client: 25, fault_steps: 40, fault_pause_ms: (1, 3), op_pause_ms: (0, 0), cas: true, keys: 2 };
    let mut tally = Tally::default();
    let started = std::time::Instant::now();
    // Ten at a time: a schedule mostly waits (on backoffs and timeouts).
    for batch in 0..SCHEDULES / AT_ONCE {
        let runs = (batch * AT_ONCE..(batch + 1) * AT_ONCE).map(|seed| {
            let shape = shape.clone();
            tokio::spawn(async move { (seed, random_register_schedule(factory(), &shape, seed, &[]).await) })
        });
        for run in futures_util::future::join_all(runs).await {
            let (seed, outcome) = run.expect("a schedule runs to the end");
            tally.add(seed, &outcome);
        }
    }
    eprintln!("{SCHEDULES} schedules, {tally}, all linearizable, in {:.1} s", started.elapsed().as_secs_f64());
    assert!(tally.fail > 100 && tally.info > 10, "the faults must bite: {tally}");
}

/// A write accepted by only one acceptor (n1), then reads through two quorums.
async fn minority_accept_then_two_reads(bugs: &[&str]) -> Validity {
    let sim = cluster(3, bugs);
    let rec = Recorder::default();
    rec.register(&sim, 0, 0, MicroOp::Write("x".into(), json!(1))).await;
    sim.net.drop_kind("n1", "n2", "accept");
    sim.net.drop_kind("n1", "n3", "accept");
    rec.register(&sim, 1, 0, MicroOp::Write("x".into(), json!(2))).await; // accepted by n1 alone: info
    sim.net.heal();
    sim.net.cut("n1", "n3");
    rec.register(&sim, 2, 0, MicroOp::Read("x".into())).await; // quorum n1, n2: sees 2
    sim.net.heal();
    sim.net.cut("n3", "n1");
    rec.register(&sim, 3, 2, MicroOp::Read("x".into())).await; // quorum n3, n2
    rec.check_register().valid
}

#[tokio::test]
async fn read_no_writeback_lets_a_read_go_back_in_time() {
    assert_eq!(minority_accept_then_two_reads(&[]).await, Validity::Valid);
    assert_eq!(minority_accept_then_two_reads(&["read-no-writeback"]).await, Validity::Invalid);
}

/// A write accepted by n1 and n2 (n3 cut off); n2 restarts; a read through n2 and n3.
async fn restarted_acceptor_then_read(bugs: &[&str]) -> Validity {
    let sim = cluster(3, bugs);
    let rec = Recorder::default();
    sim.net.cut("n1", "n3");
    rec.register(&sim, 0, 0, MicroOp::Write("x".into(), json!(1))).await;
    sim.net.heal();
    sim.crash(1);
    sim.start(1);
    sim.net.cut("n3", "n1");
    rec.register(&sim, 1, 2, MicroOp::Read("x".into())).await;
    rec.check_register().valid
}

#[tokio::test]
async fn volatile_acceptor_loses_an_acknowledged_write() {
    assert_eq!(restarted_acceptor_then_read(&[]).await, Validity::Valid);
    assert_eq!(restarted_acceptor_then_read(&["volatile-acceptor"]).await, Validity::Invalid);
}

#[tokio::test]
async fn transactions_and_the_http_api() {
    use node_common::server::router;
    let sim = cluster(3, &[]);
    let node = sim.node(0).unwrap();
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
    let sim = cluster(3, &[]);
    sim.run(0, MicroOp::Write("x".into(), json!(7))).await.unwrap();
    for i in 0..3 {
        sim.crash(i);
    }
    for i in 0..3 {
        sim.start(i);
    }
    assert_eq!(sim.run(1, MicroOp::Read("x".into())).await.unwrap(), json!(["r", "x", 7]));
}
