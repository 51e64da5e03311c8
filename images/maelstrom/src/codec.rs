//! How each Maelstrom workload's requests carry faultline's micro-ops, and how their
//! answers come back as micro-op results (`faultline_workloads` makes the micro-ops:
//! `["echo", null, text]`, `["generate", null, null]`, `["append", "set", v]` and
//! `["r", "set", null]` for the sets, `["incr", "counter", d]` and `["r", "counter",
//! null]` for the counters, `["r"|"w"|"cas", k, …]` for `lin-kv`, whole transactions
//! for the `txn-` workloads).

use crate::protocol::{body_of, code, definite};
use faultline_workloads::adapter::TxnOutcome;
use serde_json::{json, Map, Value};

/// A Maelstrom workload, as the adapter speaks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// `echo`.
    Echo,
    /// `unique-ids`.
    UniqueIds,
    /// `broadcast` (`broadcast`, `read` → `messages`).
    Broadcast,
    /// `g-set` (`add`, `read` → `value`).
    GSet,
    /// `g-counter` and `pn-counter` (`add {delta}`, `read` → `value`).
    Counter,
    /// `lin-kv` (`read`, `write`, `cas`).
    LinKv,
    /// `txn-list-append` and `txn-rw-register` (`txn {txn}`).
    Txn,
    /// `kafka`, whose requests depend on the client's state (`crate::kafka`).
    Kafka,
}

impl Codec {
    /// The codec of Maelstrom workload `name`.
    pub fn of(name: &str) -> Result<Codec, String> {
        Ok(match name {
            "echo" => Codec::Echo,
            "unique-ids" => Codec::UniqueIds,
            "broadcast" => Codec::Broadcast,
            "g-set" => Codec::GSet,
            "g-counter" | "pn-counter" => Codec::Counter,
            "lin-kv" => Codec::LinKv,
            "txn-list-append" | "txn-rw-register" => Codec::Txn,
            "kafka" => Codec::Kafka,
            other => return Err(format!("no Maelstrom workload {other:?}; one of {}", faultline_workloads::MAELSTROM.join(", "))),
        })
    }

    /// The request body (without `msg_id`) that runs `ops`.
    pub fn request(self, ops: &[Value]) -> Result<Map<String, Value>, String> {
        if self == Codec::Txn {
            return Ok(body_of(json!({"type": "txn", "txn": ops})));
        }
        let [op] = ops else { return Err(format!("a Maelstrom request carries one operation, not {}", ops.len())) };
        let (f, key, arg) = (op[0].as_str().unwrap_or(""), &op[1], &op[2]);
        let body = match (self, f) {
            (Codec::Echo, "echo") => json!({"type": "echo", "echo": arg}),
            (Codec::UniqueIds, "generate") => json!({"type": "generate"}),
            (Codec::Broadcast, "append") => json!({"type": "broadcast", "message": arg}),
            (Codec::GSet, "append") => json!({"type": "add", "element": arg}),
            (Codec::Counter, "incr") => json!({"type": "add", "delta": arg}),
            (Codec::Broadcast | Codec::GSet | Codec::Counter, "r") => json!({"type": "read"}),
            (Codec::LinKv, "r") => json!({"type": "read", "key": key}),
            (Codec::LinKv, "w") => json!({"type": "write", "key": key, "value": arg}),
            (Codec::LinKv, "cas") => json!({"type": "cas", "key": key, "from": arg[0], "to": arg[1]}),
            _ => return Err(format!("{self:?} has no operation {op} (kafka's requests are made by crate::kafka)")),
        };
        Ok(body_of(body))
    }

    /// What the answer `reply` to the request for `ops` says became of them.
    pub fn outcome(self, ops: &[Value], reply: &Map<String, Value>) -> TxnOutcome {
        let kind = reply.get("type").and_then(Value::as_str).unwrap_or("");
        // lin-kv: a read of a key never written is a read of nothing, as Maelstrom's checker has it.
        let missing = reply.get("code").and_then(Value::as_u64) == Some(code::KEY_DOES_NOT_EXIST);
        if self == Codec::LinKv && kind == "error" && missing && ops.first().is_some_and(|op| op[0] == "r") {
            return TxnOutcome::Ok(ops.to_vec());
        }
        if let Some(failed) = error_outcome(reply) {
            return failed;
        }
        let field = match (self, ops.first().and_then(|op| op[0].as_str())) {
            (Codec::Txn, _) => {
                return match reply.get("txn").and_then(Value::as_array) {
                    Some(txn) if kind == "txn_ok" && txn.len() == ops.len() => TxnOutcome::Ok(txn.clone()),
                    _ => TxnOutcome::Info(format!("unexpected answer to a txn: {}", Value::Object(reply.clone()))),
                };
            }
            (Codec::Echo, _) => Some("echo"),
            (Codec::UniqueIds, _) => Some("id"),
            (Codec::Broadcast, Some("r")) => Some("messages"),
            (_, Some("r")) => Some("value"),
            _ => None,
        };
        if !kind.ends_with("_ok") {
            return TxnOutcome::Info(format!("unexpected answer: {}", Value::Object(reply.clone())));
        }
        match field {
            None => TxnOutcome::Ok(ops.to_vec()),
            Some(name) => match reply.get(name) {
                Some(v) => TxnOutcome::Ok(vec![json!([ops[0][0], ops[0][1], v])]),
                None => TxnOutcome::Info(format!("{kind} without {name}")),
            },
        }
    }
}

/// An error answer's outcome, by Maelstrom's codes (`None` if it is no error).
pub fn error_outcome(reply: &Map<String, Value>) -> Option<TxnOutcome> {
    if reply.get("type").and_then(Value::as_str) != Some("error") {
        return None;
    }
    let code = reply.get("code").and_then(Value::as_u64).unwrap_or(u64::MAX);
    let why = format!("error {code}: {}", reply.get("text").and_then(Value::as_str).unwrap_or(""));
    Some(if definite(code) { TxnOutcome::Fail(why) } else { TxnOutcome::Info(why) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(v: Value) -> Map<String, Value> {
        body_of(v)
    }

    #[test]
    fn requests_carry_the_micro_ops() {
        let req = |c: Codec, op: Value| Value::Object(c.request(&[op]).unwrap());
        assert_eq!(req(Codec::Echo, json!(["echo", null, "hi"])), json!({"type": "echo", "echo": "hi"}));
        assert_eq!(req(Codec::Broadcast, json!(["append", "set", 4])), json!({"type": "broadcast", "message": 4}));
        assert_eq!(req(Codec::GSet, json!(["append", "set", 4])), json!({"type": "add", "element": 4}));
        assert_eq!(req(Codec::Counter, json!(["incr", "counter", -2])), json!({"type": "add", "delta": -2}));
        assert_eq!(req(Codec::LinKv, json!(["cas", "r1", [1, 2]])), json!({"type": "cas", "key": "r1", "from": 1, "to": 2}));
        let txn = [json!(["append", "k1", 3]), json!(["r", "k2", null])];
        assert_eq!(Value::Object(Codec::Txn.request(&txn).unwrap()), json!({"type": "txn", "txn": txn}));
        assert!(Codec::Echo.request(&[json!(["r", "x", null])]).is_err());
        assert!(Codec::LinKv.request(&txn).is_err());
        assert!(Codec::of("redis").unwrap_err().contains("one of echo"));
    }

    #[test]
    fn answers_become_outcomes_with_maelstroms_error_meaning() {
        let read = [json!(["r", "set", null])];
        assert_eq!(Codec::Broadcast.outcome(&read, &ok(json!({"type": "read_ok", "messages": [1, 2]}))), TxnOutcome::Ok(vec![json!(["r", "set", [1, 2]])]));
        assert_eq!(Codec::UniqueIds.outcome(&[json!(["generate", null, null])], &ok(json!({"type": "generate_ok", "id": "n1-4"}))), TxnOutcome::Ok(vec![json!(["generate", null, "n1-4"])]));
        let kv_read = [json!(["r", "r1", null])];
        assert_eq!(Codec::LinKv.outcome(&kv_read, &ok(json!({"type": "error", "code": 20, "text": "no key"}))), TxnOutcome::Ok(kv_read.to_vec()));
        let cas = [json!(["cas", "r1", [1, 2]])];
        assert!(matches!(Codec::LinKv.outcome(&cas, &ok(json!({"type": "error", "code": 22}))), TxnOutcome::Fail(_)));
        assert!(matches!(Codec::LinKv.outcome(&cas, &ok(json!({"type": "error", "code": 0}))), TxnOutcome::Info(_)));
        assert!(matches!(Codec::LinKv.outcome(&cas, &ok(json!({"type": "error", "code": 1001}))), TxnOutcome::Info(_)));
        assert!(matches!(Codec::LinKv.outcome(&cas, &ok(json!({"type": "error", "code": 11}))), TxnOutcome::Fail(_)));
        assert_eq!(Codec::LinKv.outcome(&cas, &ok(json!({"type": "cas_ok"}))), TxnOutcome::Ok(cas.to_vec()));
        assert!(matches!(Codec::Echo.outcome(&[json!(["echo", null, "x"])], &ok(json!({"type": "echo_ok"}))), TxnOutcome::Info(_)));
        let txn = [json!(["append", "k", 1]), json!(["r", "k", null])];
        assert_eq!(Codec::Txn.outcome(&txn, &ok(json!({"type": "txn_ok", "txn": [["append", "k", 1], ["r", "k", [1]]]}))), TxnOutcome::Ok(vec![json!(["append", "k", 1]), json!(["r", "k", [1]])]));
        assert!(matches!(Codec::Txn.outcome(&txn, &ok(json!({"type": "error", "code": 30}))), TxnOutcome::Fail(_)));
    }
}
