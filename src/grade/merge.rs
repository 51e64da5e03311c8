//! `faultline grade merge` (docs/ARCHITECTURE.md §8): the scorecards of a matrix's
//! shards, graded on different machines, made into the one scorecard a single machine
//! would have written for the same cells. The cells are put back in matrix order and
//! judged again by [`Scorecard::new`], so bug rates and design summaries are computed
//! exactly as for an unsharded grading. Shards of different matrices, of different
//! shard counts or from different faultline versions are refused, with the reason.

use super::scorecard::{MatrixId, Scorecard};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    /// A scorecard could not be read.
    #[error("{path}: {why}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
    /// A scorecard does not say which matrix it graded (written before sharding).
    #[error("{0}: the scorecard does not say which matrix it graded (made by an older faultline); grade it again")]
    Unidentified(PathBuf),
    /// Two scorecards disagree on something that must be equal.
    #[error("{first} and {other} {what}: they are not shards of one grading")]
    Mismatch {
        /// The first scorecard.
        first: PathBuf,
        /// The one that differs.
        other: PathBuf,
        /// What differs.
        what: String,
    },
    /// The same shard (or cell) twice.
    #[error("{0}")]
    Overlap(String),
    /// Nothing to merge.
    #[error("no scorecards to merge")]
    Empty,
}

/// The merged scorecard, and which shards were missing (their cells are absent).
#[derive(Debug)]
pub struct Merged {
    /// The scorecard of every cell the shards ran.
    pub card: Scorecard,
    /// Shards of the grading that were not given, e.g. `[2]` of 3.
    pub missing: Vec<usize>,
}

/// Reads `DIR/scorecard.json` (or the file itself, if given one).
pub fn read(path: &Path) -> Result<Scorecard, MergeError> {
    let file = if path.is_dir() { path.join("scorecard.json") } else { path.to_owned() };
    let unreadable = |why: String| MergeError::Unreadable { path: file.clone(), why };
    let text = std::fs::read_to_string(&file).map_err(|e| unreadable(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| unreadable(format!("not a scorecard: {e}")))
}

/// Merges shards' scorecards (`paths` name them in errors).
pub fn merge(cards: Vec<(PathBuf, Scorecard)>) -> Result<Merged, MergeError> {
    let Some((first_path, first)) = cards.first() else { return Err(MergeError::Empty) };
    let id = first.graded.clone().ok_or_else(|| MergeError::Unidentified(first_path.clone()))?;
    let shards = id.shard.map_or(1, |s| s.n);
    let mut seen_shards = BTreeSet::new();
    let mut seen_cells = BTreeSet::new();
    let mut cells = Vec::new();
    let (mut started, mut wall_s) = (first.started.clone(), 0.0f64);
    for (path, card) in &cards {
        let other = card.graded.as_ref().ok_or_else(|| MergeError::Unidentified(path.clone()))?;
        let mismatch = |what: String| MergeError::Mismatch { first: first_path.clone(), other: path.clone(), what };
        if other.fingerprint != id.fingerprint || other.cells_total != id.cells_total {
            return Err(mismatch(format!("grade different matrices ({:?}, fingerprint {}, {} cells; {:?}, fingerprint {}, {} cells)", id.name, id.fingerprint, id.cells_total, other.name, other.fingerprint, other.cells_total)));
        }
        if other.faultline != id.faultline {
            return Err(mismatch(format!("were graded by different faultline versions ({} and {})", id.faultline, other.faultline)));
        }
        let n = other.shard.map_or(1, |s| s.n);
        if n != shards {
            return Err(mismatch(format!("split the matrix differently ({shards} and {n} shards)")));
        }
        let k = other.shard.map_or(1, |s| s.k);
        if !seen_shards.insert(k) {
            return Err(MergeError::Overlap(format!("{}: shard {k}/{shards} was given twice", path.display())));
        }
        for c in &card.cells {
            if !seen_cells.insert(c.cell) {
                return Err(MergeError::Overlap(format!("{}: cell {} is in two shards", path.display(), c.cell + 1)));
            }
        }
        cells.extend(card.cells.iter().cloned());
        started = started.min(card.started.clone());
        // Shards run side by side: the grading took as long as the longest.
        wall_s = wall_s.max(card.wall_s);
    }
    cells.sort_by_key(|c| c.cell);
    let whole = MatrixId { shard: None, ..id };
    let missing = (1..=shards).filter(|k| !seen_shards.contains(k)).collect();
    Ok(Merged { card: Scorecard::new(&whole, started, wall_s, cells), missing })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::matrix::{Matrix, Overrides};
    use crate::grade::scorecard::CellResult;
    use crate::grade::shard::Shard;

    fn matrix() -> Matrix {
        let text = std::fs::read_to_string("grade/nightly.toml").expect("the nightly matrix");
        Matrix::parse(&text, "grade/nightly.toml", &Overrides { seeds: Some(vec![1, 2]), ..Overrides::default() }).expect("parses")
    }

    /// What a grading of `cells` would record: made-up but varied results.
    fn graded(m: &Matrix) -> Scorecard {
        let cells = m
            .cells
            .iter()
            .map(|cell| {
                let mut r = CellResult::unfinished(cell, String::new(), 30.0 + cell.index as f64);
                let found = cell.index % 3 != 0;
                r.verdict = if found { "invalid" } else { "valid" }.into();
                r.passed = (cell.expect == crate::grade::matrix::Expect::Invalid) == found;
                r.time_to_detect_s = found.then_some(cell.index as f64 / 2.0);
                r.p50_ms = Some(cell.index as f64);
                if found {
                    r.anomalies.insert("G1c".into(), cell.index);
                }
                r
            })
            .collect();
        Scorecard::new(&MatrixId::of(m), "2026-12-02T10:00:00Z".into(), 100.0, cells)
    }

    fn shards(m: &Matrix, n: usize) -> Vec<(PathBuf, Scorecard)> {
        (1..=n).map(|k| (PathBuf::from(format!("shard{k}")), graded(&m.shard(Shard { k, n })))).collect()
    }

    #[test]
    fn merged_shards_equal_the_unsharded_grading() {
        let m = matrix();
        let whole = graded(&m);
        for n in [1, 2, 3, 7] {
            let mut parts = shards(&m, n);
            parts.reverse();
            let merged = merge(parts).expect("shards of one grading merge");
            assert!(merged.missing.is_empty());
            assert_eq!(merged.card, whole, "{n} shards merge into the single-machine scorecard");
        }
    }

    #[test]
    fn foreign_duplicate_and_missing_shards_are_named() {
        let m = matrix();
        let mut parts = shards(&m, 3);
        let other = Matrix::parse(&std::fs::read_to_string("grade/nightly.toml").expect("read"), "n", &Overrides { time_limit: Some(5.0), ..Overrides::default() }).expect("parses");
        let foreign = (PathBuf::from("other"), graded(&other.shard(Shard { k: 2, n: 3 })));
        let e = merge(vec![parts[0].clone(), foreign]).unwrap_err();
        assert!(e.to_string().contains("different matrices"), "{e}");

        let mut old = parts[1].clone();
        if let Some(g) = old.1.graded.as_mut() {
            g.faultline = "0.0.9".into();
        }
        assert!(merge(vec![parts[0].clone(), old]).unwrap_err().to_string().contains("different faultline versions"));

        let four = shards(&m, 4);
        assert!(merge(vec![parts[0].clone(), four[1].clone()]).unwrap_err().to_string().contains("3 and 4 shards"));
        assert!(matches!(merge(vec![parts[0].clone(), parts[0].clone()]), Err(MergeError::Overlap(_))));

        let mut legacy = parts[2].clone();
        legacy.1.graded = None;
        assert_eq!(merge(vec![legacy]).unwrap_err(), MergeError::Unidentified("shard3".into()));

        parts.remove(1);
        let merged = merge(parts).expect("a partial merge still merges");
        assert_eq!(merged.missing, vec![2]);
        assert!(merged.card.cells_run < m.total);
    }
}
