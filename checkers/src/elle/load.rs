//! [`TxnHistory`]: a transactional history ready to check, made from a [`History`]
//! already in memory or read straight from JSONL.
//!
//! Reading JSONL directly is what lets a million transactions be checked in well under
//! a gigabyte: lines are parsed a batch at a time (in parallel) into [`Event`]s whose
//! values are compact micro-ops, and each event is folded into the transactions at
//! once, so neither the text nor a `serde_json::Value` of any event outlives its batch
//! (docs/ARCHITECTURE.md §7, "Elle at scale").

use super::raw::{ListOr, TxnValue};
use super::txn::{self, BuildError, Builder, Event, Txns};
use super::TxnKind;
use crate::stats::StatsEvidence;
use crate::{CheckError, History, OpType, Process};
use faultline_history::{clip, json_error, ParseError, MAX_LINE_BYTES};
use serde::Deserialize;
use std::io::{BufRead, Read};
use std::fmt;
use std::path::Path;

/// A transactional history in compact form: every transaction with interned keys and
/// values, how many events the history had, and (when read from a file) the line of
/// each event.
pub struct TxnHistory {
    pub(crate) txns: Txns,
    events: usize,
    /// 1-based source line of each event; empty when built from a [`History`].
    lines: Vec<u32>,
}

impl TxnHistory {
    /// The transactions of `history`, each checked to be of `kind`.
    pub fn from_history(history: &History, kind: TxnKind) -> Result<TxnHistory, CheckError> {
        let mut builder = Builder::new(kind);
        for (position, op) in history.ops().iter().enumerate() {
            let event = Event { position, index: op.index, kind: op.kind, process: op.process, f: &op.f, value: txn_value(op) };
            builder.push(event).map_err(|e| bad_op(history, e))?;
        }
        let (txns, events) = builder.finish().map_err(|e| bad_op(history, e))?;
        Ok(TxnHistory { txns, events, lines: Vec::new() })
    }

    /// Reads a faultline JSONL history from `source` (named `path` in errors) as
    /// transactions of `kind`. Every error names the file and line.
    ///
    /// A reader thread reads and parses batches of lines (in parallel) while this one
    /// folds the previous batch into transactions; at most two batches wait between them.
    pub fn read_jsonl(source: impl BufRead + Send, path: &Path, kind: TxnKind) -> Result<TxnHistory, ParseError> {
        let mut reader = TxnHistoryReader::new(kind, path);
        std::thread::scope(|scope| {
            let (batches, received) = std::sync::mpsc::sync_channel::<Result<Vec<(usize, Line)>, ParseError>>(2);
            scope.spawn(move || read_batches(source, path, batches));
            for batch in received {
                for (n, line) in batch? {
                    reader.push_event(line.index, line.kind, line.process, line.f.as_str(), line.value, n)?;
                }
            }
            Ok::<(), ParseError>(())
        })?;
        reader.finish("jsonl")
    }

    /// How many events (client and nemesis) the history had.
    pub fn events(&self) -> usize {
        self.events
    }

    /// How many transactions it had.
    pub fn len(&self) -> usize {
        self.txns.txns.len()
    }

    /// True when it had no transaction.
    pub fn is_empty(&self) -> bool {
        self.txns.txns.is_empty()
    }

    /// ok / fail / info counts of its transactions.
    pub fn stats(&self) -> StatsEvidence {
        txn::stats(&self.txns.txns)
    }

    /// The 1-based line of the event at `position`, when read from a file.
    pub fn line_of(&self, position: usize) -> Option<usize> {
        self.lines.get(position).map(|&l| l as usize)
    }

    /// A [`CheckError::BadOp`] about the transaction invoked at `position`.
    pub(crate) fn bad_op(&self, position: usize, message: String) -> CheckError {
        let index = self.txns.txns.iter().find(|t| t.invoke == position).map_or(position as u64, |t| t.index);
        CheckError::BadOp { position, index, message: clip(message) }
    }
}

/// An operation's value as a transaction; nemesis values are not transactions, and
/// need not be read as such.
fn txn_value(op: &faultline_history::Op) -> TxnValue {
    if op.process == Process::Nemesis { ListOr::Null } else { TxnValue::of(&op.value) }
}

/// A builder's complaint about an event of `history`.
fn bad_op(history: &History, e: BuildError) -> CheckError {
    match e {
        BuildError::BadOp { position, index, message } => CheckError::BadOp { position, index, message: clip(message) },
        BuildError::History(e) => CheckError::bad_op(history, e.position(), e.to_string()),
    }
}

/// A builder's complaint about an event read from line `lines[position]` of `path`.
fn at_line(e: BuildError, lines: &[u32], path: &Path) -> ParseError {
    // Worded as `faultline check` words the same fault found in a `History`.
    let (position, message) = match e {
        BuildError::BadOp { position, index, message } => (position, CheckError::BadOp { position, index, message: clip(message) }.to_string()),
        BuildError::History(e) => (e.position(), e.to_string()),
    };
    ParseError::malformed(path, lines.get(position).map_or(0, |&l| l as usize), message)
}

/// Builds a [`TxnHistory`] from events read one at a time, each with its source line, so
/// an importer can hand over each operation as it reads it and keep none.
pub struct TxnHistoryReader<'p> {
    builder: Builder,
    lines: Vec<u32>,
    path: &'p Path,
}

impl<'p> TxnHistoryReader<'p> {
    /// A reader of transactions of `kind` from the file `path` (named in errors).
    pub fn new(kind: TxnKind, path: &'p Path) -> TxnHistoryReader<'p> {
        TxnHistoryReader { builder: Builder::new(kind), lines: Vec::new(), path }
    }

    /// Takes the next operation, read from `line`.
    pub fn push(&mut self, op: &faultline_history::Op, line: usize) -> Result<(), ParseError> {
        self.push_event(Some(op.index), op.kind, op.process, &op.f, txn_value(op), line)
    }

    fn push_event(&mut self, index: Option<u64>, kind: OpType, process: Process, f: &str, value: TxnValue, line: usize) -> Result<(), ParseError> {
        let position = self.lines.len();
        self.lines.push(u32::try_from(line).unwrap_or(u32::MAX));
        let event = Event { position, index: index.unwrap_or(position as u64), kind, process, f, value };
        self.builder.push(event).map_err(|e| at_line(e, &self.lines, self.path))
    }

    /// The history; refused when it holds no transaction (it is then not a `format`
    /// history at all).
    pub fn finish(self, format: &str) -> Result<TxnHistory, ParseError> {
        let (txns, events) = self.builder.finish().map_err(|e| at_line(e, &self.lines, self.path))?;
        if txns.txns.is_empty() {
            return Err(ParseError::malformed(self.path, 1, format!("no client operations: this is not a {format} history")));
        }
        Ok(TxnHistory { txns, events, lines: self.lines })
    }
}

/// Reads `source` a batch of lines at a time, parses each batch, and sends it with each
/// line's number; stops at the end, at the first error (which it sends), or when the
/// receiver has gone.
fn read_batches(mut source: impl BufRead, path: &Path, batches: std::sync::mpsc::SyncSender<Result<Vec<(usize, Line)>, ParseError>>) {
    use rayon::prelude::*;
    // Big enough to keep both cores busy, small enough that a batch's text and parsed
    // events stay a few megabytes.
    const BATCH: usize = 16 * 1024;
    const PARALLEL_FROM: usize = 4096;
    let mut line_no = 0usize;
    let mut text: Vec<u8> = Vec::new();
    let mut spans: Vec<(usize, std::ops::Range<usize>)> = Vec::with_capacity(BATCH);
    loop {
        text.clear();
        spans.clear();
        while spans.len() < BATCH {
            let start = text.len();
            let n = match source.by_ref().take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut text) {
                Ok(n) => n,
                Err(source) => {
                    let _ = batches.send(Err(ParseError::Io { path: path.to_owned(), source }));
                    return;
                }
            };
            if n == 0 {
                break;
            }
            line_no += 1;
            let line = &text[start..];
            if line.len() > MAX_LINE_BYTES && !line.ends_with(b"\n") {
                let too_long = format!("line is longer than {} MiB: not a history", MAX_LINE_BYTES >> 20);
                let _ = batches.send(Err(ParseError::malformed(path, line_no, too_long)));
                return;
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                text.truncate(start);
            } else {
                spans.push((line_no, start..text.len()));
            }
        }
        if spans.is_empty() {
            return;
        }
        let parse = |(n, span): &(usize, std::ops::Range<usize>)| {
            serde_json::from_slice::<Line>(&text[span.clone()]).map(|line| (*n, line)).map_err(|e| ParseError::malformed(path, *n, json_error(&e)))
        };
        // Starting rayon's threads costs more than a small history takes to parse.
        let parsed: Result<Vec<(usize, Line)>, ParseError> =
            if spans.len() < PARALLEL_FROM { spans.iter().map(parse).collect() } else { spans.par_iter().map(parse).collect() };
        let failed = parsed.is_err();
        if batches.send(parsed).is_err() || failed {
            return;
        }
    }
}

/// One JSONL event as the transactional checkers read it (the same fields, checked the
/// same way, as [`faultline_history::parse_jsonl`]; `node` and `error` are skipped).
#[derive(Deserialize)]
struct Line {
    index: Option<u64>,
    /// Read only to refuse a malformed time, as `parse_jsonl` does.
    #[serde(default, rename = "time")]
    _time: i64,
    #[serde(rename = "type")]
    kind: OpType,
    process: Process,
    f: Function,
    #[serde(default)]
    value: TxnValue,
}


/// An event's `f`: transactions, the common case, need no allocation.
enum Function {
    Txn,
    Other(String),
}

impl Function {
    fn as_str(&self) -> &str {
        match self {
            Function::Txn => "txn",
            Function::Other(f) => f,
        }
    }
}

impl<'de> Deserialize<'de> for Function {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Function, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = Function;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Function, E> {
                Ok(if v == "txn" { Function::Txn } else { Function::Other(v.to_owned()) })
            }
        }
        d.deserialize_str(Name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elle::{check_txns, ElleOptions};
    use crate::testgen::{txn_history, Isolation, SimConfig, TxnConfig, TxnWorkload};
    use faultline_history::JsonlWriter;

    fn jsonl(ops: &[faultline_history::Op]) -> Vec<u8> {
        let mut w = JsonlWriter::new(Vec::new());
        for op in ops {
            w.append(op).unwrap();
        }
        w.finish().unwrap()
    }

    fn read(text: &str, kind: TxnKind) -> Result<TxnHistory, ParseError> {
        TxnHistory::read_jsonl(text.as_bytes(), Path::new("h.jsonl"), kind)
    }

    /// Reading the file and building from the history in memory must give the same
    /// verdict, evidence and explanation, anomalies or not.
    #[test]
    fn streaming_and_in_memory_agree() {
        let shapes = [
            (TxnWorkload::ListAppend, Isolation::Serializable, TxnKind::ListAppend),
            (TxnWorkload::ListAppend, Isolation::SnapshotIsolation, TxnKind::ListAppend),
            (TxnWorkload::RwRegister, Isolation::SnapshotIsolation, TxnKind::RwRegister),
        ];
        for (seed, (workload, isolation, kind)) in shapes.into_iter().enumerate() {
            let sim = SimConfig { crash_rate: 0.05, ..SimConfig::new(8, 20_000, 0, seed as u64) };
            let ops = txn_history(&TxnConfig::new(sim, workload, isolation));
            let history = History::new(ops.clone()).unwrap();
            let opts = ElleOptions::new(kind);
            let in_memory = check_txns(&TxnHistory::from_history(&history, kind).unwrap(), &opts).unwrap();
            let streamed = TxnHistory::read_jsonl(&jsonl(&ops)[..], Path::new("h.jsonl"), kind).unwrap();
            assert_eq!(streamed.events(), ops.len());
            assert_eq!(streamed.stats().total.count, history.client_ops().count());
            let from_file = check_txns(&streamed, &opts).unwrap();
            assert_eq!(serde_json::to_value(&in_memory).unwrap(), serde_json::to_value(&from_file).unwrap(), "{workload:?} {isolation:?}");
            if isolation == Isolation::SnapshotIsolation {
                assert_eq!(from_file.valid, crate::Validity::Invalid, "{}", from_file.summary);
            }
        }
    }

    #[test]
    fn lines_are_counted_past_blank_ones_and_nemesis_events() {
        let text = "\n{\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"start-partition\",\"value\":{\"n1\":[\"n2\"]}}\n\n\
            {\"type\":\"invoke\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",\"x\",1]]}\n\
            {\"type\":\"ok\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",\"x\",1]],\"node\":\"n1\"}\n\
            {\"type\":\"invoke\",\"process\":1,\"f\":\"txn\",\"value\":[[\"r\",\"x\",null]]}\n";
        let h = read(text, TxnKind::ListAppend).unwrap();
        assert_eq!((h.events(), h.len()), (4, 2));
        assert_eq!((h.line_of(0), h.line_of(1), h.line_of(3)), (Some(2), Some(4), Some(6)));
        let stats = h.stats();
        assert_eq!((stats.total.ok, stats.total.info), (1, 1), "an invocation that never completed is info");
    }

    #[test]
    fn every_error_names_the_line() {
        let cases = [
            ("{\"type\":\"invoke\",\"process\":0,\"f\":\"txn\",\"value\":[]}\n{\"type\":\"ok\"", "h.jsonl:2: invalid JSON"),
            ("{\"type\":\"invoke\",\"process\":0,\"f\":\"txn\",\"value\":[]}\n{\"type\":\"invoke\",\"process\":0,\"f\":\"txn\",\"value\":[]}\n", "h.jsonl:2: operation at position 1: process 0 invokes"),
            ("{\"type\":\"ok\",\"process\":3,\"f\":\"txn\",\"value\":[]}\n", "h.jsonl:1: operation at position 0: process 3 completes an operation it never invoked"),
            ("{\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}\n", "h.jsonl:1: operation at position 0 (index 0): f=\"read\": transactional models expect f=\"txn\""),
            ("{\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"kill\"}\n", "h.jsonl:1: no client operations"),
            ("{\"type\":\"invoke\",\"process\":0,\"f\":\"txn\",\"value\":[[\"w\",\"x\",1]]}\n", "h.jsonl:1: operation at position 0 (index 0): micro-op \"w\" is not part of list-append"),
            ("{\"type\":\"invoke\",\"process\":0,\"f\":\"txn\",\"value\":[],\"time\":\"soon\"}\n", "h.jsonl:1: not an operation"),
        ];
        for (text, expected) in cases {
            let err = read(text, TxnKind::ListAppend).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.starts_with(expected), "{text}\n  gave {err:?}\n  not {expected:?}");
        }
        // An invocation is made into micro-ops only when it did not complete ok, and its
        // fault is then named at its own line, not the completion's.
        let text = "{\"type\":\"invoke\",\"process\":0,\"f\":\"txn\",\"value\":[[\"r\"]]}\n\n{\"type\":\"info\",\"process\":0,\"f\":\"txn\",\"value\":null}\n";
        let err = read(text, TxnKind::ListAppend).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("h.jsonl:1: operation at position 0 (index 0): micro-op must be [f, key, value], got [\"r\"]"), "{err}");
        let ok = "{\"type\":\"invoke\",\"process\":0,\"f\":\"txn\",\"value\":[[\"r\"]]}\n{\"type\":\"ok\",\"process\":0,\"f\":\"txn\",\"value\":[[\"r\",\"x\",[]]]}\n";
        assert!(read(ok, TxnKind::ListAppend).is_ok(), "an ok transaction is what its completion says");
    }
}
