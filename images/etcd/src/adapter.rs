//! The adapter for etcd 3.4 through its JSON gateway (`POST /v3/kv/range|put|txn`,
//! keys and values base64). Values are stored as JSON text, so every workload's values
//! round-trip.
//!
//! How each transaction runs, with no hidden retry (each attempt is its own operation):
//! - one read: a `range` (with `serializable: true` when asked: a local, possibly
//!   stale read);
//! - one blind write: a `put`;
//! - one cas: a `txn` comparing the key's value (or, for an expected null, that the
//!   key was never created), then a `put`;
//! - anything else (list-append, rw-register, set and counter updates, bank
//!   transfers): a `txn` of ranges reads every key at one revision; the micro-ops are
//!   applied to those values with the same meaning as on the reference nodes; a
//!   read-only transaction ends there; otherwise one `txn` commits the new values
//!   guarded on every key's `mod_revision` being unchanged. A guard that fails means
//!   nothing was written: the operation fails.
//!
//! Errors: a refused connection or an error that proves nothing happened (no leader,
//! too many requests, a failed guard or cas) is `fail`; reads that fail are `fail`
//! (they change nothing); a timeout or any other error during a write is `info`.

use faultline_workloads::adapter::{Adapter, BoxFuture, LeaderQuery, Role, TxnOutcome};
use faultline_workloads::http::{NodeClient, RequestError};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use faultline_history::micro_op::MicroOp;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// etcd's client API on each node.
pub struct EtcdApi {
    client: NodeClient,
    addrs: HashMap<String, String>,
    serializable_reads: bool,
}

/// etcd error messages that prove the request did not take effect.
const DEFINITE: [&str; 5] = ["no leader", "too many requests", "request is too large", "duplicate key", "not capable"];

fn b64(text: &str) -> String {
    B64.encode(text.as_bytes())
}

/// A key's value as JSON, from a range response's key-value (absent: null).
fn decode_value(kv: Option<&Value>) -> Result<Value, String> {
    let Some(encoded) = kv.and_then(|kv| kv["value"].as_str()) else { return Ok(Value::Null) };
    let bytes = B64.decode(encoded).map_err(|e| format!("etcd sent a value that is not base64: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("etcd holds a value faultline did not write ({e}): {}", String::from_utf8_lossy(&bytes)))
}

/// The gateway writes 64-bit integers as strings.
fn revision(kv: Option<&Value>) -> u64 {
    kv.and_then(|kv| kv["mod_revision"].as_str()).and_then(|r| r.parse().ok()).unwrap_or(0)
}

/// The request body that compares a key's value to `expected` (null: the key does not exist).
fn value_compare(key: &str, expected: &Value) -> Value {
    match expected {
        Value::Null => json!({"target": "CREATE", "key": b64(key), "create_revision": "0", "result": "EQUAL"}),
        v => json!({"target": "VALUE", "key": b64(key), "value": b64(&v.to_string()), "result": "EQUAL"}),
    }
}

fn put(key: &str, value: &Value) -> Value {
    json!({"request_put": {"key": b64(key), "value": b64(&value.to_string())}})
}

/// What an answer means: the body of a 200, or the outcome an error stands for.
/// `writes`: whether the request could have changed anything.
fn answer(result: Result<(u16, Value), RequestError>, writes: bool) -> Result<Value, TxnOutcome> {
    match result {
        Ok((200, body)) => Ok(body),
        Ok((status, body)) => {
            let message = body["message"].as_str().or(body["error"].as_str()).map_or_else(|| format!("HTTP {status}: {body}"), str::to_owned);
            if !writes || DEFINITE.iter().any(|d| message.contains(d)) {
                Err(TxnOutcome::Fail(message))
            } else {
                Err(TxnOutcome::Info(message))
            }
        }
        Err(e) if e.not_sent || !writes => Err(TxnOutcome::Fail(e.message)),
        Err(e) => Err(TxnOutcome::Info(e.message)),
    }
}

/// The micro-ops of a transaction, parsed; a malformed one fails the operation.
fn parse(ops: &[Value]) -> Result<Vec<MicroOp>, TxnOutcome> {
    ops.iter().map(|m| MicroOp::from_value(m).map_err(TxnOutcome::Fail)).collect()
}

/// Applies micro-ops to what was read: their results and the keys' new values, or a
/// failure (a cas that does not match, a type mismatch): nothing is written.
fn apply(ops: &[MicroOp], read: &BTreeMap<String, (Value, u64)>) -> Result<(Vec<Value>, BTreeMap<String, Value>), TxnOutcome> {
    let mut now: BTreeMap<String, Value> = read.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect();
    let mut written = BTreeMap::new();
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let current = now.get(op.key()).cloned().unwrap_or(Value::Null);
        let (value, result) = op.apply(&current).map_err(|e| TxnOutcome::Fail(e.to_string()))?;
        if !op.is_read() {
            written.insert(op.key().to_owned(), value.clone());
            now.insert(op.key().to_owned(), value);
        }
        results.push(result);
    }
    Ok((results, written))
}

impl EtcdApi {
    /// Nodes by name → `ip:port` of etcd's client URL; every request gives up after
    /// `timeout`; `serializable_reads` sends reads as etcd's local serializable reads.
    pub fn new(addrs: HashMap<String, String>, timeout: Duration, serializable_reads: bool) -> EtcdApi {
        EtcdApi { client: NodeClient::new(timeout), addrs, serializable_reads }
    }

    async fn post(&self, node: &str, path: &str, body: &Value, writes: bool) -> Result<Value, TxnOutcome> {
        let Some(addr) = self.addrs.get(node) else { return Err(TxnOutcome::Fail(format!("unknown node {node}"))) };
        answer(self.client.post_json(&format!("http://{addr}{path}"), body).await, writes)
    }

    async fn run(&self, node: &str, ops: &[MicroOp]) -> Result<Vec<Value>, TxnOutcome> {
        match ops {
            [MicroOp::Read(k)] => {
                let body = self.post(node, "/v3/kv/range", &json!({"key": b64(k), "serializable": self.serializable_reads}), false).await?;
                let value = decode_value(body["kvs"].get(0)).map_err(TxnOutcome::Info)?;
                Ok(vec![json!(["r", k, value])])
            }
            [MicroOp::Write(k, v)] => {
                self.post(node, "/v3/kv/put", &json!({"key": b64(k), "value": b64(&v.to_string())}), true).await?;
                Ok(vec![json!(["w", k, v])])
            }
            [MicroOp::Cas(k, old, new)] => {
                let body = self.post(node, "/v3/kv/txn", &json!({"compare": [value_compare(k, old)], "success": [put(k, new)]}), true).await?;
                // The gateway leaves out false booleans.
                if body["succeeded"] == true {
                    Ok(vec![json!(["cas", k, [old, new]])])
                } else {
                    Err(TxnOutcome::Fail(format!("cas-mismatch: key {k} does not hold {old}")))
                }
            }
            _ => self.read_modify_write(node, ops).await,
        }
    }

    /// Reads every key at one revision, applies the micro-ops, and commits the new
    /// values guarded on the keys' revisions.
    async fn read_modify_write(&self, node: &str, ops: &[MicroOp]) -> Result<Vec<Value>, TxnOutcome> {
        let mut keys: Vec<&str> = ops.iter().map(MicroOp::key).collect();
        keys.sort_unstable();
        keys.dedup();
        let ranges: Vec<Value> = keys.iter().map(|k| json!({"request_range": {"key": b64(k), "serializable": self.serializable_reads}})).collect();
        let snapshot = self.post(node, "/v3/kv/txn", &json!({"success": ranges}), false).await?;
        let mut read = BTreeMap::new();
        for (i, k) in keys.iter().enumerate() {
            let kv = snapshot["responses"].get(i).and_then(|r| r["response_range"]["kvs"].get(0));
            read.insert((*k).to_owned(), (decode_value(kv).map_err(TxnOutcome::Fail)?, revision(kv)));
        }
        let (results, written) = apply(ops, &read)?;
        if written.is_empty() {
            return Ok(results);
        }
        let guards: Vec<Value> = read.iter().map(|(k, (_, rev))| json!({"target": "MOD", "key": b64(k), "mod_revision": rev.to_string(), "result": "EQUAL"})).collect();
        let puts: Vec<Value> = written.iter().map(|(k, v)| put(k, v)).collect();
        let commit = self.post(node, "/v3/kv/txn", &json!({"compare": guards, "success": puts}), true).await?;
        if commit["succeeded"] == true {
            Ok(results)
        } else {
            Err(TxnOutcome::Fail("conflict: a key changed between the read and the commit; nothing was written".into()))
        }
    }
}

impl Adapter for EtcdApi {
    fn txn<'a>(&'a self, node: &'a str, _client: &'a str, _seq: u64, ops: Vec<Value>) -> BoxFuture<'a, TxnOutcome> {
        Box::pin(async move {
            let ops = match parse(&ops) {
                Ok(ops) => ops,
                Err(e) => return e,
            };
            match self.run(node, &ops).await {
                Ok(results) => TxnOutcome::Ok(results),
                Err(outcome) => outcome,
            }
        })
    }
}

impl LeaderQuery for EtcdApi {
    /// From `/v3/maintenance/status`: a node leads when the leader's member id is its
    /// own; the term is etcd's Raft term.
    fn role<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Role, String>> {
        Box::pin(async move {
            let body = self.post(node, "/v3/maintenance/status", &json!({}), false).await.map_err(|o| match o {
                TxnOutcome::Fail(why) | TxnOutcome::Info(why) => why,
                TxnOutcome::Ok(_) => "unexpected answer".to_owned(),
            })?;
            let me = body["header"]["member_id"].as_str().unwrap_or("");
            let leads = !me.is_empty() && body["leader"].as_str() == Some(me);
            let term = body["raftTerm"].as_str().or(body["header"]["raft_term"].as_str()).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
            // etcd's status does not say whether a member is a candidate.
            Ok(Role { leads, term, campaigning: false, voted: None })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(value: &Value, rev: u64) -> Value {
        json!({"key": b64("k"), "value": b64(&value.to_string()), "mod_revision": rev.to_string()})
    }

    #[test]
    fn values_round_trip_as_base64_json() {
        let stored = kv(&json!([1, 2, 3]), 7);
        assert_eq!(decode_value(Some(&stored)).unwrap(), json!([1, 2, 3]));
        assert_eq!(revision(Some(&stored)), 7);
        assert_eq!(decode_value(None).unwrap(), Value::Null, "a missing key reads as null");
        assert_eq!(revision(None), 0, "and guards on revision 0");
        assert!(decode_value(Some(&json!({"value": b64("not json")}))).unwrap_err().contains("did not write"));
    }

    #[test]
    fn micro_ops_apply_to_what_was_read() {
        let read = BTreeMap::from([("l".to_owned(), (json!([1]), 3)), ("c".to_owned(), (Value::Null, 0))]);
        let ops = parse(&[json!(["append", "l", 2]), json!(["r", "l", null]), json!(["incr", "c", 5])]).unwrap();
        let (results, written) = apply(&ops, &read).unwrap();
        assert_eq!(results, [json!(["append", "l", 2]), json!(["r", "l", [1, 2]]), json!(["incr", "c", 5])], "a read sees the transaction's own append");
        assert_eq!(written, BTreeMap::from([("l".to_owned(), json!([1, 2])), ("c".to_owned(), json!(5))]));
        let cas = parse(&[json!(["cas", "l", [[9], [10]]])]).unwrap();
        assert!(matches!(apply(&cas, &read), Err(TxnOutcome::Fail(e)) if e.contains("cas-mismatch")));
        let reads = parse(&[json!(["r", "l", null])]).unwrap();
        assert!(apply(&reads, &read).unwrap().1.is_empty(), "a read-only transaction writes nothing");
    }

    #[test]
    fn errors_map_to_fail_or_info() {
        let err = |status: u16, message: &str| Ok((status, json!({"error": message, "message": message, "code": 14})));
        assert_eq!(answer(err(503, "etcdserver: no leader"), true), Err(TxnOutcome::Fail("etcdserver: no leader".into())));
        assert_eq!(answer(err(503, "etcdserver: request timed out"), true), Err(TxnOutcome::Info("etcdserver: request timed out".into())));
        assert_eq!(answer(err(503, "etcdserver: request timed out"), false), Err(TxnOutcome::Fail("etcdserver: request timed out".into())), "a read that failed changed nothing");
        let lost = RequestError { message: "no answer within 2s".into(), not_sent: false };
        assert!(matches!(answer(Err(lost.clone()), true), Err(TxnOutcome::Info(_))));
        assert!(matches!(answer(Err(RequestError { not_sent: true, ..lost }), true), Err(TxnOutcome::Fail(_))));
        assert_eq!(answer(Ok((200, json!({"header": {}}))), true), Ok(json!({"header": {}})));
    }

    #[test]
    fn a_cas_on_null_compares_creation() {
        assert_eq!(value_compare("k", &Value::Null)["target"], "CREATE");
        assert_eq!(value_compare("k", &json!(3))["value"], b64("3"));
    }
}
