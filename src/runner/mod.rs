//! `faultline test`, end to end (docs/ARCHITECTURE.md §1): images, cluster, run, heal,
//! final reads, teardown, check, store. The steps are in [`run_test`], in order.

pub mod control;
pub mod cost;
pub mod interpreter;
pub mod leaders;

pub use crate::store::TestOptions;

use crate::design::{self, Design, Launch};
use crate::runtime::cluster::{new_run_id, Cluster, ClusterSpec, Reach};
use crate::runtime::{base_image, clean, node_image, probe, Engine, RuntimeError};
use crate::store::{ControllerCost, Counts, ImagesUsed, Leadership, ResultsRecord, RunDir, Stage, TestRecord};
use control::DockerControl;
use faultline_checkers::{CheckResult, History};
use faultline_history::generator::{self, Gen};
use faultline_history::{JsonlWriter, Op, OpType, Process};
use faultline_nemesis::{fault_ops, Executor, Fault, FaultKind, NemesisChoice, Target};
use faultline_workloads::{Workload, WorkloadOptions};
use futures_util::FutureExt;
use interpreter::{HistoryLog, Interpreter};
use serde_json::Value;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a run produced.
pub struct TestOutcome {
    /// The run's directory.
    pub dir: PathBuf,
    /// The checkers' verdict.
    pub result: CheckResult,
    /// Counts of ok / fail / info client completions.
    pub counts: Counts,
    /// Seconds of each stage: setup, run, heal and final reads, teardown, check.
    pub stages: Vec<(&'static str, f64)>,
    /// Faults executed.
    pub faults: usize,
    /// What the run's report shows (latencies, phases, recovery).
    pub report: crate::report::data::ReportData,
    /// The leaders seen in turn, for a design that reports one.
    pub leaders: Option<Vec<Leadership>>,
    /// What the controller spent in the run phase.
    pub controller: Option<ControllerCost>,
    /// Messages the nodes exchanged, where faultline carries them (Maelstrom nodes).
    pub messages: Option<faultline_workloads::adapter::MessageCounts>,
}

/// Why a run did not produce a verdict.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// The options make no sense; exit 254.
    #[error("{0}")]
    BadOptions(String),
    /// Docker or the machine failed; exit 255.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// Files of the store.
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    /// The history could not be checked.
    #[error("checking the history: {0}")]
    Check(String),
    /// A signal arrived; everything of the run was removed.
    #[error("{signal}: removed run {run}; the history so far is in {dir}")]
    Interrupted { signal: &'static str, run: String, dir: PathBuf },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TestError {
    let what = what.into();
    move |source| TestError::Io { what, source }
}

/// A future that resolves, naming a signal, when the run must stop.
pub type Interrupt = Pin<Box<dyn Future<Output = &'static str> + Send>>;

/// Everything decided before Docker is touched: a bad option fails here, fast.
struct Plan {
    design: Design,
    launch: Launch,
    workload: Arc<dyn Workload>,
    /// What the nemesis runs (`nemesis.kinds()`: every kind it may start).
    nemesis: NemesisChoice,
    aim: faultline_nemesis::Aim,
    replay: Option<Vec<Op>>,
}

/// The workload a run's options name, with its consistency model and read share.
pub fn workload_of(opts: &TestOptions) -> Result<Arc<dyn Workload>, String> {
    let mut wopts = WorkloadOptions::default();
    if let Some(m) = &opts.consistency_model {
        wopts.consistency_model = m.parse()?;
    }
    wopts.read_share = opts.read_share.map(faultline_workloads::ReadShare::from_fraction).transpose()?;
    Ok(faultline_workloads::by_name(&opts.workload, &wopts)?.into())
}

/// Checks a run's options without touching Docker: `Err` says what is wrong.
pub fn validate(opts: &TestOptions) -> Result<(), String> {
    match plan(opts) {
        Ok(_) => Ok(()),
        Err(TestError::BadOptions(e)) => Err(e),
        Err(e) => Err(e.to_string()),
    }
}

fn plan(opts: &TestOptions) -> Result<Plan, TestError> {
    let bad = TestError::BadOptions;
    let design = opts.resolve_design().map_err(|e| bad(e.to_string()))?;
    let launch = design.launch(&opts.bugs, &opts.node_opts, opts.lose_unsynced).map_err(|e| bad(e.to_string()))?;
    let workload = workload_of(opts).map_err(bad)?;
    design.workload(&opts.workload).map_err(bad)?;
    // A package takes what the design can do; kinds the user listed are refused below
    // with the reason.
    let nemesis = NemesisChoice::parse(&opts.nemesis).map_err(bad)?.without(|k| k == FaultKind::Clock && design.clock_fault().is_err());
    if opts.nodes == 0 || opts.nodes > 9 {
        return Err(bad(format!("--nodes must be 1 to 9, not {}", opts.nodes)));
    }
    let node_names: Vec<String> = (1..=opts.nodes).map(|i| format!("n{i}")).collect();
    let (link_names, others): (Vec<String>, Vec<String>) = opts.nemesis_targets.iter().cloned().partition(|t| t.contains(':'));
    let (named, others): (Vec<String>, Vec<String>) = others.into_iter().partition(|t| node_names.contains(t));
    let (shapes, kinds_of_target): (Vec<String>, Vec<String>) = others.into_iter().partition(|t| faultline_nemesis::grudge::TARGET_SHAPES.contains(&t.as_str()));
    let links = link_names.iter().map(|l| parse_link(l, &node_names)).collect::<Result<Vec<_>, _>>().map_err(bad)?;
    if !links.is_empty() && (!named.is_empty() || !kinds_of_target.is_empty()) {
        return Err(bad("--nemesis-targets takes links (n1:n2) or nodes and kinds of target, not both".into()));
    }
    let aim = faultline_nemesis::Aim {
        targets: Target::parse_list(&kinds_of_target.join(",")).map_err(bad)?,
        nodes: named,
        links,
        grudge: opts.nemesis_grudge.as_deref().map(|g| faultline_nemesis::grudge::parse_explicit(g, &node_names)).transpose().map_err(bad)?,
        leaderless: !design.spec.capabilities.leader,
        shapes,
    };
    if aim.targets.contains(&Target::Leader) || aim.shapes.iter().any(|s| s == "isolate-leader") || matches!(nemesis, NemesisChoice::Scripted(_)) {
        design.leader().map_err(bad)?;
    }
    if nemesis.kinds().contains(&FaultKind::Clock) {
        design.clock_fault().map_err(bad)?;
    }
    if opts.concurrency == 0 {
        return Err(bad("--concurrency must be at least 1".into()));
    }
    if !(opts.time_limit_s > 0.0 && opts.nemesis_interval_s > 0.0 && opts.op_timeout_s > 0.0) || opts.rate < 0.0 {
        return Err(bad("--time-limit, --nemesis-interval and --op-timeout must be positive, --rate not negative".into()));
    }
    let replay = match &opts.replay {
        Some(dir) => {
            let path = dir.join("faults.jsonl");
            Some(faultline_history::read_jsonl_file(&path).map_err(|e| bad(format!("cannot replay: {e}")))?)
        }
        None => None,
    };
    Ok(Plan { design, launch, workload, nemesis, aim, replay })
}

const SECOND: f64 = 1e9;

/// A link of `--nemesis-targets`: two different nodes of the cluster, `n1:n2`.
fn parse_link(text: &str, nodes: &[String]) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((a, b)) if a != b && nodes.iter().any(|n| n == a) && nodes.iter().any(|n| n == b) => Ok((a.to_owned(), b.to_owned())),
        _ => Err(format!("--nemesis-targets {text:?}: a link is two different nodes of this cluster, e.g. n1:n2 (nodes: {})", nodes.join(", "))),
    }
}

/// The generator of the main phase: the workload at the asked rate plus the faults,
/// for the time limit.
fn main_generator(opts: &TestOptions, plan: &Plan, nodes: &[String]) -> Result<Gen, TestError> {
    let mut clients = plan.workload.generator(opts.seed);
    if opts.rate > 0.0 {
        clients = generator::stagger((SECOND / opts.rate) as u64, opts.seed ^ 0x5eed, clients);
    }
    let interval = (opts.nemesis_interval_s * SECOND) as u64;
    let faults = match (&plan.replay, &plan.nemesis) {
        (Some(recorded), _) => return Ok(replay_generator(clients, recorded, opts)),
        (None, NemesisChoice::Scripted(name)) => faultline_nemesis::scripted_schedule(name, interval, opts.seed).map_err(TestError::BadOptions)?,
        (None, NemesisChoice::Package { families, .. }) => faultline_nemesis::combined_schedule(families, &plan.aim, nodes, interval, opts.seed),
        (None, NemesisChoice::Kinds(kinds)) => faultline_nemesis::random_schedule(kinds, &plan.aim, nodes, interval, opts.seed),
        (None, NemesisChoice::None) => generator::nemesis(generator::ops(Vec::new())),
    };
    // The workload goes on through the heal and the recovery after it, so the time to
    // recover is measured for every workload, not only those with final reads.
    let fault_phase = (opts.time_limit_s * SECOND) as u64;
    // The heal is at the end of the fault phase, not when the schedule has no more
    // faults before it (a time limit ends as soon as the next operation would be late).
    let heal_at_the_end = generator::then(vec![generator::sleep(fault_phase), generator::nemesis(fault_ops(vec![Fault::Heal]))]);
    let faults_then_heal = generator::any(vec![generator::time_limit(fault_phase, faults), heal_at_the_end]);
    Ok(generator::time_limit(fault_phase + (opts.recovery_s * SECOND) as u64, generator::any(vec![generator::clients(clients), faults_then_heal])))
}

/// The main phase of a replay: the clients as in [`main_generator`], and every recorded
/// fault with its heal. The faults are not cut at the time limit: the nemesis runs one
/// fault at a time, so one recorded just before the limit can come due just after it
/// when an earlier one (a kill, a pause) took longer this time, and a replay that
/// dropped it would not be the same run. A recording without a heal (an interrupted
/// run) is healed after its last fault. The clients stop at the time limit plus the
/// recovery, as in the recorded run.
fn replay_generator(clients: Gen, recorded: &[faultline_history::Op], opts: &TestOptions) -> Gen {
    let replayed = faultline_nemesis::replay_schedule(recorded);
    let faults_then_heal = if recorded.iter().any(|o| Fault::from_op(&o.f, &o.value) == Ok(Fault::Heal)) { replayed } else { generator::then(vec![replayed, generator::nemesis(fault_ops(vec![Fault::Heal]))]) };
    let clients = generator::time_limit(((opts.time_limit_s + opts.recovery_s) * SECOND) as u64, generator::clients(clients));
    generator::any(vec![clients, faults_then_heal])
}


/// Runs a test. `on_event` sees every history event (for progress); `interrupt`
/// resolves on Ctrl-C or SIGTERM, after which everything of the run is removed.
pub async fn run_test(opts: &TestOptions, on_event: Option<interpreter::EventWatcher>, interrupt: Interrupt) -> Result<TestOutcome, TestError> {
    let plan = plan(opts)?;
    let mut stages = Vec::new();
    let t0 = Instant::now();
    // Images and the machine's capabilities.
    let engine = Engine::open(opts.docker_host.as_deref()).await?;
    let docker = engine.docker.clone();
    let base = match &opts.base_image {
        Some(b) => b.clone(),
        None => base_image::ensure(&docker, &base_image::Recipe::for_host()?, engine.source.as_ref()).await?.image,
    };
    let node_image = node_image::ensure(&docker, &plan.design, &base, engine.source.as_ref()).await?.image;
    let holder_image = node_image::ensure_holder(&docker, &base, engine.source.as_ref()).await?.image;
    let probe = probe::probe(&docker, &base).await?;
    // The store.
    let dir = RunDir::create(&opts.store, &opts.name).map_err(io(format!("creating the run directory in {}", opts.store.display())))?;
    let run = new_run_id(plan.design.name());
    let test_record = TestRecord {
        options: opts.clone(),
        design: plan.design.clone(),
        run: run.clone(),
        faultline: env!("CARGO_PKG_VERSION").to_owned(),
        images: ImagesUsed { base: base.clone(), node: node_image.clone() },
        probe: probe.clone(),
        started: chrono::Utc::now().to_rfc3339(),
    };
    dir.write_json("test.json", &test_record).map_err(io("writing test.json"))?;
    let writer = JsonlWriter::create(&dir.file("history.jsonl")).map_err(io("creating history.jsonl"))?;
    let mut log = HistoryLog::new(writer);
    log.on_event = on_event;
    let history = Arc::new(Mutex::new(log));

    let reach = Reach::new(engine.host(), opts.publish_ports);
    let spec = ClusterSpec { run: run.clone(), holder_image, node_image, nodes: opts.nodes, launch: plan.launch.clone(), reach };
    let body = run_cluster(opts, &dir.path, &plan, &docker, &spec, probe, history.clone(), &mut stages, t0);
    let outcome = tokio::select! {
        r = std::panic::AssertUnwindSafe(body).catch_unwind() => Ok(r),
        signal = interrupt => Err(signal),
    };
    // Whatever happened, what was written of the history reaches the disk.
    let _ = history.lock().unwrap_or_else(|p| p.into_inner()).sync();
    let ClusterRun { leaders, controller, messages } = match outcome {
        Ok(Ok(Ok(run))) => run,
        Err(signal) => {
            clean::remove_labelled(&docker, Some(&run)).await?;
            return Err(TestError::Interrupted { signal, run, dir: dir.path.clone() });
        }
        Ok(Ok(Err(e))) => {
            if !opts.leave_running {
                let _ = clean::remove_labelled(&docker, Some(&run)).await;
            }
            return Err(e);
        }
        Ok(Err(panic)) => {
            let _ = clean::remove_labelled(&docker, Some(&run)).await;
            std::panic::resume_unwind(panic)
        }
    };
    // Check.
    let t = Instant::now();
    let ops = faultline_history::read_jsonl_file(&dir.file("history.jsonl")).map_err(|e| TestError::Check(e.to_string()))?;
    dir.write_faults(&ops).map_err(io("writing faults.jsonl"))?;
    let counts = Counts::of(&ops);
    let faults = crate::store::count_faults(&ops);
    let h = History::new(ops).map_err(|e| TestError::Check(e.to_string()))?;
    let result = plan.workload.check(&h).map_err(|e| TestError::Check(e.to_string()))?;
    stages.push(("check", t.elapsed().as_secs_f64()));
    let results = ResultsRecord {
        valid: result.valid,
        result: result.clone(),
        counts,
        faults,
        stages: stages.iter().map(|(s, t)| Stage { stage: (*s).to_owned(), seconds: *t }).collect(),
        wall_s: t0.elapsed().as_secs_f64(),
        leaders: leaders.clone(),
        controller,
        messages,
    };
    dir.write_json("results.json", &results).map_err(io("writing results.json"))?;
    let report = crate::report::data::compute(h.ops());
    crate::report::write_report_of(&dir.path, &test_record, &results, &report).map_err(TestError::Check)?;
    Ok(TestOutcome { dir: dir.path, result, counts, stages, faults, report, leaders, controller, messages })
}

/// What [`run_cluster`] learned besides the history.
struct ClusterRun {
    leaders: Option<Vec<Leadership>>,
    controller: Option<ControllerCost>,
    messages: Option<faultline_workloads::adapter::MessageCounts>,
}

/// The part of a run that has a cluster: create it, run, heal, final reads, logs,
/// teardown (node logs go to `dir`). Answers the leaders seen, for a design with one,
/// and the controller's cost in the run phase.
#[allow(clippy::too_many_arguments)]
async fn run_cluster(
    opts: &TestOptions,
    dir: &std::path::Path,
    plan: &Plan,
    docker: &bollard::Docker,
    spec: &ClusterSpec,
    probe: probe::Probe,
    history: Arc<Mutex<HistoryLog>>,
    stages: &mut Vec<(&'static str, f64)>,
    t0: Instant,
) -> Result<ClusterRun, TestError> {
    let cluster = Arc::new(Cluster::create(docker, spec).await?);
    cluster.wait_healthy().await?;
    let nodes: Vec<String> = cluster.nodes.iter().map(|n| n.name.clone()).collect();
    let client = design::adapters::connect(&plan.launch, cluster.addrs(), Duration::from_secs_f64(opts.op_timeout_s), opts.seed).map_err(TestError::BadOptions)?;
    let adapter = client.txn.clone();
    let leader_query = client.leader.clone();
    let control = Arc::new(DockerControl { cluster: cluster.clone(), probe, leader: client.leader });
    let executor = Arc::new(Executor::new(control, &plan.nemesis.kinds()).map_err(TestError::BadOptions)?);
    stages.push(("setup", t0.elapsed().as_secs_f64()));

    let t = Instant::now();
    let interpreter = Interpreter {
        workload: plan.workload.clone(),
        adapter,
        executor: executor.clone(),
        nodes,
        concurrency: opts.concurrency,
        op_timeout: Duration::from_secs_f64(opts.op_timeout_s),
        started: Instant::now(),
        history: history.clone(),
    };
    let watch = leader_query.map(|q| leaders::watch(q, interpreter.nodes.clone(), interpreter.started));
    let cpu_before = cost::process_cpu();
    interpreter.run(main_generator(opts, plan, &interpreter.nodes)?).await.map_err(io("writing history.jsonl"))?;
    let run_s = t.elapsed().as_secs_f64();
    stages.push(("run", run_s));
    let (completed, ok) = history.lock().unwrap_or_else(|p| p.into_inner()).completed();
    let controller = cpu_before.zip(cost::process_cpu()).map(|(before, after)| ControllerCost { run_s, cpu_s: after.saturating_sub(before).as_secs_f64(), completed, ok });

    // The generator healed at the end of the fault phase; a heal it could not reach
    // (no recovery time) or that failed is done and recorded now. Then the final reads.
    let t = Instant::now();
    if !executor.healed() {
        let healed = executor.heal_all().await;
        record_heal(&interpreter, healed).map_err(io("writing history.jsonl"))?;
    }
    cluster.wait_healthy().await?;
    if let Some(finals) = plan.workload.final_generator() {
        // Final reads ask what the cluster converged to: writes of the recovery's last
        // moments get --recovery quiet seconds to spread (gossip, hinted handoff, anti-
        // entropy) first, as they had when no client ran after the heal.
        tokio::time::sleep(Duration::from_secs_f64(opts.recovery_s)).await;
        interpreter.run(finals).await.map_err(io("writing history.jsonl"))?;
    }
    history.lock().unwrap_or_else(|p| p.into_inner()).sync().map_err(io("syncing history.jsonl"))?;
    stages.push(("heal and final reads", t.elapsed().as_secs_f64()));
    let leaders = watch.map(leaders::LeaderWatch::stop);
    // Counted after the final reads, with every node up again; a count that cannot be
    // had is left out of the report rather than failing a run that has its verdict.
    let messages = match &client.messages {
        Some(counter) => match counter.message_counts(&interpreter.nodes).await {
            Ok(counts) => Some(counts),
            Err(e) => {
                eprintln!("faultline: the report has no message counts: {e}");
                None
            }
        },
        None => None,
    };

    let t = Instant::now();
    cluster.collect_logs(dir).await?;
    if !opts.leave_running {
        cluster.teardown().await?;
    }
    stages.push(("teardown", t.elapsed().as_secs_f64()));
    Ok(ClusterRun { leaders, controller, messages })
}

/// Records a heal outside the generator as a nemesis event pair.
fn record_heal(interpreter: &Interpreter, healed: Result<Value, String>) -> std::io::Result<()> {
    let mut log = interpreter.history.lock().unwrap_or_else(|p| p.into_inner());
    let time = interpreter.started.elapsed().as_nanos() as i64;
    let mut invoke = Op::new(OpType::Invoke, Process::Nemesis, "heal", Value::Null);
    invoke.time = time;
    log.append(invoke)?;
    let mut done = Op::new(OpType::Info, Process::Nemesis, "heal", Value::Null);
    done.time = interpreter.started.elapsed().as_nanos() as i64;
    match healed {
        Ok(v) => done.value = v,
        Err(e) => done.error = Some(Value::String(e)),
    }
    log.append(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::generator::{simulate, EventKind};

    /// The nemesis operations of a run's generator, simulated: (seconds, f).
    fn nemesis_ops(nemesis: &str, time_limit_s: f64) -> Vec<(f64, String)> {
        let opts = TestOptions { nemesis: nemesis.into(), time_limit_s, rate: 10.0, ..crate::store::sample::options() };
        let plan = plan(&opts).expect("a valid plan");
        let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        let gen = main_generator(&opts, &plan, &nodes).expect("a generator");
        simulate(gen, 10, 1_000_000, 100_000, |_| EventKind::Ok).into_iter().filter(|s| s.thread == generator::Thread::Nemesis).map(|s| (s.time as f64 / SECOND, s.f)).collect()
    }

    #[test]
    fn links_name_two_nodes_of_the_cluster() {
        let nodes: Vec<String> = (1..=3).map(|i| format!("n{i}")).collect();
        assert_eq!(parse_link("n1:n3", &nodes), Ok(("n1".into(), "n3".into())));
        for bad in ["n1:n1", "n1:n4", "n1:", "x:n2"] {
            assert!(parse_link(bad, &nodes).unwrap_err().contains("a link is two different nodes"), "{bad}");
        }
        let opts = TestOptions { nemesis: "delay".into(), nemesis_targets: vec!["n1:n2".into(), "leader".into()], ..crate::store::sample::options() };
        assert!(validate(&opts).unwrap_err().contains("not both"));
    }

    #[test]
    fn partition_shapes_are_targets_too() {
        let opts = |targets: &[&str], design: &str| TestOptions { nemesis: "partition,kill".into(), nemesis_targets: targets.iter().map(|t| t.to_string()).collect(), design: design.into(), ..crate::store::sample::options() };
        let plan = plan(&opts(&["majorities-ring", "leader"], "raft")).expect("a plan");
        assert_eq!((plan.aim.shapes, plan.aim.targets), (vec!["majorities-ring".to_owned()], vec![Target::Leader]));
        assert!(validate(&opts(&["isolate-leader"], "dynamo")).unwrap_err().contains("no leader"), "a leaderless design cannot isolate its leader");
        let err = validate(&opts(&["ring"], "raft")).unwrap_err();
        assert!(err.contains("unknown target \"ring\"") && err.contains("majorities-ring"), "{err}");
    }

    #[test]
    fn the_heal_ends_the_fault_phase_and_clients_run_through_recovery() {
        for nemesis in ["isolate-leader", "partition,kill", "all", "none"] {
            let ops = nemesis_ops(nemesis, 30.0);
            let (at, f) = ops.last().expect("a heal").clone();
            assert_eq!(f, "heal", "{nemesis}: {ops:?}");
            assert!((30.0..30.1).contains(&at), "{nemesis}: the heal comes at the time limit, not when the schedule runs dry: {at}");
            assert!(ops.iter().all(|(t, _)| *t <= at), "{nemesis}: no fault after the heal");
        }
    }

    #[test]
    fn a_replay_runs_every_recorded_fault_even_when_faults_run_late() {
        let opts = TestOptions { nemesis: "all".into(), time_limit_s: 30.0, nemesis_interval_s: 3.0, rate: 10.0, ..crate::store::sample::options() };
        let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        let original = simulate(main_generator(&opts, &plan(&opts).expect("a plan"), &nodes).expect("a generator"), 10, 1_000_000, 100_000, |_| EventKind::Ok);
        let recorded: Vec<faultline_history::Op> = original
            .iter()
            .filter(|s| s.thread == generator::Thread::Nemesis)
            .map(|s| faultline_history::Op::new(faultline_history::OpType::Invoke, faultline_history::Process::Nemesis, s.f.clone(), s.value.clone()).at(s.time as i64))
            .collect();
        assert!(recorded.len() > 20 && recorded.last().is_some_and(|o| o.f == "heal"), "{recorded:?}");
        // Every operation takes 1.5 s this time, so the nemesis falls behind the
        // recording and the last faults come due after the time limit.
        let slow = simulate(replay_generator(plan(&opts).expect("a plan").workload.generator(opts.seed), &recorded, &opts), 10, 1_500_000_000, 100_000, |_| EventKind::Ok);
        let late: Vec<f64> = slow.iter().filter(|s| s.thread == generator::Thread::Nemesis).map(|s| s.time as f64 / SECOND).collect();
        assert!(late.iter().rev().nth(1).is_some_and(|t| *t > 30.0 + 1.0), "the test makes faults late: {late:?}");
        let replayed: Vec<(String, Value)> = slow.into_iter().filter(|s| s.thread == generator::Thread::Nemesis).map(|s| (s.f, s.value)).collect();
        assert_eq!(replayed, recorded.iter().map(|o| (o.f.clone(), o.value.clone())).collect::<Vec<_>>(), "the same faults, in the same order, the heal last");
        // A recording cut short (no heal) is healed after its last fault.
        let cut = &recorded[..6];
        let healed = simulate(replay_generator(plan(&opts).expect("a plan").workload.generator(opts.seed), cut, &opts), 10, 1_000_000, 100_000, |_| EventKind::Ok);
        let fs: Vec<String> = healed.into_iter().filter(|s| s.thread == generator::Thread::Nemesis).map(|s| s.f).collect();
        assert_eq!(fs.len(), 7);
        assert_eq!(fs.last().map(String::as_str), Some("heal"));
    }
}
