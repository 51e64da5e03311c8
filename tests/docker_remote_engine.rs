//! faultline against another Docker Engine, as if it were on another host: a second
//! dockerd started here with nothing in it (tests/support/second_engine.rs). The runs
//! must send it their images (never build there), reach the nodes through it, over a
//! unix socket and over TLS with published ports, leave nothing behind, and share a
//! grading with the first engine, including when it goes away mid-cell.
//! One test, in steps, because every step needs the same daemon.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::second_engine::{CuttableProxy, SecondEngine};

const LOCAL: &str = "unix:///var/run/docker.sock";

fn faultline(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let started = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultline"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("faultline runs");
    eprintln!("faultline {} → {:?} in {:.1} s\n{}{}", args.join(" "), out.status.code(), started.elapsed().as_secs_f64(), String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).expect("JSON")
}

fn image_id(docker_host: &str, image: &str) -> String {
    let out = Command::new("docker").args(["-H", docker_host, "image", "inspect", "--format", "{{.Id}}", image]).output().expect("docker");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_second_engine_runs_tests_and_shares_a_grading() {
    let engine = SecondEngine::start();
    let store = tempfile::tempdir().expect("store");
    let st = store.path().to_str().expect("utf-8 path");

    // 1. A test over the engine's socket: images arrive from this machine's engine.
    let out = faultline(&["test", "--docker-host", &engine.socket_url, "--design", "raft", "--workload", "register", "--nemesis", "partition,kill", "--nodes", "3", "--time-limit", "8", "--nemesis-interval", "2", "--seed", "3", "--store", st], &[]);
    assert_eq!(out.status.code(), Some(0), "correct raft on the second engine is valid");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("to {}", engine.socket_url)) && err.contains("sent faultline-base"), "the images were sent: {err}");
    let test_json = json(&store.path().join("latest/test.json"));
    for image in [&test_json["images"]["base"], &test_json["images"]["node"]] {
        let image = image.as_str().expect("image tag");
        let (here, there) = (image_id(LOCAL, image), image_id(&engine.socket_url, image));
        assert!(!there.is_empty() && here == there, "{image} on the second engine is this machine's, sent, not built there ({here} vs {there})");
    }
    let results = json(&store.path().join("latest/results.json"));
    assert!(results["counts"]["ok"].as_u64() > Some(50) && results["faults"].as_u64() >= Some(2), "{results}");
    assert!(store.path().join("latest/nodes/n1/node.log").is_file(), "node logs are copied back");
    assert!(engine.faultline_containers().is_empty(), "nothing left on the engine");

    // 2. Over TLS with client certificates, reaching the nodes through published ports;
    // the images are there already, so nothing is sent.
    let certs = engine.cert_dir();
    let tls_env: [(&str, &Path); 2] = [("DOCKER_TLS_VERIFY", Path::new("1")), ("DOCKER_CERT_PATH", &certs)];
    let out = faultline(&["test", "--docker-host", &engine.tls_url, "--publish-ports", "--design", "raft", "--workload", "register", "--nemesis", "partition", "--nodes", "3", "--time-limit", "6", "--seed", "4", "--store", st], &tls_env);
    assert_eq!(out.status.code(), Some(0), "a TLS engine with published ports works");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("sent "), "images are sent once");
    assert_eq!(json(&store.path().join("latest/test.json"))["options"]["publish_ports"], true);
    let wrong_certs = faultline(&["clean", "--docker-host", &engine.tls_url], &[("DOCKER_TLS_VERIFY", Path::new("1")), ("DOCKER_CERT_PATH", store.path())]);
    let err = String::from_utf8_lossy(&wrong_certs.stderr);
    assert!(!wrong_certs.status.success() && err.contains("ca.pem") && err.contains("Fix:"), "missing certificates are named: {err}");

    // 3. A controller killed mid-run leaves its cluster; `clean` on that engine removes it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["test", "--docker-host", &engine.socket_url, "--design", "raft", "--workload", "register", "--nodes", "3", "--time-limit", "60", "--store", st])
        .spawn()
        .expect("faultline starts");
    let started = Instant::now();
    while engine.faultline_containers().len() < 6 {
        assert!(started.elapsed() < Duration::from_secs(60), "the cluster did not appear");
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(!engine.faultline_containers().is_empty(), "a SIGKILLed controller cannot clean up");
    let out = faultline(&["clean", "--docker-host", &engine.socket_url], &[]);
    assert!(out.status.success());
    assert!(engine.faultline_containers().is_empty(), "clean removed it");

    // 4. A grading on both engines: every cell once, on one of them.
    let out_dir = store.path().join("two-engines");
    let engines = format!("{LOCAL},{}", engine.socket_url);
    let grade = |engines: &str, out_dir: &Path| {
        faultline(
            &["grade", "--engines", engines, "--design", "raft", "--workload", "register", "--nemesis", "partition", "--seeds", "1,2,3,4", "--time-limit", "5", "--expect", "valid", "--store", st, "--out", out_dir.to_str().expect("path")],
            &[],
        )
    };
    let out = grade(&engines, &out_dir);
    assert_eq!(out.status.code(), Some(0), "four valid cells");
    let card = json(&out_dir.join("scorecard.json"));
    let cells = card["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 4);
    let on = |url: &str| cells.iter().filter(|c| c["engine"] == url).count();
    assert!(on(LOCAL) >= 1 && on(&engine.socket_url) >= 1 && on(LOCAL) + on(&engine.socket_url) == 4, "both engines ran cells: {cells:?}");

    // 5. The second engine goes away mid-cell (its API cut off): that cell is unknown,
    // the others finish on the first engine, and the grading says so with exit 1.
    let proxy = CuttableProxy::new(&engine.dir.join("docker.sock"));
    let out_dir = store.path().join("engine-lost");
    let engines = format!("{LOCAL},{}", proxy.url);
    let cutter = std::thread::spawn({
        let url = engine.socket_url.clone();
        let proxy_url = proxy.url.clone();
        move || {
            let started = Instant::now();
            let count = || Command::new("docker").args(["-H", &url, "ps", "-q", "--filter", "label=io.faultline.role=node"]).output().map(|o| String::from_utf8_lossy(&o.stdout).lines().count()).unwrap_or(0);
            while count() < 5 && started.elapsed() < Duration::from_secs(120) {
                std::thread::sleep(Duration::from_millis(200));
            }
            std::thread::sleep(Duration::from_secs(2));
            proxy_url
        }
    });
    let (out, proxy_url) = std::thread::scope(|s| {
        let grading = s.spawn(|| grade(&engines, &out_dir));
        let proxy_url = cutter.join().expect("cutter");
        proxy.cut();
        (grading.join().expect("grading"), proxy_url)
    });
    assert_eq!(out.status.code(), Some(1), "a cell without a verdict is a deviation");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("engine {proxy_url} is lost")), "the lost engine is named: {err}");
    let card = json(&store.path().join("engine-lost/scorecard.json"));
    let cells = card["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 4, "every cell is accounted for");
    let unknown: Vec<&serde_json::Value> = cells.iter().filter(|c| c["verdict"] == "unknown").collect();
    assert_eq!(unknown.len(), 1, "only the cell on the lost engine: {cells:?}");
    assert!(unknown[0]["why"].as_str().unwrap_or("").contains("stopped answering"), "{}", unknown[0]);
    assert!(cells.iter().filter(|c| c["verdict"] == "valid").all(|c| c["engine"] == LOCAL) && cells.iter().filter(|c| c["verdict"] == "valid").count() == 3);
    // What the lost cell left on the engine is found by its labels.
    let out = faultline(&["clean", "--docker-host", &engine.socket_url], &[]);
    assert!(out.status.success());
    assert!(engine.faultline_containers().is_empty());
}
