//! `faultline test` and `faultline analyze`: options in, progress while it runs, a
//! one-screen summary and the verdict's exit code out.

use crate::cli::{AnalyzeArgs, EngineArg, TestArgs};
use crate::exit::Exit;
use crate::shutdown::Shutdown;
use anyhow::anyhow;
use faultline::runner::{run_test, TestError, TestOptions, TestOutcome};
use faultline::store;
use faultline_checkers::{CheckResult, History, Validity};
use faultline_history::{Op, OpType, Process};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The options of a run, from the command line or (with `--replay`) from a stored run.
fn options(args: &TestArgs, seed: u64, engine: &EngineArg) -> Result<TestOptions, Exit> {
    if let Some(run) = &args.replay {
        let mut opts = store::read_test(run).map_err(|e| Exit::bad_input(anyhow!(e)))?.options;
        opts.replay = Some(run.clone());
        opts.store = args.store.clone();
        opts.docker_host = engine.docker_host.clone();
        opts.publish_ports = engine.publish_ports;
        return Ok(opts);
    }
    let design = args.design.clone().unwrap_or_default();
    // A design file's run is named after the design it describes, not its path.
    let maelstrom = args.maelstrom.as_ref().map(|node| faultline::design::MaelstromSpec {
        node: std::path::absolute(node).unwrap_or_else(|_| node.clone()),
        args: args.maelstrom_args.clone(),
        packages: args.maelstrom_packages.clone(),
        workload: args.workload.clone(),
        topology: args.topology.clone(),
    });
    let design = match &maelstrom {
        Some(m) => m.node.display().to_string(),
        None => design,
    };
    let resolved = match &maelstrom {
        Some(m) => m.design(),
        None => faultline::design::resolve(&design),
    };
    let design_name = resolved.map_or_else(|_| design.clone(), |d| d.name().to_owned());
    Ok(TestOptions {
        name: args.name.clone().unwrap_or_else(|| format!("{design_name}-{}", args.workload)),
        design,
        bugs: args.bugs.clone(),
        node_opts: args.node_opts.clone(),
        workload: args.workload.clone(),
        consistency_model: args.consistency_model.clone(),
        read_share: args.read_share,
        nemesis: args.nemesis.clone(),
        nemesis_interval_s: args.nemesis_interval,
        nemesis_targets: args.nemesis_targets.clone(),
        nemesis_grudge: args.nemesis_grudge.clone(),
        nodes: args.nodes,
        concurrency: args.concurrency.unwrap_or(2 * args.nodes),
        rate: args.rate,
        time_limit_s: args.time_limit,
        seed,
        lose_unsynced: args.lose_unsynced,
        leave_running: args.leave_running,
        store: args.store.clone(),
        op_timeout_s: args.op_timeout,
        recovery_s: args.recovery,
        base_image: args.base.base_image.clone(),
        replay: None,
        docker_host: engine.docker_host.clone(),
        publish_ports: engine.publish_ports,
        maelstrom,
    })
}

/// Runs `faultline test`: `--test-count` runs one after another; the exit code is the
/// worst verdict.
pub async fn run(args: TestArgs, engine: EngineArg) -> Result<i32, Exit> {
    let first_seed = args.seed.unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    let mut worst = Validity::Valid;
    for k in 0..u64::from(args.test_count.max(1)) {
        let opts = options(&args, first_seed + k, &engine)?;
        let mut shutdown = Shutdown::listen().map_err(Exit::crash)?;
        let interrupt = Box::pin(async move { shutdown.recv().await });
        println!("faultline test: {} {} / {} / nemesis {} / seed {}{}", opts.design, bug_list(&opts.bugs), opts.workload, opts.nemesis, opts.seed, opts.replay.as_ref().map_or(String::new(), |r| format!(" (replaying {})", r.display())));
        if k == 0 {
            announce_images(&args, &opts).await?;
        }
        let progress = Progress::new(opts.time_limit_s);
        let outcome = run_test(&opts, Some(progress.watcher()), interrupt).await;
        progress.finish();
        match outcome {
            Ok(outcome) => {
                print!("{}", summary_text(&opts, &outcome));
                worst = worst.merge(outcome.result.valid);
            }
            Err(TestError::Interrupted { signal, run, dir }) => {
                eprintln!("faultline: {signal}: removed everything of run {run}; the history written so far is in {}", dir.display());
                return Ok(130);
            }
            Err(TestError::BadOptions(e)) => return Err(Exit::bad_input(anyhow!(e))),
            Err(e) => return Err(Exit::crash(e)),
        }
    }
    Ok(worst.exit_code())
}

/// Builds (or finds) the run's images before it starts, saying so: a first build takes
/// a minute or two, which would otherwise pass in silence. The run then finds them.
async fn announce_images(args: &TestArgs, opts: &TestOptions) -> Result<(), Exit> {
    // Bad options are the run's to report, with their exit code, before Docker.
    if faultline::runner::validate(opts).is_err() {
        return Ok(());
    }
    let Ok(design) = opts.resolve_design() else { return Ok(()) };
    let engine = faultline::runtime::Engine::open(opts.docker_host.as_deref()).await.map_err(Exit::crash)?;
    let base = crate::docker_cmds::base(&engine, &args.base, true).await.map_err(Exit::crash)?;
    crate::docker_cmds::node(&engine, &design, &base).await?;
    Ok(())
}

fn bug_list(bugs: &[String]) -> String {
    if bugs.is_empty() {
        "(no bugs)".into()
    } else {
        format!("--bug {}", bugs.join(" --bug "))
    }
}

/// What `faultline test` prints after a run: where it is stored, what the verdict
/// rests on (counts per node, leaders, warnings), the checker's result, the stages.
fn summary_text(opts: &TestOptions, o: &TestOutcome) -> String {
    let mut out = String::new();
    let faultline::store::Counts { ok, fail, info } = o.counts;
    let _ = writeln!(out, "  run directory: {} (open report.html)", o.dir.display());
    let _ = writeln!(out, "  client ops: {ok} ok, {fail} fail, {info} info; faults: {}", o.faults);
    let nodes: Vec<String> = (1..=opts.nodes).map(|i| format!("n{i}")).collect();
    let per_node: Vec<String> = nodes
        .iter()
        .map(|n| {
            let c = o.report.per_node.get(n).copied().unwrap_or_default();
            format!("{n} {}/{}/{}", c.ok, c.fail, c.info)
        })
        .collect();
    let _ = writeln!(out, "  per node (ok/fail/info): {}", per_node.join(", "));
    let phases: Vec<String> = o
        .report
        .phases
        .iter()
        .map(|p| if p.ops == 0 { format!("{} no operations", p.name) } else { format!("{} {:.0}% of {}", p.name, p.availability * 100.0, p.ops) })
        .collect();
    let _ = writeln!(out, "  availability: {}", phases.join(", "));
    if let Some(leaders) = &o.leaders {
        let _ = writeln!(out, "  leaders: {}", faultline::store::describe_leaders(leaders));
    }
    if let Some(cost) = &o.controller {
        let _ = writeln!(out, "  throughput: {}", cost.describe());
    }
    if let Some(m) = &o.messages {
        let _ = writeln!(out, "  messages: {}", faultline::store::describe_messages(m));
    }
    for w in faultline::report::data::warnings(&o.report, &nodes, !matches!(opts.nemesis.as_str(), "" | "none"), o.leaders.as_deref()) {
        let _ = writeln!(out, "  warning: {w}");
    }
    out.push_str(&result_text(&o.result));
    let stages: Vec<String> = o.stages.iter().map(|(s, t)| format!("{s} {t:.1} s")).collect();
    let _ = writeln!(out, "  stages: {}", stages.join(", "));
    let _ = writeln!(out, "verdict: {}", o.result.valid);
    out
}

/// A checker's result: its verdict and summary, then the first 25 lines of its
/// explanation.
fn result_text(r: &CheckResult) -> String {
    let mut out = format!("  {}: {} — {}\n", r.checker, r.valid, r.summary);
    for line in r.explanation.iter().take(25) {
        let _ = writeln!(out, "    {line}");
    }
    if r.explanation.len() > 25 {
        let _ = writeln!(out, "    … {} more lines in results.json", r.explanation.len() - 25);
    }
    out
}

/// `faultline analyze <run>`: checks a stored history again with its workload, and
/// writes the new verdict into the run's `results.json` and `report.html`, so the run
/// has one verdict whichever command last looked at it.
pub fn analyze(args: &AnalyzeArgs) -> Result<i32, Exit> {
    let opts = store::read_test(&args.run).map_err(|e| Exit::bad_input(anyhow!(e)))?.options;
    let workload = faultline::runner::workload_of(&opts).map_err(|e| Exit::bad_input(anyhow!(e)))?;
    let path: PathBuf = args.run.join("history.jsonl");
    let ops = faultline_history::read_jsonl_file(&path).map_err(Exit::bad_input)?;
    let history = History::new(ops).map_err(|e| Exit::bad_input(anyhow!("{}: {e}", path.display())))?;
    let started = Instant::now();
    let result = workload.check(&history).map_err(|e| Exit::bad_input(anyhow!("{}: {e}", path.display())))?;
    println!("{} ({} events; {} / {} / seed {})", path.display(), history.len(), opts.design, opts.workload, opts.seed);
    print!("{}", result_text(&result));
    let checked_in = started.elapsed().as_secs_f64();
    let valid = result.valid;
    let record = match store::read_results(&args.run) {
        Ok(mut stored) => {
            stored.valid = valid;
            stored.result = result;
            stored
        }
        // An interrupted run has no results yet: these are its first.
        Err(_) => store::ResultsRecord { valid, result, counts: store::Counts::of(history.ops()), faults: store::count_faults(history.ops()), stages: Vec::new(), wall_s: checked_in, leaders: None, controller: None, messages: None },
    };
    let dir = store::RunDir { path: args.run.clone() };
    dir.write_json("results.json", &record).map_err(|e| Exit::crash(anyhow!("writing {}: {e}", dir.file("results.json").display())))?;
    let page = faultline::report::write_report(&args.run).map_err(|e| Exit::crash(anyhow!(e)))?;
    println!("verdict: {valid} (checked in {:.1} ms); wrote results.json and {}", checked_in * 1e3, page.display());
    Ok(valid.exit_code())
}

/// `faultline report <run>`: writes the run's `report.html` again.
pub fn report(args: &AnalyzeArgs) -> Result<i32, Exit> {
    let path = faultline::report::write_report(&args.run).map_err(|e| Exit::bad_input(anyhow!(e)))?;
    println!("{}", path.display());
    Ok(0)
}

/// `faultline serve`: the store over HTTP until interrupted.
pub async fn serve(args: crate::cli::ServeArgs) -> Result<i32, Exit> {
    if !args.store.is_dir() {
        return Err(Exit::bad_input(anyhow!("no store at {} (run faultline test first, or pass --store)", args.store.display())));
    }
    let listener = tokio::net::TcpListener::bind(&args.bind).await.map_err(|e| Exit::bad_input(anyhow!("cannot listen on {}: {e}", args.bind)))?;
    println!("serving {} on http://{}", args.store.display(), args.bind);
    axum::serve(listener, faultline::report::serve::router(args.store)).await.map_err(Exit::crash)?;
    Ok(0)
}

/// Progress while a test runs: a bar on a terminal, a plain line every 5 s otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    state: std::sync::Arc<Mutex<Tally>>,
}

#[derive(Default)]
struct Tally {
    counts: [u64; 3],
    faults: Vec<String>,
    last_line: Option<Instant>,
}

impl Progress {
    fn new(time_limit_s: f64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new((time_limit_s * 1000.0) as u64);
            bar.set_style(indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { bar, state: Default::default() }
    }

    fn watcher(&self) -> Box<dyn Fn(&Op) + Send> {
        let (bar, state) = (self.bar.clone(), self.state.clone());
        let started = Instant::now();
        Box::new(move |op: &Op| {
            let mut t = state.lock().unwrap_or_else(|p| p.into_inner());
            match (op.process, op.kind) {
                (Process::Client(_), OpType::Ok) => t.counts[0] += 1,
                (Process::Client(_), OpType::Fail) => t.counts[1] += 1,
                (Process::Client(_), OpType::Info) => t.counts[2] += 1,
                (Process::Nemesis, OpType::Invoke) => {
                    if let Some(kind) = op.f.strip_prefix("start-") {
                        t.faults.push(kind.to_owned());
                    } else if let Some(kind) = op.f.strip_prefix("stop-") {
                        t.faults.retain(|f| f != kind);
                    }
                }
                _ => {}
            }
            let faults = if t.faults.is_empty() { "none".to_owned() } else { t.faults.join(",") };
            let msg = format!("{} ok, {} fail, {} info; faults: {faults}", t.counts[0], t.counts[1], t.counts[2]);
            match &bar {
                Some(bar) => {
                    bar.set_position(started.elapsed().as_millis() as u64);
                    bar.set_message(msg);
                }
                None if t.last_line.is_none_or(|l| l.elapsed() >= Duration::from_secs(5)) => {
                    t.last_line = Some(Instant::now());
                    eprintln!("[{:>5.1} s] {msg}", started.elapsed().as_secs_f64());
                }
                None => {}
            }
        })
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline::store::Leadership;
    use serde_json::json;

    /// A made-up 3-node run: n1 served every ok operation, one partition, one leader.
    fn outcome() -> (TestOptions, TestOutcome) {
        let mut ops = Vec::new();
        for i in 0..120u64 {
            let node = format!("n{}", i % 3 + 1);
            let outcome = if node == "n1" { OpType::Ok } else { OpType::Fail };
            for (kind, ms) in [(OpType::Invoke, i as i64 * 50), (outcome, i as i64 * 50 + 3)] {
                let mut o = Op::new(kind, Process::Client(i % 6), "write", json!([i % 4, i]));
                o.time = ms * 1_000_000;
                o.node = Some(node.clone());
                ops.push(o);
            }
        }
        for (f, ms) in [("start-partition", 1_000), ("stop-partition", 3_000)] {
            let mut o = Op::new(OpType::Invoke, Process::Nemesis, f, json!("n1 | n2 n3"));
            o.time = ms * 1_000_000;
            ops.push(o);
        }
        ops.sort_by_key(|o| o.time);
        let result = CheckResult::new("linearizable", Validity::Valid, "40 ops on 4 keys are linearizable".into(), vec![], faultline_checkers::Evidence::None);
        use clap::Parser;
        let cli = crate::cli::Cli::parse_from(["faultline", "test", "--design", "raft", "--nodes", "3", "--nemesis", "partition"]);
        let crate::cli::Command::Test(args) = cli.command else { unreachable!("parsed as test") };
        let opts = options(&args, 1, &EngineArg::default()).expect("options of a plain command line");
        let o = TestOutcome {
            dir: "store/raft-register/20261202T013000".into(),
            result,
            counts: store::Counts::of(&ops),
            stages: vec![("setup", 2.04), ("run", 6.0), ("heal and final reads", 3.1), ("teardown", 1.2), ("check", 0.01)],
            faults: 1,
            report: faultline::report::data::compute(&ops),
            leaders: Some(vec![Leadership { node: "n1".into(), term: 2, since_s: 0.5 }]),
            controller: Some(faultline::store::ControllerCost { run_s: 6.0, cpu_s: 0.12, completed: 40, ok: 38 }),
            messages: None,
        };
        (opts, o)
    }

    #[test]
    fn a_maelstrom_summary_gives_messages_per_request() {
        let (opts, mut o) = outcome();
        o.messages = Some(faultline_workloads::adapter::MessageCounts { between_nodes: 1204, to_services: 310, client_requests: 400 });
        let text = summary_text(&opts, &o);
        assert!(text.contains("  messages: 1204 messages between nodes, 3.0 per client request; 310 service requests; 400 client requests\n"), "{text}");
    }

    #[test]
    fn the_summary_says_what_the_verdict_rests_on() {
        let (opts, o) = outcome();
        insta::assert_snapshot!(summary_text(&opts, &o));
    }
}
