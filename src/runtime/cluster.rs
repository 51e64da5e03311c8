//! A cluster of nodes in Docker (docs/ARCHITECTURE.md §1, §5).
//!
//! One private bridge network per run, with a fixed subnet and one fixed IP per node.
//! Each node is two containers: a *holder* (the base image, `NET_ADMIN`, the node's IP,
//! `sleep infinity`) that owns the network namespace, and the *node* itself with
//! `network_mode: container:<holder>`. Network faults are `exec`s in the holder, so a
//! partition survives a node kill and restart, and can be healed while the node is
//! paused. Partitions are DROP rules in faultline's own chains (`faultline-in`,
//! `faultline-out`, hooked into INPUT and OUTPUT), so healing flushes exactly those.
//! Every object carries the run's labels.
//!
//! The controller reaches a node's client port at the node's address when this
//! machine routes to the run's network (a local engine), else through a port the
//! holder publishes on the engine's host ([`Reach`]); either way its traffic comes
//! from outside the grudges, so partitions never cut the clients off (§11).

use super::exec::{exec, exec_ok, ExecOutput};
use super::{clean, labels, RuntimeError};
use super::node_image::HOLDER_EXE;
use crate::design::{Health, Launch, NodeContext, DATA_DIR};
use faultline_nemesis::Delay;
use faultline_workloads::http::NodeClient;
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig, NetworkCreateRequest, NetworkingConfig, PortBinding,
    VolumeCreateRequest,
};
use bollard::query_parameters::{CreateContainerOptions, KillContainerOptions, ListContainersOptions, LogsOptions, StartContainerOptions};
use bollard::Docker;
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

/// Label naming the node a container belongs to.
pub const NODE_LABEL: &str = "io.faultline.node";
/// Label naming the port a node serves clients on.
pub const PORT_LABEL: &str = "io.faultline.port";
/// Label saying whether a container is a `holder` or a `node`.
pub const ROLE_LABEL: &str = "io.faultline.role";
const CHAIN_IN: &str = "faultline-in";
const CHAIN_OUT: &str = "faultline-out";
/// faultline's chain in the holder's mangle table, hooked into POSTROUTING: packet
/// duplication (`TEE`).
const CHAIN_DUP: &str = "faultline-dup";
/// Where libfaketime reads each node's clock offset (a volume shared with its holder).
pub const FAKETIME_FILE: &str = "/faketime/offset";
/// The NFQUEUE queue a holder's delayed packets go to (one daemon per holder).
const DELAY_QUEUE: u16 = 7;
/// The delay daemon's pid file in its holder (present while it runs).
const DELAYD_PID: &str = "/run/faultline-delayd.pid";
/// The delay daemon's plan (`<delay ms> <jitter ms>`), reread on SIGHUP.
const DELAYD_PLAN: &str = "/run/faultline-delayd.plan";
/// Where the delay daemon's output goes in its holder.
const DELAYD_LOG: &str = "/tmp/faultline-delayd.log";
/// Every network fault of one node, as [`Cluster::set_network`] makes them true.
#[derive(Debug, Clone, Default)]
pub struct NodeNetwork<'a> {
    /// Drop every packet that comes from these nodes.
    pub drop_from: Vec<&'a Node>,
    /// Percent of its packets lost at random.
    pub loss_percent: u32,
    /// Lose them with netem (the kernel has it) rather than iptables `statistic`.
    pub netem: bool,
    /// How its outgoing packets to `peers` are delayed.
    pub delay: Option<Delay>,
    /// Percent of its outgoing packets to `peers` sent twice.
    pub duplicate_percent: u32,
    /// Its bandwidth to `peers`, kbit/s.
    pub rate_kbit: Option<u32>,
    /// Lose only packets that come from `peers` (a fault aimed at links), not a share
    /// of everything that arrives.
    pub loss_from_peers_only: bool,
    /// The other nodes (the targets of delay and duplication).
    pub peers: Vec<&'a Node>,
}

/// The `tc` commands that limit a node's bandwidth to `peers` to `kbit` kbit/s: an
/// `htb` root whose default class is unlimited, a class for the peers with a `tbf`
/// under it (a queue of at most half a second, then drops), and a `u32` filter per
/// peer. This kernel has no `prio` qdisc, so `htb` does the classifying.
fn rate_rules(kbit: u32, peers: &[&Node]) -> Vec<String> {
    // A bucket of 1/10 s of traffic, at least two full-size packets.
    let burst_bytes = (kbit as usize * 1000 / 8 / 10).max(3028);
    let mut rules = vec![
        "tc qdisc add dev eth0 root handle 1: htb default 10".to_owned(),
        "tc class add dev eth0 parent 1: classid 1:10 htb rate 10gbit quantum 60000".to_owned(),
        "tc class add dev eth0 parent 1: classid 1:20 htb rate 10gbit quantum 60000".to_owned(),
        format!("tc qdisc add dev eth0 parent 1:20 handle 20: tbf rate {kbit}kbit burst {burst_bytes} latency 500ms"),
    ];
    rules.extend(peers.iter().map(|p| format!("tc filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst {}/32 flowid 1:20", p.ip)));
    rules
}

/// Label naming the host a holder's published client port is reached on.
pub const PUBLISHED_ON_LABEL: &str = "io.faultline.published-on";

/// How the controller reaches the nodes' client ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// At the nodes' own addresses where this machine routes to their network, else
    /// through ports published on `host` (the engine's host).
    Auto {
        /// Where published ports are reached.
        host: String,
    },
    /// Always through ports published on `host`.
    Published {
        /// Where published ports are reached.
        host: String,
    },
}

impl Reach {
    /// The reach for an engine at `host`: published ports when `publish`, else auto.
    pub fn new(host: String, publish: bool) -> Reach {
        if publish {
            Reach::Published { host }
        } else {
            Reach::Auto { host }
        }
    }
}

impl Default for Reach {
    /// A local engine's: its networks route here.
    fn default() -> Reach {
        Reach::Auto { host: "127.0.0.1".to_owned() }
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// The run id every object is labelled with.
    pub run: String,
    /// The image holders run: the base with faultline for the delay daemon
    /// (`node_image::ensure_holder`); the bare base serves where no delay fault runs.
    pub holder_image: String,
    /// The image nodes run.
    pub node_image: String,
    /// How many nodes (n1 … nN).
    pub nodes: usize,
    /// The design with this run's bugs and knobs: each node's command line,
    /// environment, client port and health check.
    pub launch: Launch,
    /// How the controller reaches the nodes.
    pub reach: Reach,
}

/// One node of a running cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// `n1`, `n2`, …
    pub name: String,
    /// Its fixed address on the run's network.
    pub ip: Ipv4Addr,
    /// Where the controller reaches its client port: `ip:port`, or a port published
    /// on the engine's host.
    pub addr: String,
    /// The holder container's name.
    pub holder: String,
    /// The node container's name.
    pub container: String,
}

/// A running cluster.
#[derive(Clone)]
pub struct Cluster {
    /// The run id.
    pub run: String,
    /// The network's name.
    pub network: String,
    /// The nodes, in order.
    pub nodes: Vec<Node>,
    /// The port nodes serve clients on.
    pub port: u16,
    /// How to tell that a node is up.
    pub health: Health,
    docker: Docker,
    http: NodeClient,
}

/// A run id: the design, the time and this process (and, for any but its first run of
/// a design in that second, a sequence number: cells of a grading run side by side).
pub fn new_run_id(design: &str) -> String {
    static ISSUED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let base = format!("{design}-{secs}-{}", std::process::id());
    let mut issued = ISSUED.lock().unwrap_or_else(|p| p.into_inner());
    let id = (0..).map(|k| if k == 0 { base.clone() } else { format!("{base}-{k}") }).find(|id| !issued.contains(id)).unwrap_or(base);
    issued.insert(id.clone());
    id
}

impl Cluster {
    /// Creates and starts every object of the cluster (not waiting for health).
    /// On failure, whatever was created stays labelled for [`Cluster::teardown`].
    pub async fn create(docker: &Docker, spec: &ClusterSpec) -> Result<Cluster, RuntimeError> {
        let network = format!("faultline-{}", spec.run);
        let prefix = create_network(docker, &network, &spec.run).await?;
        let port = spec.launch.spec.client.port;
        let published_on = match &spec.reach {
            Reach::Published { host } => Some(host.clone()),
            Reach::Auto { host } => (!routes_here(prefix)).then(|| host.clone()),
        };
        let mut nodes: Vec<Node> = (1..=spec.nodes)
            .map(|i| {
                let name = format!("n{i}");
                let ip = Ipv4Addr::new(prefix[0], prefix[1], prefix[2], 10 + i as u8);
                Node {
                    ip,
                    addr: format!("{ip}:{port}"),
                    holder: format!("faultline-{}-{name}-holder", spec.run),
                    container: format!("faultline-{}-{name}", spec.run),
                    name,
                }
            })
            .collect();
        let peers: Vec<(String, String)> = nodes.iter().map(|n| (n.name.clone(), n.ip.to_string())).collect();
        for node in &mut nodes {
            start_node(docker, spec, &network, node, &peers, published_on.as_deref()).await?;
        }
        let health = spec.launch.spec.health.clone();
        Ok(Cluster { run: spec.run.clone(), network, nodes, port, health, docker: docker.clone(), http: NodeClient::new(Duration::from_secs(2)) })
    }

    /// Finds the running cluster of `run` from its labels.
    pub async fn find(docker: &Docker, run: &str) -> Result<Cluster, RuntimeError> {
        let containers = docker
            .list_containers(Some(ListContainersOptions { all: true, filters: Some(labels::filter(Some(run))), ..Default::default() }))
            .await
            .map_err(RuntimeError::api(format!("listing the containers of run {run}")))?;
        let network = format!("faultline-{run}");
        let mut nodes: Vec<Node> = Vec::new();
        let mut port = 8080;
        for c in containers {
            let l = c.labels.unwrap_or_default();
            if l.get(ROLE_LABEL).map(String::as_str) != Some("holder") {
                continue;
            }
            port = l.get(PORT_LABEL).and_then(|p| p.parse().ok()).unwrap_or(port);
            let Some(name) = l.get(NODE_LABEL) else { continue };
            let ip = c
                .network_settings
                .and_then(|s| s.networks)
                .and_then(|n| n.get(&network).and_then(|e| e.ip_address.clone()))
                .and_then(|ip| ip.parse().ok())
                .unwrap_or(Ipv4Addr::UNSPECIFIED);
            let published = c.ports.unwrap_or_default().into_iter().find(|p| p.private_port == port && p.public_port.is_some()).and_then(|p| p.public_port);
            let addr = match (l.get(PUBLISHED_ON_LABEL), published) {
                (Some(host), Some(public)) => format!("{host}:{public}"),
                _ => format!("{ip}:{port}"),
            };
            nodes.push(Node { name: name.clone(), ip, addr, holder: format!("faultline-{run}-{name}-holder"), container: format!("faultline-{run}-{name}") });
        }
        nodes.sort_by_key(|n| n.name.trim_start_matches('n').parse::<u32>().unwrap_or(0));
        Ok(Cluster { run: run.to_owned(), network, nodes, port, health: Health::default(), docker: docker.clone(), http: NodeClient::new(Duration::from_secs(2)) })
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Result<&Node, RuntimeError> {
        self.nodes.iter().find(|n| n.name == name).ok_or_else(|| RuntimeError::Io {
            what: format!("run {}", self.run),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, format!("no node {name}")),
        })
    }

    /// `http://<addr><path>` of a node.
    pub fn url(&self, node: &Node, path: &str) -> String {
        format!("http://{}{path}", node.addr)
    }

    /// Each node's client address, as the controller reaches it, by name.
    pub fn addrs(&self) -> HashMap<String, String> {
        self.nodes.iter().map(|n| (n.name.clone(), n.addr.clone())).collect()
    }

    /// GETs a node's `path` (e.g. `/health`, `/status`).
    pub async fn get(&self, node: &Node, path: &str) -> Result<serde_json::Value, String> {
        match self.http.get_json(&self.url(node, path)).await.map_err(String::from)? {
            (200, v) => Ok(v),
            (status, v) => Err(format!("{} answered {status}: {v}", node.name)),
        }
    }

    /// POSTs a transaction to a node: `(status, answer)`, or why there was no answer.
    pub async fn txn(&self, node: &Node, body: &serde_json::Value) -> Result<(u16, serde_json::Value), String> {
        self.http.post_json(&self.url(node, "/txn"), body).await.map_err(String::from)
    }

    /// Whether `node` passes the design's health check; if not, why.
    async fn healthy(&self, node: &Node) -> Result<(), String> {
        match &self.health {
            // Any 2xx, whatever the body: Swift's `/healthcheck` answers `OK` as text.
            Health::Http { path, .. } => match self.http.request("GET", &self.url(node, path), &[], bytes::Bytes::new()).await.map_err(String::from)? {
                (200..=299, _) => Ok(()),
                (status, body) => Err(format!("{} answered {status}: {}", node.name, String::from_utf8_lossy(&body).trim())),
            },
            Health::Tcp { .. } => {
                let connect = tokio::net::TcpStream::connect(node.addr.as_str());
                match tokio::time::timeout(Duration::from_secs(2), connect).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(format!("{}: {e}", node.addr)),
                    Err(_) => Err(format!("{}: no answer in 2 s", node.addr)),
                }
            }
        }
    }

    /// Waits until every node passes the design's health check, for at most the
    /// check's timeout; returns how long that took.
    pub async fn wait_healthy(&self) -> Result<Duration, RuntimeError> {
        let timeout = self.health.timeout();
        let started = Instant::now();
        loop {
            let mut failing = Vec::new();
            for n in &self.nodes {
                if let Err(e) = self.healthy(n).await {
                    failing.push(format!("{}: {e}", n.name));
                }
            }
            if failing.is_empty() {
                return Ok(started.elapsed());
            }
            // A node that exited will not become healthy: say why now, not after the timeout.
            for n in &self.nodes {
                self.check_running(n).await?;
            }
            if started.elapsed() >= timeout {
                return Err(RuntimeError::Unhealthy { seconds: timeout.as_secs(), details: failing.join("; ") });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fails with the node's last output if its process has exited.
    async fn check_running(&self, node: &Node) -> Result<(), RuntimeError> {
        let inspected = self.docker.inspect_container(&node.container, None).await.map_err(RuntimeError::api(format!("inspecting {}", node.name)))?;
        let state = inspected.state.unwrap_or_default();
        if state.running.unwrap_or(false) || state.paused.unwrap_or(false) {
            return Ok(());
        }
        let mut stream = self.docker.logs(&node.container, Some(LogsOptions { stdout: true, stderr: true, tail: "20".to_owned(), ..Default::default() }));
        let mut output = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            output.push_str(&chunk.to_string());
        }
        Err(RuntimeError::NodeExited { node: node.name.clone(), code: state.exit_code.unwrap_or(-1), output: output.trim_end().to_owned() })
    }

    /// Runs a command in a node's holder (its network namespace).
    pub async fn exec_in_holder(&self, node: &Node, cmd: &[&str]) -> Result<ExecOutput, RuntimeError> {
        exec(&self.docker, &node.holder, cmd).await
    }

    /// Makes `node` drop every packet from and to the nodes `from` (one side of a grudge).
    pub async fn drop_from(&self, node: &Node, from: &[&Node]) -> Result<(), RuntimeError> {
        let rules: Vec<String> = from
            .iter()
            .map(|peer| format!("iptables -w -A {CHAIN_IN} -s {ip} -j DROP && iptables -w -A {CHAIN_OUT} -d {ip} -j DROP", ip = peer.ip))
            .collect();
        if rules.is_empty() {
            return Ok(());
        }
        exec_ok(&self.docker, &node.holder, &["sh", "-c", &rules.join(" && ")]).await.map(|_| ())
    }

    /// Replaces every network fault of `node` by `faults` (docs/ARCHITECTURE.md §5):
    /// drop every packet that comes from `drop_from` (its side of a grudge: a symmetric
    /// partition lists both sides, a one-way one only the receiving side); lose
    /// `loss_percent` % of packets at random (with netem on the node's outgoing traffic
    /// where the kernel has it, else with iptables `statistic` on incoming traffic);
    /// with `delay`, hold its outgoing packets to `peers` in the delay daemon; and send
    /// `duplicate_percent` % of them twice (`TEE` to the peer itself); with
    /// `rate_kbit`, send them through a token bucket (a `tbf` under an `htb` class that
    /// `u32` filters pick peers into; everything else goes through an unlimited class).
    /// Delay, duplication and rate match node addresses only, so the controller's
    /// traffic, which never goes to one, is never touched. One exec, so the node is
    /// never left half-configured.
    pub async fn set_network(&self, node: &Node, faults: &NodeNetwork<'_>) -> Result<(), RuntimeError> {
        let NodeNetwork { drop_from, loss_percent, netem, delay, duplicate_percent, rate_kbit, loss_from_peers_only, peers } = faults;
        let (loss_percent, duplicate_percent) = (*loss_percent, *duplicate_percent);
        let rate_kbit = rate_kbit.filter(|_| !peers.is_empty());
        // netem loss and the rate limit would both want the root qdisc; with a rate,
        // loss is iptables' as on kernels without netem.
        let netem = *netem && rate_kbit.is_none() && !loss_from_peers_only;
        let mut rules = vec![format!("iptables -w -F {CHAIN_IN}"), format!("iptables -w -F {CHAIN_OUT}"), format!("iptables -w -t mangle -F {CHAIN_DUP}")];
        rules.push("{ tc qdisc del dev eth0 root 2>/dev/null || true; }".to_owned());
        let delay = delay.filter(|d| d.delay_ms > 0 && !peers.is_empty());
        if delay.is_none() {
            // A running daemon lets go of what it holds when told to stop, then removes
            // its pid file; wait for that (not for the pid: the holder's `sleep` never
            // reaps, so the daemon lingers as a zombie), at most 5 s.
            rules.push(format!(
                "{{ if [ -f {DELAYD_PID} ]; then kill $(cat {DELAYD_PID}) 2>/dev/null; i=0; while [ -f {DELAYD_PID} ] && [ $i -lt 250 ]; do i=$((i+1)); sleep 0.02; done; rm -f {DELAYD_PID}; fi; }}"
            ));
        }
        for peer in drop_from {
            rules.push(format!("iptables -w -A {CHAIN_IN} -s {ip} -j DROP", ip = peer.ip));
        }
        if loss_percent > 0 && netem {
            rules.push(format!("tc qdisc add dev eth0 root netem loss {}%", loss_percent.min(100)));
        } else if loss_percent > 0 {
            let p = f64::from(loss_percent.min(100)) / 100.0;
            if *loss_from_peers_only {
                for peer in peers {
                    rules.push(format!("iptables -w -A {CHAIN_IN} -s {ip} -m statistic --mode random --probability {p} -j DROP", ip = peer.ip));
                }
            } else {
                rules.push(format!("iptables -w -A {CHAIN_IN} -m statistic --mode random --probability {p} -j DROP"));
            }
        }
        if let Some(d) = delay {
            let seed = node.name.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
            // A running daemon takes the new plan in place (SIGHUP), keeping what it
            // holds on its old release times: a delay that changes opens no gap.
            rules.push(format!(
                "{{ echo '{delay} {jitter}' > {DELAYD_PLAN}; if [ -f {DELAYD_PID} ] && grep -qs '^State:[[:space:]]*[RSD]' /proc/$(cat {DELAYD_PID})/status && kill -HUP $(cat {DELAYD_PID}); then :; else rm -f {DELAYD_PID}; nohup {HOLDER_EXE} delayd --queue {DELAY_QUEUE} --delay-ms {delay} --jitter-ms {jitter} --plan-file {DELAYD_PLAN} --seed {seed} --pid-file {DELAYD_PID} >{DELAYD_LOG} 2>&1 & fi; }}",
                delay = d.delay_ms,
                jitter = d.jitter_ms
            ));
            // The rules go in once the daemon has bound the queue (it writes its pid then).
            rules.push(format!(
                "{{ i=0; while [ ! -f {DELAYD_PID} ]; do i=$((i+1)); if [ $i -gt 250 ]; then echo \"the delay daemon did not start:\"; cat {DELAYD_LOG}; exit 1; fi; sleep 0.02; done; }}"
            ));
            for peer in peers {
                rules.push(format!("iptables -w -A {CHAIN_OUT} -d {ip} -j NFQUEUE --queue-num {DELAY_QUEUE} --queue-bypass", ip = peer.ip));
            }
        }
        if duplicate_percent > 0 {
            let p = f64::from(duplicate_percent.min(100)) / 100.0;
            for peer in peers {
                rules.push(format!("iptables -w -t mangle -A {CHAIN_DUP} -d {ip} -m statistic --mode random --probability {p} -j TEE --gateway {ip}", ip = peer.ip));
            }
        }
        if let Some(kbit) = rate_kbit {
            rules.extend(rate_rules(kbit, peers));
        }
        exec_ok(&self.docker, &node.holder, &["sh", "-c", &rules.join(" && ")]).await.map(|_| ())
    }

    /// Sets the wall-clock offset (seconds) libfaketime applies to `node`'s process.
    pub async fn set_clock(&self, node: &Node, offset_s: i64) -> Result<(), RuntimeError> {
        let cmd = format!("echo {offset_s:+} > {FAKETIME_FILE}");
        exec_ok(&self.docker, &node.holder, &["sh", "-c", &cmd]).await.map(|_| ())
    }

    /// Removes every partition rule of `node`.
    pub async fn heal(&self, node: &Node) -> Result<(), RuntimeError> {
        exec_ok(&self.docker, &node.holder, &["sh", "-c", &format!("iptables -w -F {CHAIN_IN} && iptables -w -F {CHAIN_OUT} && iptables -w -t mangle -F {CHAIN_DUP}")]).await.map(|_| ())
    }

    /// Sends a signal (e.g. `SIGKILL`) to a node's process.
    pub async fn kill(&self, node: &Node, signal: &str) -> Result<(), RuntimeError> {
        self.docker
            .kill_container(&node.container, Some(KillContainerOptions { signal: signal.to_owned() }))
            .await
            .map_err(RuntimeError::api(format!("sending {signal} to {}", node.name)))
    }

    /// Starts a stopped node again (same container: its files persist).
    pub async fn restart(&self, node: &Node) -> Result<(), RuntimeError> {
        self.docker
            .start_container(&node.container, None::<StartContainerOptions>)
            .await
            .map_err(RuntimeError::api(format!("restarting {}", node.name)))
    }

    /// Freezes a node (cgroup freezer).
    pub async fn pause(&self, node: &Node) -> Result<(), RuntimeError> {
        self.docker.pause_container(&node.container).await.map_err(RuntimeError::api(format!("pausing {}", node.name)))
    }

    /// Thaws a paused node.
    pub async fn unpause(&self, node: &Node) -> Result<(), RuntimeError> {
        self.docker.unpause_container(&node.container).await.map_err(RuntimeError::api(format!("unpausing {}", node.name)))
    }

    /// Writes each node's output to `<dir>/nodes/<name>/node.log`.
    pub async fn collect_logs(&self, dir: &Path) -> Result<(), RuntimeError> {
        for n in &self.nodes {
            let node_dir = dir.join("nodes").join(&n.name);
            std::fs::create_dir_all(&node_dir).map_err(|source| RuntimeError::Io { what: format!("creating {}", node_dir.display()), source })?;
            let mut stream = self.docker.logs(&n.container, Some(LogsOptions { stdout: true, stderr: true, timestamps: true, ..Default::default() }));
            let mut text = String::new();
            while let Some(chunk) = stream.next().await {
                text.push_str(&chunk.map_err(RuntimeError::api(format!("reading the logs of {}", n.name)))?.to_string());
            }
            let path = node_dir.join("node.log");
            std::fs::write(&path, strip_ansi(&text)).map_err(|source| RuntimeError::Io { what: format!("writing {}", path.display()), source })?;
        }
        Ok(())
    }

    /// Removes every object of the run.
    pub async fn teardown(&self) -> Result<clean::Removed, RuntimeError> {
        clean::remove_labelled(&self.docker, Some(&self.run)).await
    }
}

/// `text` without ANSI escape sequences (colours a node printed for a terminal), so a
/// log reads as text.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        // CSI sequences: ESC [ parameters … final byte in @–~; other escapes: one more char.
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

/// How many subnets a cluster tries before giving up.
const SUBNET_TRIES: usize = 32;

/// The /24 subnets of 10.234.0.0/16 a run tries, in order (starting from a hash of the
/// run id, so concurrent runs rarely collide), as their first three octets.
pub fn subnet_candidates(run: &str) -> impl Iterator<Item = [u8; 3]> {
    let start = run.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))) % 250;
    (0..SUBNET_TRIES as u32).map(move |attempt| [10, 234, ((start + attempt) % 250 + 1) as u8])
}

/// Subnets this process is creating a network on right now. Engines on one machine
/// each check overlaps only among their own networks, so runs side by side on two
/// local engines must not pick the same one (their routes would collide here): a
/// subnet is skipped while claimed, and afterwards while this machine routes to it.
static CLAIMED: Mutex<BTreeSet<u8>> = Mutex::new(BTreeSet::new());

/// The /24 routes this machine has, as their first three octets (from
/// `/proc/net/route`; none where it cannot be read).
fn local_routes() -> BTreeSet<[u8; 3]> {
    routes_in(&std::fs::read_to_string("/proc/net/route").unwrap_or_default())
}

/// The /24 routes of a `/proc/net/route` table.
fn routes_in(text: &str) -> BTreeSet<[u8; 3]> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (dest, mask) = (u32::from_str_radix(f.get(1)?, 16).ok()?, u32::from_str_radix(f.get(7)?, 16).ok()?);
            // The file prints addresses in the kernel's (little-endian) byte order.
            let [a, b, c, _] = dest.to_le_bytes();
            (mask.to_le_bytes() == [255, 255, 255, 0]).then_some([a, b, c])
        })
        .collect()
}

/// Whether this machine routes to the /24 `prefix` (a bridge of a local engine).
fn routes_here(prefix: [u8; 3]) -> bool {
    local_routes().contains(&prefix)
}

/// Creates the run's network on the first free candidate subnet; returns its prefix.
async fn create_network(docker: &Docker, name: &str, run: &str) -> Result<[u8; 3], RuntimeError> {
    let mut last = String::new();
    for [_, _, third] in subnet_candidates(run) {
        let taken = local_routes();
        if taken.contains(&[10, 234, third]) || !CLAIMED.lock().unwrap_or_else(|p| p.into_inner()).insert(third) {
            continue;
        }
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".to_owned()),
            labels: Some(labels::for_run(run)),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(format!("10.234.{third}.0/24")),
                    gateway: Some(format!("10.234.{third}.1")),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = docker.create_network(request).await;
        // From here a local engine's bridge route shows the subnet as taken.
        CLAIMED.lock().unwrap_or_else(|p| p.into_inner()).remove(&third);
        match created {
            Ok(_) => return Ok([10, 234, third]),
            Err(e) if e.to_string().contains("overlap") => last = e.to_string(),
            Err(source) => return Err(RuntimeError::Api { action: format!("creating network {name}"), source }),
        }
    }
    Err(RuntimeError::NoSubnet { tried: SUBNET_TRIES, last })
}

/// Creates the volumes, the holder and the node of one node, and starts them.
/// With `published_on`, the holder publishes the client port on the engine's host and
/// `node.addr` becomes that port there.
async fn start_node(docker: &Docker, spec: &ClusterSpec, network: &str, node: &mut Node, peers: &[(String, String)], published_on: Option<&str>) -> Result<(), RuntimeError> {
    let ip = node.ip.to_string();
    let context = NodeContext { node: &node.name, ip: &ip, run: &spec.run, peers };
    let bad_template = |e: String| RuntimeError::Io { what: format!("the {} design's templates for {}", spec.launch.spec.name, node.name), source: std::io::Error::other(e) };
    let command = spec.launch.command(&context).map_err(bad_template)?;
    let mut env = vec![
        format!("FAULTLINE_NODE={}", node.name),
        format!("FAULTLINE_RUN={}", spec.run),
        format!("FAULTLINE_DATA={DATA_DIR}"),
        format!("FAULTLINE_PEERS={}", peers.iter().map(|(n, ip)| format!("{n}={ip}")).collect::<Vec<_>>().join(",")),
        format!("FAULTLINE_PORT={}", spec.launch.spec.client.port),
        format!("FAKETIME_TIMESTAMP_FILE={FAKETIME_FILE}"),
        "FAKETIME_CACHE_DURATION=1".to_owned(),
        "FAKETIME_DONT_FAKE_MONOTONIC=1".to_owned(),
    ];
    // A design's own environment wins over these defaults (docs/ARCHITECTURE.md §9):
    // Swift's Python sleeps fail under libfaketime unless it fakes the monotonic clock too.
    let design_env = spec.launch.env(&context).map_err(bad_template)?;
    let name = |entry: &str| entry.split_once('=').map_or(entry, |(k, _)| k).to_owned();
    env.retain(|e| !design_env.iter().any(|d| name(d) == name(e)));
    env.extend(design_env);
    let mut node_labels = labels::for_run(&spec.run);
    node_labels.insert(NODE_LABEL.to_owned(), node.name.clone());
    node_labels.insert(PORT_LABEL.to_owned(), spec.launch.spec.client.port.to_string());
    let data = format!("{}-data", node.container);
    let faketime = format!("{}-faketime", node.container);
    for volume in [&data, &faketime] {
        docker
            .create_volume(VolumeCreateRequest { name: Some(volume.clone()), labels: Some(node_labels.clone()), ..Default::default() })
            .await
            .map_err(RuntimeError::api(format!("creating volume {volume}")))?;
    }
    let mut holder_labels = node_labels.clone();
    holder_labels.insert(ROLE_LABEL.to_owned(), "holder".to_owned());
    let client_port = format!("{}/tcp", spec.launch.spec.client.port);
    if let Some(host) = published_on {
        holder_labels.insert(PUBLISHED_ON_LABEL.to_owned(), host.to_owned());
    }
    // An empty host port: the engine picks a free one.
    let any_port = || HashMap::from([(client_port.clone(), Some(vec![PortBinding { host_ip: Some("0.0.0.0".into()), host_port: Some(String::new()) }]))]);
    let holder = ContainerCreateBody {
        image: Some(spec.holder_image.clone()),
        hostname: Some(node.name.clone()),
        cmd: Some(vec!["sleep".into(), "infinity".into()]),
        labels: Some(holder_labels),
        host_config: Some(HostConfig {
            cap_add: Some(vec!["NET_ADMIN".into()]),
            network_mode: Some(network.to_owned()),
            binds: Some(vec![format!("{faketime}:/faketime")]),
            port_bindings: published_on.map(|_| any_port()),
            ..Default::default()
        }),
        exposed_ports: published_on.map(|_| vec![client_port.clone()]),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network.to_owned(),
                EndpointSettings { ipam_config: Some(EndpointIpamConfig { ipv4_address: Some(node.ip.to_string()), ..Default::default() }), ..Default::default() },
            )])),
        }),
        ..Default::default()
    };
    create_and_start(docker, &node.holder, holder).await?;
    if let Some(host) = published_on {
        node.addr = format!("{host}:{}", published_port(docker, &node.holder, &client_port).await?);
    }
    let setup = format!(
        "iptables -w -N {CHAIN_IN} && iptables -w -I INPUT -j {CHAIN_IN} && iptables -w -N {CHAIN_OUT} && iptables -w -I OUTPUT -j {CHAIN_OUT} && iptables -w -t mangle -N {CHAIN_DUP} && iptables -w -t mangle -I POSTROUTING -j {CHAIN_DUP} && echo +0 > {FAKETIME_FILE}"
    );
    exec_ok(docker, &node.holder, &["sh", "-c", &setup]).await?;

    let mut labels_node = node_labels;
    labels_node.insert(ROLE_LABEL.to_owned(), "node".to_owned());
    let body = ContainerCreateBody {
        image: Some(spec.node_image.clone()),
        entrypoint: Some(command),
        cmd: None,
        env: Some(env),
        labels: Some(labels_node),
        host_config: Some(HostConfig {
            network_mode: Some(format!("container:{}", node.holder)),
            binds: Some(vec![format!("{data}:{DATA_DIR}"), format!("{faketime}:/faketime")]),
            ..Default::default()
        }),
        ..Default::default()
    };
    create_and_start(docker, &node.container, body).await
}

/// The host port the engine gave `container`'s `port` (`8080/tcp`).
async fn published_port(docker: &Docker, container: &str, port: &str) -> Result<String, RuntimeError> {
    let inspected = docker.inspect_container(container, None).await.map_err(RuntimeError::api(format!("inspecting {container}")))?;
    let bindings = inspected.network_settings.and_then(|s| s.ports).and_then(|mut p| p.remove(port)).flatten().unwrap_or_default();
    bindings.into_iter().find_map(|b| b.host_port.filter(|p| !p.is_empty())).ok_or_else(|| RuntimeError::Io {
        what: format!("publishing {container}'s client port {port}"),
        source: std::io::Error::other("the engine gave it no host port"),
    })
}

async fn create_and_start(docker: &Docker, name: &str, body: ContainerCreateBody) -> Result<(), RuntimeError> {
    docker
        .create_container(Some(CreateContainerOptions { name: Some(name.to_owned()), ..Default::default() }), body)
        .await
        .map_err(RuntimeError::api(format!("creating container {name}")))?;
    docker.start_container(name, None::<StartContainerOptions>).await.map_err(RuntimeError::api(format!("starting container {name}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_machines_24_routes_are_read_from_its_route_table() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            br-6b01\t00C7EA0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
            docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(super::routes_in(table).into_iter().collect::<Vec<_>>(), [[10, 234, 199]], "only /24s: the default route and docker0's /16 are not a cluster's");
    }

    #[test]
    fn run_ids_issued_together_differ() {
        let (a, b) = (super::new_run_id("raft"), super::new_run_id("raft"));
        assert_ne!(a, b);
        assert!(b.starts_with("raft-"), "{b}");
    }

    #[test]
    fn colour_codes_are_stripped_from_logs() {
        assert_eq!(super::strip_ansi("\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m ready"), "2026  INFO ready");
        assert_eq!(super::strip_ansi("plain, ünïcode"), "plain, ünïcode");
    }
}
