//! Durable storage that knows what was fsynced (DESIGN §3).
//!
//! A [`DurableLog`] is an append-only file of JSON records. Every write goes through it;
//! it fsyncs when asked, and records the length of the file that is known to be on disk
//! in a small marker file (`<name>.synced`). Killing a container keeps the kernel's page
//! cache, so nothing is lost by a kill alone: opening a log with `lose_unsynced` first
//! truncates it to the synced length, which is how faultline simulates losing writes
//! that were never fsynced. A torn last record is ignored.

use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// An append-only, fsync-tracking log of JSON records.
pub struct DurableLog {
    path: PathBuf,
    marker: File,
    file: File,
    len: u64,
    synced: u64,
}

impl DurableLog {
    /// Opens (creating) `<dir>/<name>.log`, returning it and the records it holds. With
    /// `lose_unsynced`, records past the synced length are discarded first.
    pub fn open(dir: &Path, name: &str, lose_unsynced: bool) -> io::Result<(DurableLog, Vec<Value>)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{name}.log"));
        let marker = dir.join(format!("{name}.synced"));
        let file = OpenOptions::new().create(true).read(true).append(true).open(&path)?;
        let mut len = file.metadata()?.len();
        let synced = std::fs::read_to_string(&marker).ok().and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(0).min(len);
        if lose_unsynced && synced < len {
            file.set_len(synced)?;
            file.sync_all()?;
            len = synced;
        }
        let mut records = Vec::new();
        let mut good = 0u64;
        let reader = BufReader::new(File::open(&path)?);
        for line in reader.split(b'\n') {
            let line = line?;
            match serde_json::from_slice::<Value>(&line) {
                Ok(v) => {
                    records.push(v);
                    good += line.len() as u64 + 1;
                }
                Err(_) => break, // a torn tail
            }
        }
        if good < len {
            file.set_len(good)?;
            len = good;
        }
        let synced = synced.min(len);
        let marker = OpenOptions::new().create(true).truncate(false).write(true).open(&marker)?;
        Ok((DurableLog { path, marker, file, len, synced }, records))
    }

    /// Appends a record; fsyncs it (and records the synced length) when `sync`.
    pub fn append(&mut self, record: &Value, sync: bool) -> io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.len += line.len() as u64;
        if sync {
            self.sync()?;
        }
        Ok(())
    }

    /// Makes everything written so far durable, then records how far that is.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()?;
        self.synced = self.len;
        self.write_marker()
    }

    /// Writes the synced length in place: a fixed-width number in one small write, so a
    /// crash leaves the old or the new value, never a torn one.
    fn write_marker(&mut self) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.marker.write_all_at(format!("{:020}\n", self.synced).as_bytes(), 0)?;
        self.marker.sync_data()
    }

    /// Replaces the log's content by `records` (compaction), durably.
    pub fn rewrite(&mut self, records: &[Value]) -> io::Result<()> {
        let mut bytes = Vec::new();
        for r in records {
            serde_json::to_writer(&mut bytes, r).map_err(io::Error::other)?;
            bytes.push(b'\n');
        }
        write_durably(&self.path, &bytes)?;
        self.file = OpenOptions::new().read(true).append(true).open(&self.path)?;
        self.len = bytes.len() as u64;
        self.synced = self.len;
        self.write_marker()
    }

    /// Bytes written, and bytes known to be on disk.
    pub fn lengths(&self) -> (u64, u64) {
        (self.len, self.synced)
    }
}

/// Writes a file through a temporary name, fsyncing the file and its directory.
fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unsynced_records_are_lost_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, records) = DurableLog::open(dir.path(), "state", false).unwrap();
        assert!(records.is_empty());
        log.append(&json!({"a": 1}), true).unwrap();
        log.append(&json!({"a": 2}), false).unwrap();
        drop(log);
        let (_, kept) = DurableLog::open(dir.path(), "state", false).unwrap();
        assert_eq!(kept, vec![json!({"a": 1}), json!({"a": 2})], "a kill alone loses nothing");
        let (log, kept) = DurableLog::open(dir.path(), "state", true).unwrap();
        assert_eq!(kept, vec![json!({"a": 1})], "losing unsynced writes keeps the synced prefix");
        assert_eq!(log.lengths().0, log.lengths().1);
    }

    #[test]
    fn a_torn_tail_is_ignored_and_compaction_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = DurableLog::open(dir.path(), "s", false).unwrap();
        log.append(&json!(1), true).unwrap();
        drop(log);
        std::fs::OpenOptions::new().append(true).open(dir.path().join("s.log")).unwrap().write_all(b"{\"torn").unwrap();
        let (mut log, kept) = DurableLog::open(dir.path(), "s", false).unwrap();
        assert_eq!(kept, vec![json!(1)]);
        log.append(&json!(2), true).unwrap();
        log.rewrite(&[json!("snapshot")]).unwrap();
        drop(log);
        assert_eq!(DurableLog::open(dir.path(), "s", true).unwrap().1, vec![json!("snapshot")]);
    }
}
