//! The replicated log in memory: entries after the last snapshot, indexed from 1.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What an entry asks the state machine to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Command {
    /// Nothing: appended by a new leader so it commits an entry of its own term.
    Noop,
    /// A client transaction: its session, sequence number and micro-ops (wire form).
    Txn {
        /// The client's session id.
        client: String,
        /// The client's sequence number.
        seq: u64,
        /// The micro-ops.
        ops: Vec<Value>,
    },
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Its position, from 1.
    pub index: u64,
    /// The term of the leader that created it.
    pub term: u64,
    /// What it does.
    pub cmd: Command,
}

/// The log: a snapshot point (`base`) and the entries after it.
#[derive(Debug, Clone, Default)]
pub struct RaftLog {
    base_index: u64,
    base_term: u64,
    entries: Vec<Entry>,
}

impl RaftLog {
    /// The index of the last entry (the snapshot's if there are none after it).
    pub fn last_index(&self) -> u64 {
        self.base_index + self.entries.len() as u64
    }

    /// The term of the last entry.
    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.base_term, |e| e.term)
    }

    /// The snapshot point: the last index and term it covers.
    pub fn base(&self) -> (u64, u64) {
        (self.base_index, self.base_term)
    }

    /// The term of the entry at `index`, if the log still knows it (0 for index 0).
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.base_index {
            Some(self.base_term)
        } else {
            self.get(index).map(|e| e.term)
        }
    }

    /// The entry at `index`, unless it is beyond the end or inside the snapshot.
    pub fn get(&self, index: u64) -> Option<&Entry> {
        index.checked_sub(self.base_index + 1).and_then(|i| self.entries.get(i as usize))
    }

    /// Up to `max` entries from `from` on.
    pub fn slice(&self, from: u64, max: usize) -> Vec<Entry> {
        let start = from.saturating_sub(self.base_index + 1) as usize;
        self.entries.iter().skip(start).take(max).cloned().collect()
    }

    /// Appends an entry, which must be the next index.
    pub fn push(&mut self, entry: Entry) {
        debug_assert_eq!(entry.index, self.last_index() + 1);
        self.entries.push(entry);
    }

    /// Removes every entry from `index` on, returning them.
    pub fn truncate_from(&mut self, index: u64) -> Vec<Entry> {
        let keep = index.saturating_sub(self.base_index + 1) as usize;
        self.entries.split_off(keep.min(self.entries.len()))
    }

    /// Forgets entries up to `index`, which a snapshot now covers.
    pub fn compact_to(&mut self, index: u64, term: u64) {
        let drop = index.saturating_sub(self.base_index) as usize;
        self.entries.drain(..drop.min(self.entries.len()));
        self.base_index = index;
        self.base_term = term;
    }

    /// The entries after the snapshot point.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry { index, term, cmd: Command::Noop }
    }

    #[test]
    fn indexes_survive_truncation_and_compaction() {
        let mut log = RaftLog::default();
        assert_eq!((log.last_index(), log.last_term(), log.term_at(0)), (0, 0, Some(0)));
        for i in 1..=5 {
            log.push(entry(i, if i < 4 { 1 } else { 2 }));
        }
        assert_eq!(log.term_at(4), Some(2));
        assert_eq!(log.truncate_from(4).len(), 2);
        assert_eq!((log.last_index(), log.last_term()), (3, 1));
        log.compact_to(2, 1);
        assert_eq!((log.term_at(1), log.term_at(2), log.get(3).map(|e| e.index)), (None, Some(1), Some(3)));
        assert_eq!(log.slice(1, 10).len(), 1, "a slice starts at the first entry it still has");
        log.push(entry(4, 3));
        assert_eq!(log.slice(4, 10)[0].term, 3);
    }
}
