//! The shim: `faultline node maelstrom …` runs in a node's container, starts the
//! unmodified Maelstrom node as its child and speaks Maelstrom's protocol to it on
//! stdin/stdout (docs/ARCHITECTURE.md §10).
//!
//! It sends `init` (and `topology`, for broadcast) as client `c0` and swallows the
//! answers. Then it routes every line the node writes by its `dest`: to another node
//! as one UDP datagram on the faultable network between containers, so a partition
//! drops messages as Maelstrom's simulated network does rather than delaying them in
//! TCP retransmits (a message too large for a datagram goes over a short-lived TCP
//! connection instead); to clients and services over the TCP connection the controller
//! opened, whose traffic faults never touch. What arrives by either way is written to
//! the node's stdin. Being the container's first process, a kill of the container kills
//! the node too, and the restarted shim sends `init` again, as Maelstrom would.
//!
//! Counts of node-to-node messages survive restarts in a file in the data directory;
//! the controller asks for them with a `faultline_stats` request the node never sees.

use crate::protocol::{body_of, clip, Message, SHIM_CLIENT};
use crate::topology::Topology;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::mpsc;

/// The largest message sent as one datagram (IPv4's UDP payload limit, with room).
pub const MAX_DATAGRAM: usize = 65_000;

/// How long a node has to answer `init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the shim needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ShimOptions {
    /// This node's id (`n1`).
    pub node: String,
    /// Every node, this one included, with its address.
    pub peers: Vec<(String, IpAddr)>,
    /// The port: TCP for the controller (and oversized messages), UDP between nodes.
    pub port: u16,
    /// Where the message counts are kept across restarts.
    pub data: PathBuf,
    /// The neighbourhoods to send after `init`, if any.
    pub topology: Option<Topology>,
    /// The node program and its arguments.
    pub program: Vec<String>,
}

/// Why the shim stopped.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// Its arguments are wrong.
    #[error("{0}")]
    Usage(String),
    /// The node program could not start.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The node did not answer `init`.
    #[error("{0}")]
    Init(String),
    /// A socket or pipe failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ShimError {
    let what = what.into();
    move |source| ShimError::Io { what, source }
}

impl ShimOptions {
    /// Parses `--node N --peers n1=IP,… --port P --data DIR [--topology T] -- PROGRAM ARGS…`.
    pub fn parse(args: &[String]) -> Result<ShimOptions, ShimError> {
        let usage = |why: String| ShimError::Usage(format!("faultline node maelstrom: {why}; usage: --node N --peers n1=IP,… --port P --data DIR [--topology T] -- PROGRAM ARGS…"));
        let split = args.iter().position(|a| a == "--").ok_or_else(|| usage("no -- before the node program".into()))?;
        let (flags, program) = (&args[..split], args[split + 1..].to_vec());
        if program.is_empty() {
            return Err(usage("no node program after --".into()));
        }
        let mut values: HashMap<&str, &str> = HashMap::new();
        let mut it = flags.iter();
        while let Some(flag) = it.next() {
            let name = flag.strip_prefix("--").filter(|n| ["node", "peers", "port", "data", "topology"].contains(n)).ok_or_else(|| usage(format!("unknown flag {flag:?}")))?;
            let value = it.next().ok_or_else(|| usage(format!("{flag} needs a value")))?;
            values.insert(name, value);
        }
        let need = |name: &str| values.get(name).copied().ok_or_else(|| usage(format!("--{name} is missing")));
        let peers = need("peers")?
            .split(',')
            .map(|p| {
                let (name, ip) = p.split_once('=').ok_or_else(|| usage(format!("peer {p:?} is not name=ip")))?;
                Ok((name.to_owned(), ip.parse().map_err(|e| usage(format!("peer {p:?}: {e}")))?))
            })
            .collect::<Result<Vec<_>, ShimError>>()?;
        let node = need("node")?.to_owned();
        if !peers.iter().any(|(n, _)| *n == node) {
            return Err(usage(format!("{node} is not among the peers")));
        }
        Ok(ShimOptions {
            node,
            peers,
            port: need("port")?.parse().map_err(|e| usage(format!("--port: {e}")))?,
            data: PathBuf::from(need("data")?),
            topology: values.get("topology").map(|t| Topology::parse(t)).transpose().map_err(usage)?,
            program,
        })
    }

    fn node_ids(&self) -> Vec<String> {
        self.peers.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// Messages between nodes, counted over the node's lifetimes.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    /// Messages the node sent to other nodes.
    pub sent: u64,
    /// Messages it received from other nodes.
    pub received: u64,
}

impl Counts {
    fn file(data: &std::path::Path) -> PathBuf {
        data.join("maelstrom-shim-counts.json")
    }

    fn load(data: &std::path::Path) -> Counts {
        std::fs::read(Counts::file(data)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    fn save(&self, data: &std::path::Path) {
        // Best effort: a lost count only makes the report's figure low.
        let _ = std::fs::create_dir_all(data);
        let _ = std::fs::write(Counts::file(data), serde_json::to_vec(self).unwrap_or_default());
    }
}

/// What reached the shim from a TCP connection.
enum Incoming {
    /// A line from another node's shim (a message too large for a datagram).
    Peer(String),
    /// A line from the controller, and the way back to it.
    Controller(String, mpsc::UnboundedSender<String>),
}

/// Runs the shim until the node exits (its exit code) or the shim is told to stop.
pub async fn run(opts: ShimOptions) -> Result<i32, ShimError> {
    let mut child = Command::new(&opts.program[0])
        .args(&opts.program[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ShimError::Spawn { program: opts.program[0].clone(), source })?;
    let to_node = write_to_stdin(&mut child)?;
    let mut lines = BufReader::new(child.stdout.take().ok_or_else(|| ShimError::Init("the node has no stdout".into()))?).lines();
    initialise(&opts, &to_node, &mut lines).await?;
    let any = |port| SocketAddr::from(([0, 0, 0, 0], port));
    let udp = UdpSocket::bind(any(opts.port)).await.map_err(io(format!("binding UDP port {}", opts.port)))?;
    let listener = TcpListener::bind(any(opts.port)).await.map_err(io(format!("binding TCP port {}", opts.port)))?;
    let peers: HashMap<String, SocketAddr> = opts.peers.iter().map(|(n, ip)| (n.clone(), SocketAddr::new(*ip, opts.port))).collect();
    let (incoming_tx, mut incoming) = mpsc::unbounded_channel::<Incoming>();
    let mut controller: Option<mpsc::UnboundedSender<String>> = None;
    let mut counts = Counts::load(&opts.data);
    let mut persist = tokio::time::interval(Duration::from_secs(1));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(io("listening for SIGTERM"))?;
    let mut datagram = vec![0u8; 65_536];
    loop {
        tokio::select! {
            line = lines.next_line() => match line.map_err(io("reading the node's stdout"))? {
                Some(line) => route(&opts, &line, &peers, &udp, &to_node, controller.as_ref(), &mut counts).await,
                None => break,
            },
            got = udp.recv_from(&mut datagram) => {
                if let Ok((n, _)) = got {
                    counts.received += 1;
                    let _ = to_node.send(String::from_utf8_lossy(&datagram[..n]).into_owned());
                }
            }
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(serve_connection(stream, incoming_tx.clone()));
                }
            }
            Some(msg) = incoming.recv() => match msg {
                Incoming::Peer(line) => {
                    counts.received += 1;
                    let _ = to_node.send(line);
                }
                Incoming::Controller(line, back) => {
                    match Message::parse(&line) {
                        Ok(m) if m.kind() == "faultline_stats" => {
                            let _ = back.send(m.reply(stats_body(&counts)).to_line());
                        }
                        _ => {
                            let _ = to_node.send(line);
                        }
                    }
                    controller = Some(back);
                }
            },
            _ = persist.tick() => counts.save(&opts.data),
            _ = terminate.recv() => {
                counts.save(&opts.data);
                let _ = child.start_kill();
                return Ok(0);
            }
        }
    }
    counts.save(&opts.data);
    let status = child.wait().await.map_err(io("waiting for the node"))?;
    eprintln!("faultline maelstrom shim: {} exited: {status}", opts.program[0]);
    Ok(status.code().unwrap_or(1))
}

fn stats_body(counts: &Counts) -> serde_json::Map<String, Value> {
    body_of(json!({"type": "faultline_stats_ok", "sent": counts.sent, "received": counts.received}))
}

/// A channel whose lines a task writes to the node's stdin, so a node slow to read
/// never stalls the routing.
fn write_to_stdin(child: &mut Child) -> Result<mpsc::UnboundedSender<String>, ShimError> {
    let mut stdin = child.stdin.take().ok_or_else(|| ShimError::Init("the node has no stdin".into()))?;
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(mut line) = rx.recv().await {
            line.push('\n');
            if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
                break;
            }
        }
    });
    Ok(tx)
}

/// Sends `init` (and `topology`) and waits for `init_ok`.
async fn initialise(opts: &ShimOptions, to_node: &mpsc::UnboundedSender<String>, lines: &mut tokio::io::Lines<BufReader<ChildStdout>>) -> Result<(), ShimError> {
    let init = Message::new(SHIM_CLIENT, &opts.node, json!({"type": "init", "msg_id": 1, "node_id": opts.node, "node_ids": opts.node_ids()}));
    let _ = to_node.send(init.to_line());
    let answered = async {
        while let Some(line) = lines.next_line().await.map_err(io("reading the node's stdout"))? {
            match Message::parse(&line) {
                Ok(m) if m.dest == SHIM_CLIENT && m.kind() == "init_ok" => return Ok(()),
                Ok(m) if m.dest == SHIM_CLIENT && m.kind() == "error" => return Err(ShimError::Init(format!("the node refused init: {}", Value::Object(m.body)))),
                _ => eprintln!("faultline maelstrom shim: before init_ok the node wrote {}", clip(&line)),
            }
        }
        Err(ShimError::Init("the node closed its stdout before answering init".into()))
    };
    tokio::time::timeout(INIT_TIMEOUT, answered).await.map_err(|_| ShimError::Init(format!("no init_ok within {} s", INIT_TIMEOUT.as_secs())))??;
    if let Some(topology) = opts.topology {
        let neighbours = topology.neighbours(&opts.node_ids());
        let _ = to_node.send(Message::new(SHIM_CLIENT, &opts.node, json!({"type": "topology", "msg_id": 2, "topology": neighbours})).to_line());
    }
    Ok(())
}

/// Sends one line the node wrote where its `dest` says.
async fn route(opts: &ShimOptions, line: &str, peers: &HashMap<String, SocketAddr>, udp: &UdpSocket, to_node: &mpsc::UnboundedSender<String>, controller: Option<&mpsc::UnboundedSender<String>>, counts: &mut Counts) {
    let dest = match Message::parse(line) {
        Ok(m) => m.dest,
        Err(e) => {
            eprintln!("faultline maelstrom shim: the node wrote {e}");
            return;
        }
    };
    if dest == SHIM_CLIENT {
        return; // answers to the shim's own init and topology
    }
    if dest == opts.node {
        let _ = to_node.send(line.to_owned());
    } else if let Some(addr) = peers.get(&dest) {
        counts.sent += 1;
        if line.len() <= MAX_DATAGRAM {
            // A send refused by a partition's rules is a lost message, as intended.
            let _ = udp.send_to(line.as_bytes(), addr).await;
        } else {
            tokio::spawn(send_over_tcp(*addr, line.to_owned()));
        }
    } else if Message::is_node(&dest) {
        eprintln!("faultline maelstrom shim: no node {dest} in this cluster; dropped {}", clip(line));
    } else if let Some(back) = controller {
        let _ = back.send(line.to_owned());
    } else {
        eprintln!("faultline maelstrom shim: no controller connected; dropped a message to {dest}");
    }
}

/// Sends a message too large for a datagram over its own TCP connection; a partition
/// makes the connect time out, and the message is lost like a datagram would be.
async fn send_over_tcp(addr: SocketAddr, mut line: String) {
    line.push('\n');
    let send = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(line.as_bytes()).await?;
        stream.shutdown().await
    };
    if let Err(e) = tokio::time::timeout(Duration::from_secs(2), send).await.unwrap_or_else(|_| Err(std::io::Error::other("timed out"))) {
        eprintln!("faultline maelstrom shim: a large message to {addr} was lost: {e}");
    }
}

/// Reads lines from one TCP connection: another shim's oversized messages (their `src`
/// is a node) or the controller's requests, whose connection becomes the way back.
async fn serve_connection(stream: TcpStream, incoming: mpsc::UnboundedSender<Incoming>) {
    let (read, mut write) = stream.into_split();
    let (back, mut outgoing) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(mut line) = outgoing.recv().await {
            line.push('\n');
            if write.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let from_node = Message::parse(&line).is_ok_and(|m| Message::is_node(&m.src));
        let msg = if from_node { Incoming::Peer(line) } else { Incoming::Controller(line, back.clone()) };
        if incoming.send(msg).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn options_parse_and_bad_ones_say_why() {
        let o = ShimOptions::parse(&args("--node n2 --peers n1=10.0.0.1,n2=10.0.0.2 --port 8080 --data /data --topology grid -- /usr/local/bin/node.py --fast")).unwrap();
        assert_eq!((o.node.as_str(), o.port, o.topology, o.program.len()), ("n2", 8080, Some(Topology::Grid), 2));
        assert_eq!(o.node_ids(), ["n1", "n2"]);
        let err = |s: &str| ShimOptions::parse(&args(s)).unwrap_err().to_string();
        assert!(err("--node n3 --peers n1=10.0.0.1 --port 1 --data /d -- x").contains("n3 is not among the peers"));
        assert!(err("--node n1 --peers n1=10.0.0.1 --port 1 --data /d").contains("no -- before"));
        assert!(err("--node n1 --peers n1=nowhere --port 1 --data /d -- x").contains("peer \"n1=nowhere\""));
        assert!(err("--node n1 --peers n1=10.0.0.1 --colour 1 --data /d -- x").contains("unknown flag"));
    }
}
