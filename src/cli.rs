//! The command line: commands and their options.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Jepsen-style chaos testing for replicated databases, in Docker.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// `faultline delayd`'s options.
#[derive(Debug, Args)]
pub struct DelaydArgs {
    /// The NFQUEUE queue number the rules send packets to.
    #[arg(long)]
    pub queue: u16,
    /// Mean delay, ms.
    #[arg(long)]
    pub delay_ms: u32,
    /// Spread around the mean, ms.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u32,
    /// Seed of the holding-time draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A file holding "<delay ms> <jitter ms>", reread on SIGHUP: the delay changes
    /// without releasing what is held.
    #[arg(long)]
    pub plan_file: Option<PathBuf>,
    /// Written with the daemon's pid once the queue is bound.
    #[arg(long)]
    pub pid_file: PathBuf,
}

/// Which Docker Engine to use, for every command that uses one.
#[derive(Debug, Clone, Default, Args)]
pub struct EngineArg {
    /// The Docker Engine to use: unix:///path/docker.sock, tcp://host:2375 (TLS with
    /// DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, as the docker CLI), https://host:2376
    /// or ssh://user@host (default: DOCKER_HOST, else the local socket). Images built
    /// here are sent to it through the Engine API.
    #[arg(long, value_name = "URL")]
    pub docker_host: Option<String>,
    /// Reach the nodes through ports their holders publish on the engine's host, even
    /// where this machine routes to their network (it does so anyway where not).
    #[arg(long)]
    pub publish_ports: bool,
}

/// faultline's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a chaos test: a cluster in Docker, a workload under faults, the verdict.
    Test(Box<TestArgs>),
    /// Check a stored run again, with the checkers of its workload.
    Analyze(AnalyzeArgs),
    /// Write a stored run's report.html again from its files.
    Report(AnalyzeArgs),
    /// Serve the store over HTTP: the runs, newest first, and their reports.
    Serve(ServeArgs),
    /// Grade designs side by side: run a matrix of cells, write the scorecard (HTML,
    /// JSON, JUnit XML); exit 1 when a cell deviates from what its row expects.
    Grade(Box<GradeArgs>),
    /// Check a recorded history offline (faultline JSONL, Jepsen EDN, Porcupine logs).
    Check(CheckArgs),
    /// Build the images faultline runs (built from a Debian rootfs: nothing is pulled).
    Images {
        /// What to do with images.
        #[command(subcommand)]
        command: ImagesCommand,
    },
    /// Check that Docker, the kernel and the base image support faultline's faults.
    Doctor(DoctorArgs),
    /// Remove every container, network and volume faultline left behind.
    Clean(CleanArgs),
    /// Start, inspect and stop clusters by hand (for developing nodes).
    Cluster {
        /// What to do with clusters.
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Run a built-in node program (raft, dynamo, caspaxos, beacon): what the
    /// node containers run; its flags are the node's own (`faultline node raft --help`).
    Node(NodeArgs),
    /// The packet-delay daemon a holder runs during a delay fault (NFQUEUE), where the
    /// kernel has no netem; started and stopped by faultline itself.
    #[command(hide = true)]
    Delayd(DelaydArgs),
    /// Prints each UDP datagram that reaches a port, in arrival order (how the Docker
    /// tests observe reordering at a receiver).
    #[command(hide = true)]
    UdpSink(UdpSinkArgs),
}

/// `faultline udp-sink`'s options.
#[derive(Debug, Args)]
pub struct UdpSinkArgs {
    /// The UDP port to listen on.
    #[arg(long)]
    pub port: u16,
    /// Stop this many ms after the last datagram.
    #[arg(long, default_value_t = 1000)]
    pub quiet_ms: u64,
    /// Stop after this many seconds in all.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
}

/// Options of `faultline node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The node program.
    pub program: String,
    /// The program's own flags (`--node`, `--peers`, `--bug`, `--opt`, …).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// Options of `faultline test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The design under test: a built-in one (raft, dynamo, caspaxos, etcd, beacon) or
    /// a design file such as ./mydb.toml (README: "Testing your own system").
    #[arg(long, required_unless_present_any = ["replay", "maelstrom"], conflicts_with = "maelstrom")]
    pub design: Option<String>,
    /// An unmodified Maelstrom node program to test (a binary, or a script with a `#!`
    /// line); `--workload` is then a Maelstrom workload (README: "Testing a Maelstrom
    /// node").
    #[arg(long, value_name = "NODE")]
    pub maelstrom: Option<PathBuf>,
    /// An argument for the Maelstrom node (several allowed).
    #[arg(long = "maelstrom-arg", requires = "maelstrom", allow_hyphen_values = true)]
    pub maelstrom_args: Vec<String>,
    /// A Debian package the Maelstrom node needs (several allowed; a script's
    /// interpreter is added from its `#!` line).
    #[arg(long = "maelstrom-package", requires = "maelstrom")]
    pub maelstrom_packages: Vec<String>,
    /// The broadcast topology sent to a Maelstrom node: grid (broadcast's default),
    /// line, total, tree2, tree3, tree4.
    #[arg(long, requires = "maelstrom")]
    pub topology: Option<String>,
    /// Switch on a bug in the nodes (several allowed).
    #[arg(long = "bug")]
    pub bugs: Vec<String>,
    /// A design knob, `key=value` (several allowed), e.g. `--node-opt r=1`.
    #[arg(long = "node-opt")]
    pub node_opts: Vec<String>,
    /// The workload: register, set, counter, bank, list-append, rw-register; for a
    /// Maelstrom node, Maelstrom's: echo, unique-ids, broadcast, g-set, g-counter,
    /// pn-counter, lin-kv, txn-list-append, txn-rw-register.
    #[arg(long, default_value = "register")]
    pub workload: String,
    /// The consistency model transactional workloads are checked against.
    #[arg(long)]
    pub consistency_model: Option<String>,
    /// The share of operations that are reads, 0 to 1 (default: the workload's own:
    /// register 0.5, set 0.1, counter 0.25, bank 0.33; list-append and rw-register 0.5
    /// of their micro-ops).
    #[arg(long, value_name = "FRACTION")]
    pub read_share: Option<f64>,
    /// Faults, comma-separated, one at a time (partition, kill, pause, clock, packet,
    /// delay, duplicate); a package whose families overlap (all, network, process); a
    /// scripted schedule (isolate-leader, kill-during-election, bridge-election,
    /// kill-new-leader, slow-leader); or none.
    #[arg(long, default_value = "partition")]
    pub nemesis: String,
    /// Seconds a fault lasts, and between faults.
    #[arg(long, default_value_t = 5.0)]
    pub nemesis_interval: f64,
    /// Which nodes faults strike, comma-separated: one, minority, majority, all,
    /// leader, or node names (n1,n3) for exactly those; or links (n1:n2,n2:n3), which
    /// packet faults strike alone, partitions cut, and kills, pauses and clocks strike
    /// at both ends. Partition shapes (halves, majorities-ring, bridge, one-way,
    /// isolate-leader) make every partition one of them.
    #[arg(long, value_delimiter = ',')]
    pub nemesis_targets: Vec<String>,
    /// Every partition is this grudge: JSON, node → nodes it drops packets from,
    /// e.g. '{"n1":["n2","n3"],"n2":["n1"],"n3":["n1"]}'.
    #[arg(long)]
    pub nemesis_grudge: Option<String>,
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Client threads (default: twice the nodes).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Client operations per second, all threads together (0: unlimited).
    #[arg(long, default_value_t = faultline::store::DEFAULT_RATE)]
    pub rate: f64,
    /// Seconds of workload under faults.
    #[arg(long, default_value_t = 30.0)]
    pub time_limit: f64,
    /// The seed of every random choice (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How many tests to run one after another (seeds seed, seed+1, …).
    #[arg(long, default_value_t = 1)]
    pub test_count: u32,
    /// Nodes drop writes they never fsynced each time they start (kill = power loss).
    #[arg(long)]
    pub lose_unsynced: bool,
    /// Seconds a client operation may take before it is recorded as unknown (info).
    #[arg(long, default_value_t = 2.0)]
    pub op_timeout: f64,
    /// Seconds to let the cluster recover after healing, before final reads.
    #[arg(long, default_value_t = 3.0)]
    pub recovery: f64,
    /// Leave the cluster running at the end.
    #[arg(long)]
    pub leave_running: bool,
    /// The results store.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// The run's name in the store (default: design-workload).
    #[arg(long)]
    pub name: Option<String>,
    /// Rerun a stored run: its options, its seed and its recorded faults.
    #[arg(long)]
    pub replay: Option<PathBuf>,
    /// The base image.
    #[command(flatten)]
    pub base: BaseImageArg,
    /// The Docker Engine.
    #[command(flatten)]
    pub engine: EngineArg,
}

/// Options of `faultline grade`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct GradeArgs {
    /// `merge`: join the scorecards of a sharded grading.
    #[command(subcommand)]
    pub command: Option<GradeCommand>,
    /// A TOML matrix file (e.g. grade/nightly.toml); or build one with the flags below.
    #[arg(long, conflicts_with_all = ["designs", "bug_sets", "expect"], required_unless_present = "designs")]
    pub matrix: Option<PathBuf>,
    /// Designs to grade (several allowed).
    #[arg(long = "design")]
    pub designs: Vec<String>,
    /// Bug sets, each `none` or comma-separated bug ids (several allowed; default none).
    #[arg(long = "bugs")]
    pub bug_sets: Vec<String>,
    /// Workloads (several allowed).
    #[arg(long = "workload", default_value = "register")]
    pub workloads: Vec<String>,
    /// Nemeses, each as `faultline test --nemesis` takes it (several allowed).
    #[arg(long = "nemesis", default_value = "partition")]
    pub nemeses: Vec<String>,
    /// What every row must show (default: valid without bugs, an anomaly with them).
    #[arg(long, value_enum)]
    pub expect: Option<ExpectArg>,
    /// Seeds every row runs with, comma-separated (default: the matrix's, or 1).
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// Seconds of workload per cell, overriding the matrix.
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// The results store (each cell's run goes here).
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Where the scorecard goes (default: <store>/scorecard/<timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only shard K of N of the matrix (e.g. 2/4): the same split on every
    /// machine, balanced by expected cell time; `faultline grade merge` joins them.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<faultline::grade::shard::Shard>,
    /// Run cells in parallel on these Docker Engines (comma-separated engine URLs),
    /// one cell per engine at a time; an engine that goes away makes its cell unknown
    /// and the rest go on without it.
    #[arg(long, value_name = "URL,URL,…", value_delimiter = ',', conflicts_with = "docker_host")]
    pub engines: Vec<String>,
    /// The base image.
    #[command(flatten)]
    pub base: BaseImageArg,
    /// The Docker Engine.
    #[command(flatten)]
    pub engine: EngineArg,
}

/// What `faultline grade` can do besides grading.
#[derive(Debug, Subcommand)]
pub enum GradeCommand {
    /// Join the scorecards of a sharded grading (`--shard K/N` on N machines) into one
    /// scorecard.html, scorecard.json and junit.xml, as one machine would have written.
    Merge(MergeArgs),
}

/// Options of `faultline grade merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' scorecard directories (or their scorecard.json files).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Where the merged scorecard goes.
    #[arg(long, default_value = "store/scorecard/merged")]
    pub out: PathBuf,
}

/// A row's expectation on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExpectArg {
    /// No anomaly.
    Valid,
    /// An anomaly is found.
    Invalid,
    /// Report only.
    Any,
}

/// Options of `faultline serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The results store.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Where to listen (localhost unless told otherwise).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
}

/// Options of `faultline analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// A stored run's directory (e.g. store/latest).
    pub run: PathBuf,
}

/// `faultline cluster …`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start a cluster and leave it running once every node is healthy.
    Up(ClusterUpArgs),
    /// Show the nodes of running clusters.
    Status(RunArg),
    /// Remove a cluster.
    Down(RunArg),
}

/// Options of `faultline cluster up`.
#[derive(Debug, Args)]
pub struct ClusterUpArgs {
    /// The node design.
    #[arg(long)]
    pub design: String,
    /// How many nodes.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=200))]
    pub nodes: u8,
    /// The run id to label everything with (default: design-time-pid).
    #[arg(long)]
    pub run: Option<String>,
    /// The base image.
    #[command(flatten)]
    pub base: BaseImageArg,
    /// The Docker Engine.
    #[command(flatten)]
    pub engine: EngineArg,
}

/// Which run.
#[derive(Debug, Args)]
pub struct RunArg {
    /// The run id (default: the only running cluster).
    #[arg(long)]
    pub run: Option<String>,
    /// The Docker Engine.
    #[command(flatten)]
    pub engine: EngineArg,
}

/// `faultline images …`
#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Build the base image, and a design's node image, if this machine lacks them.
    Build(ImagesBuildArgs),
}

/// Options of `faultline images build`.
#[derive(Debug, Args)]
pub struct ImagesBuildArgs {
    /// Also build this design's node image.
    #[arg(long)]
    pub design: Option<String>,
    /// The base image.
    #[command(flatten)]
    pub base: BaseImageArg,
    /// The Docker Engine.
    #[command(flatten)]
    pub engine: EngineArg,
}

/// A non-negative number of seconds.
fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
        _ => Err(format!("{text:?} is not a number of seconds (e.g. 30 or 1.5)")),
    }
}

/// Which base image to use.
#[derive(Debug, Args)]
pub struct BaseImageArg {
    /// Use this existing image (e.g. `debian:bookworm-slim` where a registry is
    /// reachable) instead of building faultline's own base image.
    #[arg(long)]
    pub base_image: Option<String>,
}

/// Options of `faultline doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The base image to probe.
    #[command(flatten)]
    pub base: BaseImageArg,
    /// The Docker Engine.
    #[command(flatten)]
    pub engine: EngineArg,
    /// Print the probe as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `faultline clean`.
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Only this run's objects (default: every faultline object).
    #[arg(long)]
    pub run: Option<String>,
    /// The Docker Engine to clean (after a SIGKILL on a remote engine, say).
    #[command(flatten)]
    pub engine: EngineArg,
}

/// Options of `faultline check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The history file, or `-` to read standard input.
    pub file: PathBuf,
    /// What the history should satisfy.
    #[arg(long, value_enum)]
    pub model: Model,
    /// The file's format; `auto` recognizes it from its first line.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatArg,
    /// Print the results as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// What an ok read of nil means (default: `unknown` for EDN as in Jepsen/Knossos,
    /// `absent` for JSONL and Porcupine logs).
    #[arg(long, value_enum)]
    pub nil_read: Option<NilReadArg>,
    /// Values are bare, for one register or set, instead of `[key, value]`
    /// (implied for Porcupine etcd logs).
    #[arg(long)]
    pub single_key: bool,
    /// Initial value of every key, as JSON (default null: absent; "" for Porcupine kv).
    #[arg(long, value_parser = parse_json)]
    pub initial_value: Option<serde_json::Value>,
    /// Seconds the linearizability search may take before answering unknown
    /// (fractions allowed, e.g. 1.5).
    #[arg(long, default_value_t = 300.0, value_parser = parse_seconds)]
    pub time_budget: f64,
    /// Memory (MiB) all keys' linearizability searches may hold together before a
    /// key is unknown; 0 allows no search (the fast path still decides what it can).
    #[arg(long, default_value_t = 4096)]
    pub memory_budget: usize,
    /// Search every key to the end even after one is proven not linearizable (by
    /// default the rest stop: the verdict is known).
    #[arg(long)]
    pub all_keys: bool,
    /// set-full: a read that misses an acknowledged element is an anomaly (stale).
    #[arg(long)]
    pub linearizable_set: bool,
    /// bank: the total every read must show (default: the first read's total).
    #[arg(long)]
    pub bank_total: Option<i64>,
    /// list-append, rw-register: the consistency model the history must satisfy.
    #[arg(long, default_value = "strict-serializable", value_parser = parse_consistency_model)]
    pub consistency_model: faultline_checkers::elle::ConsistencyModel,
    /// rw-register: assume each key is linearizable (versions follow real time).
    #[arg(long)]
    pub linearizable_keys: bool,
    /// rw-register: assume each key is sequentially consistent (versions follow process order).
    #[arg(long)]
    pub sequential_keys: bool,
    /// rw-register: assume a transaction's write follows the version it read.
    #[arg(long)]
    pub wfr_keys: bool,
    /// Also write the history as Jepsen EDN to this file, for Jepsen's own tools.
    #[arg(long)]
    pub export_edn: Option<PathBuf>,
}

/// A model to check against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Model {
    /// Linearizable read/write registers.
    Register,
    /// Linearizable read/write/cas registers.
    CasRegister,
    /// Linearizable key-value map: read/get, write/put, append, cas.
    Kv,
    /// Linearizable lock (Knossos): acquire when free, release when held.
    Mutex,
    /// Linearizable registers read and written together in txn ops (Knossos).
    MultiRegister,
    /// Grow-only set: lost, stale, unexpected, duplicated elements.
    SetFull,
    /// Set against one final read (Jepsen's set): lost and unexpected elements.
    Set,
    /// Reads of groups of single inserts that order two inserts differently.
    LongFork,
    /// Counter reads within possible bounds (no reads: valid).
    Counter,
    /// Bank: totals conserved, no negative balances.
    Bank,
    /// Generated ids are unique.
    UniqueIds,
    /// Operation counts; invalid when some function never succeeded.
    Stats,
    /// Transactions of appends to lists and list reads (Elle's list-append).
    ListAppend,
    /// Transactions of register writes and reads (Elle's rw-register).
    RwRegister,
}

/// A history format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Recognize the format from the first line.
    Auto,
    /// faultline's history.jsonl.
    Jsonl,
    /// Jepsen history.edn.
    Edn,
    /// Porcupine's Jepsen-etcd text logs.
    PorcupineEtcd,
    /// Porcupine's kv EDN-per-line logs.
    PorcupineKv,
    /// Jepsen's and elle-cli's JSON: an array of op objects or one a line.
    JepsenJson,
}

/// What an ok read of nil means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NilReadArg {
    /// The value is unknown: the read is treated as indeterminate.
    Unknown,
    /// The key is absent.
    Absent,
}

fn parse_consistency_model(s: &str) -> Result<faultline_checkers::elle::ConsistencyModel, String> {
    s.parse()
}

fn parse_json(s: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))
}
