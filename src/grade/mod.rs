//! `faultline grade` (docs/ARCHITECTURE.md §8): runs a matrix of designs × bugs × workloads ×
//! nemeses × seeds one cell after another, judges each cell against what its row
//! expects, and writes the scorecard (`scorecard.html`, `scorecard.json`,
//! `junit.xml`) after every cell, so an interrupted grading keeps what it measured.
//! `shard` splits a matrix across machines, `merge` joins their scorecards.

pub mod matrix;
pub mod merge;
pub mod render;
pub mod scorecard;
pub mod shard;

use crate::runner::{self, Interrupt, TestError};
use matrix::{Cell, Matrix};
use scorecard::{CellResult, MatrixId, Scorecard};
use std::path::Path;
use std::time::Instant;

/// What grading reports while it runs.
pub enum Event<'a> {
    /// A cell is starting: its position, the number of cells, the cell.
    Start(usize, usize, &'a Cell),
    /// A cell finished.
    Done(usize, usize, &'a CellResult),
}

/// How grading ended.
pub struct Graded {
    /// The scorecard of the cells that ran.
    pub card: Scorecard,
    /// The signal that stopped it early, if one did.
    pub interrupted: Option<&'static str>,
}

/// Writes the scorecard's three files into `out`.
pub fn write(card: &Scorecard, out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let json = serde_json::to_string_pretty(card).map_err(std::io::Error::other)?;
    std::fs::write(out.join("scorecard.json"), json + "\n")?;
    std::fs::write(out.join("scorecard.html"), render::html(card, out))?;
    std::fs::write(out.join("junit.xml"), render::junit(card))
}

/// Runs every cell of `matrix` in order, writing the scorecard to `out` after each.
/// Every cell's options are checked before the first one starts. `interrupt` makes
/// the future that ends a cell early on a signal; grading then stops.
pub async fn run(matrix: &Matrix, out: &Path, mut interrupt: impl FnMut() -> Interrupt, mut observe: impl FnMut(Event)) -> Result<Graded, TestError> {
    for cell in &matrix.cells {
        runner::validate(&cell.opts).map_err(|e| TestError::BadOptions(format!("{}: {} / {} / {}: {e}", cell.row, cell.opts.workload, cell.opts.nemesis, cell.opts.seed)))?;
    }
    let started = chrono::Utc::now().to_rfc3339();
    let id = MatrixId::of(matrix);
    let t0 = Instant::now();
    let n = matrix.cells.len();
    let mut results = Vec::new();
    let mut interrupted = None;
    for (i, cell) in matrix.cells.iter().enumerate() {
        observe(Event::Start(i, n, cell));
        let t = Instant::now();
        let result = match runner::run_test(&cell.opts, None, interrupt()).await {
            Ok(outcome) => CellResult::finished(cell, &outcome, t.elapsed().as_secs_f64()),
            Err(TestError::Interrupted { signal, .. }) => {
                interrupted = Some(signal);
                break;
            }
            Err(e) => CellResult::unfinished(cell, e.to_string(), t.elapsed().as_secs_f64()),
        };
        observe(Event::Done(i, n, &result));
        results.push(result);
        let card = Scorecard::new(&id, started.clone(), t0.elapsed().as_secs_f64(), results.clone());
        write(&card, out).map_err(|source| TestError::Io { what: format!("writing the scorecard to {}", out.display()), source })?;
    }
    let card = Scorecard::new(&id, started, t0.elapsed().as_secs_f64(), results);
    write(&card, out).map_err(|source| TestError::Io { what: format!("writing the scorecard to {}", out.display()), source })?;
    Ok(Graded { card, interrupted })
}
