//! Jepsen `history.edn`: conversion of EDN op maps to [`Op`]s, and back.

use super::edn::{write_json_as_edn, Edn, Reader};
use super::{Format, Imported};
use faultline_history::{Op, ParseError, Process, Value};
use std::path::Path;

/// Parses Jepsen EDN history text: a sequence of op maps (or records), or vectors of them.
pub(super) fn parse(text: &str, path: &Path) -> Result<Imported, ParseError> {
    let mut ops = Vec::new();
    let mut lines = Vec::new();
    each_form(text, path, |line, m| {
        ops.push(op_from_edn(&m).map_err(|msg| ParseError::malformed(path, line, msg))?);
        lines.push(line);
        Ok::<bool, ParseError>(true)
    })?;
    let (ops, lines) = super::pair_up(ops, lines);
    Ok(Imported { ops, lines, format: Format::Edn, initial_value: Value::Null, single_key: false })
}

/// Hands every top-level form of EDN history text, with its line, to `each` until it
/// returns false; true when the text ended. A file may be op maps one after another,
/// or lists or vectors of them (one for the whole file, as Knossos's test data, or one
/// a line): each op keeps its own line.
pub(super) fn each_form<E: From<ParseError>>(text: &str, path: &Path, mut each: impl FnMut(usize, Edn) -> Result<bool, E>) -> Result<bool, E> {
    let mut reader = Reader::new(text);
    let syntax = |e: super::edn::EdnError| ParseError::malformed(path, e.line, e.message);
    loop {
        if let Some((close, opened)) = reader.enter_seq().map_err(syntax)? {
            while let Some((line, m)) = reader.next_item(close, opened).map_err(syntax)? {
                if !each(line, m)? {
                    return Ok(false);
                }
            }
            continue;
        }
        match reader.next_form().map_err(syntax)? {
            Some((line, m)) => {
                if !each(line, m)? {
                    return Ok(false);
                }
            }
            None => return Ok(true),
        }
    }
}

/// Converts one Jepsen op map (see [`super::op_from_json`]).
pub(super) fn op_from_edn(m: &Edn) -> Result<super::LooseOp, String> {
    if !matches!(m, Edn::Map(_) | Edn::Tagged(_, _)) {
        return Err(format!("expected an operation map, got {}", m.to_json()));
    }
    super::op_from_json(&m.to_json())
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
    use faultline_history::OpType;
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
    fn ops_inside_one_vector_keep_their_lines_and_deep_nesting_is_refused() {
        let text = "[{:type :invoke, :process 0, :f :read}\n {:type :ok, :process 0, :f :read, :value 1}\n {:type :done, :process 0, :f :read}]\n";
        let err = parse(text, Path::new("k.edn")).unwrap_err();
        assert_eq!(err.to_string(), "k.edn:3: :type must be :invoke, :ok, :fail or :info, got :done");
        let list = parse("(\n{:type :invoke, :process 0, :f :read}\n{:type :ok, :process 0, :f :read, :value 1})", Path::new("l.edn")).unwrap();
        assert_eq!(list.lines, vec![2, 3]);
        for deep in [format!("{}1{}", "[".repeat(14_000), "]".repeat(14_000)), "#_".repeat(14_000) + "1", format!("{{:value {}}}", "#{".repeat(14_000))] {
            let err = parse(&deep, Path::new("deep.edn")).unwrap_err();
            assert!(err.to_string().contains("nested more than 128 levels deep"), "{err}");
        }
        let err = parse("[{:type :invoke, :process 0, :f :read}\n", Path::new("open.edn")).unwrap_err();
        assert_eq!(err.to_string(), "open.edn:1: '[' opened here is never closed");
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
