//! Maelstrom's `kafka` clients: unlike the other workloads' requests, a poll depends on
//! the client's own state (where it stands in each log), so [`Consumers`] keeps each
//! client's positions, fills them into its polls and commits, and moves them on with
//! what the polls return. A final poll (`"all"`) reads every key from offset 0.

use crate::codec::error_outcome;
use crate::protocol::body_of;
use faultline_workloads::adapter::TxnOutcome;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Every kafka client's positions, and the keys sent to so far.
#[derive(Debug, Default)]
pub struct Consumers {
    /// Client → key → the next offset it will poll.
    positions: HashMap<String, BTreeMap<String, u64>>,
    /// Every key some client sent to.
    keys: BTreeSet<String>,
}

impl Consumers {
    /// What `client` commits: the last offset it read of each key.
    fn committable(&self, client: &str) -> BTreeMap<String, u64> {
        self.positions.get(client).map(|p| p.iter().filter(|(_, n)| **n > 0).map(|(k, n)| (k.clone(), n - 1)).collect()).unwrap_or_default()
    }

    /// The request body for micro-op `op` of `client`.
    pub fn request(&mut self, client: &str, op: &Value) -> Result<Map<String, Value>, String> {
        Ok(body_of(match op[0].as_str().unwrap_or("") {
            "send" => {
                let key = op[1].as_str().ok_or_else(|| format!("send needs a string key, not {}", op[1]))?;
                self.keys.insert(key.to_owned());
                json!({"type": "send", "key": key, "msg": op[2]})
            }
            "poll" => {
                let from_start = op[2] == "all";
                let mine = self.positions.get(client);
                let offsets: BTreeMap<&String, u64> = self.keys.iter().map(|k| (k, if from_start { 0 } else { mine.and_then(|p| p.get(k)).copied().unwrap_or(0) })).collect();
                json!({"type": "poll", "offsets": offsets})
            }
            "commit_offsets" => json!({"type": "commit_offsets", "offsets": self.committable(client)}),
            "list_committed_offsets" => json!({"type": "list_committed_offsets", "keys": self.keys}),
            _ => return Err(format!("kafka has no operation {op}")),
        }))
    }

    /// What the answer `reply` to `client`'s micro-op `op` says, moving its positions on
    /// after a consumer poll.
    pub fn outcome(&mut self, client: &str, op: &Value, reply: &Map<String, Value>) -> TxnOutcome {
        if let Some(failed) = error_outcome(reply) {
            return failed;
        }
        let f = op[0].as_str().unwrap_or("");
        let field = |name: &str| reply.get(name).cloned().ok_or_else(|| TxnOutcome::Info(format!("{f}'s answer has no {name}: {}", Value::Object(reply.clone()))));
        let value = match f {
            "send" => field("offset"),
            "poll" => field("msgs"),
            "commit_offsets" => Ok(json!(self.committable(client))),
            _ => field("offsets"),
        };
        let value = match value {
            Ok(v) => v,
            Err(unknown) => return unknown,
        };
        if f == "poll" && op[2] != "all" {
            let mine = self.positions.entry(client.to_owned()).or_default();
            for (key, pairs) in value.as_object().into_iter().flatten() {
                if let Some(last) = pairs.as_array().and_then(|p| p.last()).and_then(|p| p[0].as_u64()) {
                    mine.insert(key.clone(), last + 1);
                }
            }
        }
        TxnOutcome::Ok(vec![json!([f, op[1], value])])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumer_reads_on_from_where_it_left_off_and_a_final_poll_from_the_start() {
        let mut c = Consumers::default();
        let send = json!(["send", "k1", 7]);
        assert_eq!(Value::Object(c.request("c1", &send).unwrap()), json!({"type": "send", "key": "k1", "msg": 7}));
        assert_eq!(c.outcome("c1", &send, &body_of(json!({"type": "send_ok", "offset": 4}))), TxnOutcome::Ok(vec![json!(["send", "k1", 4])]));
        let poll = json!(["poll", null, null]);
        assert_eq!(c.request("c2", &poll).unwrap()["offsets"], json!({"k1": 0}));
        c.outcome("c2", &poll, &body_of(json!({"type": "poll_ok", "msgs": {"k1": [[3, 6], [4, 7]]}})));
        assert_eq!(c.request("c2", &poll).unwrap()["offsets"], json!({"k1": 5}));
        assert_eq!(c.request("c3", &poll).unwrap()["offsets"], json!({"k1": 0}), "each client has its own positions");
        assert_eq!(c.request("c2", &json!(["poll", null, "all"])).unwrap()["offsets"], json!({"k1": 0}));
        let commit = json!(["commit_offsets", null, null]);
        assert_eq!(c.request("c2", &commit).unwrap()["offsets"], json!({"k1": 4}));
        assert_eq!(c.outcome("c2", &commit, &body_of(json!({"type": "commit_offsets_ok"}))), TxnOutcome::Ok(vec![json!(["commit_offsets", null, {"k1": 4}])]));
        assert!(matches!(c.outcome("c2", &poll, &body_of(json!({"type": "error", "code": 11}))), TxnOutcome::Fail(_)));
        assert!(matches!(c.outcome("c2", &poll, &body_of(json!({"type": "poll_ok"}))), TxnOutcome::Info(_)));
    }
}
