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

/// Creates `parent/stamp`, or the first of `parent/stamp-2`, `-3`… that does not exist.
fn claim_fresh_dir(parent: &Path, stamp: &str) -> std::io::Result<PathBuf> {
    let mut n = 1;
    loop {
        let path = if n == 1 { parent.join(stamp) } else { parent.join(format!("{stamp}-{n}")) };
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Points the symlink `link` at `target`, replacing it atomically (a link made beside
/// it, then renamed over it), so concurrent runs never see it missing or collide.
fn point_link(link: &Path, target: &Path) -> std::io::Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = link.file_name().and_then(|n| n.to_str()).unwrap_or("latest");
    let fresh = link.with_file_name(format!(".{name}.{}.{unique}", std::process::id()));
    std::os::unix::fs::symlink(target, &fresh)?;
    std::fs::rename(&fresh, link).inspect_err(|_| {
        let _ = std::fs::remove_file(&fresh);
    })
}

impl RunDir {
    /// Creates `<store>/<name>/<timestamp>/` (docs/ARCHITECTURE.md §1, step 3; with
    /// `-2`, `-3`… after the timestamp when another run took it in the same
    /// millisecond) and points `<store>/latest` at it. Runs of one grading start at
    /// once on several engines with one store, so both steps must hold up against a
    /// concurrent run: the directory is claimed with `create_dir`, which fails for all
    /// but one, and `latest` is replaced by renaming a fresh link over it, which cannot
    /// fail because another run replaced it first.
    pub fn create(store: &Path, name: &str) -> std::io::Result<RunDir> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
        let parent = store.join(name);
        std::fs::create_dir_all(&parent)?;
        let path = claim_fresh_dir(&parent, &stamp)?;
        let target = path.strip_prefix(store).unwrap_or(&path).to_owned();
        point_link(&store.join("latest"), &target)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_started_at_once_get_directories_of_their_own_and_one_latest() {
        let store = tempfile::tempdir().expect("tempdir");
        let dirs: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| RunDir::create(store.path(), "raft-register").expect("created").path)).collect();
            handles.into_iter().map(|h| h.join().expect("no panic")).collect()
        });
        let mut distinct = dirs.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 8, "every run has its own directory: {dirs:?}");
        let latest = std::fs::read_link(store.path().join("latest")).expect("latest is a link");
        assert!(dirs.contains(&store.path().join(&latest)), "latest points at one of them: {latest:?}");
        let leftovers: Vec<_> = std::fs::read_dir(store.path()).expect("list").filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 2, "only the test's directory and latest: {leftovers:?}");
    }

    #[test]
    fn a_taken_timestamp_gets_a_suffix() {
        let parent = tempfile::tempdir().expect("tempdir");
        let first = claim_fresh_dir(parent.path(), "20261206T020356.657Z").expect("first");
        let second = claim_fresh_dir(parent.path(), "20261206T020356.657Z").expect("second");
        assert_eq!(first.file_name().and_then(|n| n.to_str()), Some("20261206T020356.657Z"));
        assert_eq!(second.file_name().and_then(|n| n.to_str()), Some("20261206T020356.657Z-2"));
    }
}
