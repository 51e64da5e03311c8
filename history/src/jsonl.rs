//! The JSONL form of a history: one [`Op`] per line.

use crate::{Op, ParseError};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// Parses JSONL history text. Blank lines are skipped; a missing `index` is filled
/// with the event's position. `path` is only used to name the source in errors.
/// Lines are parsed in parallel, a bounded batch at a time; the first bad line (in file
/// order) is the error reported.
pub fn parse_jsonl(text: impl BufRead, path: &Path) -> Result<Vec<Op>, ParseError> {
    use rayon::prelude::*;
    const BATCH: usize = 32 * 1024;
    const PARALLEL_FROM: usize = 4096;
    let mut ops: Vec<Op> = Vec::new();
    let mut batch: Vec<(usize, String)> = Vec::with_capacity(BATCH);
    let mut lines = text.lines().enumerate();
    loop {
        batch.clear();
        for (n, line) in lines.by_ref() {
            let line = line.map_err(|source| ParseError::Io { path: path.to_owned(), source })?;
            if !line.trim().is_empty() {
                batch.push((n + 1, line));
                if batch.len() == BATCH {
                    break;
                }
            }
        }
        if batch.is_empty() {
            return Ok(ops);
        }
        let first = ops.len() as u64;
        let parse = |(i, (line_no, line)): (usize, &(usize, String))| -> Result<Op, ParseError> {
            let raw: RawOp = serde_json::from_str(line.trim()).map_err(|e| ParseError::malformed(path, *line_no, json_error(&e)))?;
            Ok(raw.into_op(first + i as u64))
        };
        // Starting rayon's threads costs more than a small history takes to parse.
        let parsed: Vec<Result<Op, ParseError>> = if batch.len() < PARALLEL_FROM {
            batch.iter().enumerate().map(parse).collect()
        } else {
            batch.par_iter().enumerate().map(parse).collect()
        };
        for op in parsed {
            ops.push(op?);
        }
    }
}

/// A JSON error as one line's complaint: serde's own "at line 1 column 9" would be a
/// second, different line number, so only the column is kept.
pub fn json_error(e: &serde_json::Error) -> String {
    let what = if e.is_syntax() || e.is_eof() { "invalid JSON" } else { "not an operation" };
    let text = e.to_string();
    let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m);
    format!("{what} at column {}: {message}", e.column())
}

/// An operation as written, whose `index` may be missing. (Spelled out rather than
/// `#[serde(flatten)]`, which buffers every record and doubles parsing time.)
#[derive(serde::Deserialize)]
struct RawOp {
    index: Option<u64>,
    #[serde(default)]
    time: i64,
    #[serde(rename = "type")]
    kind: crate::OpType,
    process: crate::Process,
    f: String,
    #[serde(default)]
    value: serde_json::Value,
    #[serde(default)]
    node: Option<String>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

impl RawOp {
    fn into_op(self, position: u64) -> Op {
        let RawOp { index, time, kind, process, f, value, node, error } = self;
        Op { index: index.unwrap_or(position), time, kind, process, f, value, node, error }
    }
}

/// Reads a `history.jsonl` file, with line numbers for every op (see [`parse_jsonl`]).
pub fn read_jsonl_file(path: &Path) -> Result<Vec<Op>, ParseError> {
    let file = File::open(path).map_err(|source| ParseError::Io { path: path.to_owned(), source })?;
    parse_jsonl(BufReader::new(file), path)
}

/// Appends operations to a JSONL sink as they happen.
///
/// Writes are buffered; call [`JsonlWriter::flush`] regularly so that a crash of the
/// controller leaves a readable prefix, and [`JsonlWriter::finish`] at the end. Each line
/// is written whole, so a flushed file never ends in the middle of a record.
pub struct JsonlWriter<W: Write> {
    out: BufWriter<W>,
    line: Vec<u8>,
}

impl JsonlWriter<File> {
    /// Creates (truncating) a history file.
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(JsonlWriter::new(File::create(path)?))
    }

    /// Flushes and fsyncs the file.
    pub fn sync(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_all()
    }
}

impl<W: Write> JsonlWriter<W> {
    /// Wraps any writer.
    pub fn new(inner: W) -> Self {
        JsonlWriter { out: BufWriter::with_capacity(64 * 1024, inner), line: Vec::with_capacity(256) }
    }

    /// Appends one operation as one line.
    pub fn append(&mut self, op: &Op) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, op).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    /// Pushes buffered lines to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OpType, Process};
    use serde_json::json;

    #[test]
    fn round_trips_the_design_examples() {
        let text = r#"{"index":0,"time":1204331,"type":"invoke","process":3,"f":"write","value":[4,2],"node":"n2"}
{"index":1,"time":3021553,"type":"ok","process":3,"f":"write","value":[4,2],"node":"n2"}

{"index":7,"time":5000113,"type":"info","process":"nemesis","f":"start-partition","value":{"n1":["n3","n4","n5"]}}
"#;
        let ops = parse_jsonl(text.as_bytes(), Path::new("h.jsonl")).unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0].process, Process::Client(3));
        assert_eq!(ops[1].kind, OpType::Ok);
        assert_eq!(ops[2].process, Process::Nemesis);
        assert_eq!(ops[2].value, json!({"n1":["n3","n4","n5"]}));
        let mut w = JsonlWriter::new(Vec::new());
        for op in &ops {
            w.append(op).unwrap();
        }
        let bytes = w.finish().unwrap();
        let again = parse_jsonl(&bytes[..], Path::new("x")).unwrap();
        assert_eq!(ops, again);
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let text = "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n{\"type\":\"ok\",\"process\":0\n";
        let err = parse_jsonl(text.as_bytes(), Path::new("h.jsonl")).unwrap_err();
        assert!(err.to_string().starts_with("h.jsonl:2: invalid JSON"), "{err}");
        let text = "{\"type\":\"done\",\"process\":0,\"f\":\"read\"}\n";
        let err = parse_jsonl(text.as_bytes(), Path::new("h.jsonl")).unwrap_err();
        assert!(err.to_string().starts_with("h.jsonl:1: not an operation at column 14: unknown variant `done`"), "{err}");
        let text = "{\"type\":\"ok\",\"process\":-1,\"f\":\"read\"}\n";
        let err = parse_jsonl(text.as_bytes(), Path::new("h.jsonl")).unwrap_err();
        assert!(err.to_string().contains("process must be a non-negative integer"), "{err}");
    }

    #[test]
    fn missing_index_is_the_position() {
        let text = "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":null}\n";
        let ops = parse_jsonl(text.as_bytes(), Path::new("h")).unwrap();
        assert_eq!(ops[1].index, 1);
        assert_eq!(ops[1].value, serde_json::Value::Null);
    }

    #[test]
    fn a_flushed_file_is_readable_while_the_writer_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let mut w = JsonlWriter::create(&path).unwrap();
        w.append(&Op::new(OpType::Invoke, Process::Client(0), "read", serde_json::Value::Null)).unwrap();
        w.flush().unwrap();
        assert_eq!(read_jsonl_file(&path).unwrap().len(), 1);
        w.sync().unwrap();
    }
}
