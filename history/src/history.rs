//! A validated history with invocations paired to their completions.

use crate::{HistoryError, Op, OpType, Process};
use std::collections::HashMap;

/// An ordered list of events in which every client invocation is paired with its
/// completion (if the history recorded one).
///
/// Events are ordered by their position, which is the real-time order in which they
/// were recorded; checkers use positions, not `time`, to decide what precedes what.
#[derive(Debug, Clone, Default)]
pub struct History {
    ops: Vec<Op>,
    /// For each position: the paired event (invoke ↔ completion), if any.
    partner: Vec<Option<u32>>,
}

impl History {
    /// Validates and pairs `ops`: each client process alternates invoke and completion,
    /// and a completion names the same `f` as its invocation. Nemesis events are not
    /// paired. An invocation with no completion is treated as indeterminate (`info`).
    pub fn new(ops: Vec<Op>) -> Result<History, HistoryError> {
        let mut partner = vec![None; ops.len()];
        let mut pending: HashMap<u64, usize> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            let Process::Client(p) = op.process else { continue };
            if op.kind == OpType::Invoke {
                if let Some(&prev) = pending.get(&p) {
                    return Err(HistoryError::DoubleInvoke { position: i, process: p.to_string(), pending: prev });
                }
                pending.insert(p, i);
            } else {
                let Some(inv) = pending.remove(&p) else {
                    return Err(HistoryError::OrphanCompletion { position: i, process: p.to_string() });
                };
                if ops[inv].f != op.f {
                    return Err(HistoryError::MismatchedF {
                        position: i,
                        invoke: inv,
                        invoke_f: ops[inv].f.clone(),
                        completion_f: op.f.clone(),
                    });
                }
                partner[inv] = Some(i as u32);
                partner[i] = Some(inv as u32);
            }
        }
        Ok(History { ops, partner })
    }

    /// All events in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when the history holds no event.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Position of the completion of the invocation at `invoke`, if it completed.
    pub fn completion_of(&self, invoke: usize) -> Option<usize> {
        match self.ops.get(invoke)?.kind {
            OpType::Invoke => self.partner[invoke].map(|c| c as usize),
            _ => None,
        }
    }

    /// Position of the invocation of the completion at `completion`.
    pub fn invocation_of(&self, completion: usize) -> Option<usize> {
        match self.ops.get(completion)?.kind {
            OpType::Invoke => None,
            _ => self.partner[completion].map(|c| c as usize),
        }
    }

    /// The outcome of the invocation at `invoke`: its completion's type, or `Info`
    /// when it never completed.
    pub fn outcome_of(&self, invoke: usize) -> OpType {
        self.completion_of(invoke).map_or(OpType::Info, |c| self.ops[c].kind)
    }

    /// Iterates over client operations as (invocation position, completion position).
    pub fn client_ops(&self) -> impl Iterator<Item = (usize, Option<usize>)> + '_ {
        self.ops
            .iter()
            .enumerate()
            .filter(|(_, op)| op.kind == OpType::Invoke && matches!(op.process, Process::Client(_)))
            .map(move |(i, _)| (i, self.completion_of(i)))
    }

    /// Consumes the history, returning its events.
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(kind: OpType, p: u64, f: &str) -> Op {
        Op::new(kind, Process::Client(p), f, json!(null))
    }

    #[test]
    fn pairs_interleaved_processes() {
        let h = History::new(vec![
            op(OpType::Invoke, 0, "read"),
            op(OpType::Invoke, 1, "write"),
            Op::new(OpType::Info, Process::Nemesis, "start-partition", json!(null)),
            op(OpType::Ok, 1, "write"),
            op(OpType::Fail, 0, "read"),
            op(OpType::Invoke, 0, "read"),
        ])
        .unwrap();
        assert_eq!(h.completion_of(0), Some(4));
        assert_eq!(h.completion_of(1), Some(3));
        assert_eq!(h.invocation_of(3), Some(1));
        assert_eq!(h.outcome_of(0), OpType::Fail);
        assert_eq!(h.outcome_of(5), OpType::Info, "an op that never completed is indeterminate");
        assert_eq!(h.client_ops().count(), 3);
    }

    #[test]
    fn rejects_malformed_sequences() {
        let err = History::new(vec![op(OpType::Invoke, 0, "read"), op(OpType::Invoke, 0, "read")]).unwrap_err();
        assert_eq!(err.position(), 1);
        let err = History::new(vec![op(OpType::Ok, 0, "read")]).unwrap_err();
        assert!(matches!(err, HistoryError::OrphanCompletion { .. }));
        let err = History::new(vec![op(OpType::Invoke, 0, "read"), op(OpType::Ok, 0, "write")]).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }
}
