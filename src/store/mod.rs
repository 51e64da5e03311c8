//! The results store (docs/ARCHITECTURE.md §1): `store/<test-name>/<timestamp>/` with
//! `test.json` (a [`TestRecord`]: every option, the seed, the design, versions, the
//! capability probe), `history.jsonl`, `faults.jsonl`, `results.json` (a
//! [`ResultsRecord`]: the verdict, counts, stage times) and `nodes/<n>/node.log`;
//! `store/latest` points at the newest run. The records are typed values, written by
//! the runner and read by `analyze`, `report`, `serve` and `grade` alike.

mod record;

#[cfg(test)]
pub(crate) use record::sample;

pub use record::{count_faults, describe_leaders, describe_messages, leader_changes, ControllerCost, Counts, ImagesUsed, Leadership, ResultsRecord, Stage, TestOptions, TestRecord, DEFAULT_RATE};

use faultline_history::{Op, Process};
use serde::{de::DeserializeOwned, Serialize};
use std::path::{Path, PathBuf};

/// A run's directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// Where it is.
    pub path: PathBuf,
}

impl RunDir {
    /// Creates `<store>/<name>/<timestamp>/` and points `<store>/latest` at it.
    pub fn create(store: &Path, name: &str) -> std::io::Result<RunDir> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
        let path = store.join(name).join(stamp);
        std::fs::create_dir_all(&path)?;
        let latest = store.join("latest");
        let _ = std::fs::remove_file(&latest);
        let target = path.strip_prefix(store).unwrap_or(&path).to_owned();
        std::os::unix::fs::symlink(&target, &latest)?;
        Ok(RunDir { path })
    }

    /// A file in the run's directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes a record as a JSON file, pretty, in the run's directory.
    pub fn write_json(&self, name: &str, value: &impl Serialize) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
        std::fs::write(self.file(name), text + "\n")
    }

    /// Copies the nemesis events of the history into `faults.jsonl` (for reports and
    /// `--replay`).
    pub fn write_faults(&self, history: &[Op]) -> std::io::Result<()> {
        let mut w = faultline_history::JsonlWriter::create(&self.file("faults.jsonl"))?;
        for op in history.iter().filter(|o| o.process == Process::Nemesis) {
            w.append(op)?;
        }
        w.sync()
    }
}

/// Reads a typed JSON file of a stored run (`test.json`, `results.json`, …).
pub fn read_json<T: DeserializeOwned>(run: &Path, name: &str) -> Result<T, String> {
    let path = run.join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not a faultline {name}: {e}", path.display()))
}

/// A stored run's `test.json`.
pub fn read_test(run: &Path) -> Result<TestRecord, String> {
    read_json(run, "test.json")
}

/// A stored run's `results.json`.
pub fn read_results(run: &Path) -> Result<ResultsRecord, String> {
    read_json(run, "results.json")
}
