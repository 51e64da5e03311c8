//! Designs as data (docs/ARCHITECTURE.md §9).
//!
//! A system under test is a [`DesignSpec`]: its image (Debian packages, a host binary),
//! how a node starts (a command template), its [`Capabilities`] (bugs, lost unsynced
//! writes, whether libfaketime reaches its clock, whether it reports a leader), its
//! [`Health`] check, and its client protocol (an adapter name with options). The
//! built-in designs are TOML files beside their code (`images/<name>/design.toml`),
//! compiled in; a user's design is the same format in a file of their own, given as
//! `--design ./mydb.toml`. [`resolve`] finds either and checks it; [`Design::launch`]
//! turns a run's bugs, knobs and faults into a [`Launch`] or refuses them from the
//! capabilities, with the reason; [`adapters::connect`] builds the client adapter. A
//! Maelstrom node ([`MaelstromSpec`], §10) is one more design: it becomes a
//! `DesignSpec` that runs the node under faultline's shim.

pub mod adapters;
pub mod maelstrom;
mod spec;
mod template;

pub use maelstrom::MaelstromSpec;
pub use spec::{Capabilities, ClientSpec, DesignSpec, Health, ImageSpec, StartSpec};
pub use template::{expand, Launch, NodeContext, DATA_DIR};

use std::path::{Path, PathBuf};

/// The built-in designs' files, compiled in.
const BUILTIN: [(&str, &str); 7] = [
    ("raft", include_str!("../../images/raft/design.toml")),
    ("dynamo", include_str!("../../images/dynamo/design.toml")),
    ("caspaxos", include_str!("../../images/caspaxos/design.toml")),
    ("etcd", include_str!("../../images/etcd/design.toml")),
    ("redis", include_str!("../../images/redis/design.toml")),
    ("swift", include_str!("../../images/swift/design.toml")),
    ("beacon", include_str!("../../images/beacon/design.toml")),
];

/// Why a design cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DesignError {
    /// No built-in design has this name, and no such file exists.
    #[error("unknown design {name:?}: the built-in designs are {known}; a design file is a path ending in .toml")]
    Unknown {
        /// What was asked for.
        name: String,
        /// The built-in names.
        known: String,
    },
    /// The file could not be read.
    #[error("cannot read design file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid design.
    #[error("design file {origin}: {reason}")]
    Invalid {
        /// The file (or `built-in <name>`).
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// The run asks for something the design cannot do.
    #[error("{0}")]
    Refused(String),
}

/// Where a design came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Compiled into faultline.
    Builtin,
    /// A user's design file.
    File(PathBuf),
}

/// A checked design and where it came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Design {
    /// What it is.
    pub spec: DesignSpec,
    /// Where it came from.
    pub origin: Origin,
}

/// The names of the built-in designs.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// Finds a design: a built-in name, or the path of a design file.
pub fn resolve(name_or_path: &str) -> Result<Design, DesignError> {
    if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return parse(text, Origin::Builtin, &format!("built-in {name_or_path}"));
    }
    let path = Path::new(name_or_path);
    let looks_like_file = name_or_path.ends_with(".toml") || name_or_path.contains('/');
    if !looks_like_file {
        return Err(DesignError::Unknown { name: name_or_path.to_owned(), known: builtin_names().join(", ") });
    }
    let text = std::fs::read_to_string(path).map_err(|source| DesignError::Read { path: path.to_owned(), source })?;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    parse(&text, Origin::File(absolute), &path.display().to_string())
}

/// Parses and checks a design's TOML text.
pub fn parse(text: &str, origin: Origin, shown_as: &str) -> Result<Design, DesignError> {
    if maelstrom::is_maelstrom_file(text) {
        return maelstrom::parse_file(text, origin, shown_as);
    }
    let invalid = |reason: String| DesignError::Invalid { origin: shown_as.to_owned(), reason };
    let mut spec: DesignSpec = toml::from_str(text).map_err(|e| invalid(e.to_string().trim().to_owned()))?;
    if let (Origin::File(file), Some(binary)) = (&origin, &spec.image.binary) {
        if binary.is_relative() {
            spec.image.binary = Some(file.parent().unwrap_or(Path::new(".")).join(binary));
        }
    }
    let design = Design { spec, origin };
    design.check().map_err(invalid)?;
    Ok(design)
}

impl Design {
    /// Checks what can be checked without Docker: the name, the adapter, every template.
    pub(crate) fn check(&self) -> Result<(), String> {
        let s = &self.spec;
        if s.name.is_empty() || !s.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(format!("name {:?} must be lowercase letters, digits and dashes (it names the node image)", s.name));
        }
        if s.start.command.is_empty() {
            return Err("[start] command is empty".into());
        }
        if !adapters::NAMES.contains(&s.client.adapter.as_str()) {
            return Err(format!("[client] adapter {:?} is not one of {}", s.client.adapter, adapters::NAMES.join(", ")));
        }
        if !s.capabilities.bugs.is_empty() && s.start.per_bug.is_empty() {
            return Err("[capabilities] bugs are listed but [start] per_bug does not say how to switch one on".into());
        }
        if s.capabilities.lose_unsynced && s.start.lose_unsynced.is_empty() {
            return Err("[capabilities] lose_unsynced is true but [start] lose_unsynced does not say how".into());
        }
        if let Some(w) = s.capabilities.workloads.iter().find(|w| !faultline_workloads::NAMES.contains(&w.as_str())) {
            return Err(format!("[capabilities] workloads names {w:?}, which is not one of {}", faultline_workloads::NAMES.join(", ")));
        }
        if let Some(b) = &s.image.binary {
            if b.file_name().is_none() {
                return Err(format!("[image] binary {} names no file", b.display()));
            }
        }
        // Fill every template once, with every bug and knob, so a typo fails now.
        let launch = Launch {
            spec: s.clone(),
            bugs: s.capabilities.bugs.clone(),
            knobs: s.knobs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            lose_unsynced: s.capabilities.lose_unsynced,
        };
        let peers = [("n1".to_owned(), "10.0.0.11".to_owned()), ("n2".to_owned(), "10.0.0.12".to_owned())];
        let node = NodeContext { node: "n1", ip: "10.0.0.11", run: "run", peers: &peers };
        launch.command(&node).map_err(|e| format!("[start]: {e}"))?;
        launch.env(&node).map_err(|e| format!("[start] env: {e}"))?;
        launch.client_options().map_err(|e| format!("[client] options: {e}"))?;
        Ok(())
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The reason the design gives for lacking `capability`, or `fallback`.
    fn why_not(&self, capability: &str, fallback: String) -> String {
        match self.spec.capabilities.notes.get(capability) {
            Some(note) => format!("{fallback}: {note}"),
            None => fallback,
        }
    }

    /// Whether the clock fault can reach this design's nodes; if not, why.
    pub fn clock_fault(&self) -> Result<(), String> {
        if self.spec.capabilities.clock {
            Ok(())
        } else {
            Err(self.why_not("clock", format!("the clock fault cannot apply to {}", self.name())))
        }
    }

    /// Whether this design can run `workload`; if not, why.
    pub fn workload(&self, workload: &str) -> Result<(), String> {
        let can = &self.spec.capabilities.workloads;
        if can.is_empty() && !faultline_workloads::is_transactional(workload) {
            Err(format!("{} cannot run the {workload} workload: its operations are Maelstrom's, not transactions, so only a Maelstrom node runs it (faultline test --maelstrom NODE --workload {workload})", self.name()))
        } else if can.is_empty() || can.iter().any(|w| w == workload) {
            Ok(())
        } else {
            Err(self.why_not("workloads", format!("{} cannot run the {workload} workload; it runs {}", self.name(), can.join(", "))))
        }
    }

    /// Whether faults can aim at this design's leader; if not, why.
    pub fn leader(&self) -> Result<(), String> {
        if self.spec.capabilities.leader {
            Ok(())
        } else {
            Err(self.why_not("leader", format!("{} reports no leader: --nemesis-targets leader and the scripted schedules (which strike the leader) cannot apply", self.name())))
        }
    }

    /// What a run asks of the design (bugs, `key=value` knobs, lost unsynced writes),
    /// or the first thing it cannot do, with the reason.
    pub fn launch(&self, bugs: &[String], knobs: &[String], lose_unsynced: bool) -> Result<Launch, DesignError> {
        let caps = &self.spec.capabilities;
        let refuse = DesignError::Refused;
        if let Some(bug) = bugs.iter().find(|b| !caps.bugs.contains(b)) {
            return Err(refuse(if caps.bugs.is_empty() {
                self.why_not("bugs", format!("{} has no switchable bugs (asked for --bug {bug})", self.name()))
            } else {
                format!("{} has no bug {bug:?}; it has: {}", self.name(), caps.bugs.join(", "))
            }));
        }
        let mut pairs = Vec::new();
        for kv in knobs {
            let (k, v) = kv.split_once('=').ok_or_else(|| refuse(format!("--node-opt {kv:?} is not key=value")))?;
            if !self.spec.knobs.contains_key(k) {
                let known: Vec<&str> = self.spec.knobs.keys().map(String::as_str).collect();
                return Err(refuse(format!("{} has no knob {k:?}; {}", self.name(), if known.is_empty() { "it has none".to_owned() } else { format!("it has: {}", known.join(", ")) })));
            }
            pairs.push((k.to_owned(), v.to_owned()));
        }
        if lose_unsynced && !caps.lose_unsynced {
            return Err(refuse(self.why_not("lose_unsynced", format!("--lose-unsynced cannot apply to {}", self.name()))));
        }
        Ok(Launch { spec: self.spec.clone(), bugs: bugs.to_vec(), knobs: pairs, lose_unsynced })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_design_is_valid_and_named_as_registered() {
        for (name, _) in BUILTIN {
            assert_eq!(resolve(name).unwrap().name(), name);
        }
        assert!(matches!(resolve("cassandra"), Err(DesignError::Unknown { .. })));
        assert!(matches!(resolve("./missing.toml"), Err(DesignError::Read { .. })));
    }

    #[test]
    fn etcd_bootstraps_statically_from_its_template() {
        let etcd = resolve("etcd").unwrap();
        let launch = etcd.launch(&[], &["election-ms=2000".to_owned()], false).unwrap();
        let peers = [("n1".to_owned(), "10.0.0.1".to_owned()), ("n2".to_owned(), "10.0.0.2".to_owned())];
        let argv = launch.command(&NodeContext { node: "n2", ip: "10.0.0.2", run: "etcd-1-2", peers: &peers }).unwrap();
        assert_eq!(argv[0], "etcd");
        for want in ["--initial-cluster=n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380", "--advertise-client-urls=http://10.0.0.2:8080", "--data-dir=/data/etcd", "--election-timeout=2000", "--heartbeat-interval=100", "--initial-cluster-token=faultline-etcd-1-2"] {
            assert!(argv.contains(&want.to_owned()), "{want} in {argv:?}");
        }
        assert_eq!(launch.client_options().unwrap()["serializable-reads"], "false");
        let serializable = etcd.launch(&[], &["serializable-reads=true".to_owned()], false).unwrap();
        assert_eq!(serializable.client_options().unwrap()["serializable-reads"], "true");
    }

    #[test]
    fn redis_starts_n1_as_primary_and_a_majority_sentinel_quorum_from_its_template() {
        let redis = resolve("redis").unwrap();
        let launch = redis.launch(&[], &["min-replicas-to-write=2".to_owned(), "wait-replicas=1".to_owned()], false).unwrap();
        let peers: Vec<(String, String)> = (1..=5).map(|i| (format!("n{i}"), format!("10.0.0.{i}"))).collect();
        let script = |node: &str, ip: &str| launch.command(&NodeContext { node, ip, run: "r", peers: &peers }).unwrap();
        let n2 = script("n2", "10.0.0.2");
        assert_eq!(n2[..2], ["sh", "-c"]);
        for want in ["set -- 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5", "echo \"replicaof $1 6379\"", "sentinel monitor faultline $1 6379 $(( $# / 2 + 1 ))", "min-replicas-to-write 2", "down-after-milliseconds faultline 2000", "if [ \"10.0.0.2\" != \"$1\" ]"] {
            assert!(n2[2].contains(want), "{want} in {}", n2[2]);
        }
        let options = launch.client_options().unwrap();
        assert_eq!((options["sentinel-master"].as_str(), options["wait-replicas"].as_str()), ("faultline", "1"));
        assert!(redis.clock_fault().unwrap_err().contains("jemalloc"));
        assert!(redis.launch(&[], &[], true).unwrap_err().to_string().contains("does not tell faultline what it fsynced"));
        assert!(redis.leader().is_ok());
    }

    #[test]
    fn swift_runs_only_what_its_object_api_can_express() {
        let swift = resolve("swift").unwrap();
        assert!(swift.workload("register").is_ok() && swift.workload("set").is_ok());
        let why = swift.workload("list-append").unwrap_err();
        assert!(why.contains("cannot run the list-append workload; it runs register, set") && why.contains("no transactions"), "{why}");
        assert!(resolve("raft").unwrap().workload("bank").is_ok(), "no list: every workload");
        let peers: Vec<(String, String)> = (1..=3).map(|i| (format!("n{i}"), format!("10.0.0.{i}"))).collect();
        let launch = swift.launch(&[], &["newest-reads=true".to_owned()], false).unwrap();
        let script = &launch.command(&NodeContext { node: "n3", ip: "10.0.0.3", run: "run-7", peers: &peers }).unwrap()[2];
        for want in ["peers=\"10.0.0.1 10.0.0.2 10.0.0.3\"", "swift_hash_path_suffix = run-7", "RingBuilder(6, 3, 0)", "bind_port = 8080", "address = 10.0.0.3"] {
            assert!(script.contains(want), "{want} in {script}");
        }
        assert_eq!(launch.client_options().unwrap()["newest-reads"], "true");
        assert!(launch.env(&NodeContext { node: "n3", ip: "10.0.0.3", run: "run-7", peers: &peers }).unwrap().contains(&"FAKETIME_DONT_FAKE_MONOTONIC=0".to_owned()));
    }

    #[test]
    fn refusals_follow_from_capabilities_with_the_designs_reasons() {
        let etcd = resolve("etcd").unwrap();
        let err = |r: Result<Launch, DesignError>| r.unwrap_err().to_string();
        assert!(err(etcd.launch(&["no-noop".into()], &[], false)).contains("no switchable bugs"));
        assert!(err(etcd.launch(&[], &[], true)).contains("does not tell faultline what it fsynced"));
        assert!(err(etcd.launch(&[], &["r=1".into()], false)).contains("has no knob \"r\""));
        assert!(etcd.clock_fault().unwrap_err().contains("Go program"));
        let raft = resolve("raft").unwrap();
        assert!(err(raft.launch(&["lww".into()], &[], false)).contains("it has: stale-follower-read"));
        let launch = raft.launch(&["no-noop".into()], &[], true).unwrap();
        let peers = [("n1".to_owned(), "10.0.0.1".to_owned())];
        let argv = launch.command(&NodeContext { node: "n1", ip: "10.0.0.1", run: "r", peers: &peers }).unwrap();
        assert_eq!(argv, ["faultline", "node", "raft", "--bug", "no-noop", "--lose-unsynced"]);
        assert!(resolve("dynamo").unwrap().leader().unwrap_err().contains("reports no leader"));
    }

    #[test]
    fn the_readmes_example_design_file_is_valid() {
        let readme = include_str!("../../README.md");
        let section = &readme[readme.find("## Testing your own system").expect("the section")..];
        let start = section.find("```toml\n").expect("a toml block") + "```toml\n".len();
        let block = &section[start..start + section[start..].find("```").expect("its end")];
        let d = parse(block, Origin::File("/home/me/mydb.toml".into()), "README").unwrap();
        let launch = d.launch(&["skip-fsync".into()], &["fsync=never".into()], true).unwrap();
        let peers = [("n1".to_owned(), "10.0.0.1".to_owned()), ("n2".to_owned(), "10.0.0.2".to_owned())];
        let argv = launch.command(&NodeContext { node: "n1", ip: "10.0.0.1", run: "r", peers: &peers }).unwrap();
        assert_eq!(argv, ["mydb", "--id=n1", "--listen=0.0.0.0:8080", "--peers=n1@10.0.0.1:7000,n2@10.0.0.2:7000", "--dir=/data", "--fsync=never", "--bug", "skip-fsync", "--set", "fsync=never", "--drop-unsynced"]);
        assert_eq!(d.spec.image.binary.unwrap(), PathBuf::from("/home/me/./target/release/mydb"));
    }

    #[test]
    fn a_bad_design_file_says_what_is_wrong() {
        let bad = |text: &str| parse(text, Origin::File("/x/my.toml".into()), "my.toml").unwrap_err().to_string();
        let ok = "name = \"mydb\"\nabout = \"x\"\n[start]\ncommand = [\"mydb\", \"--id={node}\"]\n[client]\nadapter = \"http-txn\"\n";
        assert!(parse(ok, Origin::File("/x/my.toml".into()), "my.toml").is_ok());
        assert!(bad(&ok.replace("{node}", "{nod}")).contains("unknown placeholder {nod}"));
        assert!(bad(&ok.replace("http-txn", "grpc")).contains("adapter \"grpc\" is not one of"));
        assert!(bad(&ok.replace("mydb\"\nabout", "My DB\"\nabout")).contains("lowercase"));
        assert!(bad(&format!("{ok}colour = 1\n")).contains("unknown field"));
        assert!(bad(&format!("{ok}[capabilities]\nbugs = [\"x\"]\n")).contains("per_bug"));
        assert!(bad(&format!("{ok}[capabilities]\nworkloads = [\"kv\"]\n")).contains("workloads names \"kv\", which is not one of register"));
        let with_binary = format!("{ok}[image]\nbinary = \"bin/mydb\"\n");
        let d = parse(&with_binary, Origin::File("/x/my.toml".into()), "my.toml").unwrap();
        assert_eq!(d.spec.image.binary.unwrap(), PathBuf::from("/x/bin/mydb"), "relative to the design file");
    }
}
