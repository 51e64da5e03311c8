//! The scorecard's numbers: each cell's verdict against its expectation, with its
//! anomalies, availability, recovery and latency; then per bug its detection rate
//! and time to detect, and per design its figures side by side. Serialized as
//! `scorecard.json`; `render` draws it.

use super::matrix::{Cell, Expect};
use super::shard::Shard;
use crate::report::data::quantile;
use crate::runner::TestOutcome;
use faultline_checkers::Validity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One run of the matrix, judged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CellResult {
    /// Its position in the whole matrix (shards are merged in this order).
    #[serde(default)]
    pub cell: usize,
    /// The row (design, bugs, knobs).
    pub row: String,
    /// The design.
    pub design: String,
    /// Bugs switched on.
    pub bugs: Vec<String>,
    /// Design knobs set.
    pub node_opts: Vec<String>,
    /// The workload.
    pub workload: String,
    /// The nemesis.
    pub nemesis: String,
    /// The seed.
    pub seed: u64,
    /// What it had to show.
    pub expect: Expect,
    /// valid, invalid, unknown, or error (the run did not finish).
    pub verdict: String,
    /// True when the verdict is what was expected.
    pub passed: bool,
    /// Why it passed or deviated, in words.
    pub why: String,
    /// With `expect = invalid`: the least share of its row's runs (same workload and
    /// nemesis) that must detect the bug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect: Option<f64>,
    /// Why a miss is no deviation: its row detected the bug in enough runs (decided by
    /// [`Scorecard::new`] over every seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excused: Option<String>,
    /// With `detect`: the runs of its row (same workload and nemesis) in the whole
    /// matrix; a shard that ran fewer leaves the row's judgement to `grade merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_runs: Option<usize>,
    /// The checker's anomaly counts.
    pub anomalies: BTreeMap<String, usize>,
    /// The run's directory.
    pub run: Option<String>,
    /// Seconds the run took, start to verdict.
    pub wall_s: f64,
    /// Completed client operations: ok, fail, info.
    pub ops: crate::store::Counts,
    /// ok / completed while faults were active.
    pub availability_during: Option<f64>,
    /// The longest time without an ok while faults were active (s).
    pub failover_s: Option<f64>,
    /// From the heal to the first ok (s).
    pub recover_s: Option<f64>,
    /// Median latency of ok operations (ms).
    pub p50_ms: Option<f64>,
    /// 99th percentile latency of ok operations (ms).
    pub p99_ms: Option<f64>,
    /// When the first operation that witnesses an anomaly completed (s into the run).
    pub time_to_detect_s: Option<f64>,
    /// The engine that ran it, when the grading named engines (`--docker-host`,
    /// `--engines`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

fn verdict_name(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    }
}

/// Whether a verdict with these anomalies meets the cell's expectation, and why.
fn judge(cell: &Cell, valid: Validity, anomalies: &BTreeMap<String, usize>) -> (bool, String) {
    match (cell.expect, valid) {
        (Expect::Any, v) => (true, format!("{} (reported, not judged)", verdict_name(v))),
        (Expect::Valid, Validity::Valid) => (true, "valid, as expected".into()),
        (Expect::Valid, v) => (false, format!("expected valid, got {}", verdict_name(v))),
        (Expect::Invalid, Validity::Invalid) if cell.anomalies.is_empty() || cell.anomalies.iter().any(|a| anomalies.contains_key(a)) => {
            (true, format!("detected: {}", anomalies.keys().cloned().collect::<Vec<_>>().join(", ")))
        }
        (Expect::Invalid, Validity::Invalid) => (false, format!("invalid, but none of the expected anomalies ({}) was found", cell.anomalies.join(", "))),
        (Expect::Invalid, v) => (false, format!("expected an anomaly, got {}", verdict_name(v))),
    }
}

impl CellResult {
    /// The result of a finished run.
    pub fn finished(cell: &Cell, outcome: &TestOutcome, wall_s: f64) -> CellResult {
        let (result, data) = (&outcome.result, &outcome.report);
        let (passed, why) = judge(cell, result.valid, &result.anomalies);
        let during = data.phases.iter().find(|p| p.name == "during faults").filter(|p| p.ops > 0);
        let mut ok: Vec<f64> = data.points.iter().filter(|p| p.outcome == "ok").map(|p| p.latency_ms).collect();
        ok.sort_by(f64::total_cmp);
        let q = |x: f64| (!ok.is_empty()).then(|| quantile(&ok, x));
        let completed_at: std::collections::HashMap<u64, f64> = data.points.iter().map(|p| (p.index, p.t + p.latency_ms / 1e3)).collect();
        CellResult {
            verdict: verdict_name(result.valid).into(),
            passed,
            why,
            anomalies: result.anomalies.clone(),
            run: Some(outcome.dir.display().to_string()),
            wall_s,
            ops: outcome.counts,
            availability_during: during.map(|p| p.availability),
            failover_s: during.map(|p| p.longest_gap_s),
            recover_s: data.recover_s,
            p50_ms: q(0.5),
            p99_ms: q(0.99),
            time_to_detect_s: result.witnesses.iter().filter_map(|w| completed_at.get(w)).copied().min_by(f64::total_cmp),
            ..CellResult::unfinished(cell, String::new(), wall_s)
        }
    }

    /// A run that ended without a verdict (Docker failed, …): always a deviation.
    pub fn unfinished(cell: &Cell, error: String, wall_s: f64) -> CellResult {
        CellResult {
            cell: cell.index,
            row: cell.row.clone(),
            design: cell.opts.design.clone(),
            bugs: cell.opts.bugs.clone(),
            node_opts: cell.opts.node_opts.clone(),
            workload: cell.opts.workload.clone(),
            nemesis: cell.opts.nemesis.clone(),
            seed: cell.opts.seed,
            expect: cell.expect,
            verdict: "error".into(),
            passed: false,
            why: error,
            detect: cell.detect,
            excused: None,
            row_runs: cell.detect.map(|_| cell.row_runs),
            anomalies: BTreeMap::new(),
            run: None,
            wall_s,
            ops: crate::store::Counts::default(),
            availability_during: None,
            failover_s: None,
            recover_s: None,
            p50_ms: None,
            p99_ms: None,
            time_to_detect_s: None,
            engine: None,
        }
    }

    /// The runs its row's `detect` share is judged over together
    /// ([`Cell::detection_group`]).
    fn detection_group(&self) -> (String, String, String) {
        (self.row.clone(), self.workload.clone(), self.nemesis.clone())
    }

    /// Whether it met its expectation, or missed within its row's detection rate.
    pub fn as_expected(&self) -> bool {
        self.passed || self.excused.is_some()
    }

    /// A run whose engine stopped answering: it has no verdict, whatever its history
    /// says, since the cluster may have gone with the engine.
    pub fn engine_lost(cell: &Cell, why: String, wall_s: f64) -> CellResult {
        CellResult { verdict: "unknown".into(), ..CellResult::unfinished(cell, why, wall_s) }
    }
}

/// How reliably one bug was detected.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BugRow {
    /// The design.
    pub design: String,
    /// The bug.
    pub bug: String,
    /// Cells with this bug on.
    pub cells: usize,
    /// Cells whose checker found an anomaly.
    pub detected: usize,
    /// detected / cells.
    pub rate: f64,
    /// Median time to the first witness, over the detecting cells (s).
    pub median_time_to_detect_s: Option<f64>,
}

/// One design's figures, from its cells without bugs or knobs (its baseline).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DesignSummary {
    /// The design.
    pub design: String,
    /// Its cells without bugs or knobs.
    pub cells: usize,
    /// How many of those were valid, invalid, unknown, error.
    pub verdicts: BTreeMap<String, usize>,
    /// Anomaly types found in those cells, with counts summed.
    pub anomalies: BTreeMap<String, usize>,
    /// Medians over those cells.
    pub availability_during: Option<f64>,
    /// Median longest gap without an ok during faults (s).
    pub failover_s: Option<f64>,
    /// Median time to recover after the heal (s).
    pub recover_s: Option<f64>,
    /// Median of the cells' p50 latencies (ms).
    pub p50_ms: Option<f64>,
    /// Median of the cells' p99 latencies (ms).
    pub p99_ms: Option<f64>,
}

/// Which matrix a scorecard grades, and which part of it: what `grade merge` checks
/// before it puts shards together.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MatrixId {
    /// The matrix's name.
    pub name: String,
    /// The digest of its cells ([`super::shard::fingerprint`]).
    pub fingerprint: String,
    /// Cells in the whole matrix.
    pub cells_total: usize,
    /// The shard graded, if only one was.
    pub shard: Option<Shard>,
    /// The faultline version that graded it.
    pub faultline: String,
}

impl MatrixId {
    /// The identity of `matrix` (or of the shard it is), graded by this faultline.
    pub fn of(matrix: &super::matrix::Matrix) -> MatrixId {
        MatrixId { name: matrix.name.clone(), fingerprint: matrix.fingerprint.clone(), cells_total: matrix.total, shard: matrix.shard, faultline: env!("CARGO_PKG_VERSION").to_owned() }
    }
}

/// The whole scorecard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Scorecard {
    /// The matrix's name.
    pub matrix: String,
    /// Which matrix, which shard, which faultline (absent in older scorecards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graded: Option<MatrixId>,
    /// When grading began (RFC 3339).
    pub started: String,
    /// Seconds from the first cell's start to the last cell's end.
    pub wall_s: f64,
    /// Cells run.
    pub cells_run: usize,
    /// Cells that met their expectation.
    pub passed: usize,
    /// Cells that did not.
    pub deviations: usize,
    /// Every cell, in matrix order.
    pub cells: Vec<CellResult>,
    /// Each bug's detection.
    pub bugs: Vec<BugRow>,
    /// Each design's baseline figures (no bugs, no knobs), side by side.
    pub designs: Vec<DesignSummary>,
}

/// Marks the misses that are no deviation: a row with a `detect` share that its runs
/// of one workload and nemesis met, over every seed. A run that ended without a
/// verdict is never excused. A shard (`sharded`) that ran only some of a row's runs
/// cannot judge its share: its misses wait for `grade merge`, which judges the whole
/// row, so a shard exits 0 unless one of its own cells deviated outright.
fn excuse_misses(mut cells: Vec<CellResult>, sharded: bool) -> Vec<CellResult> {
    let mut groups: BTreeMap<(String, String, String), (usize, usize)> = BTreeMap::new();
    for c in cells.iter().filter(|c| c.detect.is_some()) {
        let g = groups.entry(c.detection_group()).or_default();
        g.0 += usize::from(c.verdict == "invalid");
        g.1 += 1;
    }
    for c in &mut cells {
        let (Some(share), false) = (c.detect, c.passed) else { continue };
        let (detected, runs) = groups[&c.detection_group()];
        c.excused = match c.row_runs {
            _ if c.verdict == "error" => None,
            Some(row_runs) if sharded && runs < row_runs => Some(format!("missed here; detected in {detected} of this shard's {runs} runs, judged over all {row_runs} by grade merge (at least {:.0}% asked)", share * 100.0)),
            _ => (detected as f64 >= share * runs as f64 - 1e-9).then(|| format!("missed here, but detected in {detected} of {runs} runs (at least {:.0}% asked)", share * 100.0)),
        };
    }
    cells
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| v[(v.len() - 1) / 2])
}

impl Scorecard {
    /// Judges the matrix from its cells' results.
    pub fn new(id: &MatrixId, started: String, wall_s: f64, cells: Vec<CellResult>) -> Scorecard {
        let mut bugs: BTreeMap<(String, String), Vec<&CellResult>> = BTreeMap::new();
        let mut designs: Vec<String> = Vec::new();
        for c in &cells {
            for b in &c.bugs {
                bugs.entry((c.design.clone(), b.clone())).or_default().push(c);
            }
            if !designs.contains(&c.design) {
                designs.push(c.design.clone());
            }
        }
        let bugs = bugs
            .into_iter()
            .map(|((design, bug), cs)| {
                let detecting: Vec<&&CellResult> = cs.iter().filter(|c| c.verdict == "invalid").collect();
                BugRow {
                    design,
                    bug,
                    cells: cs.len(),
                    detected: detecting.len(),
                    rate: detecting.len() as f64 / cs.len() as f64,
                    median_time_to_detect_s: median(detecting.iter().filter_map(|c| c.time_to_detect_s).collect()),
                }
            })
            .collect();
        let designs = designs
            .into_iter()
            .map(|design| {
                let cs: Vec<&CellResult> = cells.iter().filter(|c| c.design == design && c.bugs.is_empty() && c.node_opts.is_empty()).collect();
                let mut verdicts = BTreeMap::new();
                let mut anomalies = BTreeMap::new();
                for c in &cs {
                    *verdicts.entry(c.verdict.clone()).or_insert(0) += 1;
                    for (a, n) in &c.anomalies {
                        *anomalies.entry(a.clone()).or_insert(0) += n;
                    }
                }
                let med = |f: fn(&CellResult) -> Option<f64>| median(cs.iter().filter_map(|c| f(c)).collect());
                DesignSummary {
                    cells: cs.len(),
                    verdicts,
                    anomalies,
                    availability_during: med(|c| c.availability_during),
                    failover_s: med(|c| c.failover_s),
                    recover_s: med(|c| c.recover_s),
                    p50_ms: med(|c| c.p50_ms),
                    p99_ms: med(|c| c.p99_ms),
                    design,
                }
            })
            .collect();
        let cells = excuse_misses(cells, id.shard.is_some());
        let passed = cells.iter().filter(|c| c.as_expected()).count();
        Scorecard { matrix: id.name.clone(), graded: Some(id.clone()), started, wall_s, cells_run: cells.len(), passed, deviations: cells.len() - passed, cells, bugs, designs }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::grade::matrix::{Matrix, Overrides};

    /// A scorecard of six made-up cells: correct raft valid twice, one bug found
    /// once in two seeds, dynamo reported, one run that failed.
    pub(crate) fn example() -> Scorecard {
        let text = r#"
            name = "example"
            [[row]]
            design = "raft"
            workload = "register"
            nemesis = "partition"
            seeds = [1, 2]
            expect = "valid"
            [[row]]
            design = "raft"
            bugs = ["stale-follower-read"]
            workload = "register"
            nemesis = "partition"
            seeds = [1, 2]
            expect = "invalid"
            [[row]]
            design = "dynamo"
            workload = "list-append"
            nemesis = "partition"
            expect = "any"
            [[row]]
            design = "caspaxos"
            workload = "register"
            nemesis = "kill"
            expect = "valid"
        "#;
        let m = Matrix::parse(text, "example.toml", &Overrides::default()).unwrap();
        let finished = |i: usize, valid: Validity, anomalies: &[(&str, usize)], detect: Option<f64>, avail: f64| {
            let mut c = CellResult::unfinished(&m.cells[i], String::new(), 20.0 + i as f64);
            let counts: BTreeMap<String, usize> = anomalies.iter().map(|(a, n)| (a.to_string(), *n)).collect();
            let (passed, why) = judge(&m.cells[i], valid, &counts);
            c.verdict = verdict_name(valid).into();
            (c.passed, c.why, c.anomalies) = (passed, why, counts);
            c.run = Some(format!("store/run{i}"));
            c.ops = crate::store::Counts { ok: 100, fail: 10, info: i };
            c.availability_during = Some(avail);
            c.failover_s = Some(1.0 + i as f64 / 10.0);
            c.recover_s = Some(0.1 * i as f64);
            c.p50_ms = Some(2.0 + i as f64);
            c.p99_ms = Some(20.0 + i as f64);
            c.time_to_detect_s = detect;
            c
        };
        let cells = vec![
            finished(0, Validity::Valid, &[], None, 0.8),
            finished(1, Validity::Valid, &[], None, 0.6),
            finished(2, Validity::Invalid, &[("nonlinearizable-key", 2)], Some(7.5), 0.9),
            finished(3, Validity::Valid, &[], None, 0.9),
            finished(4, Validity::Invalid, &[("G-single", 3), ("G1b", 1)], Some(3.0), 0.99),
            CellResult::unfinished(&m.cells[5], "Docker: no such image".into(), 1.5),
        ];
        let id = MatrixId { faultline: "test".into(), ..MatrixId::of(&m) };
        Scorecard::new(&id, "2026-11-23T00:00:00Z".into(), 123.0, cells)
    }

    #[test]
    fn a_miss_within_the_rows_detection_share_is_no_deviation() {
        let card = example();
        let with_share = |share: f64| {
            let mut cells = card.cells.clone();
            for c in cells.iter_mut().filter(|c| !c.bugs.is_empty()) {
                c.detect = Some(share);
            }
            Scorecard::new(card.graded.as_ref().unwrap(), card.started.clone(), card.wall_s, cells)
        };
        let half = with_share(0.5);
        assert_eq!((half.passed, half.deviations), (5, 1), "1 of 2 seeds detected meets 50%; the failed run still deviates");
        let missed = half.cells.iter().find(|c| !c.passed && c.excused.is_some()).expect("the miss is excused");
        assert_eq!(missed.excused.as_deref(), Some("missed here, but detected in 1 of 2 runs (at least 50% asked)"));
        let most = with_share(0.9);
        assert_eq!((most.passed, most.deviations), (4, 2), "1 of 2 is below 90%");
        assert!(most.cells.iter().all(|c| c.excused.is_none()));
        assert!(crate::grade::render::junit(&half).contains(r#"failures="1""#));
    }

    #[test]
    fn a_shard_leaves_a_rows_detection_share_to_the_merge_when_it_ran_only_part_of_the_row() {
        let card = example();
        let (bug_cells, others): (Vec<CellResult>, Vec<CellResult>) = card.cells.iter().cloned().partition(|c| !c.bugs.is_empty());
        let with_share = |mut c: CellResult| {
            c.detect = Some(0.9);
            c.row_runs = Some(4);
            c
        };
        let shard = MatrixId { shard: Some(Shard { k: 1, n: 2 }), ..card.graded.clone().unwrap() };
        let part = Scorecard::new(&shard, card.started.clone(), card.wall_s, bug_cells.iter().cloned().map(with_share).chain(others.clone()).collect());
        let missed = part.cells.iter().find(|c| !c.bugs.is_empty() && !c.passed).expect("a missed bug run");
        assert_eq!(missed.excused.as_deref(), Some("missed here; detected in 1 of this shard's 2 runs, judged over all 4 by grade merge (at least 90% asked)"));
        assert_eq!(part.deviations, 1, "only the run that ended without a verdict deviates");

        let whole = MatrixId { shard: None, ..shard.clone() };
        let merged = Scorecard::new(&whole, card.started.clone(), card.wall_s, bug_cells.iter().cloned().map(with_share).chain(others).collect());
        assert_eq!(merged.deviations, 2, "judged whole, 1 of 2 runs is below 90%, though the matrix said 4 runs (two shards missing from the merge)");
        let complete = Scorecard::new(&shard, card.started.clone(), card.wall_s, bug_cells.into_iter().map(|c| CellResult { row_runs: Some(2), ..with_share(c) }).collect());
        assert_eq!(complete.deviations, 1, "a shard that ran all of a row's runs judges it itself");
    }

    #[test]
    fn scorecard_json() {
        let card = example();
        assert_eq!((card.passed, card.deviations), (4, 2), "the missed bug and the failed run deviate");
        assert_eq!((card.bugs[0].detected, card.bugs[0].cells, card.bugs[0].rate), (1, 2, 0.5));
        insta::assert_json_snapshot!(card);
    }
}
