//! Jepsen's and elle-cli's JSON histories: one JSON array of op objects, or one
//! object a line, with `"ok"` or `":ok"` spellings (keywords written as strings, with
//! or without their colon), `"f"` sometimes missing (a transaction), `"process"`
//! sometimes missing. Each op keeps the line it starts on, inside an array too.

use super::{Format, Imported};
use faultline_history::{json_error, ParseError, Value};
use std::path::Path;

/// Parses Jepsen JSON text (an array, or an object a line).
pub(super) fn parse(text: &str, path: &Path) -> Result<Imported, ParseError> {
    let mut ops = Vec::new();
    let mut lines = Vec::new();
    let mut add = |line: usize, v: Value| -> Result<(), ParseError> {
        let op = super::op_from_json(&v).map_err(|m| ParseError::malformed(path, line, m))?;
        ops.push(op);
        lines.push(line);
        Ok(())
    };
    let body = text.trim_start();
    if let Some(items) = body.strip_prefix('[') {
        let mut line = 1 + text[..text.len() - body.len()].matches('\n').count();
        let mut rest = items;
        loop {
            let skipped = rest.len() - rest.trim_start().len();
            line += rest[..skipped].matches('\n').count();
            rest = &rest[skipped..];
            match rest.chars().next() {
                None => return Err(ParseError::malformed(path, line, "the array is never closed with ']'")),
                Some(']') => break,
                Some(_) => {}
            }
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            let value = match stream.next() {
                Some(Ok(v)) => v,
                Some(Err(e)) => return Err(ParseError::malformed(path, line + e.line() - 1, json_error(&e))),
                None => return Err(ParseError::malformed(path, line, "the array is never closed with ']'")),
            };
            let used = stream.byte_offset();
            add(line, value)?;
            line += rest[..used].matches('\n').count();
            rest = rest[used..].trim_start_matches([' ', '\t', '\r']);
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            }
        }
    } else {
        for (n, text_line) in text.lines().enumerate() {
            if text_line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(text_line).map_err(|e| ParseError::malformed(path, n + 1, json_error(&e)))?;
            add(n + 1, value)?;
        }
    }
    let (ops, lines) = super::pair_up(ops, lines);
    Ok(Imported { ops, lines, format: Format::JepsenJson, initial_value: Value::Null, single_key: false })
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::{OpType, Process};
    use serde_json::json;

    #[test]
    fn reads_an_elle_cli_array_with_either_spelling() {
        let text = "[{\"type\":\"invoke\",\"f\":\"txn\",\"value\":[[\"append\",\"x\",1]],\"process\":0,\"index\":1},\n \
                    {\"type\":\":ok\",\"f\":\":txn\",\"value\":[[\":append\",\"x\",1]],\"process\":0,\"index\":2},\n \
                    {\"type\":\"ok\",\"value\":[[\"r\",\"x\",[1]]]}]";
        let h = parse(text, Path::new("e.json")).unwrap();
        assert_eq!(h.ops.len(), 4, "the lone completion gets an invocation: {:?}", h.ops);
        assert_eq!(h.lines, vec![1, 2, 3, 3]);
        assert_eq!(h.ops[1].kind, OpType::Ok);
        assert_eq!(h.ops[1].value, json!([["append", "x", 1]]), "micro-op names lose their colon");
        assert_eq!((h.ops[2].kind, h.ops[2].f.as_str(), h.ops[2].process), (OpType::Invoke, "txn", Process::Client(1)), "no process: a process of its own");
        assert_eq!((h.ops[3].kind, h.ops[3].process), (OpType::Ok, Process::Client(1)));
    }

    #[test]
    fn reads_an_object_a_line_and_names_the_bad_line() {
        let text = "{\"type\":\"invoke\",\"f\":\"read\",\"process\":0}\n\n{\"type\":\"ok\",\"f\":\"read\",\"process\":0,\"value\":3}\n";
        assert_eq!(parse(text, Path::new("h.json")).unwrap().lines, vec![1, 3]);
        let err = parse("{\"type\":\"invoke\",\"f\":\"read\",\"process\":0}\n{\"type\":\"done\",\"process\":0,\"f\":\"read\"}\n", Path::new("h.json")).unwrap_err();
        assert_eq!(err.to_string(), "h.json:2: :type must be :invoke, :ok, :fail or :info, got :done");
        let err = parse("[{\"type\":\"invoke\",\"f\":\"read\",\"process\":0},\n{\"type\":", Path::new("a.json")).unwrap_err();
        assert!(err.to_string().starts_with("a.json:2: invalid JSON"), "{err}");
    }
}
