//! Real systems from Debian under real faults in Docker, each described only by its
//! design file: Redis with Sentinel (single leader, asynchronous replication) and
//! OpenStack Swift (leaderless, quorum writes, last write wins). These tests need
//! Docker; where it is unreachable they fail and say so.

#[path = "support/run.rs"]
mod run;

use faultline_checkers::Validity;
use faultline_history::{read_jsonl_file, Op, OpType};
use run::{assert_refused, leftover_containers, results, store, test};
use std::path::Path;

/// The client completions of `kind` whose error mentions `text`.
fn completions_saying(dir: &Path, kind: OpType, text: &str) -> Vec<Op> {
    let ops = read_jsonl_file(&dir.join("history.jsonl")).expect("history.jsonl");
    ops.into_iter().filter(|o| o.kind == kind && o.error.as_ref().is_some_and(|e| e.to_string().contains(text))).collect()
}

/// The number of `anomaly` the run's checker found.
fn anomalies(dir: &Path, anomaly: &str) -> usize {
    results(dir).result.anomalies.get(anomaly).copied().unwrap_or(0)
}

// ---- Redis with Sentinel ----

/// Isolating the primary from the other nodes while its clients still reach it, long
/// enough for the Sentinels to promote a replica even when their first try finds no
/// good replica (images/redis/README.md): down after 2 s, again 5 s later.
const ISOLATE_THE_PRIMARY: [&str; 6] = ["--nemesis", "isolate-leader", "--nemesis-interval", "10", "--time-limit", "26"];

#[test]
fn redis_sentinel_loses_acknowledged_writes_when_the_primary_is_isolated() {
    let s = store();
    let (out, dir) = test(s.path(), &[&["--design", "redis", "--workload", "set", "--node-opt", "append-command=sadd", "--seed", "31"][..], &ISOLATE_THE_PRIMARY].concat());
    assert_eq!(out.status.code(), Some(1), "asynchronous replication loses what the old primary acknowledged");
    let r = results(&dir);
    assert_eq!(r.valid, Validity::Invalid);
    assert!(anomalies(&dir, "lost") > 0, "acknowledged adds are gone after the heal: {}", r.result.summary);
    let leaders = r.leaders.expect("redis reports its primary");
    assert!(leaders.len() >= 2 && leaders.iter().any(|l| l.term > 0), "Sentinel failed over: {leaders:?}");
    assert!(r.counts.ok > 300, "{:?}", r.counts);
    assert_eq!(leftover_containers(), 0);
}

#[test]
fn redis_min_replicas_refuses_and_wait_leaves_unknown_what_an_isolated_primary_takes() {
    let s = store();
    let base = ["--design", "redis", "--workload", "set", "--node-opt", "append-command=sadd", "--seed", "32"];
    let (_, dir) = test(s.path(), &[&base[..], &["--node-opt", "min-replicas-to-write=2", "--node-opt", "min-replicas-max-lag=1"], &ISOLATE_THE_PRIMARY].concat());
    let refused = completions_saying(&dir, OpType::Fail, "NOREPLICAS");
    assert!(!refused.is_empty(), "the isolated primary refuses writes once its replicas lag");
    let (_, dir) = test(s.path(), &[&base[..], &["--node-opt", "wait-replicas=2"], &ISOLATE_THE_PRIMARY].concat());
    let unknown = completions_saying(&dir, OpType::Info, "acknowledged by");
    assert!(!unknown.is_empty(), "writes WAIT could not see replicated are unknown, not ok");
    assert!(results(&dir).counts.ok > 100);
}

#[test]
fn what_redis_and_swift_cannot_do_is_refused_before_docker_is_touched() {
    for (args, why) in [
        (&["--design", "redis", "--nemesis", "clock"][..], "jemalloc"),
        (&["--design", "redis", "--lose-unsynced"][..], "does not tell faultline what it fsynced"),
        (&["--design", "swift", "--workload", "list-append"][..], "cannot run the list-append workload; it runs register, set: Swift has no transactions"),
        (&["--design", "swift", "--nemesis", "isolate-leader"][..], "Swift is leaderless"),
    ] {
        assert_refused(args, why);
    }
}

// ---- OpenStack Swift ----

#[test]
fn swift_register_loses_updates_when_proxy_clocks_are_skewed() {
    let s = store();
    let (out, dir) = test(s.path(), &["--design", "swift", "--workload", "register", "--nemesis", "clock", "--nemesis-interval", "4", "--time-limit", "20", "--seed", "41"]);
    assert_eq!(out.status.code(), Some(1), "last write wins by the proxy's clock: a skewed proxy's writes lose to older ones");
    let r = results(&dir);
    assert!(r.result.summary.contains("not linearizable") && r.faults >= 2, "{}", r.result.summary);
    let refused = completions_saying(&dir, OpType::Fail, "no conditional overwrite");
    assert!(!refused.is_empty() && refused.iter().all(|o| o.f == "cas"), "a cas from a value is refused before it is sent");
    assert_eq!(leftover_containers(), 0);
}

#[test]
fn swift_register_with_newest_reads_and_no_faults_is_linearizable() {
    let s = store();
    let (out, dir) = test(s.path(), &["--design", "swift", "--node-opt", "newest-reads=true", "--workload", "register", "--nemesis", "none", "--time-limit", "15", "--seed", "42"]);
    assert_eq!(out.status.code(), Some(0), "X-Newest reads of quorum writes on one clock are linearizable");
    assert!(results(&dir).counts.ok > 200, "{:?}", results(&dir).counts);
}

#[test]
fn swift_set_listings_miss_acknowledged_adds_under_partitions() {
    let s = store();
    let (out, dir) = test(s.path(), &["--design", "swift", "--workload", "set", "--nemesis", "partition", "--nemesis-interval", "4", "--time-limit", "20", "--seed", "43"]);
    assert_eq!(out.status.code(), Some(1), "a container listing is one replica's view, updated asynchronously");
    assert!(anomalies(&dir, "stale") + anomalies(&dir, "lost") > 0, "{}", results(&dir).result.summary);
}
