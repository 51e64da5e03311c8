//! Reading histories written by faultline and by other tools.
//!
//! Formats: faultline's JSONL, Jepsen `history.edn` (records, plain maps, or one vector
//! of maps as in Knossos test data), Porcupine's Jepsen-etcd text logs and its
//! EDN-per-line kv logs. All are converted to faultline's [`Op`] form (docs/ARCHITECTURE.md §2), and
//! every error names the file and line.
//!
//! What an ok read of `nil` means differs between sources, so it is an explicit option
//! ([`NilRead`]): in Jepsen/Knossos histories it means "value unknown", and such reads are
//! imported as indeterminate (`info`, error `nil-read-unknown`); in Porcupine's etcd logs
//! and in faultline's own histories it means "key absent".

pub mod edn;
mod jepsen;
mod porcupine;

pub use jepsen::to_jepsen_edn;

use faultline_history::{parse_jsonl, Op, OpType, ParseError, Value};
use std::path::Path;

/// A history file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// faultline's `history.jsonl`.
    Jsonl,
    /// Jepsen `history.edn`.
    Edn,
    /// Porcupine's Jepsen-etcd text log (`INFO  jepsen.util - 3\t:invoke\t:read\tnil`).
    PorcupineEtcd,
    /// Porcupine's kv log (`{:process 0, :type :invoke, :f :get, :key "1", :value nil}`).
    PorcupineKv,
}

impl Format {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::PorcupineEtcd => "porcupine-etcd",
            Format::PorcupineKv => "porcupine-kv",
        }
    }

    /// How this format's sources mean an ok read of nil.
    pub fn default_nil_read(self) -> NilRead {
        match self {
            Format::Edn => NilRead::Unknown,
            Format::Jsonl | Format::PorcupineEtcd | Format::PorcupineKv => NilRead::Absent,
        }
    }

    /// Recognizes a format from the first meaningful line of the text. The formats are
    /// syntactically distinct, so this never guesses between two readings.
    pub fn detect(text: &str) -> Option<Format> {
        let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with(';'))?;
        if line.starts_with("{\"") || line == "{}" {
            Some(Format::Jsonl)
        } else if line.contains("jepsen.util") {
            Some(Format::PorcupineEtcd)
        } else if line.starts_with('{') && line.contains(":key ") && !line.contains(":index") {
            Some(Format::PorcupineKv)
        } else if line.starts_with(['{', '[', '#']) {
            Some(Format::Edn)
        } else {
            None
        }
    }
}

/// What an ok read of `nil` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NilRead {
    /// The key is absent (it holds the initial value).
    Absent,
    /// The value is unknown: the read is imported as indeterminate.
    Unknown,
}

/// A history read from a file, with the line each operation came from.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The operations, in order.
    pub ops: Vec<Op>,
    /// 1-based source line of each operation.
    pub lines: Vec<usize>,
    /// The format that was read.
    pub format: Format,
    /// The initial value the source's model assumes for every key, when it is not
    /// absent (Porcupine's kv model starts keys at `""`).
    pub initial_value: Value,
    /// The source's values are bare (one register), not `[key, value]`.
    pub single_key: bool,
}

/// Reads `text` (from `path`, named in errors) as `format` (detected when `None`).
pub fn import_str(text: &str, path: &Path, format: Option<Format>, nil_read: Option<NilRead>) -> Result<Imported, ParseError> {
    let format = match format {
        Some(f) => f,
        None => Format::detect(text).ok_or_else(|| {
            ParseError::malformed(path, 1, "cannot tell the format (jsonl, edn, porcupine-etcd, porcupine-kv); pass --format")
        })?,
    };
    let mut imported = match format {
        Format::Jsonl => {
            let ops = parse_jsonl(text.as_bytes(), path)?;
            let lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, _)| i + 1).collect();
            Imported { ops, lines, format, initial_value: Value::Null, single_key: false }
        }
        Format::Edn => jepsen::parse(text, path)?,
        Format::PorcupineEtcd => porcupine::parse_etcd(text, path)?,
        Format::PorcupineKv => porcupine::parse_kv(text, path)?,
    };
    if nil_read.unwrap_or(format.default_nil_read()) == NilRead::Unknown {
        mark_nil_reads_unknown(&mut imported.ops);
    }
    Ok(imported)
}

/// Reads a history file; see [`import_str`].
pub fn import_file(path: &Path, format: Option<Format>, nil_read: Option<NilRead>) -> Result<Imported, ParseError> {
    let text = std::fs::read_to_string(path).map_err(|source| ParseError::Io { path: path.to_owned(), source })?;
    import_str(&text, path, format, nil_read)
}

/// Turns ok reads of nil (bare, or `[key, nil]`) into indeterminate completions.
fn mark_nil_reads_unknown(ops: &mut [Op]) {
    for op in ops {
        let is_read = matches!(op.f.as_str(), "read" | "get");
        let nil = match &op.value {
            Value::Null => true,
            Value::Array(kv) => kv.len() == 2 && kv[1].is_null(),
            _ => false,
        };
        if is_read && nil && op.kind == OpType::Ok {
            op.kind = OpType::Info;
            op.error = Some(Value::String("nil-read-unknown".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::Process;
    use serde_json::json;

    #[test]
    fn detects_each_format() {
        assert_eq!(Format::detect("{\"type\":\"invoke\"}"), Some(Format::Jsonl));
        assert_eq!(Format::detect("; c\n#jepsen.history.Op{:index 0}"), Some(Format::Edn));
        assert_eq!(Format::detect("[{:type :invoke}]"), Some(Format::Edn));
        assert_eq!(Format::detect("INFO  jepsen.util - 0\t:invoke\t:read\tnil"), Some(Format::PorcupineEtcd));
        assert_eq!(Format::detect("{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}"), Some(Format::PorcupineKv));
        assert_eq!(Format::detect("hello"), None);
    }

    #[test]
    fn nil_reads_follow_the_option() {
        let text = "{:type :invoke, :f :read, :process 0, :value nil}\n{:type :ok, :f :read, :process 0, :value nil}\n";
        let unknown = import_str(text, Path::new("h.edn"), None, None).unwrap();
        assert_eq!(unknown.ops[1].kind, OpType::Info);
        assert_eq!(unknown.ops[1].error, Some(json!("nil-read-unknown")));
        let absent = import_str(text, Path::new("h.edn"), None, Some(NilRead::Absent)).unwrap();
        assert_eq!(absent.ops[1].kind, OpType::Ok);
        assert_eq!(absent.ops[1].process, Process::Client(0));
    }

    #[test]
    fn jsonl_lines_skip_blank_lines() {
        let text = "\n{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n\n{\"type\":\"ok\",\"process\":0,\"f\":\"read\"}\n";
        let h = import_str(text, Path::new("h.jsonl"), None, None).unwrap();
        assert_eq!(h.lines, vec![2, 4]);
    }

    #[test]
    fn unknown_format_is_an_error() {
        let err = import_str("hello", Path::new("x.txt"), None, None).unwrap_err();
        assert!(err.to_string().starts_with("x.txt:1: cannot tell the format"), "{err}");
    }
}
