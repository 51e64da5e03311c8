//! `faultline check` end to end: every format, every verdict, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline")).args(args).output().expect("faultline runs")
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/histories").join(name).display().to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write fixture");
    path
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn valid_history_exits_zero() {
    let o = faultline(&["check", &example("cas-register-valid.jsonl"), "--model", "cas-register"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("verdict: valid"), "{}", text(&o));
}

#[test]
fn stale_read_exits_one_with_explanation() {
    let o = faultline(&["check", &example("register-stale-read.jsonl"), "--model", "register"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("Cannot place #7 p2 read [1,10] → ok"), "{}", text(&o));
}

#[test]
fn json_output_is_machine_readable() {
    let o = faultline(&["check", &example("register-stale-read.jsonl"), "--model", "register", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["valid"], serde_json::json!(false));
    assert_eq!(v["format"], "jsonl");
    assert_eq!(v["results"][0]["evidence"]["failures"][0]["blocking"], 7);
    assert_eq!(v["stats"]["total"]["ok"], 6);
}

#[test]
fn reads_jepsen_edn_and_porcupine_logs() {
    let o = faultline(&["check", &example("set-lost.edn"), "--model", "set-full", "--single-key"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("lost: element 3"), "{}", text(&o));
    let o = faultline(&["check", &example("etcd-register.log"), "--model", "cas-register"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("porcupine-etcd"), "{}", text(&o));
    assert!(text(&o).contains(" on 1 key are linearizable"), "one key, not \"1 keys\": {}", text(&o));
}

#[test]
fn porcupine_kv_logs_start_keys_at_empty_string() {
    let dir = tempfile::tempdir().unwrap();
    let kv = write(
        dir.path(),
        "kv.txt",
        "{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n{:process 0, :type :ok, :f :get, :key \"1\", :value \"\"}\n\
         {:process 1, :type :invoke, :f :append, :key \"1\", :value \"x\"}\n{:process 1, :type :ok, :f :append, :key \"1\", :value \"x\"}\n\
         {:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n{:process 0, :type :ok, :f :get, :key \"1\", :value \"\"}\n",
    );
    let o = faultline(&["check", kv.to_str().unwrap(), "--model", "kv"]);
    assert_eq!(o.status.code(), Some(1), "a read of \"\" after the append completed is stale: {}", text(&o));
}

#[test]
fn exported_edn_checks_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("history.edn");
    let o = faultline(&["check", &example("register-stale-read.jsonl"), "--model", "register", "--export-edn", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let o = faultline(&["check", out.to_str().unwrap(), "--model", "register", "--nil-read", "absent"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn malformed_input_names_file_and_line_and_exits_254() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("bad.jsonl", "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":[1,null]}\n{\"type\":\"ok\",\n", "bad.jsonl:2: invalid JSON"),
        ("pair.jsonl", "{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":[1,null]}\n", "pair.jsonl:1: operation at position 0: process 0 completes an operation it never invoked"),
        ("shape.jsonl", "{\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":5}\n{\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":5}\n", "shape.jsonl:1: operation at position 0 (index 0): write: expected [key, value], got 5"),
        ("bad.edn", "{:type :invoke, :process 0, :f :read}\n{:type :ok :process 0 :f :read :value [1 2}\n", "bad.edn:2: unexpected '}'"),
        ("bad.log", "INFO  jepsen.util - 0\t:done\t:read\tnil\n", "bad.log:1: type must be"),
        ("what.txt", "hello\n", "what.txt:1: cannot tell the format"),
    ];
    for (name, content, expected) in cases {
        let path = write(dir.path(), name, content);
        let o = faultline(&["check", path.to_str().unwrap(), "--model", "register"]);
        assert_eq!(o.status.code(), Some(254), "{name}: {}", text(&o));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(expected), "{name}: expected {expected:?} in {stderr:?}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn bad_arguments_and_missing_files_exit_254() {
    let o = faultline(&["check", "nope.jsonl", "--model", "register"]);
    assert_eq!(o.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.jsonl"), "{}", text(&o));
    let o = faultline(&["check", &example("etcd-register.log"), "--model", "linearish"]);
    assert_eq!(o.status.code(), Some(254));
    let o = faultline(&["check", &example("etcd-register.log"), "--model", "register", "--initial-value", "{"]);
    assert_eq!(o.status.code(), Some(254));
    let o = faultline(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn an_exhausted_budget_exits_two() {
    use faultline_checkers::testgen::{register_history, RegisterOps, SimConfig};
    let dir = tempfile::tempdir().unwrap();
    // 30 concurrent processes on one cas register: a correct history whose search needs
    // far more than the zero-second budget allows.
    let ops = register_history(&SimConfig::new(30, 20_000, 1, 3), RegisterOps::ReadWriteCas);
    let mut w = faultline_history::JsonlWriter::create(&dir.path().join("hard.jsonl")).unwrap();
    for op in &ops {
        w.append(op).unwrap();
    }
    w.sync().unwrap();
    let path = dir.path().join("hard.jsonl");
    let o = faultline(&["check", path.to_str().unwrap(), "--model", "cas-register", "--time-budget", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("time budget ran out"), "{}", text(&o));
}

#[test]
fn elle_models_judge_against_the_chosen_consistency_model() {
    let o = faultline(&["check", &example("list-append-read-skew.edn"), "--model", "list-append", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["results"][0]["evidence"]["anomaly_types"], serde_json::json!(["G-single"]));
    assert_eq!(v["results"][0]["evidence"]["not"], serde_json::json!(["repeatable-read", "snapshot-isolation"]));
    let si = example("list-append-si.jsonl");
    let o = faultline(&["check", &si, "--model", "list-append"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("G2-item"), "{}", text(&o));
    let o = faultline(&["check", &si, "--model", "list-append", "--consistency-model", "snapshot-isolation"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = faultline(&["check", &si, "--model", "list-append", "--consistency-model", "linearizable"]);
    assert_eq!(o.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown consistency model"), "{}", text(&o));
}

#[test]
fn malformed_transactions_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "txn.jsonl",
        "{\"type\":\"invoke\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",\"x\",1]]}\n{\"type\":\"ok\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",\"x\"]]}\n",
    );
    let o = faultline(&["check", path.to_str().unwrap(), "--model", "list-append"]);
    assert_eq!(o.status.code(), Some(254), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("txn.jsonl:2: operation at position 1 (index 1): micro-op must be [f, key, value]"), "{}", text(&o));
}

#[test]
fn budgets_take_fractions_of_seconds_and_counts_read_as_english() {
    let out = faultline(&["check", &example("register-stale-read.jsonl"), "--model", "register", "--time-budget", "1.5"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let bad = faultline(&["check", &example("register-stale-read.jsonl"), "--model", "register", "--time-budget", "soon"]);
    assert_eq!(bad.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a number of seconds"));
}

#[test]
fn a_history_on_stdin_and_json_that_names_the_model_as_the_flag_does() {
    use std::io::Write;
    use std::process::Stdio;
    let text = std::fs::read_to_string(example("register-stale-read.jsonl")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["check", "-", "--model", "cas-register", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["model"].as_str(), report["file"].as_str()), (Some("cas-register"), Some("-")));
    assert_eq!(report["results"][0]["evidence"]["kind"], "linearizable");
}

#[test]
fn bare_values_without_single_key_get_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("set.jsonl");
    std::fs::write(&path, "{\"index\":0,\"time\":1,\"type\":\"invoke\",\"process\":0,\"f\":\"add\",\"value\":1}\n{\"index\":1,\"time\":2,\"type\":\"ok\",\"process\":0,\"f\":\"add\",\"value\":1}\n").unwrap();
    let out = faultline(&["check", path.to_str().unwrap(), "--model", "set-full"]);
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --single-key"), "{}", String::from_utf8_lossy(&out.stderr));
}
