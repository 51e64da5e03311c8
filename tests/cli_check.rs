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
        ("shape.jsonl", "{\"type\":\"invoke\",\"process\":0,\"f\":\"cas\",\"value\":[1,[2,3]]}\n{\"type\":\"ok\",\"process\":0,\"f\":\"cas\",\"value\":[1,[2,3]]}\n", "shape.jsonl:1: operation at position 0 (index 0): f=\"cas\" is not an operation of the register model"),
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

/// Writes each `(file name, history, model, exit code)` and checks it with only
/// `--model`: the exit code must be the expected one.
fn exits_as_expected(cases: &[(&str, &str, &str, i32)]) {
    let dir = tempfile::tempdir().unwrap();
    for &(name, history, model, exit) in cases {
        let path = write(dir.path(), name, history);
        let o = faultline(&["check", path.to_str().unwrap(), "--model", model]);
        assert_eq!(o.status.code(), Some(exit), "{name}: {}", text(&o));
    }
}

#[test]
fn public_shapes_load_with_only_the_model() {
    let cases = [
        // Knossos-style: the whole history one EDN list, bare register values.
        ("knossos.edn", "(\n{:process 0, :type :invoke, :f :write, :value 3}\n{:process 0, :type :ok, :f :write, :value 3}\n{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value 3})\n", "register", 0),
        // One set, bare values: adds, then a read of the whole set.
        ("set.edn", "{:process 0, :type :invoke, :f :add, :value 0}\n{:process 0, :type :ok, :f :add, :value 0}\n{:process 0, :type :invoke, :f :add, :value 1}\n{:process 0, :type :ok, :f :add, :value 1}\n{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value [0 1]}\n", "set-full", 0),
        // elle-cli JSON: one array, plain spellings.
        ("elle-cli.json", "[{\"type\":\"invoke\",\"f\":\"txn\",\"value\":[[\"append\",\"x\",1]],\"process\":0,\"index\":1},\n{\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"append\",\"x\",1]],\"process\":0,\"index\":2},\n{\"type\":\"invoke\",\"f\":\"txn\",\"value\":[[\"r\",\"x\",null]],\"process\":1,\"index\":3},\n{\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"r\",\"x\",[1]]],\"process\":1,\"index\":4}]", "list-append", 0),
        // Jepsen JSON an object a line, keywords with their colons.
        ("colons.jsonl", "{\"type\":\":invoke\",\"f\":\":txn\",\"value\":[[\":append\",\"x\",1]],\"process\":0}\n{\"type\":\":ok\",\"f\":\":txn\",\"value\":[[\":append\",\"x\",1]],\"process\":0}\n", "list-append", 0),
        // Elle's own test shape: no :f, no :process, completions only; a G1c cycle.
        ("elle-test.edn", "[{:type :ok, :value [[:append :x 1] [:r :y [1]]]}\n {:type :ok, :value [[:append :y 1] [:r :x [1]]]}]\n", "list-append", 1),
        // Porcupine etcd with runs of spaces instead of tabs.
        ("spaces.log", "INFO  jepsen.util - 0   :invoke  :write  1\nINFO  jepsen.util - 0   :ok      :write  1\nINFO  jepsen.util - 1   :invoke  :read   nil\nINFO  jepsen.util - 1   :ok      :read   1\n", "cas-register", 0),
    ];
    exits_as_expected(&cases);
}

#[test]
fn input_that_is_not_a_history_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let deep = write(dir.path(), "deep.edn", &format!("{{:type :ok, :process 0, :f :read, :value {}1{}}}", "[".repeat(14_000), "]".repeat(14_000)));
    let empty = write(dir.path(), "empty.jsonl", "");
    let bad_utf8 = dir.path().join("bad.jsonl");
    std::fs::write(&bad_utf8, b"{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n\xff\xfe\n").unwrap();
    let cases: [(Vec<&str>, &str); 6] = [
        (vec![readme.to_str().unwrap(), "--format", "porcupine-etcd"], "no client operations: this is not a porcupine-etcd history"),
        (vec![empty.to_str().unwrap(), "--format", "jsonl"], "empty.jsonl:1: no client operations"),
        (vec![deep.to_str().unwrap()], "deep.edn:1: nested more than 128 levels deep"),
        (vec!["/dev/zero"], "/dev/zero:1: line is longer than 256 MiB"),
        (vec![bad_utf8.to_str().unwrap()], "bad.jsonl:2: not valid UTF-8 at byte 1 of the line"),
        (vec!["/no/such/file"], "cannot read /no/such/file: No such file or directory (os error 2)"),
    ];
    for (args, reason) in cases {
        let mut all = vec!["check"];
        all.extend(&args);
        all.extend(["--model", "register"]);
        let o = faultline(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(254), "{args:?}: {err}");
        assert!(err.contains(reason), "{args:?}: {err}");
        assert_eq!(err.matches("os error").count(), err.contains("os error") as usize, "said once: {err}");
    }
}

/// What `faultline check` prints, with the file's directory and the time it took
/// (the only parts that change from run to run) written as placeholders.
fn printed(args: &[&str]) -> String {
    let o = faultline(args);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/histories").display().to_string();
    let out = text(&o).replace(&dir, "[examples]");
    let out = out.lines().map(|l| match l.find("(checked in ") {
        Some(at) => format!("{}(checked in [ms])", &l[..at]),
        None => l.to_owned(),
    });
    format!("exit {:?}\n{}", o.status.code(), out.collect::<Vec<_>>().join("\n"))
}

#[test]
fn what_check_prints_is_kept_as_snapshots() {
    insta::assert_snapshot!("check-valid", printed(&["check", &example("cas-register-valid.jsonl"), "--model", "cas-register"]));
    insta::assert_snapshot!("check-stale-read", printed(&["check", &example("register-stale-read.jsonl"), "--model", "register"]));
    insta::assert_snapshot!("check-list-append", printed(&["check", &example("list-append-si.jsonl"), "--model", "list-append"]));
    insta::assert_snapshot!("check-missing-file", printed(&["check", "no-such-history.jsonl", "--model", "register"]));
}

/// 40 processes on one register, all at once, in two rounds: 20 write the values
/// 0–19 and 20 read one of them; then a read of a value nobody wrote. Values repeat
/// across the rounds, so the fast path does not apply; every round is possible on its
/// own, and proving the whole impossible means trying the orders of 20 concurrent
/// writes: 20 · 2^20 configurations a round.
fn pathological_register_history(dir: &Path) -> PathBuf {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(40);
    let mut lines = Vec::new();
    let mut time = 0u64;
    let mut event = |lines: &mut Vec<String>, kind: &str, p: usize, f: &str, value: String| {
        time += 1;
        lines.push(format!(r#"{{"type":"{kind}","process":{p},"f":"{f}","value":{value},"time":{time}}}"#));
    };
    for _round in 0..2 {
        for p in 0..40 {
            let (f, value) = if p < 20 { ("write", p.to_string()) } else { ("read", "null".to_owned()) };
            event(&mut lines, "invoke", p, f, value);
        }
        let mut order: Vec<usize> = (0..40).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.gen_range(0..=i));
        }
        for p in order {
            let (f, value) = if p < 20 { ("write", p) } else { ("read", rng.gen_range(0..20)) };
            event(&mut lines, "ok", p, f, value.to_string());
        }
    }
    event(&mut lines, "invoke", 0, "read", "null".into());
    event(&mut lines, "ok", 0, "read", "99".into());
    write(dir, "pathological.jsonl", &(lines.join("\n") + "\n"))
}

/// `faultline check --json`'s figures of a run.
fn json_check(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let o = faultline(args);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("JSON ({e}): {}", text(&o)));
    (o.status.code(), v)
}

#[test]
fn a_pathological_register_answers_unknown_within_its_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = pathological_register_history(dir.path());
    let file = path.to_str().unwrap();
    // What reading and splitting the history costs, with no search at all.
    let (code, base) = json_check(&["check", file, "--model", "register", "--single-key", "--memory-budget", "0", "--json"]);
    assert_eq!(code, Some(2), "no memory, no search: unknown");
    let base_mb = base["peak_rss_mb"].as_f64().expect("peak RSS on Linux");
    let (code, r) = json_check(&["check", file, "--model", "register", "--single-key", "--memory-budget", "64", "--json"]);
    assert_eq!(code, Some(2), "{r}");
    let why = r["results"][0]["explanation"][0].as_str().unwrap_or_default();
    assert!(why.contains("memory budget ran out"), "the reason is given: {why}");
    let peak = r["peak_rss_mb"].as_f64().unwrap_or(f64::MAX);
    eprintln!("pathological register: peak RSS {peak:.1} MB under a 64 MB budget (history alone {base_mb:.1} MB), {:.0} ms", r["elapsed_ms"].as_f64().unwrap_or(0.0));
    assert!(peak <= base_mb + 1.5 * 64.0, "peak RSS {peak:.0} MB with a 64 MB budget (history alone {base_mb:.0} MB)");
}

#[test]
fn mutex_multi_register_set_and_long_fork_models_judge_their_histories() {
    let cases = [
        ("mutex-ok.edn", "{:process 0, :type :invoke, :f :acquire}\n{:process 0, :type :ok, :f :acquire}\n{:process 0, :type :invoke, :f :release}\n{:process 0, :type :ok, :f :release}\n{:process 1, :type :invoke, :f :acquire}\n{:process 1, :type :ok, :f :acquire}\n", "mutex", 0),
        ("mutex-two.edn", "{:process 0, :type :invoke, :f :acquire}\n{:process 0, :type :ok, :f :acquire}\n{:process 1, :type :invoke, :f :acquire}\n{:process 1, :type :ok, :f :acquire}\n", "mutex", 1),
        ("multi.edn", "{:process 0, :type :invoke, :f :txn, :value [[:write :x 1] [:write :y 1]]}\n{:process 0, :type :ok, :f :txn, :value [[:write :x 1] [:write :y 1]]}\n{:process 1, :type :invoke, :f :txn, :value [[:read :x nil] [:read :y nil]]}\n{:process 1, :type :ok, :f :txn, :value [[:read :x 1] [:read :y nil]]}\n", "multi-register", 1),
        ("set.edn", "{:process 0, :type :invoke, :f :add, :value 1}\n{:process 0, :type :ok, :f :add, :value 1}\n{:process 1, :type :invoke, :f :add, :value 2}\n{:process 1, :type :ok, :f :add, :value 2}\n{:process 2, :type :invoke, :f :read, :value nil}\n{:process 2, :type :ok, :f :read, :value #{1}}\n", "set", 1),
        ("fork.edn", "{:process 0, :type :ok, :f :txn, :value [[:w 1 1]]}\n{:process 1, :type :ok, :f :txn, :value [[:w 2 1]]}\n{:process 2, :type :ok, :f :txn, :value [[:r 1 1] [:r 2 nil]]}\n{:process 3, :type :ok, :f :txn, :value [[:r 1 nil] [:r 2 1]]}\n", "long-fork", 1),
    ];
    exits_as_expected(&cases);
}

/// A JSONL or EDN transactional history given as a file is read straight into compact
/// transactions; from stdin it goes through the general importer. Both must say the same.
#[test]
fn transactional_files_and_stdin_give_the_same_report() {
    for name in ["list-append-si.jsonl", "list-append-read-skew.edn"] {
        let path = example(name);
        let from_file = faultline(&["check", &path, "--model", "list-append", "--json"]);
        let stdin = std::fs::File::open(&path).expect("the example exists");
        let from_stdin = Command::new(env!("CARGO_BIN_EXE_faultline"))
            .args(["check", "-", "--model", "list-append", "--json"])
            .stdin(stdin)
            .output()
            .expect("faultline runs");
        assert_eq!(from_file.status.code(), from_stdin.status.code(), "{name}: {}", text(&from_file));
        let report = |o: &Output| {
            let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
            for volatile in ["file", "elapsed_ms", "peak_rss_mb"] {
                v.as_object_mut().expect("an object").remove(volatile);
            }
            v
        };
        let (a, b) = (report(&from_file), report(&from_stdin));
        assert_eq!(a, b, "{name}");
        assert_eq!(a["valid"], serde_json::json!(false), "{name} holds an anomaly");
    }
    // Ops without a :process are numbered by the general importer, from the whole file.
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "no-process.edn", "{:type :ok, :value [[:append :x 1]]}\n{:type :ok, :value [[:r :x [1]]]}\n");
    let o = faultline(&["check", path.to_str().unwrap(), "--model", "list-append"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("2 transactions"), "{}", text(&o));
}
