//! A Maelstrom node as a design (docs/ARCHITECTURE.md §10): a [`MaelstromSpec`] (the
//! node program, its arguments, the Debian packages it needs, the Maelstrom workload)
//! becomes an ordinary [`DesignSpec`] whose command is faultline's shim wrapped around
//! the node and whose client adapter is `maelstrom`. It comes from `faultline test
//! --maelstrom PATH` or from a design file with a `[maelstrom]` table.
//!
//! Capabilities follow from the program itself: libfaketime reaches a script's
//! interpreter and a dynamically linked program, not a statically linked one or a Go
//! program (Go reads the clock without libc), so the clock fault is refused for those,
//! with the reason. A script's interpreter is added to the image from its `#!` line.

use super::spec::{Capabilities, ClientSpec, DesignSpec, Health, ImageSpec, StartSpec};
use super::{Design, DesignError, Origin};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a Maelstrom node is and what it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaelstromSpec {
    /// The node program on this machine (a binary, or a script with a `#!` line).
    pub node: PathBuf,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Debian packages it needs beyond what its `#!` line implies (`python3`, `nodejs`
    /// and `ruby` are added for scripts that name them).
    #[serde(default)]
    pub packages: Vec<String>,
    /// The Maelstrom workload (`echo`, `unique-ids`, `broadcast`, `g-set`, `g-counter`,
    /// `pn-counter`, `lin-kv`, `txn-list-append`, `txn-rw-register`).
    pub workload: String,
    /// The broadcast topology (`grid`, `line`, `total`, `tree2`–`tree4`; default grid
    /// for broadcast, none otherwise).
    #[serde(default)]
    pub topology: Option<String>,
}

/// A design file that describes a Maelstrom node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaelstromFile {
    name: Option<String>,
    about: Option<String>,
    maelstrom: MaelstromSpec,
}

/// Whether a design file's text describes a Maelstrom node (it has a `[maelstrom]` table).
pub fn is_maelstrom_file(text: &str) -> bool {
    toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("maelstrom"))
}

/// Reads a Maelstrom design file; the node's path is relative to the file.
pub fn parse_file(text: &str, origin: Origin, shown_as: &str) -> Result<Design, DesignError> {
    let invalid = |reason: String| DesignError::Invalid { origin: shown_as.to_owned(), reason };
    let mut file: MaelstromFile = toml::from_str(text).map_err(|e| invalid(e.to_string().trim().to_owned()))?;
    if let Origin::File(path) = &origin {
        if file.maelstrom.node.is_relative() {
            file.maelstrom.node = path.parent().unwrap_or(Path::new(".")).join(&file.maelstrom.node);
        }
    }
    let spec = file.maelstrom.spec(file.name, file.about).map_err(invalid)?;
    let design = Design { spec, origin };
    design.check().map_err(invalid)?;
    Ok(design)
}

/// How a program reads the clock, as far as libfaketime is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramKind {
    /// A script run by this interpreter (its `#!` line's program).
    Script(String),
    /// A dynamically linked ELF program.
    Dynamic,
    /// A statically linked ELF program.
    Static,
    /// A Go program.
    Go,
    /// Neither a script nor an ELF program faultline can read.
    Unknown,
}

/// Tells what kind of program `bytes` is.
pub fn program_kind(bytes: &[u8]) -> ProgramKind {
    if let Some(rest) = bytes.strip_prefix(b"#!") {
        let line = String::from_utf8_lossy(&rest[..rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())]).into_owned();
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        let program = if first.ends_with("/env") { words.find(|w| !w.starts_with('-')).unwrap_or("") } else { first };
        return ProgramKind::Script(program.rsplit('/').next().unwrap_or("").to_owned());
    }
    let Some(elf) = Elf::read(bytes) else { return ProgramKind::Unknown };
    // Go's linker writes these sections; looking for Go's markers anywhere in the file
    // would also find them in any program that mentions them (this one).
    if elf.section_names().iter().any(|n| matches!(*n, b".go.buildinfo" | b".note.go.buildid")) {
        ProgramKind::Go
    } else if elf.has_interpreter() {
        ProgramKind::Dynamic
    } else {
        ProgramKind::Static
    }
}

/// Just enough of an ELF file's headers to tell how it was linked: 32 or 64 bits,
/// either byte order; every read is bounds-checked, the file is untrusted input.
struct Elf<'a> {
    bytes: &'a [u8],
    little: bool,
    wide: bool,
}

impl<'a> Elf<'a> {
    fn read(bytes: &'a [u8]) -> Option<Elf<'a>> {
        if !bytes.starts_with(b"\x7fELF") || bytes.len() < 0x34 {
            return None;
        }
        let wide = match bytes[4] {
            1 => false,
            2 => true,
            _ => return None,
        };
        Some(Elf { bytes, little: bytes[5] == 1, wide })
    }

    /// The unsigned integer of `len` bytes at `at`.
    fn int(&self, at: usize, len: usize) -> Option<usize> {
        let b = self.bytes.get(at..at.checked_add(len)?)?;
        let n = if self.little { b.iter().rev().fold(0u64, |n, &x| n << 8 | u64::from(x)) } else { b.iter().fold(0u64, |n, &x| n << 8 | u64::from(x)) };
        usize::try_from(n).ok()
    }

    /// An address-sized integer at `at`.
    fn word(&self, at: usize) -> Option<usize> {
        self.int(at, if self.wide { 8 } else { 4 })
    }

    /// The offsets of a header table's entries: (table offset field, entry size field, count field).
    fn table(&self, fields: (usize, usize, usize)) -> Vec<usize> {
        let (Some(start), Some(size), Some(count)) = (self.word(fields.0), self.int(fields.1, 2), self.int(fields.2, 2)) else { return Vec::new() };
        (0..count).filter_map(|i| start.checked_add(i.checked_mul(size)?)).collect()
    }

    /// Whether a program header asks for an interpreter (`PT_INTERP`): dynamic linking.
    fn has_interpreter(&self) -> bool {
        const PT_INTERP: usize = 3;
        let fields = if self.wide { (0x20, 0x36, 0x38) } else { (0x1c, 0x2a, 0x2c) };
        self.table(fields).into_iter().any(|h| self.int(h, 4) == Some(PT_INTERP))
    }

    /// The sections' names, from the section-name string table.
    fn section_names(&self) -> Vec<&'a [u8]> {
        let (fields, strndx, offset_in_header) = if self.wide { ((0x28, 0x3a, 0x3c), 0x3e, 0x18) } else { ((0x20, 0x2e, 0x30), 0x32, 0x10) };
        let headers = self.table(fields);
        let Some(names) = self.int(strndx, 2).and_then(|i| headers.get(i)).and_then(|h| self.word(h + offset_in_header)) else { return Vec::new() };
        headers
            .iter()
            .filter_map(|h| self.int(*h, 4).and_then(|n| names.checked_add(n)).and_then(|at| self.bytes.get(at..)))
            .map(|b| &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())])
            .collect()
    }
}

/// The Debian package that provides a script interpreter missing from the base image.
fn interpreter_package(interpreter: &str) -> Option<&'static str> {
    match interpreter {
        i if i.starts_with("python3") || i == "python" => Some("python3"),
        "node" | "nodejs" => Some("nodejs"),
        "ruby" => Some("ruby"),
        _ => None,
    }
}

/// Braces in a user's argument are literal, not template placeholders.
fn literal(s: &str) -> String {
    s.replace('{', "{{").replace('}', "}}")
}

impl MaelstromSpec {
    /// The design that runs this node under the shim.
    pub fn spec(&self, name: Option<String>, about: Option<String>) -> Result<DesignSpec, String> {
        if !faultline_workloads::MAELSTROM.contains(&self.workload.as_str()) {
            return Err(format!("Maelstrom workload {:?} is not one faultline runs; one of {}", self.workload, faultline_workloads::MAELSTROM.join(", ")));
        }
        let file = self.node.file_name().map(|f| f.to_string_lossy().into_owned()).ok_or_else(|| format!("node {} names no file", self.node.display()))?;
        let bytes = std::fs::read(&self.node).map_err(|e| format!("cannot read the node program {}: {e}", self.node.display()))?;
        let kind = program_kind(&bytes);
        let mut packages = self.packages.clone();
        if let ProgramKind::Script(interpreter) = &kind {
            if let Some(p) = interpreter_package(interpreter).filter(|p| !packages.iter().any(|q| q == p)) {
                packages.push(p.to_owned());
            }
        }
        let topology = self.topology.clone().or_else(|| (self.workload == "broadcast").then(|| "grid".to_owned()));
        if let Some(t) = &topology {
            faultline_maelstrom::topology::Topology::parse(t)?;
        }
        let mut command: Vec<String> = ["faultline", "node", "maelstrom", "--node", "{node}", "--peers", "{peers}", "--port", "{port}", "--data", "{data}"].map(str::to_owned).to_vec();
        if let Some(t) = topology {
            command.extend(["--topology".to_owned(), t]);
        }
        command.extend(["--".to_owned(), format!("/usr/local/bin/{}", literal(&file))]);
        command.extend(self.args.iter().map(|a| literal(a)));
        let mut notes = BTreeMap::new();
        notes.insert("bugs".to_owned(), "a Maelstrom node has no switches faultline knows of; give it arguments instead".to_owned());
        notes.insert("lose_unsynced".to_owned(), "Maelstrom's protocol does not say what a node fsynced".to_owned());
        notes.insert("leader".to_owned(), "Maelstrom's protocol has no way to ask a node whether it leads".to_owned());
        let clock = match &kind {
            ProgramKind::Script(_) | ProgramKind::Dynamic => true,
            ProgramKind::Static => {
                notes.insert("clock".to_owned(), format!("{file} is statically linked, and libfaketime reaches only programs that call libc's clock through the dynamic linker"));
                false
            }
            ProgramKind::Go => {
                notes.insert("clock".to_owned(), format!("{file} is a Go program, which reads the clock without libc, so libfaketime does not reach it"));
                false
            }
            ProgramKind::Unknown => {
                notes.insert("clock".to_owned(), format!("{file} is neither a script nor an ELF program faultline can read, so it cannot tell whether libfaketime reaches it"));
                false
            }
        };
        let stem = Path::new(&file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let slug: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        Ok(DesignSpec {
            name: name.unwrap_or_else(|| format!("maelstrom-{}", slug.trim_matches('-'))),
            about: about.unwrap_or_else(|| format!("the Maelstrom node {file}, run unmodified under faultline's shim ({})", self.workload)),
            image: ImageSpec { packages, binary: Some(self.node.clone()) },
            start: StartSpec {
                command,
                per_bug: Vec::new(),
                per_knob: Vec::new(),
                lose_unsynced: Vec::new(),
                // libfaketime 0.9.10 with the monotonic clock left alone makes sleeps
                // fail with EINVAL (Python's time.sleep among them), as Swift found.
                env: BTreeMap::from([("FAKETIME_DONT_FAKE_MONOTONIC".to_owned(), "0".to_owned())]),
                peer_format: "{name}={ip}".to_owned(),
                peer_separator: ",".to_owned(),
            },
            capabilities: Capabilities { bugs: Vec::new(), lose_unsynced: false, clock, leader: false, workloads: vec![self.workload.clone()], notes },
            knobs: BTreeMap::new(),
            health: Health::Tcp { timeout_s: 60 },
            client: ClientSpec { adapter: "maelstrom".to_owned(), port: 8080, options: BTreeMap::from([("workload".to_owned(), self.workload.clone())]) },
        })
    }

    /// The checked design for `faultline test --maelstrom`.
    pub fn design(&self) -> Result<Design, DesignError> {
        let shown = format!("--maelstrom {}", self.node.display());
        let invalid = |reason: String| DesignError::Invalid { origin: shown.clone(), reason };
        let design = Design { spec: self.spec(None, None).map_err(invalid)?, origin: Origin::File(self.node.clone()) };
        design.check().map_err(invalid)?;
        Ok(design)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::NodeContext;

    fn elf64(interp: bool, go: bool) -> Vec<u8> {
        let mut b = vec![0u8; 0x200];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[0x20] = 0x40; // e_phoff
        b[0x36] = 56; // e_phentsize
        b[0x38] = 2; // e_phnum
        b[0x40] = 1; // PT_LOAD
        if interp {
            b[0x40 + 56] = 3;
        }
        // Two section headers at 0x100 (e_shoff): the name table, and one more
        // section named by offset 1 in it, `.go.buildinfo` for Go, `.text` otherwise.
        b[0x28] = 0x00;
        b[0x29] = 0x01;
        b[0x3a] = 64; // e_shentsize
        b[0x3c] = 2; // e_shnum
        b[0x3e] = 0; // e_shstrndx
        b[0x100 + 0x18] = 0x80; // the name table's offset: 0x180
        b[0x100 + 0x19] = 0x01;
        b[0x140] = 1; // the second section's name at offset 1
        let name: &[u8] = if go { b".go.buildinfo" } else { b".text" };
        b[0x181..0x181 + name.len()].copy_from_slice(name);
        b
    }

    #[test]
    fn programs_are_told_apart_by_what_reaches_their_clock() {
        assert_eq!(program_kind(b"#!/usr/bin/env python3\nprint()"), ProgramKind::Script("python3".into()));
        assert_eq!(program_kind(b"#!/usr/bin/env -S node --x\n"), ProgramKind::Script("node".into()));
        assert_eq!(program_kind(b"#!/bin/sh\n"), ProgramKind::Script("sh".into()));
        assert_eq!(program_kind(&elf64(true, false)), ProgramKind::Dynamic);
        assert_eq!(program_kind(&elf64(false, false)), ProgramKind::Static);
        assert_eq!(program_kind(&elf64(true, true)), ProgramKind::Go);
        assert_eq!(program_kind(b"MZ\x90\x00"), ProgramKind::Unknown);
        let mut truncated = elf64(true, true);
        truncated.truncate(0x120);
        assert_eq!(program_kind(&truncated), ProgramKind::Dynamic, "a section table past the end is no section");
        // Real programs: Docker's daemon (or containerd) is Go on every machine faultline runs
        // on, and the running test binary a dynamically linked Rust program.
        let go = ["/usr/sbin/dockerd", "/usr/bin/dockerd", "/usr/bin/containerd"].iter().find_map(|p| std::fs::read(p).ok()).expect("Docker's daemon is installed");
        assert_eq!(program_kind(&go), ProgramKind::Go);
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(program_kind(&me), ProgramKind::Dynamic);
    }

    #[test]
    fn a_script_node_becomes_a_design_that_runs_it_under_the_shim() {
        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().join("My_Broadcast.py");
        std::fs::write(&node, "#!/usr/bin/python3\n").unwrap();
        let spec = MaelstromSpec { node: node.clone(), args: vec!["--fanout={3}".into()], packages: vec![], workload: "broadcast".into(), topology: None };
        let design = spec.design().unwrap();
        assert_eq!(design.name(), "maelstrom-my-broadcast");
        assert_eq!(design.spec.image.packages, ["python3"]);
        assert!(design.clock_fault().is_ok());
        assert!(design.workload("broadcast").is_ok() && design.workload("g-set").is_err());
        assert!(design.leader().unwrap_err().contains("no way to ask a node whether it leads"));
        let launch = design.launch(&[], &[], false).unwrap();
        let peers = [("n1".to_owned(), "10.0.0.1".to_owned()), ("n2".to_owned(), "10.0.0.2".to_owned())];
        let argv = launch.command(&NodeContext { node: "n2", ip: "10.0.0.2", run: "r", peers: &peers }).unwrap();
        assert_eq!(argv.join(" "), "faultline node maelstrom --node n2 --peers n1=10.0.0.1,n2=10.0.0.2 --port 8080 --data /data --topology grid -- /usr/local/bin/My_Broadcast.py --fanout={3}");
        assert_eq!(launch.client_options().unwrap()["workload"], "broadcast");
    }

    #[test]
    fn static_and_go_nodes_are_refused_the_clock_fault_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        for (file, bytes, why) in [("static-node", elf64(false, false), "statically linked"), ("go-node", elf64(true, true), "Go program")] {
            std::fs::write(dir.path().join(file), bytes).unwrap();
            let spec = MaelstromSpec { node: dir.path().join(file), args: vec![], packages: vec![], workload: "echo".into(), topology: None };
            let err = spec.design().unwrap().clock_fault().unwrap_err();
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn the_example_maelstrom_design_file_runs_the_fixture_node() {
        let d = crate::design::resolve(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/designs/maelstrom-broadcast.toml")).unwrap();
        assert_eq!((d.name(), d.spec.image.packages.clone()), ("maelstrom-broadcast", vec!["python3".to_owned()]));
        assert!(d.spec.image.binary.as_ref().is_some_and(|b| b.ends_with("images/maelstrom/fixtures/nodes.py") && b.exists()));
        assert!(d.spec.start.command.ends_with(&["--topology".to_owned(), "grid".to_owned(), "--".to_owned(), "/usr/local/bin/nodes.py".to_owned(), "broadcast".to_owned()]));
    }

    #[test]
    fn a_maelstrom_design_file_is_read_relative_to_itself_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("counter.py"), "#!/usr/bin/env python3\n").unwrap();
        let text = "name = \"gc\"\n[maelstrom]\nnode = \"counter.py\"\nworkload = \"g-counter\"\npackages = [\"python3-yaml\"]\n";
        assert!(is_maelstrom_file(text) && !is_maelstrom_file("name = \"x\"\n"));
        let file = dir.path().join("gc.toml");
        let d = parse_file(text, Origin::File(file.clone()), "gc.toml").unwrap();
        assert_eq!((d.name(), d.spec.image.packages.clone()), ("gc", vec!["python3-yaml".to_owned(), "python3".to_owned()]));
        assert_eq!(d.spec.image.binary, Some(dir.path().join("counter.py")));
        let bad = |t: &str| parse_file(t, Origin::File(file.clone()), "gc.toml").unwrap_err().to_string();
        assert!(bad(&text.replace("g-counter", "kv")).contains("not one faultline runs"));
        assert!(bad(&text.replace("counter.py", "missing.py")).contains("cannot read the node program"));
        assert!(bad(&format!("{text}topology = \"star\"\n")).contains("no topology \"star\""));
        assert!(bad(&format!("{text}colour = 1\n")).contains("unknown field"));
    }
}
