//! CASPaxos in Docker: the real binary, real HTTP between containers, real partitions.
//! These tests need Docker; where it is unreachable they fail and say so.

use faultline::runtime::cluster::{Cluster, ClusterSpec};
use faultline::runtime::{base_image, connect, node_image};
use serde_json::json;
use std::time::{Duration, Instant};

#[path = "support/remove_on_panic.rs"]
mod remove_on_panic;

#[tokio::test]
async fn caspaxos_serves_across_containers_and_refuses_without_a_majority() {
    let docker = connect(None).await.unwrap_or_else(|e| panic!("these tests need Docker: {e}"));
    let base = base_image::ensure(&docker, &base_image::Recipe::for_host().unwrap(), None).await.unwrap().image;
    let caspaxos = faultline::design::resolve("caspaxos").unwrap();
    let node_image = node_image::ensure(&docker, &caspaxos, &base, None).await.unwrap().image;
    let run = format!("test-caspaxos-{}", std::process::id());
    let _guard = remove_on_panic::RemoveOnPanic(run.clone());
    let spec = ClusterSpec { run: run.clone(), holder_image: base, node_image, nodes: 5, launch: caspaxos.launch(&[], &[], false).unwrap(), reach: Default::default() };
    let cluster = Cluster::create(&docker, &spec).await.unwrap();
    let in_test = cluster.clone();
    let outcome = async move {
        let cluster = in_test;
        cluster.wait_healthy().await.unwrap();
        let n = &cluster.nodes;
        let txn = |seq: u64, ops: serde_json::Value| json!({"client": "t", "seq": seq, "ops": ops});

        let (status, _) = cluster.txn(&n[0], &txn(1, json!([["w", "x", 1], ["append", "l", 7]]))).await.unwrap();
        assert_eq!(status, 200);
        let (status, answer) = cluster.txn(&n[4], &txn(2, json!([["r", "x", null], ["r", "l", null]]))).await.unwrap();
        assert_eq!((status, answer), (200, json!({"ops": [["r", "x", 1], ["r", "l", [7]]]})));

        // Cut n1 off from every peer: it cannot reach a majority, and says so definitely.
        let others: Vec<_> = n[1..].iter().collect();
        cluster.drop_from(&n[0], &others).await.unwrap();
        let (status, answer) = cluster.txn(&n[0], &txn(3, json!([["w", "x", 2]]))).await.unwrap();
        assert_eq!(status, 409, "{answer}");
        assert_eq!((answer["error"].as_str(), answer["definite"].as_bool()), (Some("unavailable"), Some(true)), "{answer}");
        let (status, _) = cluster.txn(&n[1], &txn(4, json!([["cas", "x", [1, 3]]]))).await.unwrap();
        assert_eq!(status, 200, "the majority side still works");
        cluster.heal(&n[0]).await.unwrap();

        // Kill and restart an acceptor: state comes back from its volume.
        cluster.kill(&n[2], "SIGKILL").await.unwrap();
        cluster.restart(&n[2]).await.unwrap();
        cluster.wait_healthy().await.unwrap();
        let (_, answer) = cluster.txn(&n[2], &txn(5, json!([["r", "x", null]]))).await.unwrap();
        assert_eq!(answer, json!({"ops": [["r", "x", 3]]}));

        // Throughput with 10 concurrent clients for 3 s (reported, not asserted).
        let started = Instant::now();
        let mut clients = Vec::new();
        for c in 0..10u64 {
            let (cluster, node) = (cluster.clone(), n[c as usize % n.len()].clone());
            clients.push(tokio::spawn(async move {
                let mut done = 0u64;
                while started.elapsed() < Duration::from_secs(3) {
                    let body = json!({"client": format!("c{c}"), "seq": done, "ops": [["w", format!("k{}", done % 8), done]]});
                    if matches!(cluster.txn(&node, &body).await, Ok((200, _))) {
                        done += 1;
                    }
                }
                done
            }));
        }
        let mut ok = 0;
        for c in clients {
            ok += c.await.unwrap();
        }
        eprintln!("caspaxos, 5 nodes in Docker, 10 clients: {:.0} ok writes/s", ok as f64 / started.elapsed().as_secs_f64());
        assert!(ok > 0);
    };
    let result = tokio::spawn(outcome).await;
    cluster.teardown().await.unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic.into_panic());
    }
}
