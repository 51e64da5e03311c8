//! Maelstrom's wire format (its doc/protocol.md): one JSON object per line,
//! `{src, dest, body}`, with `body.type`, `body.msg_id` and `body.in_reply_to`; errors
//! are `{type: "error", code, text}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The services a node may call, answered by the controller.
pub const SERVICES: [&str; 4] = ["lin-kv", "seq-kv", "lww-kv", "lin-tso"];

/// Who the shim speaks as when it initialises its node (its answers are the shim's).
pub const SHIM_CLIENT: &str = "c0";

/// A message, its body kept whole so nothing a node sends is lost on the way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Sender: a node (`n1`), a client (`c1`) or a service (`lin-kv`).
    pub src: String,
    /// Receiver.
    pub dest: String,
    /// `type`, `msg_id`, `in_reply_to` and the type's own fields.
    pub body: Map<String, Value>,
}

impl Message {
    /// A message from `src` to `dest` with `body` (an object; anything else is wrapped
    /// as an empty body).
    pub fn new(src: &str, dest: &str, body: Value) -> Message {
        Message { src: src.to_owned(), dest: dest.to_owned(), body: body_of(body) }
    }

    /// Parses one line.
    pub fn parse(line: &str) -> Result<Message, String> {
        serde_json::from_str(line).map_err(|e| format!("not a Maelstrom message ({e}): {}", clip(line)))
    }

    /// One line of JSON, without the newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The body's `type`.
    pub fn kind(&self) -> &str {
        self.body.get("type").and_then(Value::as_str).unwrap_or("")
    }

    /// The body's `msg_id`.
    pub fn msg_id(&self) -> Option<u64> {
        self.body.get("msg_id").and_then(Value::as_u64)
    }

    /// The body's `in_reply_to`.
    pub fn in_reply_to(&self) -> Option<u64> {
        self.body.get("in_reply_to").and_then(Value::as_u64)
    }

    /// The answer to this message: `body` from its receiver back to its sender.
    pub fn reply(&self, mut body: Map<String, Value>) -> Message {
        if let Some(id) = self.msg_id() {
            body.insert("in_reply_to".into(), id.into());
        }
        Message { src: self.dest.clone(), dest: self.src.clone(), body }
    }

    /// Whether `dest` is a node (`n` and digits), as opposed to a client or a service.
    pub fn is_node(name: &str) -> bool {
        name.len() > 1 && name.starts_with('n') && name[1..].bytes().all(|b| b.is_ascii_digit())
    }
}

/// A body from a JSON value: its fields if it is an object (the `json!` literals that
/// build bodies always are), else none.
pub fn body_of(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// An error body.
pub fn error(code: u64, text: impl Into<String>) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("type".into(), "error".into());
    body.insert("code".into(), code.into());
    body.insert("text".into(), Value::String(text.into()));
    body
}

/// Maelstrom's error codes.
pub mod code {
    /// The request timed out (indefinite).
    pub const TIMEOUT: u64 = 0;
    /// The operation is not supported.
    pub const NOT_SUPPORTED: u64 = 10;
    /// The request was malformed.
    pub const MALFORMED_REQUEST: u64 = 12;
    /// The key does not exist.
    pub const KEY_DOES_NOT_EXIST: u64 = 20;
    /// A compare-and-set's precondition failed.
    pub const PRECONDITION_FAILED: u64 = 22;
}

/// Whether an error code says the operation certainly did not happen (Maelstrom's
/// definite errors: 1, 10, 11, 12, 14, 20, 21, 22, 30); any other code (0 timeout, 13
/// crash, custom codes from 1000) leaves it unknown.
pub fn definite(code: u64) -> bool {
    matches!(code, 1 | 10 | 11 | 12 | 14 | 20 | 21 | 22 | 30)
}

/// The first 200 characters of `line`, for error messages.
pub fn clip(line: &str) -> String {
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_message_round_trips_and_replies_to_its_sender() {
        let m = Message::parse(r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":7,"echo":"hi","extra":[1]}}"#).unwrap();
        assert_eq!((m.kind(), m.msg_id(), m.in_reply_to()), ("echo", Some(7), None));
        assert_eq!(Message::parse(&m.to_line()).unwrap(), m);
        let r = m.reply(json!({"type": "echo_ok", "echo": "hi"}).as_object().unwrap().clone());
        assert_eq!((r.src.as_str(), r.dest.as_str(), r.in_reply_to()), ("n1", "c1", Some(7)));
        assert!(Message::parse("{\"src\": 1}").unwrap_err().contains("not a Maelstrom message"));
        assert!(Message::is_node("n12") && !Message::is_node("c1") && !Message::is_node("lin-kv") && !Message::is_node("n"));
    }

    #[test]
    fn definite_codes_are_maelstroms() {
        assert!([1, 10, 11, 12, 14, 20, 21, 22, 30].iter().all(|c| definite(*c)));
        assert!([0, 13, 1000, 5].iter().all(|c| !definite(*c)));
    }
}
