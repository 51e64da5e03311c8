//! Raft in process, on a simulated network: seeded random schedules of partitions,
//! crashes and restarts must leave correct Raft linearizable (checked by faultline's
//! own checker); scripted scenarios show each bug's anomaly; elections are timed.

use faultline_checkers::elle::{self, ElleOptions, TxnKind};
use faultline_checkers::Validity;
use node_common::api::MicroOp;
use raft::{Options, Raft, Role, Timing};
use serde_json::json;
use simtest::{random_register_schedule, Cluster, Factory, Recorder, ScheduleShape, Start, Tally};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Fast clocks for schedules: elections in tens of milliseconds.
fn fast() -> Timing {
    Timing {
        heartbeat: Duration::from_millis(10),
        election: (Duration::from_millis(50), Duration::from_millis(100)),
        request: Duration::from_millis(400),
        repropose: Duration::from_millis(150),
        peer: Duration::from_millis(100),
        snapshot_every: 50,
        batch: 64,
    }
}

/// Nodes with the clocks `timing` picks by name; they keep handles for role queries.
struct Nodes {
    live: Mutex<Vec<Arc<Raft>>>,
}

/// Nodes that forward client requests to the leader (the default in Docker) or answer
/// `not-leader` (the scripted scenarios, which aim at particular nodes).
fn factory_with(forward: bool, timing: impl Fn(&str) -> Timing + Send + Sync + 'static) -> (Factory, Arc<Nodes>) {
    let nodes = Arc::new(Nodes { live: Mutex::new(Vec::new()) });
    let handles = nodes.clone();
    let factory: Factory = Arc::new(move |s: Start| {
        let node = Raft::start(Options { timing: timing(&s.node.name), node: s.node, forward }, s.transport).expect("a raft node starts");
        handles.live.lock().unwrap().push(node.clone());
        node
    });
    (factory, nodes)
}

fn cluster(n: usize, bugs: &[&str], timing: impl Fn(&str) -> Timing + Send + Sync + 'static) -> (Arc<Cluster>, Arc<Nodes>) {
    let (factory, nodes) = factory_with(false, timing);
    (Cluster::new(n, bugs, factory), nodes)
}

impl Nodes {
    /// The node that leads the highest term, among those started most recently per name.
    fn leader(&self, cluster: &Cluster) -> Option<usize> {
        (0..cluster.names.len()).filter_map(|i| cluster.node(i).map(|n| (i, n.status()))).filter(|(_, s)| s["role"] == "leader").max_by_key(|(_, s)| s["term"].as_u64()).map(|(i, _)| i)
    }

    /// Waits until some node other than `not` leads; returns it.
    async fn wait_leader(&self, cluster: &Cluster, not: Option<usize>, within: Duration) -> Option<usize> {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if let Some(i) = self.leader(cluster).filter(|i| Some(*i) != not) {
                return Some(i);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        None
    }
}

/// How many random schedules the fault test runs, and how many at once.
const SCHEDULES: u64 = 200;
const AT_ONCE: u64 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_raft_stays_linearizable_under_random_faults() {
    let shape = ScheduleShape { nodes: 5, clients: 5, ops_per_client: 40, fault_steps: 25, fault_pause_ms: (5, 40), op_pause_ms: (2, 20), cas: true, keys: 2 };
    let mut tally = Tally::default();
    let started = Instant::now();
    for batch in 0..SCHEDULES / AT_ONCE {
        let runs = (batch * AT_ONCE..(batch + 1) * AT_ONCE).map(|seed| {
            let shape = shape.clone();
            tokio::spawn(async move { (seed, random_register_schedule(factory_with(true, |_| fast()).0, &shape, seed, &[]).await) })
        });
        for run in futures_util::future::join_all(runs).await {
            let (seed, outcome) = run.unwrap();
            tally.add(seed, &outcome);
        }
    }
    eprintln!("{SCHEDULES} schedules, {tally}, all linearizable, in {:.1} s", started.elapsed().as_secs_f64());
    assert!(tally.ok > 1000 && tally.fail > 100 && tally.info > 10, "the faults must bite and the cluster must work: {tally}");
}

fn w(v: i64) -> MicroOp {
    MicroOp::Write("x".into(), json!(v))
}

fn r() -> MicroOp {
    MicroOp::Read("x".into())
}

/// Waits for a leader, writes x=1 through it and lets every node learn the commit.
async fn settled(cluster: &Cluster, nodes: &Nodes, rec: &Recorder) -> usize {
    let leader = nodes.wait_leader(cluster, None, Duration::from_secs(2)).await.expect("a leader");
    rec.register(cluster, 0, leader, w(1)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    leader
}

async fn follower_read_after_partition(bugs: &[&str]) -> Validity {
    let (c, nodes) = cluster(3, bugs, |_| fast());
    let rec = Recorder::default();
    let leader = settled(&c, &nodes, &rec).await;
    let follower = (leader + 1) % 3;
    c.isolate(follower);
    rec.register(&c, 1, leader, w(2)).await;
    rec.register(&c, 2, follower, r()).await;
    rec.check_register().valid
}

#[tokio::test]
async fn stale_follower_read_serves_old_values() {
    assert_eq!(follower_read_after_partition(&[]).await, Validity::Valid);
    assert_eq!(follower_read_after_partition(&["stale-follower-read"]).await, Validity::Invalid);
}

async fn deposed_leader_read(bugs: &[&str]) -> Validity {
    let (c, nodes) = cluster(3, bugs, |_| fast());
    let rec = Recorder::default();
    let old = settled(&c, &nodes, &rec).await;
    c.isolate(old);
    let new = nodes.wait_leader(&c, Some(old), Duration::from_secs(2)).await.expect("a new leader");
    rec.register(&c, 1, new, w(2)).await;
    rec.register(&c, 2, old, r()).await;
    rec.check_register().valid
}

#[tokio::test]
async fn stale_leader_read_serves_old_values_from_a_deposed_leader() {
    assert_eq!(deposed_leader_read(&[]).await, Validity::Valid);
    assert_eq!(deposed_leader_read(&["stale-leader-read"]).await, Validity::Invalid);
}

/// n1 leads; x=2 commits with n2 alone; n1 dies before n2 learns the commit; n2 leads
/// and is asked to read.
async fn read_after_failover(bugs: &[&str]) -> Validity {
    let (c, nodes) = cluster(3, bugs, |n| Timing { election: if n == "n1" { (ms(30), ms(30)) } else { (ms(150), ms(300)) }, ..fast() });
    let rec = Recorder::default();
    assert_eq!(settled(&c, &nodes, &rec).await, 0, "n1 has the shortest election timeout");
    c.net.drop_kind("n1", "n3", "append");
    rec.register(&c, 1, 0, w(2)).await;
    c.crash(0);
    let new = nodes.wait_leader(&c, Some(0), Duration::from_secs(3)).await.expect("a new leader");
    rec.register(&c, 2, new, r()).await;
    rec.check_register().valid
}

#[tokio::test]
async fn no_noop_reads_at_a_stale_commit_index_after_failover() {
    assert_eq!(read_after_failover(&[]).await, Validity::Valid);
    assert_eq!(read_after_failover(&["no-noop"]).await, Validity::Invalid);
}

async fn write_to_isolated_leader(bugs: &[&str]) -> Validity {
    let (c, nodes) = cluster(3, bugs, |_| fast());
    let rec = Recorder::default();
    let old = settled(&c, &nodes, &rec).await;
    c.isolate(old);
    rec.register(&c, 1, old, w(2)).await;
    let new = nodes.wait_leader(&c, Some(old), Duration::from_secs(2)).await.expect("a new leader");
    rec.register(&c, 2, new, r()).await;
    rec.check_register().valid
}

#[tokio::test]
async fn async_commit_acknowledges_writes_that_are_then_lost() {
    assert_eq!(write_to_isolated_leader(&[]).await, Validity::Valid);
    assert_eq!(write_to_isolated_leader(&["async-commit"]).await, Validity::Invalid);
}

async fn whole_cluster_crash(bugs: &[&str]) -> Validity {
    let (c, nodes) = cluster(3, bugs, |_| fast());
    let rec = Recorder::default();
    settled(&c, &nodes, &rec).await;
    for i in 0..3 {
        c.crash(i);
    }
    for i in 0..3 {
        c.start(i);
    }
    let leader = nodes.wait_leader(&c, None, Duration::from_secs(2)).await.expect("a leader after restart");
    rec.register(&c, 1, leader, r()).await;
    rec.check_register().valid
}

#[tokio::test]
async fn no_fsync_loses_acknowledged_writes_when_the_page_cache_goes() {
    assert_eq!(whole_cluster_crash(&[]).await, Validity::Valid);
    assert_eq!(whole_cluster_crash(&["no-fsync"]).await, Validity::Invalid);
}

/// n1 wins term 1 with n3's vote (n1 and n2 are cut apart; n1's appends to n3 are lost);
/// n3 restarts; n2, a candidate in term 1, asks n3 for its vote. With its vote
/// forgotten, n3 gives it: two leaders in term 1, each committing its own x.
async fn vote_after_restart(bugs: &[&str]) -> Validity {
    let election = |n: &str| match n {
        "n1" => (ms(60), ms(60)),
        "n2" => (ms(300), ms(300)),
        _ => (ms(60_000), ms(60_000)),
    };
    let (c, nodes) = cluster(3, bugs, move |n| Timing { election: election(n), ..fast() });
    c.net.cut("n1", "n2");
    c.net.drop_kind("n1", "n3", "append");
    assert_eq!(nodes.wait_leader(&c, None, Duration::from_secs(1)).await, Some(0), "n1 leads term 1");
    c.crash(2);
    c.start(2);
    c.net.cut("n1", "n2");
    c.net.drop_kind("n1", "n3", "append");
    let rec = Recorder::default();
    if nodes.wait_leader(&c, Some(0), Duration::from_secs(2)).await == Some(1) {
        rec.register(&c, 1, 1, w(2)).await;
    }
    c.net.heal();
    c.net.cut("n1", "n2");
    rec.register(&c, 2, 0, w(1)).await;
    rec.register(&c, 3, 1, r()).await;
    rec.register(&c, 4, 0, r()).await;
    rec.check_register().valid
}

#[tokio::test]
async fn forget_vote_elects_two_leaders_in_one_term() {
    assert_eq!(vote_after_restart(&[]).await, Validity::Valid);
    assert_eq!(vote_after_restart(&["forget-vote"]).await, Validity::Invalid);
}

/// n3 is cut off while x=2 commits on n1 and n2; n1 dies; n3, whose term ran ahead,
/// asks n2 for its vote.
async fn lagging_candidate(bugs: &[&str]) -> Validity {
    let election = |n: &str| match n {
        "n1" => (ms(30), ms(30)),
        "n2" => (ms(600), ms(600)),
        _ => (ms(100), ms(100)),
    };
    let (c, nodes) = cluster(3, bugs, move |n| Timing { election: election(n), ..fast() });
    let rec = Recorder::default();
    assert_eq!(settled(&c, &nodes, &rec).await, 0);
    c.isolate(2);
    rec.register(&c, 1, 0, w(2)).await;
    c.crash(0);
    tokio::time::sleep(ms(250)).await;
    c.net.heal();
    let new = nodes.wait_leader(&c, Some(0), Duration::from_secs(3)).await.expect("a new leader");
    tokio::time::sleep(ms(50)).await;
    rec.register(&c, 2, new, r()).await;
    rec.check_register().valid
}

#[tokio::test]
async fn no_vote_restriction_elects_a_leader_without_committed_entries() {
    assert_eq!(lagging_candidate(&[]).await, Validity::Valid);
    assert_eq!(lagging_candidate(&["no-vote-restriction"]).await, Validity::Invalid);
}

/// An append that cannot commit at first (the leader's appends are lost), so the leader
/// proposes it again; then the network heals and both copies commit.
async fn reproposed_append(bugs: &[&str]) -> Validity {
    let (c, nodes) = cluster(3, bugs, |_| Timing { request: ms(2_000), repropose: ms(100), election: (ms(500), ms(600)), ..fast() });
    let leader = nodes.wait_leader(&c, None, Duration::from_secs(3)).await.expect("a leader");
    let rec = Arc::new(Recorder::default());
    for j in (0..3).filter(|j| *j != leader) {
        c.net.drop_kind(&c.names[leader], &c.names[j], "append");
    }
    let healer = {
        let c = c.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ms(250)).await;
            c.net.heal();
        })
    };
    rec.txn(&c, 0, leader, vec![MicroOp::Append("l".into(), json!(1))]).await;
    healer.await.unwrap();
    rec.txn(&c, 1, leader, vec![MicroOp::Read("l".into())]).await;
    elle::check(&rec.history(), &ElleOptions::new(TxnKind::ListAppend)).unwrap().valid
}

#[tokio::test]
async fn retry_without_session_applies_a_retried_proposal_twice() {
    assert_eq!(reproposed_append(&[]).await, Validity::Valid);
    assert_eq!(reproposed_append(&["retry-without-session"]).await, Validity::Invalid);
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Default clocks on a healthy 5-node cluster: time to the first leader, and time from
/// the leader's crash to the next. Medians of several clusters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elections_are_prompt_with_default_clocks() {
    let (mut first, mut failover) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let started = Instant::now();
        let (c, nodes) = cluster(5, &[], |_| Timing::default());
        let leader = nodes.wait_leader(&c, None, Duration::from_secs(5)).await.expect("a leader");
        first.push(started.elapsed());
        let crashed = Instant::now();
        c.crash(leader);
        nodes.wait_leader(&c, Some(leader), Duration::from_secs(5)).await.expect("a new leader");
        failover.push(crashed.elapsed());
    }
    first.sort();
    failover.sort();
    eprintln!("first election: median {:?} (max {:?}); failover: median {:?} (max {:?})", first[3], first[6], failover[3], failover[6]);
    assert!(first[3] < Duration::from_secs(1), "median first election {:?}", first[3]);
    assert!(failover[3] < Duration::from_secs(2), "median failover {:?}", failover[3]);
}

#[tokio::test]
async fn a_restarted_cluster_recovers_from_disk_and_snapshots() {
    let (c, nodes) = cluster(3, &[], |_| fast());
    let leader = nodes.wait_leader(&c, None, Duration::from_secs(2)).await.unwrap();
    for i in 0..120 {
        c.run(leader, MicroOp::Append("l".into(), json!(i))).await.unwrap();
    }
    let status = c.node(leader).unwrap().status();
    assert!(status["snapshot_index"].as_u64().unwrap() >= 50, "the log was compacted: {status}");
    for i in 0..3 {
        c.crash(i);
    }
    for i in 0..3 {
        c.start(i);
    }
    let leader = nodes.wait_leader(&c, None, Duration::from_secs(2)).await.unwrap();
    let read = c.run(leader, MicroOp::Read("l".into())).await.unwrap();
    assert_eq!(read[2].as_array().map(Vec::len), Some(120), "{read}");
    // A follower that missed everything catches up from a snapshot.
    let follower = (leader + 1) % 3;
    c.crash(follower);
    for i in 120..200 {
        c.run(leader, MicroOp::Append("l".into(), json!(i))).await.unwrap();
    }
    c.start(follower);
    tokio::time::sleep(ms(200)).await;
    let status = c.node(follower).unwrap().status();
    assert_eq!(status["applied"], c.node(leader).unwrap().status()["applied"], "{status}");
}

#[tokio::test]
async fn followers_forward_requests_to_the_leader() {
    let (factory, nodes) = factory_with(true, |_| fast());
    let c = Cluster::new(3, &[], factory);
    let leader = nodes.wait_leader(&c, None, Duration::from_secs(2)).await.unwrap();
    let follower = (leader + 1) % 3;
    // Until the follower has heard from the leader it may not know it: retry briefly.
    let until = Instant::now() + Duration::from_secs(2);
    let written = loop {
        match c.txn(follower, "f", 1, vec![w(7)]).await {
            Ok(ops) => break ops,
            Err(e) if e.definite && e.error == "not-leader" && Instant::now() < until => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("a forwarded write fails: {e:?}"),
        }
    };
    assert_eq!(written, vec![json!(["w", "x", 7])]);
    assert_eq!(c.txn(follower, "f", 2, vec![r()]).await.unwrap(), vec![json!(["r", "x", 7])], "a forwarded read is a ReadIndex read at the leader");
    // Cut the follower off: the forwarded request gets no answer, so it is indefinite.
    c.isolate(follower);
    let err = c.txn(follower, "f", 3, vec![w(8)]).await.unwrap_err();
    assert!(!err.definite, "{err:?}");
}

#[tokio::test]
async fn followers_name_the_leader() {
    let (c, nodes) = cluster(3, &[], |_| fast());
    let leader = nodes.wait_leader(&c, None, Duration::from_secs(2)).await.unwrap();
    // The follower learns who leads from the leader's first append, which may still
    // be on its way when the leader already counts its votes.
    let until = Instant::now() + Duration::from_secs(1);
    let err = loop {
        let err = c.run((leader + 1) % 3, w(1)).await.unwrap_err();
        if err.leader.is_some() || Instant::now() > until {
            break err;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(err.definite && err.error == "not-leader", "{err:?}");
    assert_eq!(err.leader.as_deref(), Some(c.names[leader].as_str()));
    assert!(matches!(nodes.live.lock().unwrap()[leader].role().0, Role::Leader));
}
