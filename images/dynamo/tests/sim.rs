//! Dynamo in process, on a simulated network: strict quorums with blocking read repair
//! keep blind-write registers linearizable under random partitions and crashes (clocks
//! agree in one process); scripted scenarios show what each knob setting gives up.

use dynamo::{Dynamo, Knobs, Options, Resolution};
use faultline_checkers::counter;
use faultline_checkers::Validity;
use node_common::api::MicroOp;
use serde_json::json;
use simtest::{random_register_schedule, Cluster, Factory, Recorder, ScheduleShape, Start, Tally};
use std::sync::Arc;
use std::time::Duration;

/// A factory: knobs from the bugs (plus `tweak`), and a wall-clock skew per node.
fn factory(tweak: fn(&mut Knobs), skew: fn(&str) -> i64) -> Factory {
    Arc::new(move |s: Start| {
        let mut knobs = Knobs::from_settings(&s.node.bugs, &[]).expect("known bugs");
        knobs.anti_entropy = Duration::from_secs(60);
        tweak(&mut knobs);
        let opts = Options { clock_skew_ms: skew(&s.node.name), node: s.node, knobs };
        Dynamo::start(opts, s.transport).expect("a dynamo node starts")
    })
}

fn plain() -> Factory {
    factory(|_| {}, |_| 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_quorums_keep_blind_writes_linearizable_under_random_faults() {
    let shape = ScheduleShape { nodes: 5, clients: 5, ops_per_client: 30, fault_steps: 25, fault_pause_ms: (2, 10), op_pause_ms: (0, 3), cas: false, keys: 3 };
    let mut tally = Tally::default();
    for seed in 0..50 {
        tally.add(seed, &random_register_schedule(plain(), &shape, seed, &[]).await);
    }
    eprintln!("50 schedules, {tally}, all linearizable");
}

fn w(v: i64) -> MicroOp {
    MicroOp::Write("x".into(), json!(v))
}

fn r() -> MicroOp {
    MicroOp::Read("x".into())
}

/// n1's clock runs 10 s ahead: its write wins over a later one from n2.
async fn skewed_writes(resolution: Resolution) -> Validity {
    let f = match resolution {
        Resolution::Lww => factory(|_| {}, |n| if n == "n1" { 10_000 } else { 0 }),
        Resolution::VersionVectors => factory(|k| k.resolution = Resolution::VersionVectors, |n| if n == "n1" { 10_000 } else { 0 }),
    };
    let c = Cluster::new(3, &["lww"], f);
    let rec = Recorder::default();
    rec.register(&c, 0, 0, w(1)).await;
    rec.register(&c, 1, 1, w(2)).await;
    rec.register(&c, 2, 2, r()).await;
    rec.check_register().valid
}

#[tokio::test]
async fn lww_drops_a_later_write_when_a_clock_runs_ahead() {
    assert_eq!(skewed_writes(Resolution::Lww).await, Validity::Invalid);
    assert_eq!(skewed_writes(Resolution::VersionVectors).await, Validity::Valid);
}

/// Five clients increment one counter through different coordinators, ten times
/// each, then read it.
async fn concurrent_increments(bugs: &[&str]) -> Validity {
    let c = Cluster::new(5, bugs, plain());
    let rec = Arc::new(Recorder::default());
    let clients = (0..5u64).map(|p| {
        let (c, rec) = (c.clone(), rec.clone());
        tokio::spawn(async move {
            for _ in 0..10 {
                rec.counter(&c, p, p as usize, Some(1)).await;
            }
        })
    });
    futures_util::future::join_all(clients).await;
    rec.counter(&c, 10, 0, None).await;
    counter::check(&rec.history()).unwrap().valid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmw_loses_concurrent_increments_without_any_fault() {
    assert_eq!(concurrent_increments(&[]).await, Validity::Valid);
    assert_eq!(concurrent_increments(&["rmw"]).await, Validity::Invalid);
}

/// x=2 reaches only n1 (an indeterminate write); a read through n1 and n2 sees it; a
/// read through n2 and n3 then must too.
async fn read_after_partial_write(bugs: &[&str]) -> Validity {
    let c = Cluster::new(3, bugs, plain());
    let rec = Recorder::default();
    rec.register(&c, 0, 0, w(1)).await;
    c.net.cut("n1", "n2");
    c.net.cut("n1", "n3");
    rec.register(&c, 1, 0, w(2)).await;
    c.net.heal();
    c.net.cut("n1", "n3");
    rec.register(&c, 2, 0, r()).await;
    c.net.heal();
    c.net.cut("n3", "n1");
    rec.register(&c, 3, 2, r()).await;
    rec.check_register().valid
}

#[tokio::test]
async fn no_read_repair_lets_reads_go_back_in_time() {
    assert_eq!(read_after_partial_write(&[]).await, Validity::Valid);
    assert_eq!(read_after_partial_write(&["no-read-repair"]).await, Validity::Invalid);
}

/// The nodes (as indices) in the order `key`'s preference list visits them.
fn ring_order(c: &Cluster, key: &str) -> Vec<usize> {
    dynamo::ring::Ring::new(&c.names).walk(key).iter().map(|n| c.names.iter().position(|m| m == n).unwrap()).collect()
}

/// The key's home replicas are split; a write on one side is acknowledged by fallbacks
/// (sloppy) and a read on the other side misses it.
async fn split_home_replicas(bugs: &[&str]) -> Validity {
    let c = Cluster::new(5, bugs, plain());
    let walk = ring_order(&c, "x");
    let (side_a, side_b) = ([walk[0], walk[3], walk[4]], [walk[1], walk[2]]);
    let rec = Recorder::default();
    rec.register(&c, 0, walk[0], w(1)).await;
    for a in side_a {
        for b in side_b {
            c.net.cut(&c.names[a], &c.names[b]);
        }
    }
    rec.register(&c, 1, walk[0], w(2)).await;
    rec.register(&c, 2, walk[1], r()).await;
    rec.check_register().valid
}

#[tokio::test]
async fn sloppy_quorum_acknowledges_writes_a_quorum_cannot_see() {
    assert_eq!(split_home_replicas(&[]).await, Validity::Valid);
    assert_eq!(split_home_replicas(&["sloppy-quorum"]).await, Validity::Invalid);
}

#[tokio::test]
async fn hinted_handoff_and_anti_entropy_make_replicas_converge() {
    let c = Cluster::new(5, &["sloppy-quorum"], factory(|k| k.anti_entropy = Duration::from_millis(200), |_| 0));
    let walk = ring_order(&c, "x");
    c.net.cut(&c.names[walk[0]], &c.names[walk[1]]);
    c.net.cut(&c.names[walk[0]], &c.names[walk[2]]);
    c.run(walk[0], w(5)).await.unwrap();
    c.net.heal();
    tokio::time::sleep(Duration::from_millis(800)).await;
    for home in &walk[..3] {
        let status = c.node(*home).unwrap().status();
        assert_eq!(status["keys"], 1, "{status}");
    }
    let holder = c.node(walk[3]).unwrap().status();
    assert_eq!(holder["hints"], 0, "hints were handed off: {holder}");
    // Only the home replicas answer this read (r = 2 of them).
    c.crash(walk[0]);
    assert_eq!(c.run(walk[1], r()).await.unwrap(), json!(["r", "x", 5]));
}

#[tokio::test]
async fn a_restarted_node_recovers_its_data_and_counters_merge() {
    let c = Cluster::new(3, &[], plain());
    for i in 0..3 {
        c.run(i, MicroOp::Incr("c".into(), 2)).await.unwrap();
    }
    for i in 0..3 {
        c.crash(i);
    }
    for i in 0..3 {
        c.start(i);
    }
    assert_eq!(c.run(1, MicroOp::Read("c".into())).await.unwrap(), json!(["r", "c", 6]));
    let err = c.run(0, MicroOp::Cas("c".into(), json!(1), json!(2))).await.unwrap_err();
    assert!(err.definite && err.error == "cas-mismatch", "{err:?}");
}
