//! `faultline grade` (docs/ARCHITECTURE.md §8): runs a matrix of designs × bugs × workloads ×
//! nemeses × seeds, one cell after another on each engine of its [`pool`], judges each cell against what its row
//! expects, and writes the scorecard (`scorecard.html`, `scorecard.json`,
//! `junit.xml`) after every cell, so an interrupted grading keeps what it measured.
//! `shard` splits a matrix across machines, `merge` joins their scorecards.

pub mod matrix;
pub mod merge;
pub mod pool;
pub mod render;
pub mod scorecard;
pub mod shard;

use crate::runner::{self, Interrupt, TestError};
use matrix::{Cell, Matrix};
use scorecard::{CellResult, MatrixId, Scorecard};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, watch};

/// What grading reports while it runs.
pub enum Event<'a> {
    /// A cell is starting: its position, the number of cells, the cell.
    Start(usize, usize, &'a Cell),
    /// A cell finished: how many finished before it, the number of cells, its result.
    Done(usize, usize, &'a CellResult),
    /// An engine stopped answering (its address, why); the others go on.
    EngineLost(&'a str, &'a str),
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

/// Runs every cell of `matrix` on `engines` (see [`pool::engines`]; cells in matrix
/// order, one per engine at a time), writing the scorecard to `out` after each. Every
/// cell's options are checked before the first one starts. `interrupt` resolves on a
/// signal: the running cells end early and grading stops. Cells left when every
/// engine is lost are `unknown`.
pub async fn run(matrix: &Matrix, out: &Path, engines: &[Option<String>], interrupt: Interrupt, mut observe: impl FnMut(Event)) -> Result<Graded, TestError> {
    for cell in &matrix.cells {
        runner::validate(&cell.opts).map_err(|e| TestError::BadOptions(format!("{}: {} / {} / {}: {e}", cell.row, cell.opts.workload, cell.opts.nemesis, cell.opts.seed)))?;
    }
    let started = chrono::Utc::now().to_rfc3339();
    let id = MatrixId::of(matrix);
    let t0 = Instant::now();
    let n = matrix.cells.len();
    let cells = Arc::new(matrix.cells.clone());
    let queue = Arc::new(Mutex::new((0..n).collect::<VecDeque<usize>>()));
    let (stop, stopped) = watch::channel(None);
    let (reports, mut received) = mpsc::unbounded_channel();
    let workers = pool::start(cells.clone(), queue.clone(), engines.to_vec(), stopped, reports);
    let mut results: Vec<CellResult> = Vec::new();
    let mut interrupted = None;
    let mut signal = interrupt;
    let write_card = |results: &mut Vec<CellResult>| {
        results.sort_by_key(|r| r.cell);
        let card = Scorecard::new(&id, started.clone(), t0.elapsed().as_secs_f64(), results.clone());
        write(&card, out).map_err(|source| TestError::Io { what: format!("writing the scorecard to {}", out.display()), source })?;
        Ok::<Scorecard, TestError>(card)
    };
    loop {
        tokio::select! {
            report = received.recv() => match report {
                None => break,
                Some(pool::Report::Start(pos)) => observe(Event::Start(pos, n, &cells[pos])),
                Some(pool::Report::Done(result)) => {
                    observe(Event::Done(results.len(), n, &result));
                    results.push(*result);
                    write_card(&mut results)?;
                }
                Some(pool::Report::EngineLost { engine, why }) => observe(Event::EngineLost(&engine, &why)),
            },
            s = &mut signal, if interrupted.is_none() => {
                interrupted = Some(s);
                let _ = stop.send(Some(s));
            }
        }
    }
    for worker in workers {
        let _ = worker.join();
    }
    if interrupted.is_none() {
        let left: Vec<usize> = queue.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect();
        for pos in left {
            let result = CellResult::engine_lost(&cells[pos], "not run: no engine of the grading was left to run it".to_owned(), 0.0);
            observe(Event::Done(results.len(), n, &result));
            results.push(result);
        }
    }
    let card = write_card(&mut results)?;
    Ok(Graded { card, interrupted })
}
