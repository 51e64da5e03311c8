//! Raft's persistent state on disk: term and vote, log entries, and snapshots, as
//! records in one [`DurableLog`]. Recovery replays the records in order.
//!
//! Two bugs live here: `no-fsync` never fsyncs (so `--lose-unsynced` loses
//! acknowledged entries), and `forget-vote` never writes term and vote.

use crate::log::{Entry, RaftLog};
use crate::machine::Snapshot;
use node_common::storage::DurableLog;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io;
use std::path::Path;

/// One record of the file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Record {
    Meta { term: u64, vote: Option<String> },
    Entry(Entry),
    Truncate { from: u64 },
    Snapshot(Snapshot),
}

/// What a node recovers at start.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The current term.
    pub term: u64,
    /// Whom it voted for in that term.
    pub vote: Option<String>,
    /// The log after the snapshot.
    pub log: RaftLog,
    /// The latest snapshot.
    pub snapshot: Option<Snapshot>,
}

/// Where the node persists its state.
pub struct Store {
    file: DurableLog,
    fsync: bool,
    keep_vote: bool,
    /// The last log index known to be on disk.
    durable: u64,
}

impl Store {
    /// Opens the store in `dir` and recovers its state. `fsync: false` and
    /// `keep_vote: false` are the `no-fsync` and `forget-vote` bugs.
    pub fn open(dir: &Path, lose_unsynced: bool, fsync: bool, keep_vote: bool) -> io::Result<(Store, Recovered)> {
        let (file, records) = DurableLog::open(dir, "raft", lose_unsynced)?;
        let mut state = Recovered::default();
        for (n, record) in records.into_iter().enumerate() {
            let record: Record = serde_json::from_value(record).map_err(|e| io::Error::other(format!("raft.log record {}: {e}", n + 1)))?;
            match record {
                Record::Meta { term, vote } => (state.term, state.vote) = (term, vote),
                Record::Entry(e) => {
                    if e.index <= state.log.last_index() {
                        state.log.truncate_from(e.index);
                    }
                    if e.index == state.log.last_index() + 1 {
                        state.log.push(e);
                    }
                }
                Record::Truncate { from } => {
                    state.log.truncate_from(from);
                }
                Record::Snapshot(s) => {
                    let keeps_suffix = state.log.term_at(s.index) == Some(s.term);
                    if !keeps_suffix {
                        state.log = RaftLog::default();
                    }
                    state.log.compact_to(s.index, s.term);
                    state.snapshot = Some(s);
                }
            }
        }
        // A node that forgot its term still knows the terms in its log.
        state.term = state.term.max(state.log.last_term());
        let durable = state.log.last_index();
        Ok((Store { file, fsync, keep_vote, durable }, state))
    }

    /// Persists term and vote (durably, before the node answers anyone).
    pub fn save_vote(&mut self, term: u64, vote: Option<&str>) -> io::Result<()> {
        if !self.keep_vote {
            return Ok(());
        }
        self.write(&Record::Meta { term, vote: vote.map(str::to_owned) }, true)
    }

    /// Appends entries; fsyncs them when `sync` (otherwise [`Store::sync`] does later).
    pub fn append(&mut self, entries: &[Entry], sync: bool) -> io::Result<()> {
        for e in entries {
            self.write(&Record::Entry(e.clone()), false)?;
        }
        if sync {
            self.sync(entries.last().map_or(0, |e| e.index))?;
        }
        Ok(())
    }

    /// Records that entries from `from` on were removed.
    pub fn truncate(&mut self, from: u64) -> io::Result<()> {
        self.durable = self.durable.min(from.saturating_sub(1));
        self.write(&Record::Truncate { from }, false)
    }

    /// Makes everything written durable, up to log index `last`.
    pub fn sync(&mut self, last: u64) -> io::Result<()> {
        if self.fsync {
            self.file.sync()?;
        }
        self.durable = self.durable.max(last);
        Ok(())
    }

    /// The last log index known to be on disk (everything, with `no-fsync`: the node
    /// believes it is).
    pub fn durable(&self) -> u64 {
        self.durable
    }

    /// Replaces the file by a snapshot, term and vote, and the entries after it.
    pub fn compact(&mut self, snapshot: &Snapshot, term: u64, vote: Option<&str>, log: &RaftLog) -> io::Result<()> {
        let mut records = vec![to_value(&Record::Snapshot(snapshot.clone()))?];
        if self.keep_vote {
            records.push(to_value(&Record::Meta { term, vote: vote.map(str::to_owned) })?);
        }
        for e in log.entries() {
            records.push(to_value(&Record::Entry(e.clone()))?);
        }
        self.file.rewrite(&records)?;
        self.durable = log.last_index();
        Ok(())
    }

    fn write(&mut self, record: &Record, sync: bool) -> io::Result<()> {
        self.file.append(&to_value(record)?, sync && self.fsync)
    }
}

fn to_value(record: &Record) -> io::Result<Value> {
    serde_json::to_value(record).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Command;

    fn entry(index: u64, term: u64) -> Entry {
        Entry { index, term, cmd: Command::Noop }
    }

    #[test]
    fn recovers_votes_entries_truncations_and_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, state) = Store::open(dir.path(), false, true, true).unwrap();
        assert_eq!((state.term, state.log.last_index()), (0, 0));
        store.save_vote(3, Some("n2")).unwrap();
        store.append(&[entry(1, 1), entry(2, 1), entry(3, 2)], true).unwrap();
        store.truncate(3).unwrap();
        store.append(&[entry(3, 3)], true).unwrap();
        drop(store);
        let (mut store, state) = Store::open(dir.path(), true, true, true).unwrap();
        assert_eq!((state.term, state.vote.as_deref(), state.log.last_index(), state.log.last_term()), (3, Some("n2"), 3, 3));
        let mut log = state.log;
        log.compact_to(2, 1);
        let snapshot = Snapshot { index: 2, term: 1, ..Snapshot::default() };
        store.compact(&snapshot, 3, Some("n2"), &log).unwrap();
        drop(store);
        let (_, state) = Store::open(dir.path(), true, true, true).unwrap();
        assert_eq!((state.log.base(), state.log.last_index(), state.snapshot.map(|s| s.index)), ((2, 1), 3, Some(2)));
    }

    #[test]
    fn the_bugs_lose_what_they_should() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), false, false, false).unwrap();
        store.save_vote(5, Some("n1")).unwrap();
        store.append(&[entry(1, 4)], true).unwrap();
        assert_eq!(store.durable(), 1, "no-fsync believes the entry is durable");
        drop(store);
        let (_, state) = Store::open(dir.path(), true, true, true).unwrap();
        assert_eq!((state.term, state.vote, state.log.last_index()), (0, None, 0), "nothing was on disk");
    }
}
