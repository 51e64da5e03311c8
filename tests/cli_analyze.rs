//! `faultline analyze` and `faultline report` on a stored run: one verdict per run.

use faultline::store::{Counts, ImagesUsed, ResultsRecord, RunDir, TestRecord};
use faultline_checkers::{CheckResult, Evidence, Validity};
use std::path::Path;
use std::process::Command;

/// A stored raft register run whose results say valid, with a history holding a
/// stale read.
fn stored_run(dir: &Path) -> RunDir {
    let run = RunDir { path: dir.to_owned() };
    let options = serde_json::from_value(serde_json::json!({
        "name": "raft-register", "design": "raft", "bugs": [], "node_opts": [], "workload": "register",
        "consistency_model": null, "nemesis": "partition", "nemesis_interval_s": 5.0, "nemesis_targets": [],
        "nodes": 3, "concurrency": 2, "rate": 100.0, "time_limit_s": 10.0, "seed": 1, "lose_unsynced": false,
        "leave_running": false, "store": "store", "op_timeout_s": 2.0, "recovery_s": 3.0, "base_image": null, "replay": null
    }))
    .expect("options");
    let probe = serde_json::from_value(serde_json::json!({"docker_version": "28", "api_version": "1.49", "kernel": "6", "base_image": "b", "capabilities": []})).expect("probe");
    let test = TestRecord {
        options,
        design: faultline::design::resolve("raft").expect("built-in"),
        run: "raft-1-1".into(),
        faultline: "0.1.0".into(),
        images: ImagesUsed { base: "b".into(), node: "n".into() },
        probe,
        started: "2026-12-01T00:00:00Z".into(),
    };
    run.write_json("test.json", &test).unwrap();
    let stale = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/histories/register-stale-read.jsonl");
    std::fs::copy(stale, run.file("history.jsonl")).unwrap();
    let claimed = CheckResult::new("linearizable", Validity::Valid, "made up".into(), vec![], Evidence::None);
    let results = ResultsRecord { valid: Validity::Valid, result: claimed, counts: Counts::default(), faults: 0, stages: vec![], wall_s: 1.0, leaders: None, controller: None, messages: None };
    run.write_json("results.json", &results).unwrap();
    run
}

#[test]
fn analyze_writes_its_verdict_into_results_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let run = stored_run(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_faultline")).args(["analyze", dir.path().to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("wrote results.json"), "{text}");
    let results = faultline::store::read_results(&run.path).unwrap();
    assert_eq!(results.valid, Validity::Invalid, "results.json now holds analyze's verdict");
    assert!(matches!(results.result.evidence, Evidence::Linearizable(_)));
    let report = Command::new(env!("CARGO_BIN_EXE_faultline")).args(["report", dir.path().to_str().unwrap()]).output().unwrap();
    assert_eq!(report.status.code(), Some(0));
    let page = std::fs::read_to_string(run.file("report.html")).unwrap();
    assert!(page.contains("INVALID") && !page.contains(">valid:"), "report agrees with analyze");
}
