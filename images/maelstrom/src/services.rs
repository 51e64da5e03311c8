//! Maelstrom's services, played by the controller (sans-IO: a request in, its answer
//! out; randomness from a seed): `lin-kv`, a linearizable key-value store; `seq-kv`,
//! sequentially consistent (each node sees a prefix of one global order of writes,
//! which only moves forward for it, so its reads may be stale); `lww-kv`, last-write-
//! wins replicas that merge now and then (reads may be stale and go back, concurrent
//! writes may be lost, as with Maelstrom's); and `lin-tso`, a timestamp oracle whose
//! `ts` answers only grow. All serve `read {key}`, `write {key, value}` and
//! `cas {key, from, to, create_if_not_exists}` (but `lin-tso`, which serves `ts`).

use crate::protocol::{body_of, code, error, Message};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The four services' state.
pub struct Services {
    lin: HashMap<String, Value>,
    seq: SeqKv,
    lww: LwwKv,
    tso: u64,
    rng: ChaCha8Rng,
    /// Requests answered, for the report's message counts.
    pub requests: u64,
}

/// A key-value request, parsed.
enum KvOp {
    Read,
    Write(Value),
    Cas { from: Value, to: Value, create: bool },
}

/// What a key-value request came to.
type KvResult = Result<Option<Value>, Map<String, Value>>;

impl Services {
    /// Fresh services whose random choices follow `seed`.
    pub fn new(seed: u64) -> Services {
        Services { lin: HashMap::new(), seq: SeqKv::default(), lww: LwwKv::new(3), tso: 0, rng: ChaCha8Rng::seed_from_u64(seed), requests: 0 }
    }

    /// The answer to `request`, addressed to its sender.
    pub fn handle(&mut self, request: &Message) -> Message {
        self.requests += 1;
        let body = self.answer(request);
        request.reply(body)
    }

    fn answer(&mut self, request: &Message) -> Map<String, Value> {
        let service = request.dest.as_str();
        if service == "lin-tso" {
            return match request.kind() {
                "ts" => {
                    self.tso += 1;
                    body_of(json!({"type": "ts_ok", "ts": self.tso}))
                }
                other => error(code::NOT_SUPPORTED, format!("lin-tso serves ts, not {other:?}")),
            };
        }
        let Some(key) = request.body.get("key") else { return error(code::MALFORMED_REQUEST, "no key") };
        let key = key.to_string();
        let field = |name: &str| request.body.get(name).cloned().unwrap_or(Value::Null);
        let (op, ok_type) = match request.kind() {
            "read" => (KvOp::Read, "read_ok"),
            "write" => (KvOp::Write(field("value")), "write_ok"),
            "cas" => (KvOp::Cas { from: field("from"), to: field("to"), create: field("create_if_not_exists") == Value::Bool(true) }, "cas_ok"),
            other => return error(code::NOT_SUPPORTED, format!("{service} serves read, write and cas, not {other:?}")),
        };
        let result = match service {
            "lin-kv" => apply(self.lin.get(&key).cloned(), op, |v| {
                self.lin.insert(key.clone(), v);
            }),
            "seq-kv" => self.seq.apply(&request.src, &key, op, &mut self.rng),
            "lww-kv" => self.lww.apply(&key, op, &mut self.rng),
            other => return error(code::NOT_SUPPORTED, format!("no service {other:?}")),
        };
        match result {
            Ok(Some(value)) => body_of(json!({"type": ok_type, "value": value})),
            Ok(None) => body_of(json!({"type": ok_type})),
            Err(e) => e,
        }
    }
}

/// Applies `op` to a register whose value is `current`, storing a new value with `set`.
fn apply(current: Option<Value>, op: KvOp, set: impl FnOnce(Value)) -> KvResult {
    match (op, current) {
        (KvOp::Read, Some(v)) => Ok(Some(v)),
        (KvOp::Read, None) => Err(error(code::KEY_DOES_NOT_EXIST, "key does not exist")),
        (KvOp::Write(v), _) => {
            set(v);
            Ok(None)
        }
        (KvOp::Cas { to, create: true, .. }, None) => {
            set(to);
            Ok(None)
        }
        (KvOp::Cas { .. }, None) => Err(error(code::KEY_DOES_NOT_EXIST, "key does not exist")),
        (KvOp::Cas { from, to, .. }, Some(v)) if v == from => {
            set(to);
            Ok(None)
        }
        (KvOp::Cas { from, .. }, Some(v)) => Err(error(code::PRECONDITION_FAILED, format!("expected {from}, but had {v}"))),
    }
}

/// Sequential consistency: one global order of writes; each client reads at its own
/// position in it, which only moves forward, and its own writes and cas go at the end
/// (moving it there), so each client's operations keep their order.
#[derive(Default)]
struct SeqKv {
    /// Per key, its versions by position.
    versions: HashMap<String, Vec<(u64, Value)>>,
    /// The position of the last write.
    now: u64,
    /// Each client's position.
    views: HashMap<String, u64>,
}

impl SeqKv {
    fn apply(&mut self, client: &str, key: &str, op: KvOp, rng: &mut ChaCha8Rng) -> KvResult {
        let view = self.views.get(client).copied().unwrap_or(0);
        let at = match op {
            // Half the reads catch up; the others move part of the way, or not at all.
            KvOp::Read if rng.gen_bool(0.5) => rng.gen_range(view..=self.now),
            _ => self.now,
        };
        self.views.insert(client.to_owned(), at);
        let current = self.versions.get(key).and_then(|vs| vs.iter().rev().find(|(p, _)| *p <= at)).map(|(_, v)| v.clone());
        let mut written = None;
        let result = apply(current, op, |v| written = Some(v));
        if let Some(v) = written {
            self.now += 1;
            self.versions.entry(key.to_owned()).or_default().push((self.now, v));
            self.views.insert(client.to_owned(), self.now);
        }
        result
    }
}

/// Last-write-wins replicas: each request goes to one at random; a third of the time
/// the key is first merged across all of them (the highest timestamp wins).
struct LwwKv {
    replicas: Vec<HashMap<String, (u64, Value)>>,
    clock: u64,
}

impl LwwKv {
    fn new(n: usize) -> LwwKv {
        LwwKv { replicas: vec![HashMap::new(); n], clock: 0 }
    }

    fn apply(&mut self, key: &str, op: KvOp, rng: &mut ChaCha8Rng) -> KvResult {
        if rng.gen_bool(1.0 / 3.0) {
            let newest = self.replicas.iter().filter_map(|r| r.get(key)).max_by_key(|(ts, _)| *ts).cloned();
            if let Some(newest) = newest {
                for r in &mut self.replicas {
                    r.insert(key.to_owned(), newest.clone());
                }
            }
        }
        let replica = rng.gen_range(0..self.replicas.len());
        self.clock += 1;
        let ts = self.clock;
        let current = self.replicas[replica].get(key).map(|(_, v)| v.clone());
        let target = &mut self.replicas[replica];
        apply(current, op, |v| {
            target.insert(key.to_owned(), (ts, v));
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(s: &mut Services, from: &str, service: &str, body: Value) -> Map<String, Value> {
        s.handle(&Message::new(from, service, body)).body
    }

    #[test]
    fn lin_kv_reads_writes_and_compares_and_sets() {
        let mut s = Services::new(1);
        assert_eq!(ask(&mut s, "n1", "lin-kv", json!({"type": "read", "key": 1, "msg_id": 3}))["code"], 20);
        assert_eq!(ask(&mut s, "n1", "lin-kv", json!({"type": "cas", "key": 1, "from": 0, "to": 1}))["code"], 20);
        assert_eq!(ask(&mut s, "n1", "lin-kv", json!({"type": "cas", "key": 1, "from": 0, "to": 1, "create_if_not_exists": true}))["type"], "cas_ok");
        assert_eq!(ask(&mut s, "n2", "lin-kv", json!({"type": "cas", "key": 1, "from": 0, "to": 2}))["code"], 22);
        assert_eq!(ask(&mut s, "n2", "lin-kv", json!({"type": "write", "key": 1, "value": [3]}))["type"], "write_ok");
        let read = s.handle(&Message::new("n3", "lin-kv", json!({"type": "read", "key": 1, "msg_id": 9})));
        assert_eq!((read.dest.as_str(), read.body["value"].clone(), read.in_reply_to()), ("n3", json!([3]), Some(9)));
        assert_eq!(ask(&mut s, "n1", "lin-kv", json!({"type": "read", "key": "1"}))["code"], 20, "keys are JSON values: \"1\" is not 1");
        assert_eq!(ask(&mut s, "n1", "lin-kv", json!({"type": "append", "key": 1}))["code"], 10);
        assert_eq!(ask(&mut s, "n1", "lin-kv", json!({"type": "read"}))["code"], 12);
        assert_eq!(s.requests, 9);
    }

    #[test]
    fn lin_tso_only_grows() {
        let mut s = Services::new(1);
        let ts: Vec<u64> = (0..5).map(|_| ask(&mut s, "n1", "lin-tso", json!({"type": "ts"}))["ts"].as_u64().unwrap()).collect();
        assert!(ts.windows(2).all(|w| w[0] < w[1]));
    }

    /// seq-kv: a client sees its own writes, never goes back in time, and may lag behind
    /// other clients' writes.
    #[test]
    fn seq_kv_is_sequential_but_may_be_stale() {
        for seed in 0..50 {
            let mut s = Services::new(seed);
            ask(&mut s, "n1", "seq-kv", json!({"type": "write", "key": "k", "value": 0}));
            let mut last_seen = -1;
            let mut stale = 0;
            for v in 1..=20 {
                ask(&mut s, "n1", "seq-kv", json!({"type": "write", "key": "k", "value": v}));
                assert_eq!(ask(&mut s, "n1", "seq-kv", json!({"type": "read", "key": "k"}))["value"], v, "its own write");
                let other = ask(&mut s, "n2", "seq-kv", json!({"type": "read", "key": "k"}));
                let seen = other.get("value").and_then(Value::as_i64).unwrap_or(-1);
                assert!(seen >= last_seen, "n2 went back from {last_seen} to {seen}");
                stale += usize::from(seen < v);
                last_seen = seen;
            }
            if seed == 0 {
                assert!(stale > 0, "some reads lag");
            }
            // A cas sees the latest value, whatever the client's view.
            assert_eq!(ask(&mut s, "n3", "seq-kv", json!({"type": "cas", "key": "k", "from": 20, "to": 21}))["type"], "cas_ok");
        }
    }

    #[test]
    fn lww_kv_converges_but_may_read_stale() {
        let mut s = Services::new(3);
        let mut stale = 0;
        for v in 0..30 {
            ask(&mut s, "n1", "lww-kv", json!({"type": "write", "key": "k", "value": v}));
            stale += usize::from(ask(&mut s, "n2", "lww-kv", json!({"type": "read", "key": "k"})).get("value") != Some(&json!(v)));
        }
        assert!(stale > 0);
        let mut latest = 0;
        for _ in 0..50 {
            if ask(&mut s, "n2", "lww-kv", json!({"type": "read", "key": "k"})).get("value") == Some(&json!(29)) {
                latest += 1;
            }
        }
        assert!(latest > 25, "merges spread the last write: {latest} of 50");
    }
}
