//! The design file format: what a system under test is, how its nodes start, what it
//! can do, how to tell it is up and how clients reach it (docs/ARCHITECTURE.md §9).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One design: a built-in entry or a user's TOML file, field for field the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesignSpec {
    /// Its name (lowercase letters, digits and dashes: it names the node image).
    pub name: String,
    /// One line saying what it is.
    pub about: String,
    /// What its image holds beyond faultline's base.
    #[serde(default)]
    pub image: ImageSpec,
    /// How a node starts.
    pub start: StartSpec,
    /// What it can do; every refusal follows from these.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// The knobs it knows, each with the value it has when not given.
    #[serde(default)]
    pub knobs: BTreeMap<String, String>,
    /// How faultline tells that a node is up.
    #[serde(default)]
    pub health: Health,
    /// How clients reach it.
    pub client: ClientSpec,
}

/// What a node image holds beyond faultline's base image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// Debian packages added to the node's root filesystem (built once per machine).
    #[serde(default)]
    pub packages: Vec<String>,
    /// A program on this machine copied into the image as `/usr/local/bin/<its file
    /// name>` (relative paths are relative to the design file).
    #[serde(default)]
    pub binary: Option<PathBuf>,
}

/// How a node starts: a command template and what to add to it.
///
/// Placeholders: `{node}` (n1…), `{ip}`, `{port}` (the client port), `{data}` (the
/// node's data directory, on a volume that survives restarts), `{run}` (unique per
/// run), `{peers}` (every node, this one included, each as `peer_format` joined by
/// `peer_separator`), `{knob.NAME}` (the value given with `--node-opt`, else the
/// default under `[knobs]`); `{{` and `}}` are literal braces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartSpec {
    /// The program and its arguments. `faultline` names the faultline executable
    /// itself (copied into the image), for the built-in node programs.
    pub command: Vec<String>,
    /// Appended once per `--bug` (placeholder `{bug}`).
    #[serde(default)]
    pub per_bug: Vec<String>,
    /// Appended once per `--node-opt key=value` (placeholders `{key}`, `{value}`).
    #[serde(default)]
    pub per_knob: Vec<String>,
    /// Appended with `--lose-unsynced`.
    #[serde(default)]
    pub lose_unsynced: Vec<String>,
    /// Extra environment (values are templates), beside the `FAULTLINE_NODE`,
    /// `FAULTLINE_PEERS`, `FAULTLINE_DATA`, `FAULTLINE_PORT` and `FAULTLINE_RUN`
    /// every node gets.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How one node appears in `{peers}` (placeholders `{name}`, `{ip}`, `{port}`).
    #[serde(default = "default_peer_format")]
    pub peer_format: String,
    /// What separates the nodes in `{peers}`.
    #[serde(default = "default_peer_separator")]
    pub peer_separator: String,
}

fn default_peer_format() -> String {
    "{name}={ip}".to_owned()
}

fn default_peer_separator() -> String {
    ",".to_owned()
}

/// What a design can do. A request beyond these is refused before Docker is touched,
/// with the reason (the design's own words from `notes`, where it gives them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Bugs it can switch on.
    #[serde(default)]
    pub bugs: Vec<String>,
    /// Whether its nodes can drop writes they never fsynced (`--lose-unsynced`).
    #[serde(default)]
    pub lose_unsynced: bool,
    /// Whether libfaketime reaches its clock (it reads time through libc): the clock
    /// fault, and libfaketime preloaded in its image.
    #[serde(default)]
    pub clock: bool,
    /// Whether its client protocol says which node leads (faults aimed at the leader,
    /// the scripted schedules).
    #[serde(default)]
    pub leader: bool,
    /// The workloads its client protocol can run (empty: every workload).
    #[serde(default)]
    pub workloads: Vec<String>,
    /// Why it lacks a capability, by capability (`bugs`, `lose_unsynced`, `clock`,
    /// `leader`, `workloads`), in the design's own words.
    #[serde(default)]
    pub notes: BTreeMap<String, String>,
}

/// How faultline tells that a node is up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Health {
    /// `GET <path>` on the client port answers 2xx.
    Http {
        /// The path to ask.
        path: String,
        /// Seconds every node has to become healthy.
        #[serde(default = "default_health_timeout")]
        timeout_s: u64,
    },
    /// The client port accepts a TCP connection.
    Tcp {
        /// Seconds every node has to become healthy.
        #[serde(default = "default_health_timeout")]
        timeout_s: u64,
    },
}

fn default_health_timeout() -> u64 {
    60
}

impl Default for Health {
    fn default() -> Health {
        Health::Http { path: "/health".to_owned(), timeout_s: default_health_timeout() }
    }
}

impl Health {
    /// How long every node has to become healthy.
    pub fn timeout(&self) -> std::time::Duration {
        let (Health::Http { timeout_s, .. } | Health::Tcp { timeout_s }) = self;
        std::time::Duration::from_secs(*timeout_s)
    }
}

/// How clients reach a design's nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// The protocol adapter (`faultline test --help` lists them).
    pub adapter: String,
    /// The port every node serves clients on.
    #[serde(default = "default_port")]
    pub port: u16,
    /// The adapter's options (values are templates, e.g. `{knob.serializable-reads}`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

fn default_port() -> u16 {
    8080
}
