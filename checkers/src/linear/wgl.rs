//! The Wing–Gong–Lowe linearizability search over one key.
//!
//! Events (calls and returns) sit in a doubly linked list in history order. The search
//! walks it, tentatively linearizing each call whose action the model allows; a return
//! reached before its operation was linearized forces a backtrack. Each explored
//! configuration — the *set* of linearized operations and the *model state* — is
//! remembered, so no configuration is explored twice (without the state in the key the
//! search is exponentially slower on histories with many concurrent writers).
//! Sets are identified by a 128-bit Zobrist hash maintained incrementally, and a
//! configuration by that hash mixed with the state's digest: 16 bytes a configuration.
//!
//! The memory a search holds (its cache, its stack, its model's states) is charged to
//! a [`Meter`] shared by every key's search before it is allocated, so the budget is
//! a bound on real memory, not a count of configurations.
//!
//! Indeterminate operations have no return event: they may be linearized at any point
//! after their call, or never, so the search succeeds once every return is passed.

use super::model::{KeyOp, Model};
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};

const NIL: u32 = u32::MAX;
/// How many operations of the longest linearization to keep for the report.
const TAIL: usize = 12;
/// How many concurrent candidates to name in the report.
const CANDIDATES: usize = 12;

/// Why the search stopped without a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exhausted {
    Time,
    Memory { configurations: usize, bytes: usize },
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

#[derive(Clone, Copy)]
struct Entry {
    op: u32,
    is_call: bool,
}

/// The memory all searches of one check may hold together, and what they hold now.
#[derive(Debug)]
pub(crate) struct Meter {
    budget: usize,
    used: AtomicUsize,
}

impl Meter {
    /// A meter of `budget` bytes.
    pub fn new(budget: usize) -> Meter {
        Meter { budget, used: AtomicUsize::new(0) }
    }

    /// Moves one search's share from `was` to `now` bytes; false when all the shares
    /// together would exceed the budget (the share is then left at `was`).
    fn charge(&self, was: usize, now: usize) -> bool {
        if now <= was {
            self.used.fetch_sub(was - now, Ordering::Relaxed);
            return true;
        }
        let grown = now - was;
        let before = self.used.fetch_add(grown, Ordering::Relaxed);
        if before + grown > self.budget {
            self.used.fetch_sub(grown, Ordering::Relaxed);
            return false;
        }
        true
    }
}

/// The cache of explored configurations: a set of 128-bit digests of (the set of
/// linearized operations, the model state).
type Cache = HashSet<u128, BuildHasherDefault<super::hash::Mix>>;

/// Bytes a cache table of `capacity` holds (hashbrown: 8/7 buckets per slot, one
/// control byte each).
fn cache_bytes(capacity: usize) -> usize {
    capacity * 8 / 7 * (std::mem::size_of::<u128>() + 1)
}

/// One key's search, resumable: [`Search::run`] advances it by a number of steps, so
/// a scheduler can take turns between keys (a key that fails fast is not stuck
/// behind one that explodes) and stop them all once the verdict is known.
pub(crate) struct Search<'a> {
    ops: &'a [KeyOp],
    list: EventList,
    zobrist: Vec<u128>,
    cache: Cache,
    set_hash: u128,
    state: u32,
    stack: Vec<Frame>,
    best: Option<Failure>,
    entry: u32,
    /// The list was just reset to its first entry by a placement.
    fresh: bool,
    /// Bytes this search has charged to the meter.
    charged: usize,
}

/// One placed operation: the state before it, and whether it was placed because it
/// changed nothing (then it was no choice).
struct Frame {
    op: u32,
    before: u32,
    keeps: bool,
}

/// A model state's digest, mixed into the set's Zobrist hash for the cache.
fn state_digest(state: u32) -> u128 {
    let x = u128::from(state).wrapping_add(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    let x = (x ^ (x >> 67)).wrapping_mul(0xbf58_476d_1ce4_e5b9_94d0_49bb_1331_11eb);
    x ^ (x >> 61)
}

impl<'a> Search<'a> {
    /// A search for a linearization of `ops` (sorted by call) from state 0.
    pub fn new(ops: &'a [KeyOp]) -> Search<'a> {
        let list = EventList::new(ops);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
        let zobrist: Vec<u128> = (0..ops.len()).map(|_| rng.gen()).collect();
        let entry = list.first();
        Search { ops, list, zobrist, cache: Cache::default(), set_hash: 0, state: 0, stack: Vec::new(), best: None, entry, fresh: true, charged: 0 }
    }

    /// Bytes the search's own tables hold (the model is charged separately).
    fn bytes(&self) -> usize {
        cache_bytes(self.cache.capacity()) + self.stack.capacity() * std::mem::size_of::<Frame>() + self.list.bytes() + self.zobrist.capacity() * 16
    }

    /// Gives back what this search charged to `meter` (it is finished or given up).
    pub fn release(&mut self, meter: &Meter) {
        meter.charge(self.charged, 0);
        self.charged = 0;
    }

    /// Charges the search's current size plus `extra` bytes about to be allocated;
    /// false if the meter refuses.
    fn charge(&mut self, meter: &Meter, model: &Model, extra: usize) -> bool {
        let now = self.bytes() + model.bytes() + extra;
        if meter.charge(self.charged, now) {
            self.charged = now;
            true
        } else {
            false
        }
    }

    /// Runs up to `steps` steps; `None` when it has not finished. Memory is charged to
    /// `meter` before the cache grows, so the search stops before a table it may not
    /// hold is allocated.
    ///
    /// One rule beyond WGL: a pending operation that leaves the state as it is (a read
    /// of the current value) is linearized at once, and alone. Any linearization from
    /// here can be rearranged to place it first (it was invoked, everything that
    /// returned before its invocation is already placed, and it changes nothing), so
    /// if that fails the configuration fails, and the orders of the operations around
    /// it are not tried. Reads are half of most histories; this is what keeps a
    /// 50-client append history from exploding.
    pub fn run(&mut self, model: &mut Model, meter: &Meter, steps: usize) -> Option<Outcome> {
        if !self.charge(meter, model, 0) {
            return Some(self.out_of_memory());
        }
        let ops = self.ops;
        for _ in 0..steps {
            if self.entry == NIL {
                return Some(Outcome::Linearizable);
            }
            if self.fresh {
                self.fresh = false;
                if let Some(op) = self.first_keeping_call() {
                    let next_hash = self.set_hash ^ self.zobrist[op as usize];
                    if !self.room_for_one_more(meter, model) {
                        return Some(self.out_of_memory());
                    }
                    if self.cache.insert(next_hash ^ state_digest(self.state)) {
                        self.lift(op, self.state, next_hash, true);
                    } else if let Some(done) = self.backtrack() {
                        // Explored before, and failed: so does this configuration.
                        return Some(done);
                    }
                    continue;
                }
            }
            let Entry { op, is_call } = self.list.entries[self.entry as usize];
            if is_call {
                let o = op as usize;
                if let Some(next_state) = model.step(self.state, ops[o].action) {
                    let next_hash = self.set_hash ^ self.zobrist[o];
                    if !self.room_for_one_more(meter, model) {
                        return Some(self.out_of_memory());
                    }
                    if self.cache.insert(next_hash ^ state_digest(next_state)) {
                        self.lift(op, next_state, next_hash, false);
                        continue;
                    }
                }
                self.entry = self.list.next[self.entry as usize];
            } else {
                if self.best.as_ref().is_none_or(|b| self.stack.len() > b.depth) {
                    self.best = Some(Failure {
                        depth: self.stack.len(),
                        tail: self.stack[self.stack.len().saturating_sub(TAIL)..].iter().map(|f| f.op as usize).collect(),
                        state: self.state,
                        blocking: op as usize,
                        candidates: self.list.calls_before(self.entry, CANDIDATES),
                    });
                }
                if let Some(done) = self.backtrack() {
                    return Some(done);
                }
            }
        }
        None
    }

    /// A full table doubles on the next insert, and holds both tables while it moves:
    /// charge that first; false if the meter refuses.
    fn room_for_one_more(&mut self, meter: &Meter, model: &Model) -> bool {
        self.cache.len() < self.cache.capacity() || self.charge(meter, model, cache_bytes(self.cache.capacity().max(3) * 2))
    }

    /// Places `op`, moving to `state` and the set `set_hash`.
    fn lift(&mut self, op: u32, state: u32, set_hash: u128, keeps: bool) {
        self.stack.push(Frame { op, before: self.state, keeps });
        self.state = state;
        self.set_hash = set_hash;
        self.list.lift(op);
        self.entry = self.list.first();
        self.fresh = true;
    }

    /// The configuration failed: takes back the operations placed last, up to and
    /// including the last one placed by choice, and goes on with the next choice.
    /// `Some` when there is nothing left to take back.
    fn backtrack(&mut self) -> Option<Outcome> {
        loop {
            let Some(frame) = self.stack.pop() else {
                return Some(Outcome::NotLinearizable(self.best.take().unwrap_or_default()));
            };
            let p = frame.op as usize;
            self.state = frame.before;
            self.set_hash ^= self.zobrist[p];
            self.list.unlift(frame.op);
            self.entry = self.list.next[self.list.call_entry[p] as usize];
            // An operation placed because it changed nothing was no choice: the
            // configuration before it has failed too.
            if !frame.keeps {
                return None;
            }
        }
    }

    /// The first pending call, before the first pending return, that leaves the state
    /// as it is.
    fn first_keeping_call(&self) -> Option<u32> {
        let mut e = self.list.first();
        while e != NIL {
            let entry = self.list.entries[e as usize];
            if !entry.is_call {
                return None;
            }
            if self.ops[entry.op as usize].action.keeps(self.state) {
                return Some(entry.op);
            }
            e = self.list.next[e as usize];
        }
        None
    }

    fn out_of_memory(&self) -> Outcome {
        Outcome::Unknown(Exhausted::Memory { configurations: self.cache.len(), bytes: self.charged })
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

    fn bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>() + (self.next.capacity() + self.prev.capacity() + self.call_entry.capacity() + self.ret_entry.capacity()) * 4
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
