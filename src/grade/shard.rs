//! Sharded grading (docs/ARCHITECTURE.md §8): `--shard K/N` runs a deterministic 1/N of
//! a matrix's cells, so a CI job matrix of N runners grades it in parallel, and
//! `grade merge` puts the shards' scorecards back together ([`super::merge`]).
//!
//! The split is the same on every machine: it depends only on the matrix, never on
//! the host. Cells are dealt longest first to the shard with the least expected time
//! so far (ties to the lower shard), which balances shards whose cells differ in
//! length; a shard runs its cells in matrix order.

use super::matrix::{Cell, Matrix};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Seconds a cell takes besides its workload: setup, heal, final reads, teardown.
pub const CELL_OVERHEAD_S: f64 = 8.0;

/// Shard `k` of `n` (1-based), as `--shard K/N` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which one, from 1.
    pub k: usize,
    /// Of how many.
    pub n: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s.split_once('/').ok_or_else(|| format!("{s:?} is not K/N (e.g. 2/4)"))?;
        let parse = |x: &str| x.trim().parse::<usize>().map_err(|e| format!("{s:?}: {x:?} is not a count: {e}"));
        let (k, n) = (parse(k)?, parse(n)?);
        if n == 0 || k == 0 || k > n {
            return Err(format!("{s:?}: a shard is K/N with 1 ≤ K ≤ N"));
        }
        Ok(Shard { k, n })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// Expected seconds of one cell.
fn expected_s(cell: &Cell) -> f64 {
    cell.opts.time_limit_s + CELL_OVERHEAD_S
}

/// The shard (0-based) each cell of `cells` goes to, out of `n`.
fn assign(cells: &[Cell], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by(|&a, &b| expected_s(&cells[b]).total_cmp(&expected_s(&cells[a])).then(a.cmp(&b)));
    let mut load = vec![0.0f64; n];
    let mut shard_of = vec![0; cells.len()];
    for i in order {
        let lightest = (0..n).min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b))).unwrap_or(0);
        load[lightest] += expected_s(&cells[i]);
        shard_of[i] = lightest;
    }
    shard_of
}

impl Matrix {
    /// The cells of `shard`, in matrix order (the whole matrix for 1/1).
    pub fn shard(&self, shard: Shard) -> Matrix {
        let shard_of = assign(&self.cells, shard.n);
        let cells = self.cells.iter().zip(shard_of).filter(|(_, s)| *s + 1 == shard.k).map(|(c, _)| c.clone()).collect();
        Matrix { cells, shard: Some(shard), ..self.clone() }
    }

    /// Expected seconds of the cells, overhead included.
    pub fn expected_s(&self) -> f64 {
        self.cells.iter().map(expected_s).sum()
    }
}

/// A digest of what the cells run and expect (not where their runs are stored, nor on
/// which engine):
/// FNV-1a over each cell's description, in hex. Two machines given the same matrix
/// file and overrides compute the same one.
pub fn fingerprint(cells: &[Cell]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for cell in cells {
        let mut opts = cell.opts.clone();
        opts.store = Default::default();
        opts.base_image = None;
        opts.docker_host = None;
        opts.publish_ports = false;
        let described = serde_json::json!([cell.index, cell.row, cell.expect, cell.anomalies, opts]).to_string();
        for byte in described.bytes().chain([b'\n']) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::matrix::Overrides;

    fn matrix() -> Matrix {
        let text = r#"
            [defaults]
            seeds = [1, 2, 3]
            [[row]]
            design = "raft"
            workload = ["register", "set"]
            nemesis = ["partition", "kill"]
            expect = "valid"
            [[row]]
            design = "raft"
            bugs = ["no-noop"]
            workload = "register"
            nemesis = "isolate-leader"
            time_limit = 60
            expect = "invalid"
        "#;
        Matrix::parse(text, "m.toml", &Overrides::default()).expect("a matrix")
    }

    #[test]
    fn every_cell_is_in_exactly_one_shard_and_shards_are_balanced() {
        let m = matrix();
        for n in 1..=5 {
            let shards: Vec<Matrix> = (1..=n).map(|k| m.shard(Shard { k, n })).collect();
            let mut seen: Vec<usize> = shards.iter().flat_map(|s| s.cells.iter().map(|c| c.index)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..m.total).collect::<Vec<_>>(), "{n} shards cover every cell once");
            for s in &shards {
                assert!(s.cells.windows(2).all(|w| w[0].index < w[1].index), "a shard keeps matrix order");
                assert_eq!((s.total, &s.fingerprint), (m.total, &m.fingerprint), "a shard knows its whole matrix");
                assert!(s.cells.iter().all(|c| c.row_runs == 3), "and how many runs each row has in it (three seeds)");
            }
            let loads: Vec<f64> = shards.iter().map(Matrix::expected_s).collect();
            let (lo, hi) = (loads.iter().copied().fold(f64::MAX, f64::min), loads.iter().copied().fold(0.0, f64::max));
            assert!(hi - lo <= 68.0 + 1e-9, "{n} shards within one cell of each other: {loads:?}");
        }
        let again = matrix();
        assert_eq!(m.shard(Shard { k: 2, n: 3 }).cells.iter().map(|c| c.index).collect::<Vec<_>>(), again.shard(Shard { k: 2, n: 3 }).cells.iter().map(|c| c.index).collect::<Vec<_>>(), "the split is deterministic");
    }

    #[test]
    fn the_fingerprint_follows_the_cells_not_the_store() {
        let m = matrix();
        let elsewhere = Matrix::parse(&std::fs::read_to_string("grade/nightly.toml").expect("the nightly matrix"), "n.toml", &Overrides { store: "/elsewhere".into(), ..Overrides::default() }).expect("parses");
        let here = Matrix::parse(&std::fs::read_to_string("grade/nightly.toml").expect("the nightly matrix"), "n.toml", &Overrides::default()).expect("parses");
        assert_eq!(elsewhere.fingerprint, here.fingerprint);
        let shorter = Matrix::parse(&std::fs::read_to_string("grade/nightly.toml").expect("the nightly matrix"), "n.toml", &Overrides { time_limit: Some(5.0), ..Overrides::default() }).expect("parses");
        assert_ne!(shorter.fingerprint, here.fingerprint, "other settings, another matrix");
        assert_ne!(m.fingerprint, here.fingerprint);
    }

    #[test]
    fn shard_specs_are_checked() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { k: 2, n: 4 }));
        for bad in ["0/4", "5/4", "1/0", "2", "a/b"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
