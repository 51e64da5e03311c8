//! Running cells on a pool of Docker Engines (docs/ARCHITECTURE.md §8, §11): one
//! worker thread per engine, each with its own single-threaded runtime (as a lone
//! `faultline test` has; a cell's checking then never stalls another cell's clients),
//! taking the next cell from a shared queue, one cell at a time. After every cell the
//! worker asks its engine whether it still answers; an engine that does not makes that
//! cell `unknown` and takes no more cells, and the others carry on.

use super::matrix::Cell;
use super::scorecard::CellResult;
use crate::runner::{self, Interrupt, TestError};
use crate::runtime::{connect, engine_url};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, watch};

/// What a worker reports.
pub enum Report {
    /// It started the cell at this position of the list.
    Start(usize),
    /// A cell finished (or could not).
    Done(Box<CellResult>),
    /// Its engine did not answer: it takes no more cells.
    EngineLost {
        /// The engine's address.
        engine: String,
        /// What the engine answered, or did not.
        why: String,
    },
}

/// The engines a grading runs on: the named ones, or the cells' own (`None`).
pub fn engines(named: &[String]) -> Vec<Option<String>> {
    if named.is_empty() {
        vec![None]
    } else {
        named.iter().cloned().map(Some).collect()
    }
}

/// Shared by the workers: the cells, the positions not yet taken, the stop signal.
struct Work {
    cells: Arc<Vec<Cell>>,
    queue: Arc<Mutex<VecDeque<usize>>>,
    stop: watch::Receiver<Option<&'static str>>,
    reports: mpsc::UnboundedSender<Report>,
}

/// Starts one worker per engine. They end when the queue is empty, their engine is
/// lost, or `stop` carries a signal (the cells running then are interrupted).
pub fn start(
    cells: Arc<Vec<Cell>>,
    queue: Arc<Mutex<VecDeque<usize>>>,
    engines: Vec<Option<String>>,
    stop: watch::Receiver<Option<&'static str>>,
    reports: mpsc::UnboundedSender<Report>,
) -> Vec<std::thread::JoinHandle<()>> {
    engines
        .into_iter()
        .map(|engine| {
            let work = Work { cells: cells.clone(), queue: queue.clone(), stop: stop.clone(), reports: reports.clone() };
            std::thread::spawn(move || work.run(engine))
        })
        .collect()
}

impl Work {
    fn run(self, engine: Option<String>) {
        let url = engine_url(engine.as_deref());
        let lost = |why: String| {
            let _ = self.reports.send(Report::EngineLost { engine: url.clone(), why });
        };
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(self.cells_on(engine.as_deref(), &url, lost)),
            Err(e) => lost(format!("no runtime for its worker: {e}")),
        }
    }

    /// The future that resolves when the grading is stopped.
    fn interrupt(&self) -> Interrupt {
        let mut stop = self.stop.clone();
        Box::pin(async move {
            let signal = stop.wait_for(Option::is_some).await.map(|s| *s);
            match signal {
                Ok(signal) => signal.unwrap_or("stopped"),
                // The grading outlived every sender: nothing will stop this cell.
                Err(_) => std::future::pending().await,
            }
        })
    }

    async fn cells_on(&self, engine: Option<&str>, url: &str, lost: impl Fn(String)) {
        if let Err(e) = connect(engine).await {
            return lost(e.to_string());
        }
        loop {
            if self.stop.borrow().is_some() {
                return;
            }
            let Some(pos) = self.queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else { return };
            let cell = &self.cells[pos];
            let mut opts = cell.opts.clone();
            if let Some(e) = engine {
                opts.docker_host = Some(e.to_owned());
            }
            let _ = self.reports.send(Report::Start(pos));
            let t = Instant::now();
            let outcome = runner::run_test(&opts, None, self.interrupt()).await;
            let wall_s = t.elapsed().as_secs_f64();
            let gone = connect(engine).await.err();
            let mut result = match (outcome, &gone) {
                (Err(TestError::Interrupted { .. }), _) => return,
                (_, Some(e)) => CellResult::engine_lost(cell, format!("the engine {url} stopped answering during this cell: {e}"), wall_s),
                (Ok(outcome), None) => CellResult::finished(cell, &outcome, wall_s),
                (Err(e), None) => CellResult::unfinished(cell, e.to_string(), wall_s),
            };
            result.engine = opts.docker_host.clone();
            let _ = self.reports.send(Report::Done(Box::new(result)));
            if let Some(e) = gone {
                return lost(e.to_string());
            }
        }
    }
}
