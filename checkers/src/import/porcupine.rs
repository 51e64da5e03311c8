//! Porcupine's two log formats: Jepsen-etcd text logs and EDN-per-line kv logs.

use super::edn::Reader;
use super::{Format, Imported};
use faultline_history::{Op, OpType, ParseError, Process, Value};
use std::path::Path;

/// Parses `INFO  jepsen.util - <process>\t:<type>\t:<f>\t<value>` lines. Values are bare
/// (one register); `nil` reads are key-absent reads in Porcupine's etcd model. Lines
/// that are not operation lines (other log output) are skipped.
pub(super) fn parse_etcd(text: &str, path: &Path) -> Result<Imported, ParseError> {
    let mut ops = Vec::new();
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some((_, rest)) = line.split_once("jepsen.util - ") else { continue };
        let bad = |msg: String| ParseError::malformed(path, n + 1, msg);
        // Fields are tab-separated; some logs have runs of spaces instead.
        let mut fields: Vec<&str> = rest.splitn(4, '\t').collect();
        if fields.len() < 4 {
            fields = split_whitespace_n(rest, 4);
        }
        let [process, kind, f, value] = fields[..] else {
            return Err(bad(format!("expected 4 fields separated by tabs or spaces (process, type, f, value), got {}", fields.len())));
        };
        let process = match process.trim() {
            ":nemesis" => Process::Nemesis,
            p => Process::Client(p.parse().map_err(|_| bad(format!("process must be a number or :nemesis, got {p:?}")))?),
        };
        let kind = match kind.trim() {
            ":invoke" => OpType::Invoke,
            ":ok" => OpType::Ok,
            ":fail" => OpType::Fail,
            ":info" => OpType::Info,
            other => return Err(bad(format!("type must be :invoke, :ok, :fail or :info, got {other:?}"))),
        };
        let f = f.trim().trim_start_matches(':');
        let mut reader = Reader::new(value.trim());
        let value = match reader.next_form().map_err(|e| bad(format!("bad value: {}", e.message)))? {
            Some((_, v)) => v.to_json(),
            None => Value::Null,
        };
        let mut op = Op::new(kind, process, f, value);
        op.index = ops.len() as u64;
        ops.push(op);
        lines.push(n + 1);
    }
    Ok(Imported { ops, lines, format: Format::PorcupineEtcd, initial_value: Value::Null, single_key: true })
}

/// The first `n - 1` whitespace-separated words of `text` and the rest after them.
fn split_whitespace_n(text: &str, n: usize) -> Vec<&str> {
    let mut out = Vec::with_capacity(n);
    let mut rest = text.trim_start();
    while out.len() + 1 < n && !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        out.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Parses `{:process 0, :type :invoke, :f :get, :key "1", :value nil}` lines into kv ops
/// `get`/`put`/`append` on `[key, value]`. Porcupine's kv model starts every key at `""`.
pub(super) fn parse_kv(text: &str, path: &Path) -> Result<Imported, ParseError> {
    let mut reader = Reader::new(text);
    let mut ops = Vec::new();
    let mut lines = Vec::new();
    while let Some((line, form)) = reader.next_form().map_err(|e| ParseError::malformed(path, e.line, e.message))? {
        let loose = super::jepsen::op_from_edn(&form).map_err(|m| ParseError::malformed(path, line, m))?;
        if !loose.has_process {
            return Err(ParseError::malformed(path, line, "kv operation has no :process"));
        }
        let mut op = loose.op;
        let key = match form.get("key") {
            Some(k) => k.to_json(),
            None => return Err(ParseError::malformed(path, line, "kv operation has no :key")),
        };
        if !matches!(op.f.as_str(), "get" | "put" | "append") {
            return Err(ParseError::malformed(path, line, format!(":f must be :get, :put or :append, got :{}", op.f)));
        }
        op.value = Value::Array(vec![key, op.value]);
        op.index = ops.len() as u64;
        ops.push(op);
        lines.push(line);
    }
    Ok(Imported { ops, lines, format: Format::PorcupineKv, initial_value: Value::String(String::new()), single_key: false })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_etcd_logs() {
        let text = "INFO  jepsen.util - 0\t:invoke\t:cas\t[3 0]\nsome other log line\nINFO  jepsen.util - 0\t:info\t:cas\t:timed-out\nINFO  jepsen.util - :nemesis\t:info\t:start\tnil\n";
        let h = parse_etcd(text, Path::new("etcd.log")).unwrap();
        assert_eq!(h.ops.len(), 3);
        assert_eq!(h.lines, vec![1, 3, 4]);
        assert_eq!(h.ops[0].value, json!([3, 0]));
        assert_eq!(h.ops[1].value, json!("timed-out"));
        assert_eq!(h.ops[2].process, Process::Nemesis);
        let err = parse_etcd("INFO  jepsen.util - x\t:ok\t:read\t1\n", Path::new("etcd.log")).unwrap_err();
        assert_eq!(err.to_string(), "etcd.log:1: process must be a number or :nemesis, got \"x\"");
        let err = parse_etcd("INFO  jepsen.util - 1\t:ok\n", Path::new("etcd.log")).unwrap_err();
        assert!(err.to_string().contains("4 fields separated by tabs or spaces"), "{err}");
        let spaced = parse_etcd("INFO  jepsen.util - 4   :invoke  :cas    [1 2]\nINFO  jepsen.util - 4 :ok :cas [1 2]\n", Path::new("etcd.log")).unwrap();
        assert_eq!((spaced.ops[0].f.as_str(), &spaced.ops[0].value, spaced.ops[1].kind), ("cas", &json!([1, 2]), OpType::Ok));
    }

    #[test]
    fn reads_kv_logs() {
        let text = "{:process 1, :type :invoke, :f :append, :key \"3\", :value \"x 1 0 y\"}\n{:process 1, :type :ok, :f :append, :key \"3\", :value \"x 1 0 y\"}\n";
        let h = parse_kv(text, Path::new("kv.txt")).unwrap();
        assert_eq!(h.ops[0].value, json!(["3", "x 1 0 y"]));
        assert_eq!(h.initial_value, json!(""));
        let err = parse_kv("{:process 1, :type :invoke, :f :del, :key \"3\"}", Path::new("kv.txt")).unwrap_err();
        assert!(err.to_string().starts_with("kv.txt:1: :f must be"), "{err}");
    }
}
