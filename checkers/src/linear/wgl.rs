//! The Wing–Gong–Lowe linearizability search over one key.
//!
//! Events (calls and returns) sit in a doubly linked list in history order. The search
//! walks it, tentatively linearizing each call whose action the model allows; a return
//! reached before its operation was linearized forces a backtrack. Each explored
//! configuration — the *set* of linearized operations and the *model state* — is
//! remembered, so no configuration is explored twice (without the state in the key the
//! search is exponentially slower on histories with many concurrent writers).
//! Sets are identified by a 128-bit Zobrist hash maintained incrementally.
//!
//! Indeterminate operations have no return event: they may be linearized at any point
//! after their call, or never, so the search succeeds once every return is passed.

use super::model::{KeyOp, Model};
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

const NIL: u32 = u32::MAX;
/// How many operations of the longest linearization to keep for the report.
const TAIL: usize = 12;
/// How many concurrent candidates to name in the report.
const CANDIDATES: usize = 12;

/// Why the search stopped without a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exhausted {
    Time,
    Memory { configurations: usize },
}

/// The deepest point the search reached before it had to give up on the history.
#[derive(Debug, Clone, Default)]
pub(crate) struct Failure {
    /// How many operations the longest linearization found placed.
    pub depth: usize,
    /// Its last operations, oldest first (indexes into the key's operations).
    pub tail: Vec<usize>,
    /// The model state after it.
    pub state: u32,
    /// The operation whose completion was reached before it could be placed.
    pub blocking: usize,
    /// Operations still unplaced that were invoked before `blocking` completed.
    pub candidates: Vec<usize>,
}

/// The result of searching one key.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Linearizable,
    NotLinearizable(Failure),
    Unknown(Exhausted),
}

/// Limits on one search.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub deadline: Instant,
    pub max_configurations: usize,
}

#[derive(Clone, Copy)]
struct Entry {
    op: u32,
    is_call: bool,
}

/// Searches for a linearization of `ops` (sorted by call) starting from state 0.
pub(crate) fn search(ops: &[KeyOp], model: &mut Model, budget: Budget) -> Outcome {
    let mut list = EventList::new(ops);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
    let zobrist: Vec<u128> = (0..ops.len()).map(|_| rng.gen()).collect();
    let mut cache: HashSet<(u128, u32), BuildHasherDefault<Mix>> = HashSet::default();
    let mut set_hash: u128 = 0;
    let mut state: u32 = 0;
    let mut stack: Vec<(u32, u32)> = Vec::new(); // (op, state before it)
    let mut best = Failure::default();
    let mut have_best = false;
    let mut steps: u64 = 0;

    let mut entry = list.first();
    loop {
        steps += 1;
        if steps.is_multiple_of(4096) {
            if Instant::now() >= budget.deadline {
                return Outcome::Unknown(Exhausted::Time);
            }
            if cache.len() > budget.max_configurations {
                return Outcome::Unknown(Exhausted::Memory { configurations: cache.len() });
            }
        }
        if entry == NIL {
            return Outcome::Linearizable;
        }
        let Entry { op, is_call } = list.entries[entry as usize];
        if is_call {
            let o = op as usize;
            if let Some(next_state) = model.step(state, ops[o].action) {
                let next_hash = set_hash ^ zobrist[o];
                if cache.insert((next_hash, next_state)) {
                    stack.push((op, state));
                    state = next_state;
                    set_hash = next_hash;
                    list.lift(op);
                    entry = list.first();
                    continue;
                }
            }
            entry = list.next[entry as usize];
        } else {
            if !have_best || stack.len() > best.depth {
                have_best = true;
                best = Failure {
                    depth: stack.len(),
                    tail: stack[stack.len().saturating_sub(TAIL)..].iter().map(|&(o, _)| o as usize).collect(),
                    state,
                    blocking: op as usize,
                    candidates: list.calls_before(entry, CANDIDATES),
                };
            }
            let Some((popped, previous)) = stack.pop() else {
                return Outcome::NotLinearizable(best);
            };
            let p = popped as usize;
            state = previous;
            set_hash ^= zobrist[p];
            list.unlift(popped);
            entry = list.next[list.call_entry[p] as usize];
        }
    }
}

/// A doubly linked list of call and return events, with O(1) removal and LIFO restore
/// (dancing links). Index `sentinel` is the list head.
struct EventList {
    entries: Vec<Entry>,
    next: Vec<u32>,
    prev: Vec<u32>,
    call_entry: Vec<u32>,
    ret_entry: Vec<u32>,
    sentinel: u32,
}

impl EventList {
    fn new(ops: &[KeyOp]) -> EventList {
        let mut events: Vec<(u32, Entry)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            events.push((op.call, Entry { op: i as u32, is_call: true }));
            if let Some(ret) = op.ret {
                events.push((ret, Entry { op: i as u32, is_call: false }));
            }
        }
        events.sort_by_key(|&(pos, _)| pos);
        let n = events.len();
        let sentinel = n as u32;
        let mut list = EventList {
            entries: events.iter().map(|&(_, e)| e).collect(),
            next: vec![NIL; n + 1],
            prev: vec![NIL; n + 1],
            call_entry: vec![NIL; ops.len()],
            ret_entry: vec![NIL; ops.len()],
            sentinel,
        };
        let mut last = sentinel;
        for (i, e) in list.entries.iter().enumerate() {
            if e.is_call {
                list.call_entry[e.op as usize] = i as u32;
            } else {
                list.ret_entry[e.op as usize] = i as u32;
            }
            list.next[last as usize] = i as u32;
            list.prev[i] = last;
            last = i as u32;
        }
        list
    }

    fn first(&self) -> u32 {
        self.next[self.sentinel as usize]
    }

    fn remove(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = n;
        if n != NIL {
            self.prev[n as usize] = p;
        }
    }

    fn restore(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = e;
        if n != NIL {
            self.prev[n as usize] = e;
        }
    }

    fn lift(&mut self, op: u32) {
        self.remove(self.call_entry[op as usize]);
        let ret = self.ret_entry[op as usize];
        if ret != NIL {
            self.remove(ret);
        }
    }

    fn unlift(&mut self, op: u32) {
        let ret = self.ret_entry[op as usize];
        if ret != NIL {
            self.restore(ret);
        }
        self.restore(self.call_entry[op as usize]);
    }

    /// Up to `max` operations whose calls are still in the list before `until`.
    fn calls_before(&self, until: u32, max: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut e = self.first();
        while e != until && e != NIL && out.len() < max {
            let entry = self.entries[e as usize];
            if entry.is_call {
                out.push(entry.op as usize);
            }
            e = self.next[e as usize];
        }
        out
    }
}

/// Hasher for keys that are already uniformly random (Zobrist hashes).
#[derive(Default)]
struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 ^= (v as u64) ^ ((v >> 64) as u64);
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = (self.0 ^ u64::from(v)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
