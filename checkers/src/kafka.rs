//! The kafka checker (Maelstrom's `kafka` workload): append-only logs per key, written
//! by `send` (which answers the offset given) and read by `poll` (offset → message).
//!
//! Ops: `send` with `[key, msg]`, ok with `[key, msg, offset]`; `poll` (`null`: a
//! consumer reading on from where its client left off; `"all"`: a final read of every
//! log from its start, after the faults) ok with `{key: [[offset, msg], …]}`;
//! `commit_offsets` and `list_committed_offsets` are accepted and not judged. Anomalies:
//! - `inconsistent-offset`: two messages at one offset of a key (in acks or polls);
//! - `duplicate`: one message at two offsets of a key;
//! - `lost`: an acknowledged message missing from a final poll that read past its offset;
//! - `unobserved`: an acknowledged message no final poll saw, nor read past;
//! - `nonmonotonic-send`: a client's acknowledged offsets on a key not increasing;
//! - `nonmonotonic-poll`: a consumer reading an offset of a key at or below one it read;
//! - `poll-skip`: a consumer moving past an offset of a key that holds a message it
//!   never read.
//!
//! Messages are unique (faultline's workload sends each once). Without an ok final poll,
//! lost and unobserved messages cannot be told: with no other anomaly the verdict is
//! unknown.

use crate::{CheckError, CheckResult, Validity};
use faultline_history::{History, OpType, Process};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One anomaly, where it was seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KafkaAnomaly {
    /// Its kind (`lost`, `poll-skip`, …).
    pub kind: String,
    /// The key.
    pub key: String,
    /// The offset.
    pub offset: u64,
    /// The message(s) concerned.
    pub message: Value,
    /// History index of the operation that shows it.
    pub index: u64,
}

/// The kafka checker's evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KafkaEvidence {
    /// Sends attempted.
    pub sends: usize,
    /// Sends acknowledged.
    pub acknowledged: usize,
    /// Ok polls (consumer and final).
    pub polls: usize,
    /// Ok final polls.
    pub final_polls: usize,
    /// Anomalies (the first 100).
    pub anomalies: Vec<KafkaAnomaly>,
    /// How many of each kind.
    pub counts: BTreeMap<String, usize>,
}

/// What one ok poll read: key → offsets and messages, in the order given.
type Read = BTreeMap<String, Vec<(u64, Value)>>;

fn read_of(history: &History, position: usize) -> Result<Read, CheckError> {
    let bad = |why: &str| CheckError::bad_op(history, position, format!("poll: {why}, got {}", history.ops()[position].value));
    let Value::Object(map) = &history.ops()[position].value else { return Err(bad("expected {key: [[offset, msg], …]}")) };
    map.iter()
        .map(|(k, pairs)| {
            let pairs = pairs.as_array().ok_or_else(|| bad("expected a list of [offset, msg] per key"))?;
            let pairs = pairs.iter().map(|p| Ok((p[0].as_u64().ok_or_else(|| bad("expected integer offsets"))?, p[1].clone()))).collect::<Result<Vec<_>, CheckError>>()?;
            Ok((k.clone(), pairs))
        })
        .collect()
}

struct Findings {
    anomalies: Vec<KafkaAnomaly>,
    counts: BTreeMap<String, usize>,
}

impl Findings {
    fn add(&mut self, history: &History, kind: &str, key: &str, offset: u64, message: Value, position: usize) {
        *self.counts.entry(kind.to_owned()).or_default() += 1;
        if self.anomalies.len() < 100 {
            self.anomalies.push(KafkaAnomaly { kind: kind.to_owned(), key: key.to_owned(), offset, message, index: history.ops()[position].index });
        }
    }
}

/// Checks a kafka history.
pub fn check(history: &History) -> Result<CheckResult, CheckError> {
    let ops = history.ops();
    let mut acked: Vec<(usize, Process, String, Value, u64)> = Vec::new(); // (completion, process, key, msg, offset)
    let mut consumer: Vec<(usize, Process, Read)> = Vec::new();
    let mut finals: Vec<(usize, Read)> = Vec::new();
    let mut sends = 0;
    for (inv, comp) in history.client_ops() {
        let ok = match (history.outcome_of(inv), comp) {
            (OpType::Ok, Some(c)) => Some(c),
            _ => None,
        };
        match ops[inv].f.as_str() {
            "send" => {
                sends += 1;
                let Some(c) = ok else { continue };
                let v = &ops[c].value;
                let (Some(key), Some(offset)) = (v[0].as_str(), v[2].as_u64()) else {
                    return Err(CheckError::bad_op(history, c, format!("send: expected [key, msg, offset], got {v}")));
                };
                acked.push((c, ops[inv].process, key.to_owned(), v[1].clone(), offset));
            }
            "poll" => {
                let Some(c) = ok else { continue };
                let read = read_of(history, c)?;
                if ops[inv].value == "all" {
                    finals.push((c, read));
                } else {
                    consumer.push((c, ops[inv].process, read));
                }
            }
            "commit_offsets" | "list_committed_offsets" => {}
            f => return Err(CheckError::bad_op(history, inv, format!("f={f:?} is not an operation of the kafka model (send, poll, commit_offsets, list_committed_offsets)"))),
        }
    }
    let mut found = Findings { anomalies: Vec::new(), counts: BTreeMap::new() };
    // Every (key, offset) → message, and (key, message) → offset, from acks and polls.
    let mut at: HashMap<(&str, u64), (&Value, usize)> = HashMap::new();
    let mut offset_of: HashMap<(&str, String), (u64, usize)> = HashMap::new();
    let mut known: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    let observed = acked.iter().map(|(c, _, k, v, o)| (*c, k.as_str(), *o, v)).chain(
        consumer.iter().map(|(c, _, r)| (*c, r)).chain(finals.iter().map(|(c, r)| (*c, r))).flat_map(|(c, r)| r.iter().flat_map(move |(k, pairs)| pairs.iter().map(move |(o, v)| (c, k.as_str(), *o, v)))),
    );
    for (c, key, offset, msg) in observed {
        known.entry(key).or_default().insert(offset);
        match at.get(&(key, offset)) {
            Some((other, _)) if *other != msg => found.add(history, "inconsistent-offset", key, offset, serde_json::json!([other, msg]), c),
            Some(_) => {}
            None => {
                at.insert((key, offset), (msg, c));
            }
        }
        match offset_of.get(&(key, msg.to_string())) {
            Some((first, _)) if *first != offset => found.add(history, "duplicate", key, offset, msg.clone(), c),
            Some(_) => {}
            None => {
                offset_of.insert((key, msg.to_string()), (offset, c));
            }
        }
    }
    // Sends: offsets increase per client and key.
    let mut last_sent: HashMap<(Process, &str), u64> = HashMap::new();
    for (c, process, key, msg, offset) in &acked {
        if let Some(last) = last_sent.insert((*process, key.as_str()), *offset) {
            if *offset <= last {
                found.add(history, "nonmonotonic-send", key, *offset, msg.clone(), *c);
            }
        }
    }
    // Consumers: offsets increase, and nothing known is passed over.
    let mut position: HashMap<(Process, &str), u64> = HashMap::new();
    for (c, process, read) in &consumer {
        for (key, pairs) in read {
            for (offset, msg) in pairs {
                if let Some(&last) = position.get(&(*process, key.as_str())) {
                    if *offset <= last {
                        found.add(history, "nonmonotonic-poll", key, *offset, msg.clone(), *c);
                        continue;
                    }
                    if let Some(skipped) = known.get(key.as_str()).and_then(|s| s.range(last + 1..*offset).next()) {
                        let msg = at.get(&(key.as_str(), *skipped)).map_or(Value::Null, |(m, _)| (*m).clone());
                        found.add(history, "poll-skip", key, *skipped, msg, *c);
                    }
                }
                position.insert((*process, key.as_str()), *offset);
            }
        }
    }
    // Acknowledged messages in the final polls.
    if !finals.is_empty() {
        for (c, _, key, msg, offset) in &acked {
            let seen = finals.iter().any(|(_, r)| r.get(key).is_some_and(|pairs| pairs.iter().any(|(_, m)| m == msg)));
            if seen {
                continue;
            }
            let passed = finals.iter().any(|(_, r)| r.get(key).is_some_and(|pairs| pairs.iter().any(|(o, _)| o >= offset)));
            found.add(history, if passed { "lost" } else { "unobserved" }, key, *offset, msg.clone(), *c);
        }
    }
    let anomaly_count: usize = found.counts.values().sum();
    let valid = if anomaly_count > 0 {
        Validity::Invalid
    } else if finals.is_empty() && !acked.is_empty() {
        Validity::Unknown
    } else {
        Validity::judge(0, acked.len() + consumer.len())
    };
    let summary = format!(
        "{} sends, {} acknowledged; {} polls ({} final); {}",
        sends,
        acked.len(),
        consumer.len() + finals.len(),
        finals.len(),
        if anomaly_count == 0 { "no anomalies".to_owned() } else { found.counts.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ") }
    );
    let explanation = found.anomalies.iter().take(20).map(|a| format!("{} on {} at offset {}: {} (op {})", a.kind, a.key, a.offset, a.message, a.index)).collect();
    let witnesses: Vec<u64> = found.anomalies.iter().map(|a| a.index).collect();
    let counts = found.counts.clone();
    Ok(CheckResult::new("kafka", valid, summary, explanation, KafkaEvidence { sends, acknowledged: acked.len(), polls: consumer.len() + finals.len(), final_polls: finals.len(), anomalies: found.anomalies, counts: counts.clone() })
        .with_findings(counts, witnesses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::history_of as hist;
    use serde_json::json;

    fn send(p: u64, k: &str, v: i64, o: u64) -> [(u64, &'static str, &'static str, Value); 2] {
        [(p, "invoke", "send", json!([k, v])), (p, "ok", "send", json!([k, v, o]))]
    }

    fn poll(p: u64, all: bool, read: Value) -> [(u64, &'static str, &'static str, Value); 2] {
        [(p, "invoke", "poll", if all { json!("all") } else { Value::Null }), (p, "ok", "poll", read)]
    }

    fn check_ops(groups: &[[(u64, &'static str, &'static str, Value); 2]]) -> CheckResult {
        let ops: Vec<(u64, &str, &str, Value)> = groups.iter().flat_map(|g| g.iter().cloned()).collect();
        check(&hist(&ops)).unwrap()
    }

    #[test]
    fn a_consistent_log_read_in_order_is_valid() {
        let r = check_ops(&[send(0, "k", 1, 0), send(0, "k", 2, 1), poll(1, false, json!({"k": [[0, 1]]})), poll(1, false, json!({"k": [[1, 2]]})), send(1, "k", 3, 2), poll(2, true, json!({"k": [[0, 1], [1, 2], [2, 3]]}))]);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.explanation);
    }

    #[test]
    fn without_a_final_poll_nothing_says_whether_messages_survived() {
        assert_eq!(check_ops(&[send(0, "k", 1, 0)]).valid, Validity::Unknown);
    }

    #[test]
    fn each_anomaly_is_named() {
        let kinds = |groups: &[[(u64, &'static str, &'static str, Value); 2]]| {
            let r = check_ops(groups);
            assert_eq!(r.valid, Validity::Invalid);
            r.evidence_json()["counts"].as_object().unwrap().keys().cloned().collect::<Vec<_>>()
        };
        assert_eq!(kinds(&[send(0, "k", 1, 0), send(1, "k", 2, 0), poll(2, true, json!({"k": [[0, 1]]}))]), ["inconsistent-offset", "lost"]);
        assert_eq!(kinds(&[send(0, "k", 1, 0), send(0, "j", 2, 0), poll(2, true, json!({"k": [[0, 1]]}))]), ["unobserved"]);
        assert_eq!(kinds(&[send(0, "k", 1, 0), poll(2, true, json!({"k": [[0, 1], [1, 1]]}))]), ["duplicate"]);
        assert_eq!(kinds(&[send(0, "k", 1, 0), send(0, "k", 2, 1), poll(2, true, json!({"k": [[1, 2]]}))]), ["lost"]);
        assert_eq!(kinds(&[send(0, "k", 1, 1), send(0, "k", 2, 0), poll(2, true, json!({"k": [[0, 2], [1, 1]]}))]), ["nonmonotonic-send"]);
        let all = poll(3, true, json!({"k": [[0, 1], [1, 2], [2, 3]]}));
        let sends = [send(0, "k", 1, 0), send(0, "k", 2, 1), send(0, "k", 3, 2)];
        assert_eq!(kinds(&[sends[0].clone(), sends[1].clone(), sends[2].clone(), poll(1, false, json!({"k": [[0, 1]]})), poll(1, false, json!({"k": [[2, 3]]})), all.clone()]), ["poll-skip"]);
        assert_eq!(kinds(&[sends[0].clone(), sends[1].clone(), sends[2].clone(), poll(1, false, json!({"k": [[1, 2]]})), poll(1, false, json!({"k": [[0, 1]]})), all]), ["nonmonotonic-poll"]);
    }

    #[test]
    fn malformed_ops_say_which_and_why() {
        let e = check(&hist(&[(0, "invoke", "poll", Value::Null), (0, "ok", "poll", json!([1]))])).unwrap_err().to_string();
        assert!(e.contains("poll: expected {key"), "{e}");
        let e = check(&hist(&[(0, "invoke", "send", json!(["k", 1])), (0, "ok", "send", json!(["k", 1]))])).unwrap_err().to_string();
        assert!(e.contains("send: expected [key, msg, offset]"), "{e}");
    }
}
