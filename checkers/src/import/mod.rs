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
mod json;
mod porcupine;

pub use jepsen::to_jepsen_edn;

use faultline_history::{parse_jsonl, Op, OpType, ParseError, Process, Value};
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
    /// Jepsen's and elle-cli's JSON: an array of op objects, or an object a line,
    /// keywords as strings with or without their colon.
    JepsenJson,
}

impl Format {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::PorcupineEtcd => "porcupine-etcd",
            Format::PorcupineKv => "porcupine-kv",
            Format::JepsenJson => "jepsen-json",
        }
    }

    /// How this format's sources mean an ok read of nil.
    pub fn default_nil_read(self) -> NilRead {
        match self {
            Format::Edn | Format::JepsenJson => NilRead::Unknown,
            Format::Jsonl | Format::PorcupineEtcd | Format::PorcupineKv => NilRead::Absent,
        }
    }

    /// Recognizes a format from the first meaningful line of the text. The formats are
    /// syntactically distinct, so this never guesses between two readings.
    pub fn detect(text: &str) -> Option<Format> {
        let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with(';'))?;
        if line.starts_with("{\"") || line == "{}" {
            // faultline's own records, or another tool's JSON spelled its own way.
            let ours = parse_jsonl(line.as_bytes(), Path::new("")).is_ok();
            Some(if ours { Format::Jsonl } else { Format::JepsenJson })
        } else if line.strip_prefix('[').is_some_and(|rest| rest.trim_start().starts_with('{') && !rest.trim_start().starts_with("{:")) || line == "[" && text.contains("{\"") {
            Some(Format::JepsenJson)
        } else if line.contains("jepsen.util") {
            Some(Format::PorcupineEtcd)
        } else if line.starts_with('{') && line.contains(":key ") && !line.contains(":index") {
            Some(Format::PorcupineKv)
        } else if line.starts_with(['{', '[', '(', '#']) {
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
            ParseError::malformed(path, 1, "cannot tell the format (jsonl, edn, jepsen-json, porcupine-etcd, porcupine-kv); pass --format")
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
        Format::JepsenJson => json::parse(text, path)?,
    };
    if !imported.ops.iter().any(|o| o.process != Process::Nemesis) {
        // An empty file, `[]`, a README read as a log: nothing was tested, so no
        // checker may call it valid.
        return Err(ParseError::malformed(path, 1, format!("no client operations: this is not a {} history", format.name())));
    }
    if nil_read.unwrap_or(format.default_nil_read()) == NilRead::Unknown {
        mark_nil_reads_unknown(&mut imported.ops);
    }
    Ok(imported)
}

/// Reads a history file; see [`import_str`].
pub fn import_file(path: &Path, format: Option<Format>, nil_read: Option<NilRead>) -> Result<Imported, ParseError> {
    let text = faultline_history::read_text_file(path)?;
    import_str(&text, path, format, nil_read)
}

/// The format of the file at `path`, told from its first 64 KiB (see
/// [`Format::detect`]), so a reader that streams need not load the file first. `None`
/// when the beginning does not say; [`import_file`] then still reads it whole.
pub fn detect_file(path: &Path) -> Result<Option<Format>, ParseError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|source| ParseError::Io { path: path.to_owned(), source })?;
    let mut head = Vec::with_capacity(64 << 10);
    file.take(64 << 10).read_to_end(&mut head).map_err(|source| ParseError::Io { path: path.to_owned(), source })?;
    let text = match std::str::from_utf8(&head) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
    };
    Ok(Format::detect(text))
}

/// An operation as another tool wrote it: it may lack a process (each such op is its
/// own process, as Elle treats them) or an index (it then gets its position).
pub(crate) struct LooseOp {
    pub(crate) op: Op,
    pub(crate) has_process: bool,
    pub(crate) has_index: bool,
}

/// A keyword written as a string, with or without its colon: `":ok"`, `"ok"`.
fn word(v: &Value) -> Option<&str> {
    v.as_str().map(|s| s.strip_prefix(':').unwrap_or(s))
}

/// Whether `value` is a transaction: a list of `[f, key, value]` micro-ops.
fn looks_like_txn(value: &Value) -> bool {
    value.as_array().is_some_and(|mops| !mops.is_empty() && mops.iter().all(|m| m.as_array().is_some_and(|m| m.first().is_some_and(Value::is_string))))
}

/// Converts one op map of Jepsen's (EDN read as JSON, or JSON): `type`, `process`, `f`,
/// `value`, `index`, `time`, `error`, `node`. A missing `f` is a transaction when the
/// value is a list of micro-ops; micro-op names lose their colon.
pub(crate) fn op_from_json(m: &Value) -> Result<LooseOp, String> {
    let Value::Object(fields) = m else { return Err(format!("expected an operation map, got {m}")) };
    let shown = |v: &Value| word(v).map_or_else(|| v.to_string(), |w| format!(":{w}"));
    let kind = match fields.get("type") {
        Some(t) => match word(t) {
            Some("invoke") => OpType::Invoke,
            Some("ok") => OpType::Ok,
            Some("fail") => OpType::Fail,
            Some("info") => OpType::Info,
            _ => return Err(format!(":type must be :invoke, :ok, :fail or :info, got {}", shown(t))),
        },
        None => return Err("operation has no :type".into()),
    };
    let process = match fields.get("process") {
        None | Some(Value::Null) => None,
        Some(p) => Some(match (p.as_u64(), word(p)) {
            (Some(n), _) => Process::Client(n),
            (None, Some("nemesis")) => Process::Nemesis,
            _ => return Err(format!(":process must be a non-negative integer or :nemesis, got {p}")),
        }),
    };
    let mut value = fields.get("value").cloned().unwrap_or(Value::Null);
    let f = match fields.get("f") {
        Some(f) => match word(f) {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => return Err(format!(":f must be a keyword, got {f}")),
        },
        None if looks_like_txn(&value) => "txn".to_owned(),
        None => return Err("operation has no :f (and its value is not a list of micro-ops)".into()),
    };
    if f == "txn" {
        if let Some(mops) = value.as_array_mut() {
            for m in mops.iter_mut().filter_map(Value::as_array_mut) {
                if let Some(Value::String(name)) = m.first_mut() {
                    if let Some(bare) = name.strip_prefix(':') {
                        *name = bare.to_owned();
                    }
                }
            }
        }
    }
    let mut op = Op::new(kind, process.unwrap_or(Process::Client(0)), f, value);
    let has_index = match fields.get("index") {
        Some(i) => {
            op.index = i.as_u64().ok_or_else(|| format!(":index must be a non-negative integer, got {i}"))?;
            true
        }
        None => false,
    };
    if let Some(t) = fields.get("time") {
        op.time = t.as_i64().ok_or_else(|| format!(":time must be an integer, got {t}"))?;
    }
    op.error = fields.get("error").cloned();
    op.node = fields.get("node").and_then(word).map(str::to_owned);
    Ok(LooseOp { op, has_process: process.is_some(), has_index })
}

/// Makes loose ops a history: ops without a process each get a process of their
/// own; a completion with no invocation before it (Elle's test histories are often
/// only completions) gets one just before it, with its function, value and index; an
/// op without an index gets its position.
pub(crate) fn pair_up(loose: Vec<LooseOp>, lines: Vec<usize>) -> (Vec<Op>, Vec<usize>) {
    let fresh = loose.iter().filter(|l| l.has_process).filter_map(|l| match l.op.process {
        Process::Client(p) => Some(p + 1),
        Process::Nemesis => None,
    }).max().unwrap_or(0);
    let mut pairing = Pairing::new(fresh);
    let (mut ops, mut out_lines) = (Vec::with_capacity(loose.len()), Vec::with_capacity(loose.len()));
    for (l, line) in loose.into_iter().zip(lines) {
        pairing.place(l, |op| {
            ops.push(op);
            out_lines.push(line);
            Ok::<(), std::convert::Infallible>(())
        }).unwrap_or_else(|never| match never {});
    }
    (ops, out_lines)
}

/// The rules of [`pair_up`], applied one op at a time.
struct Pairing {
    /// The next process number for an op that has none.
    fresh: u64,
    pending: std::collections::HashSet<u64>,
    /// Ops handed on so far (the position of the next one).
    placed: usize,
}

impl Pairing {
    fn new(fresh: u64) -> Pairing {
        Pairing { fresh, pending: Default::default(), placed: 0 }
    }

    /// Hands `l` on, after a synthesized invocation if it is a completion with none.
    fn place<E>(&mut self, l: LooseOp, mut emit: impl FnMut(Op) -> Result<(), E>) -> Result<(), E> {
        let mut op = l.op;
        if !l.has_index {
            op.index = self.placed as u64;
        }
        if !l.has_process {
            op.process = Process::Client(self.fresh);
            self.fresh += 1;
        }
        if let Process::Client(p) = op.process {
            if op.kind == OpType::Invoke {
                self.pending.insert(p);
            } else if !self.pending.remove(&p) {
                let mut invoke = Op::new(OpType::Invoke, op.process, op.f.clone(), op.value.clone());
                (invoke.index, invoke.time, invoke.node) = (op.index, op.time, op.node.clone());
                emit(invoke)?;
                self.placed += 1;
                if !l.has_index {
                    op.index = self.placed as u64;
                }
            }
        }
        emit(op)?;
        self.placed += 1;
        Ok(())
    }
}

/// How [`stream_edn`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streamed {
    /// Every op was handed over.
    Whole,
    /// An op has no `:process`: numbering such ops needs the whole file, so reading
    /// stopped; read it with [`import_str`] instead.
    NeedsWholeFile,
}

/// Reads Jepsen EDN history text op by op and hands each, with its line and paired up
/// as [`import_str`] pairs them, to `sink`, keeping none: how a transactional checker
/// reads a large `history.edn` without a `Vec<Op>` of it. Ok reads of nil are left
/// as they are (transactions have no bare reads to mark).
pub fn stream_edn<E: From<ParseError>>(text: &str, path: &Path, mut sink: impl FnMut(Op, usize) -> Result<(), E>) -> Result<Streamed, E> {
    let mut pairing = Pairing::new(0);
    let ended = jepsen::each_form(text, path, |line, m| -> Result<bool, E> {
        let loose = jepsen::op_from_edn(&m).map_err(|msg| ParseError::malformed(path, line, msg))?;
        if !loose.has_process {
            return Ok(false);
        }
        pairing.place(loose, |op| sink(op, line))?;
        Ok(true)
    })?;
    Ok(if ended { Streamed::Whole } else { Streamed::NeedsWholeFile })
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
        assert_eq!(Format::detect("{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}"), Some(Format::Jsonl));
        assert_eq!(Format::detect("{\"type\":\":invoke\",\"process\":0,\"f\":\":read\"}"), Some(Format::JepsenJson));
        assert_eq!(Format::detect("[{\"type\":\"invoke\",\"f\":\"txn\"}]"), Some(Format::JepsenJson));
        assert_eq!(Format::detect("(\n{:type :invoke})"), Some(Format::Edn));
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
    fn streamed_edn_is_paired_up_as_the_whole_file_is() {
        let text = "[{:process 0, :type :ok, :value [[:append :x 1]]}\n {:process 1, :type :invoke, :f :txn, :value [[:r :x nil]]}\n {:process 1, :type :ok, :f :txn, :value [[:r :x [1]]]}]\n{:process :nemesis, :type :info, :f :kill}\n";
        let whole = import_str(text, Path::new("h.edn"), Some(Format::Edn), None).unwrap();
        let mut streamed = (Vec::new(), Vec::new());
        let ended = stream_edn::<ParseError>(text, Path::new("h.edn"), |op, line| {
            streamed.0.push(op);
            streamed.1.push(line);
            Ok(())
        });
        assert_eq!(ended.unwrap(), Streamed::Whole);
        assert_eq!((streamed.0, streamed.1), (whole.ops, whole.lines));
        let no_process = "{:type :ok, :value [[:append :x 1]]}\n";
        let ended = stream_edn::<ParseError>(no_process, Path::new("h.edn"), |_, _| Ok(()));
        assert_eq!(ended.unwrap(), Streamed::NeedsWholeFile);
        let bad = "{:process 0, :type :ok, :value [[:append :x 1]]}\n{:process 0 :type :done}\n";
        let err = stream_edn::<ParseError>(bad, Path::new("h.edn"), |_, _| Ok(())).unwrap_err();
        assert!(err.to_string().starts_with("h.edn:2: :type must be"), "{err}");
    }

    #[test]
    fn jsonl_lines_skip_blank_lines() {
        let text = "\n{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n\n{\"type\":\"ok\",\"process\":0,\"f\":\"read\"}\n";
        let h = import_str(text, Path::new("h.jsonl"), None, None).unwrap();
        assert_eq!(h.lines, vec![2, 4]);
    }

    #[test]
    fn a_file_with_no_client_operation_is_not_a_history() {
        for (text, format) in [("", Some(Format::Jsonl)), ("[]", None), ("# faultline\n\nSome prose.\n", Some(Format::PorcupineEtcd)), ("{:type :info, :process :nemesis, :f :start}", None)] {
            let err = import_str(text, Path::new("x"), format, None).unwrap_err();
            assert!(err.to_string().contains("no client operations") || err.to_string().contains("cannot tell the format"), "{text:?}: {err}");
        }
    }

    #[test]
    fn unknown_format_is_an_error() {
        let err = import_str("hello", Path::new("x.txt"), None, None).unwrap_err();
        assert!(err.to_string().starts_with("x.txt:1: cannot tell the format"), "{err}");
    }
}
