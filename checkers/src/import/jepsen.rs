//! Jepsen `history.edn`: conversion of EDN op maps to [`Op`]s, and back.

use super::edn::{write_json_as_edn, Edn, Reader};
use super::{Format, Imported};
use faultline_history::{Op, OpType, ParseError, Process, Value};
use std::path::Path;

/// Parses Jepsen EDN history text: a sequence of op maps (or records), or vectors of them.
pub(super) fn parse(text: &str, path: &Path) -> Result<Imported, ParseError> {
    let mut reader = Reader::new(text);
    let mut ops = Vec::new();
    let mut lines = Vec::new();
    loop {
        let form = reader.next_form().map_err(|e| ParseError::malformed(path, e.line, e.message))?;
        let Some((line, form)) = form else { break };
        let maps = match form {
            Edn::Seq(items) => items,
            other => vec![other],
        };
        for m in maps {
            let mut op = op_from_edn(&m).map_err(|msg| ParseError::malformed(path, line, msg))?;
            if m.get("index").is_none() {
                op.index = ops.len() as u64;
            }
            ops.push(op);
            lines.push(line);
        }
    }
    Ok(Imported { ops, lines, format: Format::Edn, initial_value: Value::Null, single_key: false })
}

/// Converts one Jepsen op map.
pub(super) fn op_from_edn(m: &Edn) -> Result<Op, String> {
    if !matches!(m, Edn::Map(_) | Edn::Tagged(_, _)) {
        return Err(format!("expected an operation map, got {}", m.to_json()));
    }
    let kind = match m.get("type") {
        Some(Edn::Keyword(t)) => match t.as_str() {
            "invoke" => OpType::Invoke,
            "ok" => OpType::Ok,
            "fail" => OpType::Fail,
            "info" => OpType::Info,
            other => return Err(format!(":type must be :invoke, :ok, :fail or :info, got :{other}")),
        },
        Some(other) => return Err(format!(":type must be a keyword, got {}", other.to_json())),
        None => return Err("operation has no :type".into()),
    };
    let process = match m.get("process") {
        Some(Edn::Int(p)) if *p >= 0 => Process::Client(*p as u64),
        Some(Edn::Keyword(k)) if k == "nemesis" => Process::Nemesis,
        Some(other) => return Err(format!(":process must be a non-negative integer or :nemesis, got {}", other.to_json())),
        None => return Err("operation has no :process".into()),
    };
    let f = match m.get("f") {
        Some(Edn::Keyword(s) | Edn::Symbol(s) | Edn::Str(s)) => s.clone(),
        Some(other) => return Err(format!(":f must be a keyword, got {}", other.to_json())),
        None => return Err("operation has no :f".into()),
    };
    let mut op = Op::new(kind, process, f, m.get("value").map_or(Value::Null, Edn::to_json));
    match m.get("index") {
        Some(Edn::Int(i)) if *i >= 0 => op.index = *i as u64,
        Some(other) => return Err(format!(":index must be a non-negative integer, got {}", other.to_json())),
        None => {}
    }
    match m.get("time") {
        Some(Edn::Int(t)) => op.time = *t,
        Some(other) => return Err(format!(":time must be an integer, got {}", other.to_json())),
        None => {}
    }
    op.error = m.get("error").map(Edn::to_json);
    op.node = match m.get("node") {
        Some(Edn::Str(s) | Edn::Keyword(s)) => Some(s.clone()),
        _ => None,
    };
    Ok(op)
}

/// Writes operations as Jepsen `history.edn` text, one op map per line, so a history
/// can be cross-checked with Jepsen's own tools (Knossos, Elle). Types, functions,
/// `:nemesis` and transaction micro-op names become keywords.
pub fn to_jepsen_edn(ops: &[Op]) -> String {
    let mut out = String::with_capacity(ops.len() * 80);
    for op in ops {
        out.push_str(&format!("{{:index {}, :time {}, :type :{}, :process ", op.index, op.time, op.kind.as_str()));
        match op.process {
            Process::Client(p) => out.push_str(&p.to_string()),
            Process::Nemesis => out.push_str(":nemesis"),
        }
        out.push_str(", :f ");
        push_keyword(&op.f, &mut out);
        out.push_str(", :value ");
        if op.f == "txn" {
            write_txn(&op.value, &mut out);
        } else {
            write_json_as_edn(&op.value, &mut out);
        }
        if let Some(node) = &op.node {
            out.push_str(", :node ");
            write_json_as_edn(&Value::String(node.clone()), &mut out);
        }
        if let Some(error) = &op.error {
            out.push_str(", :error ");
            write_json_as_edn(error, &mut out);
        }
        out.push_str("}\n");
    }
    out
}

fn push_keyword(name: &str, out: &mut String) {
    if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || "-_?!*+./<>=".contains(c)) {
        out.push(':');
        out.push_str(name);
    } else {
        write_json_as_edn(&Value::String(name.to_owned()), out);
    }
}

/// Micro-ops `[["append", k, v], …]` become `[[:append k v] …]`.
fn write_txn(value: &Value, out: &mut String) {
    let Some(mops) = value.as_array() else { return write_json_as_edn(value, out) };
    out.push('[');
    for (i, mop) in mops.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match mop.as_array().map(Vec::as_slice) {
            Some([Value::String(f), rest @ ..]) => {
                out.push('[');
                push_keyword(f, out);
                for v in rest {
                    out.push(' ');
                    write_json_as_edn(v, out);
                }
                out.push(']');
            }
            _ => write_json_as_edn(mop, out),
        }
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_records_maps_and_vectors() {
        let text = "#jepsen.history.Op{:index 0, :time 5, :type :invoke, :process 0, :f :txn, :value [[:append 1 2]]}\n\
                    {:type :info, :process :nemesis, :f :start, :value \"partition\"}\n\
                    [{:type :invoke, :process 1, :f :read, :value nil} {:type :ok, :process 1, :f :read, :value 3}]\n";
        let h = parse(text, Path::new("h.edn")).unwrap();
        assert_eq!(h.ops.len(), 4);
        assert_eq!(h.lines, vec![1, 2, 3, 3]);
        assert_eq!(h.ops[0].value, json!([["append", 1, 2]]));
        assert_eq!(h.ops[1].process, Process::Nemesis);
        assert_eq!(h.ops[3].index, 3);
    }

    #[test]
    fn bad_ops_name_the_line() {
        let err = parse("{:type :invoke, :process 0, :f :read}\n{:type :done, :process 0, :f :read}\n", Path::new("h.edn")).unwrap_err();
        assert_eq!(err.to_string(), "h.edn:2: :type must be :invoke, :ok, :fail or :info, got :done");
        let err = parse("{:type :ok, :process \"x\", :f :read}", Path::new("h.edn")).unwrap_err();
        assert!(err.to_string().contains(":process must be"), "{err}");
    }

    #[test]
    fn exports_and_reimports_losslessly() {
        let mut a = Op::new(OpType::Invoke, Process::Client(3), "txn", json!([["append", 1, 2], ["r", 1, null]]));
        a.time = 7;
        let mut b = Op::new(OpType::Info, Process::Nemesis, "start-partition", json!({"n1": ["n2"]}));
        b.index = 1;
        b.error = Some(json!("boom"));
        b.node = Some("n1".into());
        let text = to_jepsen_edn(&[a.clone(), b.clone()]);
        assert!(text.starts_with("{:index 0, :time 7, :type :invoke, :process 3, :f :txn, :value [[:append 1 2] [:r 1 nil]]}"), "{text}");
        let back = parse(&text, Path::new("x")).unwrap();
        assert_eq!(back.ops, vec![a, b]);
    }
}
