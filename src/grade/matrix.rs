//! The grading matrix: rows of a design with its bugs and knobs, each crossed with
//! workloads, nemeses and seeds, and what each row is expected to show. Read from a
//! TOML file (`grade/nightly.toml`) or built from command-line flags.

use crate::runner::TestOptions;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a row's runs must show for the row to pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// No anomaly: a correct design.
    Valid,
    /// An anomaly is found: a bug is detected.
    Invalid,
    /// Whatever the checker says is reported, never a deviation (a design's real
    /// guarantees, e.g. dynamo's knob settings).
    Any,
}

/// One string or a list of them, in TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// Settings every row inherits unless it sets its own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    time_limit: Option<f64>,
    nodes: Option<usize>,
    seeds: Option<Vec<u64>>,
    concurrency: Option<usize>,
    rate: Option<f64>,
    nemesis_interval: Option<f64>,
    op_timeout: Option<f64>,
    recovery: Option<f64>,
    /// With `expect = "invalid"`: the least share of a row's runs (per workload and
    /// nemesis, over its seeds) that must detect the bug; a miss within it is no
    /// deviation. Unset: every run must.
    detect: Option<f64>,
}

impl Settings {
    /// `self` where set, `base` otherwise.
    fn over(&self, base: &Settings) -> Settings {
        Settings {
            time_limit: self.time_limit.or(base.time_limit),
            nodes: self.nodes.or(base.nodes),
            seeds: self.seeds.clone().or_else(|| base.seeds.clone()),
            concurrency: self.concurrency.or(base.concurrency),
            rate: self.rate.or(base.rate),
            nemesis_interval: self.nemesis_interval.or(base.nemesis_interval),
            op_timeout: self.op_timeout.or(base.op_timeout),
            recovery: self.recovery.or(base.recovery),
            detect: self.detect.or(base.detect),
        }
    }
}

/// A row of the matrix file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RowFile {
    design: String,
    #[serde(default)]
    bugs: Vec<String>,
    #[serde(default)]
    node_opts: Vec<String>,
    workload: OneOrMany,
    nemesis: OneOrMany,
    #[serde(default)]
    nemesis_targets: Vec<String>,
    consistency_model: Option<String>,
    read_share: Option<f64>,
    #[serde(default)]
    lose_unsynced: bool,
    expect: Expect,
    /// With `expect = "invalid"`: at least one of these anomaly types must be found.
    #[serde(default)]
    anomalies: Vec<String>,
    /// Shown instead of the design, bugs and knobs.
    label: Option<String>,
    // The row's own settings (serde can't deny unknown fields of a flattened struct).
    time_limit: Option<f64>,
    nodes: Option<usize>,
    seeds: Option<Vec<u64>>,
    concurrency: Option<usize>,
    rate: Option<f64>,
    nemesis_interval: Option<f64>,
    op_timeout: Option<f64>,
    recovery: Option<f64>,
    detect: Option<f64>,
}

impl RowFile {
    /// The row's settings over `defaults`.
    fn settings(&self, defaults: &Settings) -> Settings {
        let own = Settings {
            time_limit: self.time_limit,
            nodes: self.nodes,
            seeds: self.seeds.clone(),
            concurrency: self.concurrency,
            rate: self.rate,
            nemesis_interval: self.nemesis_interval,
            op_timeout: self.op_timeout,
            recovery: self.recovery,
            detect: self.detect,
        };
        own.over(defaults)
    }

    /// A row of the given design, bugs, workloads and nemeses with default settings.
    fn plain(design: &str, bugs: Vec<String>, workloads: &[String], nemeses: &[String], expect: Expect) -> RowFile {
        RowFile {
            design: design.to_owned(),
            bugs,
            node_opts: Vec::new(),
            workload: OneOrMany::Many(workloads.to_vec()),
            nemesis: OneOrMany::Many(nemeses.to_vec()),
            nemesis_targets: Vec::new(),
            consistency_model: None,
            read_share: None,
            lose_unsynced: false,
            expect,
            anomalies: Vec::new(),
            label: None,
            time_limit: None,
            nodes: None,
            seeds: None,
            concurrency: None,
            rate: None,
            nemesis_interval: None,
            op_timeout: None,
            recovery: None,
            detect: None,
        }
    }

    /// The row's cells: workloads × nemeses × seeds.
    fn cells(&self, defaults: &Settings, o: &Overrides) -> Vec<Cell> {
        let s = self.settings(defaults);
        let seeds = o.seeds.clone().or(s.seeds.clone()).unwrap_or_else(|| vec![1]);
        let label = self.label.clone().unwrap_or_else(|| row_label(&self.design, &self.bugs, &self.node_opts));
        let mut cells = Vec::new();
        for workload in self.workload.clone().into_vec() {
            for nemesis in self.nemesis.clone().into_vec() {
                for &seed in &seeds {
                    let detect = s.detect.filter(|_| self.expect == Expect::Invalid);
                    cells.push(Cell { index: 0, row: label.clone(), opts: options(self, &workload, &nemesis, seed, &s, o), expect: self.expect, anomalies: self.anomalies.clone(), detect, row_runs: 0 });
                }
            }
        }
        cells
    }
}

/// The matrix file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatrixFile {
    name: Option<String>,
    #[serde(default)]
    defaults: Settings,
    #[serde(rename = "row")]
    rows: Vec<RowFile>,
}

/// One run of the matrix: a test's options and what it must show.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Its position in the whole matrix (a shard keeps the positions of its cells).
    pub index: usize,
    /// The row it belongs to (design, bugs, knobs).
    pub row: String,
    /// The test's options.
    pub opts: TestOptions,
    /// What it must show.
    pub expect: Expect,
    /// With `Expect::Invalid`: one of these anomaly types (empty: any anomaly).
    pub anomalies: Vec<String>,
    /// With `Expect::Invalid`: the least share of the row's runs of this workload and
    /// nemesis that must detect the bug (None: every one).
    pub detect: Option<f64>,
    /// The runs of its row with its workload and nemesis in the whole matrix, over
    /// which `detect` is judged: a shard holding fewer leaves that to `grade merge`.
    pub row_runs: usize,
}

impl Cell {
    /// The runs a `detect` share is judged over together: its row's, with its
    /// workload and nemesis (any seed).
    pub fn detection_group(&self) -> (String, String, String) {
        (self.row.clone(), self.opts.workload.clone(), self.opts.nemesis.clone())
    }
}

/// A whole matrix, expanded into cells — or one shard of it.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// Its name, for the scorecard.
    pub name: String,
    /// The runs, in order (a shard's, when `shard` is set).
    pub cells: Vec<Cell>,
    /// Cells of the whole matrix.
    pub total: usize,
    /// A digest of the whole matrix's cells, so shards of different matrices are
    /// never merged ([`super::shard::fingerprint`]).
    pub fingerprint: String,
    /// Which shard this is, if it is one.
    pub shard: Option<super::shard::Shard>,
}

/// What can be overridden for every cell from the command line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Seconds of workload per cell.
    pub time_limit: Option<f64>,
    /// Seeds for every row.
    pub seeds: Option<Vec<u64>>,
    /// The results store.
    pub store: PathBuf,
    /// The base image.
    pub base_image: Option<String>,
    /// The Docker Engine every cell runs on (`--docker-host`).
    pub docker_host: Option<String>,
    /// Reach nodes through published ports (`--publish-ports`).
    pub publish_ports: bool,
}

/// The label of a row: design, `+bug`s, knobs.
pub fn row_label(design: &str, bugs: &[String], node_opts: &[String]) -> String {
    let mut label = design.to_owned();
    for b in bugs {
        label.push_str(" +");
        label.push_str(b);
    }
    if !node_opts.is_empty() {
        label.push_str(&format!(" [{}]", node_opts.join(",")));
    }
    label
}

/// The options of one run, with faultline test's defaults where nothing is set.
fn options(row: &RowFile, workload: &str, nemesis: &str, seed: u64, s: &Settings, o: &Overrides) -> TestOptions {
    let nodes = s.nodes.unwrap_or(5);
    let bugs = if row.bugs.is_empty() { String::new() } else { format!("+{}", row.bugs.join("+")) };
    TestOptions {
        name: format!("grade-{}{bugs}-{workload}-{}", row.design, nemesis.replace(',', "+")),
        design: row.design.clone(),
        bugs: row.bugs.clone(),
        node_opts: row.node_opts.clone(),
        workload: workload.to_owned(),
        consistency_model: row.consistency_model.clone(),
        read_share: row.read_share,
        nemesis: nemesis.to_owned(),
        nemesis_interval_s: s.nemesis_interval.unwrap_or(5.0),
        nemesis_targets: row.nemesis_targets.clone(),
        nemesis_grudge: None,
        nodes,
        concurrency: s.concurrency.unwrap_or(2 * nodes),
        rate: s.rate.unwrap_or(crate::store::DEFAULT_RATE),
        time_limit_s: o.time_limit.or(s.time_limit).unwrap_or(30.0),
        seed,
        lose_unsynced: row.lose_unsynced,
        leave_running: false,
        store: o.store.clone(),
        op_timeout_s: s.op_timeout.unwrap_or(2.0),
        recovery_s: s.recovery.unwrap_or(3.0),
        base_image: o.base_image.clone(),
        replay: None,
        docker_host: o.docker_host.clone(),
        publish_ports: o.publish_ports,
        maelstrom: None,
    }
}

impl Matrix {
    /// The whole matrix of `cells`: numbered, counted, fingerprinted.
    fn whole(name: String, mut cells: Vec<Cell>) -> Matrix {
        let mut runs: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        for c in &cells {
            *runs.entry(c.detection_group()).or_default() += 1;
        }
        for (i, c) in cells.iter_mut().enumerate() {
            c.index = i;
            c.row_runs = runs[&c.detection_group()];
        }
        let fingerprint = super::shard::fingerprint(&cells);
        Matrix { name, total: cells.len(), fingerprint, cells, shard: None }
    }

    /// Parses a matrix from TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, o: &Overrides) -> Result<Matrix, String> {
        let file: MatrixFile = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        if file.rows.is_empty() {
            return Err(format!("{origin}: no [[row]]: a matrix needs at least one row"));
        }
        let mut cells = Vec::new();
        for (i, row) in file.rows.iter().enumerate() {
            if let Some(d) = row.settings(&file.defaults).detect.filter(|d| !(0.0..=1.0).contains(d)) {
                return Err(format!("{origin}: row {} ({}): detect = {d} is not a share between 0 and 1", i + 1, row.design));
            }
            if row.expect != Expect::Invalid && !row.anomalies.is_empty() {
                return Err(format!("{origin}: row {} ({}): `anomalies` only makes sense with expect = \"invalid\"", i + 1, row.design));
            }
            cells.extend(row.cells(&file.defaults, o));
        }
        Ok(Matrix::whole(file.name.unwrap_or_else(|| origin.to_owned()), cells))
    }

    /// Reads a matrix file.
    pub fn read(path: &Path, o: &Overrides) -> Result<Matrix, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the matrix {}: {e}", path.display()))?;
        Matrix::parse(&text, &path.display().to_string(), o)
    }

    /// The cross product of designs × bug sets × workloads × nemeses × seeds. A bug
    /// set is `none` or comma-separated bug ids; `expect` decides each row's
    /// expectation, or (None) valid without bugs and invalid with them.
    pub fn from_flags(designs: &[String], bug_sets: &[String], workloads: &[String], nemeses: &[String], expect: Option<Expect>, o: &Overrides) -> Matrix {
        let bug_sets: Vec<Vec<String>> = if bug_sets.is_empty() {
            vec![Vec::new()]
        } else {
            bug_sets.iter().map(|s| s.split(',').map(str::trim).filter(|b| !b.is_empty() && *b != "none").map(str::to_owned).collect()).collect()
        };
        let mut cells = Vec::new();
        for design in designs {
            for bugs in &bug_sets {
                let expect = expect.unwrap_or(if bugs.is_empty() { Expect::Valid } else { Expect::Invalid });
                cells.extend(RowFile::plain(design, bugs.clone(), workloads, nemeses, expect).cells(&Settings::default(), o));
            }
        }
        Matrix::whole("command line".into(), cells)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_cross_workloads_nemeses_and_seeds_and_inherit_defaults() {
        let text = r#"
            name = "t"
            [defaults]
            time_limit = 12
            seeds = [1, 2]
            [[row]]
            design = "raft"
            workload = ["register", "set"]
            nemesis = "partition"
            expect = "valid"
            [[row]]
            design = "raft"
            bugs = ["no-noop"]
            workload = "register"
            nemesis = ["isolate-leader", "kill"]
            seeds = [7]
            time_limit = 20
            read_share = 0.9
            expect = "invalid"
            anomalies = ["nonlinearizable-key"]
        "#;
        let m = Matrix::parse(text, "t.toml", &Overrides::default()).unwrap();
        let cells: Vec<(String, String, String, u64, f64)> = m.cells.iter().map(|c| (c.row.clone(), c.opts.workload.clone(), c.opts.nemesis.clone(), c.opts.seed, c.opts.time_limit_s)).collect();
        assert_eq!(cells.len(), 6);
        assert_eq!(cells[0], ("raft".into(), "register".into(), "partition".into(), 1, 12.0));
        assert_eq!(cells[3], ("raft".into(), "set".into(), "partition".into(), 2, 12.0));
        assert_eq!(cells[5], ("raft +no-noop".into(), "register".into(), "kill".into(), 7, 20.0));
        assert_eq!(m.cells[5].opts.name, "grade-raft+no-noop-register-kill");
        assert_eq!((m.cells[0].opts.read_share, m.cells[5].opts.read_share), (None, Some(0.9)));
        let o = Overrides { time_limit: Some(5.0), seeds: Some(vec![9]), ..Overrides::default() };
        let m = Matrix::parse(text, "t.toml", &o).unwrap();
        assert!(m.cells.iter().all(|c| c.opts.time_limit_s == 5.0 && c.opts.seed == 9), "command-line overrides win");
    }

    #[test]
    fn mistakes_in_the_file_are_named() {
        let o = Overrides::default();
        let e = Matrix::parse("[[row]]\ndesign = \"raft\"\nworkload = \"register\"\nnemesis = \"partition\"\nexpect = \"maybe\"\n", "m.toml", &o).unwrap_err();
        assert!(e.starts_with("m.toml: ") && e.contains("maybe"), "{e}");
        let e = Matrix::parse("[[row]]\ndesign = \"raft\"\nworkload = \"register\"\nnemesis = \"partition\"\nexpect = \"valid\"\ncolour = 1\n", "m.toml", &o).unwrap_err();
        assert!(e.contains("colour"), "{e}");
        assert!(Matrix::parse("name = \"x\"\nrow = []\n", "m.toml", &o).unwrap_err().contains("no [[row]]"));
    }

    #[test]
    fn flags_make_the_cross_product_and_bugs_expect_an_anomaly() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let m = Matrix::from_flags(&s(&["raft", "caspaxos"]), &s(&["none", "no-noop"]), &s(&["register"]), &s(&["partition", "kill"]), None, &Overrides::default());
        assert_eq!(m.cells.len(), 8);
        assert_eq!((m.cells[0].row.as_str(), m.cells[0].expect), ("raft", Expect::Valid));
        assert_eq!((m.cells[2].row.as_str(), m.cells[2].expect), ("raft +no-noop", Expect::Invalid));
    }
}
