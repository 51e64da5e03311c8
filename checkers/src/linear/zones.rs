//! Fast path for read/write registers whose written values are all distinct.
//!
//! With unique writes every read names the write it saw, and linearizability reduces to
//! a polynomial test on *zones* (Gibbons & Korach): for each value, its *cluster* is the
//! write and the reads of it; let `f` be the earliest completion and `s` the latest
//! invocation in the cluster. If `f < s` the cluster has a *forward zone* `[f, s]`
//! (its operations must be linearized in that window, in order), otherwise a
//! *backward zone* `[s, f]`. The history is linearizable iff no read completes
//! before its write is invoked, no two forward zones overlap, and no backward zone lies
//! inside a forward zone. This runs in O(n log n) per key.
//!
//! The initial value is a cluster whose write happened before every event. An
//! indeterminate write nobody read is dropped (it may never have happened); one that was
//! read never completes.

use super::model::{Action, KeyOp};
use std::collections::HashMap;

/// The fast path's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ZoneVerdict {
    /// The operations are not of the shape the fast path handles.
    NotApplicable,
    Linearizable,
    /// Not linearizable, with the reason in words.
    NotLinearizable(String),
}

#[derive(Debug, Clone, Copy)]
struct Cluster {
    write_call: i64,
    write_ret: i64,
    min_ret: i64,
    max_call: i64,
    reads: usize,
    earliest_read_ret: i64,
}

/// Checks one key with the zone test, if its operations allow it.
pub(crate) fn check(ops: &[KeyOp]) -> ZoneVerdict {
    const NEVER: i64 = i64::MAX;
    if ops.iter().any(|op| matches!(op.action, Action::Cas(..) | Action::Append(_) | Action::Txn(_))) {
        return ZoneVerdict::NotApplicable;
    }
    let mut clusters: HashMap<u32, Cluster> = HashMap::new();
    let initial = Cluster { write_call: -1, write_ret: -1, min_ret: -1, max_call: -1, reads: 0, earliest_read_ret: NEVER };
    clusters.insert(0, initial);
    for op in ops {
        if let Action::Write(v) = op.action {
            let ret = op.ret.map_or(NEVER, i64::from);
            let c = Cluster {
                write_call: i64::from(op.call),
                write_ret: ret,
                min_ret: ret,
                max_call: i64::from(op.call),
                reads: 0,
                earliest_read_ret: NEVER,
            };
            if clusters.insert(v, c).is_some() {
                return ZoneVerdict::NotApplicable; // a value written twice, or the initial value
            }
        }
    }
    for op in ops {
        match op.action {
            Action::Write(_) | Action::Cas(..) | Action::Append(_) | Action::Txn(_) => {}
            Action::Read(v) => {
                let Some(ret) = op.ret else { continue };
                let Some(c) = clusters.get_mut(&v) else {
                    return ZoneVerdict::NotLinearizable(format!(
                        "a read (position {}) returned a value no operation wrote",
                        op.call
                    ));
                };
                c.reads += 1;
                c.min_ret = c.min_ret.min(i64::from(ret));
                c.max_call = c.max_call.max(i64::from(op.call));
                c.earliest_read_ret = c.earliest_read_ret.min(i64::from(ret));
            }
        }
    }
    let mut forward = Vec::new();
    let mut backward = Vec::new();
    for c in clusters.values() {
        if c.reads == 0 && c.write_ret == NEVER {
            continue; // an indeterminate write nobody saw: it may never have happened
        }
        if c.earliest_read_ret < c.write_call {
            return ZoneVerdict::NotLinearizable(format!(
                "a read completed (position {}) before the write of its value was invoked (position {})",
                c.earliest_read_ret, c.write_call
            ));
        }
        if c.min_ret < c.max_call {
            forward.push((c.min_ret, c.max_call));
        } else {
            backward.push((c.max_call, c.min_ret));
        }
    }
    forward.sort_unstable();
    for pair in forward.windows(2) {
        if pair[1].0 < pair[0].1 {
            return ZoneVerdict::NotLinearizable(format!(
                "two values must each be the register's value throughout overlapping windows (positions {}..{} and {}..{})",
                pair[0].0, pair[0].1, pair[1].0, pair[1].1
            ));
        }
    }
    for &(lo, hi) in &backward {
        // The forward zone starting last before `lo` is the only one that could contain it.
        let i = forward.partition_point(|&(start, _)| start < lo);
        if i > 0 && hi < forward[i - 1].1 {
            let (f_lo, f_hi) = forward[i - 1];
            return ZoneVerdict::NotLinearizable(format!(
                "a write and its reads (positions {lo}..{hi}) fall entirely inside the window (positions {f_lo}..{f_hi}) in which another value must hold"
            ));
        }
    }
    ZoneVerdict::Linearizable
}
