//! `faultline test` end to end against Docker: real clusters of the reference designs,
//! real faults, real verdicts. The binary is run as a user runs it. These tests need
//! Docker; where it is unreachable they fail and say so. They run one at a time (a
//! shared lock) so they do not compete for the machine's two cores.

#[path = "support/run.rs"]
mod run;

use faultline_checkers::Validity;
use run::{assert_refused, leftover_containers, leftovers_while_holding_the_lock, results, store, test, timed_test, ONE_AT_A_TIME};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[test]
fn correct_raft_register_under_every_fault_at_once_is_valid() {
    let s = store();
    let (out, dir) = test(s.path(), &["--design", "raft", "--workload", "register", "--nemesis", "all", "--time-limit", "20", "--nemesis-interval", "3", "--seed", "11"]);
    assert_eq!(out.status.code(), Some(0), "correct raft must be valid");
    let r = results(&dir);
    assert!(r.counts.ok > 100 && r.faults >= 4, "{r:?}");
    let (most_at_once, kinds, ok_after_heal) = faults_overlap_and_recovery(&dir);
    assert!(most_at_once >= 2 && kinds >= 3, "the all package overlaps faults of several kinds: {most_at_once} at once, {kinds} kinds");
    assert!(ok_after_heal > 0, "the workload runs on after the heal");
    for f in ["test.json", "history.jsonl", "faults.jsonl", "results.json", "report.html", "nodes/n1/node.log"] {
        assert!(dir.join(f).exists(), "{f} is stored");
    }
    let dom = check_report_in_chromium(&dir, "report-raft-register-valid", "valid");
    assert!(!dom.contains("</summary><pre></pre>"), "no empty explanation box");
    let again = Command::new(env!("CARGO_BIN_EXE_faultline")).args(["analyze", dir.to_str().unwrap()]).output().unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stdout));
    assert_eq!(leftover_containers(), 0);

    // A replay runs the same faults, in the same order, at the same times (± 1 s).
    let original = std::fs::canonicalize(&dir).unwrap();
    let (out, replayed) = test(s.path(), &["--replay", original.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let faults = |d: &Path| -> Vec<(String, serde_json::Value, i64)> {
        let ops = faultline_history::read_jsonl_file(&d.join("faults.jsonl")).unwrap();
        ops.into_iter().filter(|o| o.kind == faultline_history::OpType::Invoke && o.f != "heal").map(|o| (o.f, o.value, o.time / 1_000_000_000)).collect()
    };
    let (a, b) = (faults(&original), faults(&replayed));
    assert_eq!(a.iter().map(|x| (&x.0, &x.1)).collect::<Vec<_>>(), b.iter().map(|x| (&x.0, &x.1)).collect::<Vec<_>>());
    assert!(a.iter().zip(&b).all(|(x, y)| (x.2 - y.2).abs() <= 1), "{a:?} vs {b:?}");
}

#[test]
fn raft_with_stale_follower_reads_under_partitions_is_invalid() {
    let s = store();
    let (out, dir) = test(s.path(), &["--design", "raft", "--bug", "stale-follower-read", "--workload", "register", "--nemesis", "partition", "--time-limit", "20", "--nemesis-interval", "3", "--seed", "3"]);
    assert_eq!(out.status.code(), Some(1), "stale reads must be found");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not linearizable"), "{text}");
    assert_eq!(results(&dir).valid, Validity::Invalid);
    let report = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(report.contains("INVALID") && report.contains(r#"class="fault""#) && report.contains("not linearizable"), "the report shows the verdict, the fault windows and the finding");
}

/// Runs headless Chromium (Debian's package, which `.ci/setup` installs) on a page
/// (with `#fragment`, when not empty): answers the DOM after its scripts ran and
/// Chromium's log, and leaves a screenshot `height` pixels tall at `screenshot`.
fn chromium(page: &Path, fragment: &str, screenshot: &Path, height: u32) -> (String, String) {
    let _ = std::fs::remove_file(screenshot);
    let url = format!("file://{}{fragment}", std::fs::canonicalize(page).expect("the page exists").display());
    let run = |extra: &[&str]| -> Output {
        let out = Command::new("timeout")
            .args(["120", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"])
            .args(extra)
            .arg(&url)
            .stdin(Stdio::null())
            .output()
            .expect("chromium is installed (bash .ci/setup installs Debian's chromium package)");
        assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
        out
    };
    let shot = run(&[&format!("--window-size=1200,{height}"), &format!("--screenshot={}", screenshot.display())]);
    let dom = run(&["--dump-dom"]);
    eprintln!("screenshot of {url}: {}", screenshot.display());
    let log = format!("{}{}", String::from_utf8_lossy(&shot.stderr), String::from_utf8_lossy(&dom.stderr));
    assert!(std::fs::metadata(screenshot).map(|m| m.len()).unwrap_or(0) > 20_000, "a screenshot was taken");
    assert!(!log.contains("Uncaught") && !log.contains(":ERROR:CONSOLE"), "no console errors:\n{log}");
    (String::from_utf8_lossy(&dom.stdout).into_owned(), log)
}

/// The number a rendered page holds in attribute `name` (`data-rendered="12"`).
fn dom_number(dom: &str, name: &str) -> Option<usize> {
    dom.split(&format!("{name}=\"")).nth(1).and_then(|rest| rest.split('"').next()).and_then(|n| n.parse().ok())
}

/// Renders a run's report in Chromium as a whole and with the per-key timeline, and
/// checks what every report must show: no script error, the verdict, legible charts
/// (legends, several y ticks), the timeline drawn both ways with values on its bars.
/// Answers the whole page's DOM; the screenshots are `<name>.png` and `<name>-by-key.png`.
fn check_report_in_chromium(dir: &Path, name: &str, verdict: &str) -> String {
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let (dom, _) = chromium(&dir.join("report.html"), "", &shots.join(format!("{name}.png")), 2600);
    assert!(dom.contains(r#"<pre id="js-errors"></pre>"#), "no script error was caught on the page");
    assert!(dom.contains(r#"id="verdict""#) && dom.contains(verdict), "the verdict banner says {verdict}");
    assert!(dom.contains(r#"id="latency-legend""#) && dom.contains(r#"id="throughput-legend""#), "both charts have legends");
    assert!(dom.matches(r#"class="ytick""#).count() >= 6, "both charts have y ticks");
    assert!(dom_number(&dom, "data-rendered") > Some(0), "the timeline script drew operations");
    assert!(dom_number(&dom, "data-labels") > Some(0), "values are written on the timeline's bars");
    // Tall enough to reach the timeline below an invalid run's findings.
    let (by_key, _) = chromium(&dir.join("report.html"), "#by-key", &shots.join(format!("{name}-by-key.png")), 7000);
    assert!(by_key.contains(r#"<pre id="js-errors"></pre>"#), "no script error in the per-key view");
    assert!(by_key.contains(">key "), "the per-key view names its rows by key");
    assert!(dom_number(&by_key, "data-rows") > Some(1), "the per-key view has a row per key");
    dom
}

#[test]
fn dynamo_list_append_shows_anomalies_and_its_report_renders_in_chromium() {
    let s = store();
    let (out, dir) = test(s.path(), &["--design", "dynamo", "--workload", "list-append", "--nemesis", "partition", "--time-limit", "20", "--nemesis-interval", "3", "--seed", "5"]);
    assert_eq!(out.status.code(), Some(1), "dynamo transactions are not atomic");
    let r = results(&dir);
    assert_eq!(r.valid, Validity::Invalid, "{}", r.result.summary);

    let dom = check_report_in_chromium(&dir, "report-dynamo-list-append", "INVALID");
    assert!(dom.contains(r#"class="fault""#), "shaded fault windows");
    assert!(dom.contains(r#"id="anomalies""#) && dom.contains(r#"class="cycle""#) && dom.contains(r#"class="oplink""#), "the anomaly section with a drawn cycle linked to its operations");
}

#[test]
fn correct_caspaxos_register_under_every_fault_at_once_is_valid() {
    let s = store();
    let (out, dir) = test(s.path(), &["--design", "caspaxos", "--workload", "register", "--nemesis", "all", "--time-limit", "15", "--nemesis-interval", "3", "--seed", "7"]);
    assert_eq!(out.status.code(), Some(0), "correct caspaxos must be valid");
    assert!(results(&dir).counts.ok > 100);
    let faults = std::fs::read_to_string(dir.join("faults.jsonl")).unwrap();
    assert!(!faults.contains("\"leader\""), "a leaderless design's package never aims at a leader");
}

/// From a run's history: the most faults in force at once, how many kinds started,
/// and how many operations completed ok after the heal.
fn faults_overlap_and_recovery(dir: &Path) -> (usize, usize, usize) {
    let ops = faultline_history::read_jsonl_file(&dir.join("history.jsonl")).unwrap();
    let nemesis: Vec<&faultline_history::Op> = ops.iter().filter(|o| o.process == faultline_history::Process::Nemesis && o.kind == faultline_history::OpType::Invoke).collect();
    let (mut active, mut most) = (std::collections::BTreeSet::new(), 0);
    for o in &nemesis {
        if let Some(kind) = o.f.strip_prefix("start-") {
            active.insert(kind);
        } else if let Some(kind) = o.f.strip_prefix("stop-") {
            active.remove(kind);
        }
        most = most.max(active.len());
    }
    let kinds: std::collections::BTreeSet<&str> = nemesis.iter().filter_map(|o| o.f.strip_prefix("start-")).collect();
    let healed = nemesis.iter().find(|o| o.f == "heal").map(|o| o.time).expect("a heal");
    let ok_after = ops.iter().filter(|o| o.kind == faultline_history::OpType::Ok && o.time > healed).count();
    (most, kinds.len(), ok_after)
}

#[test]
fn an_interrupted_run_removes_its_cluster_and_keeps_a_readable_history() {
    let s = store();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["test", "--store", s.path().to_str().unwrap(), "--design", "raft", "--workload", "set", "--nemesis", "kill", "--time-limit", "60", "--seed", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faultline starts");
    // Wait until the run is writing its history, then interrupt it.
    let history = s.path().join("latest").join("history.jsonl");
    let until = Instant::now() + Duration::from_secs(600);
    while std::fs::metadata(&history).map_or(0, |m| m.len()) < 2_000 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let out = child.wait_with_output().expect("faultline exits");
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(leftovers_while_holding_the_lock(), 0, "nothing of the run is left");
    let ops = faultline_history::read_jsonl_file(&history).expect("the history prefix is readable");
    assert!(ops.len() > 10, "{} events", ops.len());
}

#[test]
fn bad_options_exit_254_with_the_reason() {
    for (args, reason) in [
        (vec!["--design", "raft", "--nodes", "0"], "--nodes must be 1 to 9"),
        (vec!["--design", "raft", "--nemesis", "flood"], "unknown fault \"flood\""),
        (vec!["--design", "paxos-made-simple"], "unknown design"),
        (vec!["--design", "raft", "--workload", "queue"], "unknown workload"),
        (vec!["--design", "raft", "--read-share", "1.5"], "a read share is a fraction from 0 to 1, not 1.5"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_faultline")).arg("test").args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {err}");
        assert!(err.contains(reason), "{args:?}: {err}");
    }
}

/// `--docker-host` names the engine (here the local one, by its socket): the run uses
/// it and records it; addresses faultline cannot use are refused with the reason.
#[test]
fn a_run_on_the_engine_docker_host_names_records_it() {
    let s = store();
    let engine = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let (out, dir) = test(s.path(), &["--design", "raft", "--workload", "register", "--nemesis", "partition", "--nodes", "3", "--time-limit", "5", "--docker-host", &engine]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let test_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).expect("test.json")).expect("JSON");
    assert_eq!(test_json["options"]["docker_host"], engine.as_str(), "the run says which engine it used");
    assert!(results(&dir).counts.ok > 0);
    let no_certs = store();
    for (address, why) in [("ftp://engine", "none of unix://, tcp://, https:// or ssh://"), ("https://remote:2376", "TLS needs")] {
        let out = Command::new(env!("CARGO_BIN_EXE_faultline")).args(["clean", "--docker-host", address]).env("DOCKER_CERT_PATH", no_certs.path()).output().expect("faultline runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(why) && err.contains("Fix:"), "{address}: {err}");
    }
}

// ---- etcd 3.4 (Debian's etcd-server): a real system under the same workloads ----

#[test]
fn etcd_register_under_partitions_kills_and_pauses_is_valid() {
    let s = store();
    let (out, dir) = test(s.path(), &["--design", "etcd", "--workload", "register", "--nemesis", "partition,kill,pause", "--time-limit", "15", "--nemesis-interval", "3", "--seed", "21"]);
    assert_eq!(out.status.code(), Some(0), "etcd's linearizable reads and writes must be valid");
    let r = results(&dir);
    assert!(r.counts.ok > 100 && r.faults >= 2, "{r:?}");
    assert_eq!(leftover_containers(), 0);
}

#[test]
fn etcd_with_serializable_reads_under_partitions_serves_stale_reads() {
    let s = store();
    let (out, dir) = test(s.path(), &["--design", "etcd", "--node-opt", "serializable-reads=true", "--workload", "register", "--nemesis", "partition", "--time-limit", "20", "--nemesis-interval", "3", "--seed", "22"]);
    assert_eq!(out.status.code(), Some(1), "local serializable reads on a minority must be stale");
    assert!(results(&dir).result.summary.contains("not linearizable"));
}

#[test]
fn etcd_list_append_under_partitions_and_kills_is_strict_serializable() {
    let s = store();
    let (out, dir) = test(s.path(), &["--design", "etcd", "--workload", "list-append", "--nemesis", "partition,kill", "--time-limit", "15", "--nemesis-interval", "3", "--seed", "23"]);
    assert_eq!(out.status.code(), Some(0), "etcd transactions guarded on mod_revision are strict serializable");
    assert!(results(&dir).counts.ok > 50);
}

#[test]
fn faults_etcd_cannot_take_are_refused_before_docker_is_touched() {
    for (args, why) in [
        (&["--nemesis", "clock"][..], "libfaketime cannot skew it"),
        (&["--lose-unsynced"][..], "--lose-unsynced cannot apply"),
        (&["--bug", "no-noop"][..], "no switchable bugs"),
    ] {
        assert_refused(&[&["--design", "etcd"][..], args].concat(), why);
    }
}

// ---- faultline grade ----

#[test]
fn grade_runs_its_cells_and_writes_the_scorecard() {
    let s = store();
    let out_dir = s.path().join("card");
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["grade", "--store", s.path().to_str().unwrap(), "--out", out_dir.to_str().unwrap(), "--design", "raft", "--bugs", "none", "--bugs", "stale-follower-read"])
        .args(["--workload", "register", "--nemesis", "partition", "--time-limit", "12", "--seeds", "3"])
        .output()
        .expect("faultline grade runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{text}");
    assert_eq!(out.status.code(), Some(0), "correct raft valid and the bug detected: no deviation");
    let card: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("scorecard.json")).expect("scorecard.json")).unwrap();
    assert_eq!((card["cells_run"].as_u64(), card["deviations"].as_u64()), (Some(2), Some(0)), "{card}");
    assert_eq!(card["bugs"][0]["bug"], "stale-follower-read");
    assert_eq!(card["bugs"][0]["detected"], 1);
    assert!(card["bugs"][0]["median_time_to_detect_s"].as_f64() > Some(0.0), "{card}");
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).expect("junit.xml");
    assert_eq!((junit.matches("<testcase ").count(), junit.matches("<failure ").count()), (2, 0));
    let page = std::fs::read_to_string(out_dir.join("scorecard.html")).expect("scorecard.html");
    for cell in card["cells"].as_array().unwrap() {
        let report = Path::new(cell["run"].as_str().unwrap()).join("report.html");
        assert!(report.exists(), "each cell's run has its report");
    }
    assert!(page.contains("report.html") && page.contains("stale-follower-read"));
    assert_eq!(leftovers_while_holding_the_lock(), 0);
}

// ---- designs as data, one binary ----

#[test]
fn a_system_described_only_in_a_design_file_runs_end_to_end() {
    let s = store();
    let design = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/designs/etcd-fast-election.toml");
    let (out, dir) = test(s.path(), &["--design", design.to_str().unwrap(), "--workload", "register", "--nemesis", "partition", "--time-limit", "15", "--nemesis-interval", "3", "--seed", "5"]);
    assert_eq!(out.status.code(), Some(0), "etcd from a design file is linearizable");
    let test_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    assert_eq!(test_json["design"]["spec"]["name"], "etcd-fast", "the run records the design it ran");
    assert_eq!(test_json["design"]["origin"]["file"], design.to_str().unwrap());
    assert!(results(&dir).counts.ok > 50, "{:?}", results(&dir));
    let log = std::fs::read_to_string(dir.join("nodes/n1/node.log")).unwrap();
    assert!(log.contains("heartbeat = 50ms") && log.contains("election = 500ms"), "etcd ran with the file's settings");
    assert!(dir.canonicalize().unwrap().to_string_lossy().contains("/etcd-fast-register/"), "the run is named after the design");
    assert_eq!(leftover_containers(), 0);
}

#[test]
fn an_installed_faultline_runs_a_test_from_an_empty_directory_without_cargo() {
    let root = tempfile::tempdir().unwrap();
    let workspace = env!("CARGO_MANIFEST_DIR");
    // The dev profile and the suite's own target directory: what `cargo test` already
    // built is reused, so this installs in seconds.
    // Installing may relink target/debug/faultline, which the other tests run: not
    // while one of them does.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let install = {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        Command::new(cargo)
            .args(["install", "--debug", "--locked", "--offline", "--path", workspace, "--root", root.path().to_str().unwrap()])
            .env("CARGO_TARGET_DIR", Path::new(workspace).join("target"))
            .output()
            .expect("cargo install runs")
    };
    assert!(install.status.success(), "{}", String::from_utf8_lossy(&install.stderr));
    let exe = root.path().join("bin/faultline");
    let empty = tempfile::tempdir().unwrap();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let out = Command::new(&exe)
        .args(["test", "--design", "raft", "--workload", "register", "--nemesis", "none", "--time-limit", "5", "--nodes", "3"])
        .current_dir(empty.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("the installed faultline runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(empty.path().join("store/latest/report.html").exists(), "the store is made in the working directory: {text}");
    assert_eq!(leftovers_while_holding_the_lock(), 0);
}

#[test]
fn a_node_that_cannot_start_fails_the_run_at_once_with_its_output() {
    let s = store();
    let (out, _, took) = timed_test(s.path(), &["--design", "raft", "--node-opt", "forward=maybe", "--workload", "register", "--nemesis", "none", "--time-limit", "5", "--nodes", "3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{stderr}");
    assert!(stderr.contains("exited with code 1") && stderr.contains("forward is true or false"), "the node's own words: {stderr}");
    assert!(took < Duration::from_secs(45), "not after the health timeout: {took:?}");
    assert_eq!(leftover_containers(), 0);
}

#[test]
fn raft_followers_forward_so_every_client_thread_gets_answers() {
    // Client completions refused with `not-leader`, and the ok ones, of a run.
    let refusals = |dir: &Path| {
        let ops = faultline_history::read_jsonl_file(&dir.join("history.jsonl")).unwrap();
        let refused = ops.iter().filter(|o| o.kind == faultline_history::OpType::Fail && o.error.as_ref().is_some_and(|e| e.to_string().contains("not-leader"))).count();
        (refused, results(dir).counts.ok)
    };
    let s = store();
    let (out, dir) = test(s.path(), &["--design", "raft", "--workload", "register", "--nemesis", "none", "--time-limit", "8", "--seed", "4"]);
    assert_eq!(out.status.code(), Some(0));
    let (refused, ok) = refusals(&dir);
    // With forwarding only the first moments, before followers know the leader, are
    // refused; without it the 4 of 5 threads bound to followers always are.
    assert!(refused * 10 < ok, "forwarding: {refused} not-leader, {ok} ok");
    let (out, dir) = test(s.path(), &["--design", "raft", "--node-opt", "forward=false", "--workload", "register", "--nemesis", "none", "--time-limit", "8", "--seed", "4"]);
    assert_eq!(out.status.code(), Some(0));
    let (refused, ok) = refusals(&dir);
    assert!(refused > ok, "without forwarding: {refused} not-leader, {ok} ok");
    // The summary says what this valid verdict rests on: one node's answers.
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("per node (ok/fail/info): n1 ") && summary.contains("warning: 4 of 5 nodes served no ok operation"), "{summary}");
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains(r#"id="warnings""#) && report.contains("4 of 5 nodes served no ok operation"), "and so does the report's banner");
}
