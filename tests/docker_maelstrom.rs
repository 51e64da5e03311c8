//! Unmodified Maelstrom nodes under real faults in Docker (docs/ARCHITECTURE.md §10):
//! the fixture nodes of `images/maelstrom/fixtures/nodes.py`, each correct one valid
//! under partitions and each wrong one caught by its checker family's anomaly. These
//! tests need Docker; where it is unreachable they fail and say so.

#[path = "support/run.rs"]
mod run;

use faultline_checkers::Validity;
use faultline_history::{read_jsonl_file, OpType};
use run::{assert_refused, leftover_containers, results, store, test};
use std::path::Path;

const NODES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/images/maelstrom/fixtures/nodes.py");

/// Short runs on three nodes, a fault every 1.5 s.
const SHORT: [&str; 8] = ["--nodes", "3", "--nemesis-interval", "1.5", "--recovery", "1", "--rate", "60"];

/// Runs fixture node `args[0]` (with its flags) on Maelstrom workload `workload`
/// under `nemesis` for 6 s; answers the exit code and the run's directory.
fn maelstrom(store: &Path, node: &[&str], workload: &str, nemesis: &str, seed: &str) -> (Option<i32>, std::path::PathBuf) {
    maelstrom_for(store, node, workload, nemesis, seed, "6")
}

/// [`maelstrom`] for `seconds`.
fn maelstrom_for(store: &Path, node: &[&str], workload: &str, nemesis: &str, seed: &str, seconds: &str) -> (Option<i32>, std::path::PathBuf) {
    let mut args = vec!["--maelstrom", NODES, "--workload", workload, "--nemesis", nemesis, "--seed", seed, "--time-limit", seconds];
    for a in node {
        args.extend(["--maelstrom-arg", a]);
    }
    args.extend(SHORT);
    let (out, dir) = test(store, &args);
    (out.status.code(), dir)
}

/// The number of `anomaly` the run's checker found.
fn anomalies(dir: &Path, anomaly: &str) -> usize {
    results(dir).result.anomalies.get(anomaly).copied().unwrap_or(0)
}

/// Asserts a valid run with ok operations on every node.
fn assert_valid(code: Option<i32>, dir: &Path) {
    let r = results(dir);
    assert_eq!((code, r.valid), (Some(0), Validity::Valid), "{}", r.result.summary);
    assert!(r.counts.ok > 100, "{:?}", r.counts);
}

#[test]
fn echo_comes_back_and_a_corrupting_node_is_caught() {
    let s = store();
    let (code, dir) = maelstrom(s.path(), &["echo"], "echo", "partition", "1");
    assert_valid(code, &dir);
    let messages = results(&dir).messages.expect("a Maelstrom run counts its messages");
    assert_eq!(messages.between_nodes, 0, "echo needs no other node");
    assert!(messages.client_requests as usize >= results(&dir).counts.ok);
    let (code, dir) = maelstrom(s.path(), &["echo", "--corrupt"], "echo", "partition", "1");
    assert_eq!(code, Some(1));
    assert!(anomalies(&dir, "wrong-echo") > 0);
}

/// A killed node's container restarts; its shim starts the node again and sends it
/// `init`, so it serves again (its ids from the lin-tso service). Pauses and clock skew
/// reach a Python node under libfaketime too (the wrong node's run has both).
#[test]
fn unique_ids_survive_kills_and_a_node_without_its_id_in_them_is_caught_under_pauses_and_clock_skew() {
    let s = store();
    let (code, dir) = maelstrom_for(s.path(), &["unique-ids", "--tso"], "unique-ids", "kill", "2", "8");
    assert_valid(code, &dir);
    let ops = read_jsonl_file(&dir.join("history.jsonl")).expect("history.jsonl");
    let restarted = ops.iter().filter(|o| o.f == "stop-kill" && o.kind == OpType::Info).map(|o| o.time).next().expect("a kill ended in the run");
    let served_after: Vec<&str> = ops.iter().filter(|o| o.kind == OpType::Ok && o.time > restarted).filter_map(|o| o.node.as_deref()).collect();
    for node in ["n1", "n2", "n3"] {
        assert!(served_after.contains(&node), "{node} serves after the restart (init again)");
    }
    assert!(results(&dir).messages.expect("counts").to_services >= results(&dir).counts.ok as u64, "every id came from lin-tso");
    let (code, dir) = maelstrom_for(s.path(), &["unique-ids", "--wrong"], "unique-ids", "pause,clock", "5", "8");
    assert_eq!(code, Some(1));
    assert!(anomalies(&dir, "duplicated-id") > 0);
    let ops = read_jsonl_file(&dir.join("history.jsonl")).expect("history.jsonl");
    let executed: Vec<&str> = ops.iter().filter(|o| o.kind == OpType::Info && o.error.is_none()).map(|o| o.f.as_str()).collect();
    assert!(executed.contains(&"start-pause") && executed.contains(&"start-clock"), "{executed:?}");
    assert!(results(&dir).counts.ok > 100, "the paused and skewed nodes served");
}

#[test]
fn broadcast_by_acknowledged_gossip_loses_nothing_and_fire_and_forget_loses_messages() {
    let s = store();
    let (code, dir) = maelstrom(s.path(), &["broadcast"], "broadcast", "partition", "3");
    assert_valid(code, &dir);
    let r = results(&dir);
    let messages = r.messages.expect("message counts");
    assert!(messages.between_nodes > 100, "gossip between nodes: {messages:?}");
    let report = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(report.contains(r#"<p id="messages">Messages: "#) && report.contains("per client request"), "the report shows messages per request");
    let (code, dir) = maelstrom(s.path(), &["broadcast", "--no-retry"], "broadcast", "partition", "3");
    assert_eq!(code, Some(1));
    assert!(anomalies(&dir, "lost") > 0, "{}", results(&dir).result.summary);
    let (code, dir) = maelstrom(s.path(), &["broadcast"], "g-set", "partition", "4");
    assert_valid(code, &dir);
}

#[test]
fn counters_on_seq_kv_converge_and_a_blind_shared_counter_loses_increments() {
    let s = store();
    let (code, dir) = maelstrom(s.path(), &["counter"], "g-counter", "partition", "5");
    assert_valid(code, &dir);
    assert!(results(&dir).messages.expect("counts").to_services > 100, "the counter lives in seq-kv");
    let (code, dir) = maelstrom(s.path(), &["counter"], "pn-counter", "partition", "6");
    assert_valid(code, &dir);
    let (code, dir) = maelstrom(s.path(), &["counter", "--wrong"], "g-counter", "partition", "5");
    assert_eq!(code, Some(1));
    assert!(anomalies(&dir, "counter-read-out-of-bounds") > 0);
}

#[test]
fn a_lin_kv_proxy_is_linearizable_and_one_over_seq_kv_is_not() {
    let s = store();
    let (code, dir) = maelstrom(s.path(), &["kv"], "lin-kv", "partition", "7");
    assert_valid(code, &dir);
    let (code, dir) = maelstrom(s.path(), &["kv", "--service", "seq-kv"], "lin-kv", "partition", "7");
    assert_eq!((code, results(&dir).valid), (Some(1), Validity::Invalid), "stale reads: {}", results(&dir).result.summary);
}

#[test]
fn transactions_by_cas_on_lin_kv_are_serializable_and_blind_writes_are_caught() {
    let s = store();
    let (code, dir) = maelstrom(s.path(), &["txn"], "txn-list-append", "partition", "8");
    assert_valid(code, &dir);
    let (code, dir) = maelstrom(s.path(), &["txn"], "txn-rw-register", "partition", "9");
    assert_valid(code, &dir);
    let (code, dir) = maelstrom(s.path(), &["txn", "--wrong"], "txn-list-append", "partition", "8");
    assert_eq!(code, Some(1));
    let r = results(&dir);
    assert!(!r.result.anomalies.is_empty(), "{}", r.result.summary);
    assert_eq!(leftover_containers(), 0);
}

#[test]
fn a_kafka_log_in_lin_kv_keeps_every_message_and_logs_per_node_are_caught() {
    let s = store();
    let (code, dir) = maelstrom(s.path(), &["kafka"], "kafka", "partition", "10");
    assert_valid(code, &dir);
    let r = results(&dir);
    assert!(!r.result.summary.contains("(0 final)"), "final polls read every log: {}", r.result.summary);
    let (code, dir) = maelstrom(s.path(), &["kafka", "--wrong"], "kafka", "partition", "10");
    assert_eq!(code, Some(1));
    let r = results(&dir);
    assert!(anomalies(&dir, "inconsistent-offset") > 0 && anomalies(&dir, "lost") + anomalies(&dir, "unobserved") > 0, "{}", r.result.summary);
}

#[test]
fn what_a_maelstrom_node_cannot_do_is_refused_before_docker_is_touched() {
    assert_refused(&["--design", "raft", "--workload", "echo"], "only a Maelstrom node runs it");
    assert_refused(&["--maelstrom", NODES, "--workload", "datomic"], "not one faultline runs");
    assert_refused(&["--maelstrom", NODES, "--workload", "echo", "--nemesis-targets", "leader"], "no way to ask a node whether it leads");
    assert_refused(&["--maelstrom", NODES, "--workload", "echo", "--bug", "x"], "no switches faultline knows of");
    assert_refused(&["--maelstrom", "/nonexistent/node", "--workload", "echo"], "cannot read the node program");
}

/// A node that dies before answering `init` fails the run at once with its own words
/// (its usage message here), and leaves nothing behind.
#[test]
fn a_node_that_dies_at_start_is_reported_with_its_output() {
    let s = store();
    let (out, _) = test(s.path(), &["--maelstrom", NODES, "--maelstrom-arg", "gossip-glomers", "--workload", "echo", "--nodes", "3", "--time-limit", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{stderr}");
    assert!(stderr.contains("usage: nodes.py"), "the node's own output: {stderr}");
    assert_eq!(leftover_containers(), 0);
}
