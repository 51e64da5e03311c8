//! Durable storage that knows what was fsynced (docs/ARCHITECTURE.md §3).
//!
//! A [`DurableLog`] is an append-only file of JSON records. Every write goes through it;
//! it fsyncs when asked, and records the length of the file that is known to be on disk
//! in a small marker file (`<name>.synced`). Killing a container keeps the kernel's page
//! cache, so nothing is lost by a kill alone: opening a log with `lose_unsynced` first
//! truncates it to the synced length, which is how faultline simulates losing writes
//! that were never fsynced. A torn last record is ignored.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
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
    /// crash leaves the old or the new value, never a torn one. It is not fsynced: it is
    /// read after a process is killed, which keeps the page cache, and its whole purpose
    /// is to say what a lost page cache would have lost.
    fn write_marker(&mut self) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.marker.write_all_at(format!("{:020}\n", self.synced).as_bytes(), 0)
    }

    /// A handle to fsync outside any lock, and the length it covers; then
    /// [`DurableLog::mark_synced`].
    pub fn sync_handle(&self) -> io::Result<(File, u64)> {
        Ok((self.file.try_clone()?, self.len))
    }

    /// Records that the first `len` bytes were fsynced through a [`DurableLog::sync_handle`].
    pub fn mark_synced(&mut self, len: u64) -> io::Result<()> {
        let len = len.min(self.len);
        if len > self.synced {
            self.synced = len;
            self.write_marker()?;
        }
        Ok(())
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

/// A persistent map from keys to states: each change is one record appended to a
/// [`DurableLog`] (fsynced when asked), and the log is compacted to one record per key
/// every `compact_every` changes. Without a log (`durable: false`) it lives in memory.
pub struct KeyedStore<T> {
    map: HashMap<String, T>,
    log: Option<DurableLog>,
    since_compaction: usize,
    compact_every: usize,
    /// Changes written, and changes known to be on disk (tickets for [`GroupCommit`]).
    written: u64,
    synced: u64,
}

impl<T: Serialize + DeserializeOwned> KeyedStore<T> {
    /// Opens `<dir>/<name>.log` (see [`DurableLog::open`]) and recovers the map; or an
    /// empty map in memory when not `durable`.
    pub fn open(dir: &Path, name: &str, lose_unsynced: bool, durable: bool) -> io::Result<KeyedStore<T>> {
        let mut map = HashMap::new();
        let log = if durable {
            let (log, records) = DurableLog::open(dir, name, lose_unsynced)?;
            for (n, r) in records.into_iter().enumerate() {
                let key = r["key"].as_str().ok_or_else(|| io::Error::other(format!("{name}.log record {}: no key", n + 1)))?.to_owned();
                if r["removed"] == true {
                    map.remove(&key);
                    continue;
                }
                let state = serde_json::from_value(r["state"].clone()).map_err(|e| io::Error::other(format!("{name}.log record {}: {e}", n + 1)))?;
                map.insert(key, state);
            }
            Some(log)
        } else {
            None
        };
        Ok(KeyedStore { map, log, since_compaction: 0, compact_every: 10_000, written: 0, synced: 0 })
    }

    /// A key's state.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.map.get(key)
    }

    /// Every key and state.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &T)> {
        self.map.iter()
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Whether changes reach the disk.
    pub fn is_durable(&self) -> bool {
        self.log.is_some()
    }

    /// Sets a key's state and writes it (fsynced when `sync`) before returning. The
    /// answer is the change's ticket: it is durable once [`KeyedStore::sync`] reaches it.
    pub fn put(&mut self, key: &str, state: T, sync: bool) -> io::Result<u64> {
        self.record(json!({"key": key, "state": &state}), sync)?;
        self.map.insert(key.to_owned(), state);
        self.maybe_compact()?;
        Ok(self.written)
    }

    /// Starts a group fsync of every change written so far: what to fsync, outside
    /// the store's lock, before [`KeyedStore::finish_sync`].
    pub fn begin_sync(&self) -> io::Result<PendingSync> {
        let (file, len) = match &self.log {
            Some(log) => log.sync_handle().map(|(f, len)| (Some(f), len))?,
            None => (None, 0),
        };
        Ok(PendingSync { file, len, ticket: self.written })
    }

    /// Records a finished group fsync; answers the last durable ticket.
    pub fn finish_sync(&mut self, done: PendingSync) -> io::Result<u64> {
        if let Some(log) = self.log.as_mut() {
            log.mark_synced(done.len)?;
        }
        self.synced = self.synced.max(done.ticket);
        Ok(self.synced)
    }

    /// The last durable ticket.
    pub fn synced(&self) -> u64 {
        self.synced
    }

    /// Forgets a key, persistently.
    pub fn remove(&mut self, key: &str, sync: bool) -> io::Result<()> {
        if self.map.remove(key).is_some() {
            self.record(json!({"key": key, "removed": true}), sync)?;
        }
        self.maybe_compact()
    }

    fn record(&mut self, record: Value, sync: bool) -> io::Result<()> {
        self.written += 1;
        if let Some(log) = self.log.as_mut() {
            log.append(&record, sync)?;
            self.since_compaction += 1;
        }
        if sync || self.log.is_none() {
            self.synced = self.written;
        }
        Ok(())
    }

    fn maybe_compact(&mut self) -> io::Result<()> {
        if self.since_compaction >= self.compact_every {
            if let Some(log) = self.log.as_mut() {
                let records: Vec<Value> = self.map.iter().map(|(k, s)| json!({"key": k, "state": s})).collect();
                log.rewrite(&records)?;
            }
            self.since_compaction = 0;
            self.synced = self.written;
        }
        Ok(())
    }
}

/// A group fsync in progress: the file to fsync, the length and the ticket it covers.
pub struct PendingSync {
    file: Option<File>,
    len: u64,
    ticket: u64,
}

/// Group commit: many writers wait for their changes to be durable, and one fsync
/// covers everyone who wrote before it. A writer writes without fsync (getting a
/// ticket), releases its locks, then calls [`GroupCommit::wait`]; the first waiter runs
/// the fsync, outside the store's lock, and the others wait for it.
pub struct GroupCommit {
    durable: tokio::sync::watch::Sender<u64>,
    flushing: std::sync::atomic::AtomicBool,
}

impl Default for GroupCommit {
    fn default() -> GroupCommit {
        GroupCommit { durable: tokio::sync::watch::channel(0).0, flushing: std::sync::atomic::AtomicBool::new(false) }
    }
}

impl GroupCommit {
    /// Returns once `ticket` is durable. `begin` and `finish` are
    /// [`KeyedStore::begin_sync`] and [`KeyedStore::finish_sync`], each taken under the
    /// caller's lock; the fsync between them runs without it.
    pub async fn wait(&self, ticket: u64, begin: impl Fn() -> io::Result<PendingSync>, finish: impl Fn(PendingSync) -> io::Result<u64>) -> io::Result<()> {
        let flush = || {
            let pending = begin()?;
            if let Some(f) = &pending.file {
                f.sync_data()?;
            }
            finish(pending)
        };
        use std::sync::atomic::Ordering;
        let mut durable = self.durable.subscribe();
        loop {
            if *durable.borrow_and_update() >= ticket {
                return Ok(());
            }
            if !self.flushing.swap(true, Ordering::AcqRel) {
                // An fsync blocks: keep it off the async workers where the runtime allows.
                let done = match tokio::runtime::Handle::current().runtime_flavor() {
                    tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(flush),
                    _ => flush(),
                };
                self.flushing.store(false, Ordering::Release);
                let synced = done?;
                self.durable.send_if_modified(|d| {
                    let newer = synced > *d;
                    *d = (*d).max(synced);
                    newer
                });
                continue;
            }
            // Someone else is flushing; their fsync may not cover us, so look again after.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(5), durable.changed()).await;
        }
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
    fn a_keyed_store_recovers_and_compacts() {
        let dir = tempfile::tempdir().unwrap();
        let mut store: KeyedStore<u64> = KeyedStore::open(dir.path(), "kv", false, true).unwrap();
        store.compact_every = 3;
        for i in 0..5 {
            store.put(if i % 2 == 0 { "a" } else { "b" }, i, true).unwrap();
        }
        store.put("c", 9, true).unwrap();
        store.remove("c", true).unwrap();
        drop(store);
        let store: KeyedStore<u64> = KeyedStore::open(dir.path(), "kv", true, true).unwrap();
        assert_eq!((store.get("a"), store.get("b"), store.len()), (Some(&4), Some(&3), 2));
        let volatile: KeyedStore<u64> = KeyedStore::open(dir.path(), "kv", false, false).unwrap();
        assert!(volatile.is_empty() && !volatile.is_durable());
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
