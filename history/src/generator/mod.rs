//! The generator algebra: pure, seeded descriptions of what a test does when.
//!
//! A generator is immutable. Asked for an operation with [`Generator::op`], it answers
//! the operation (or "pending", or nothing more) *and the generator that follows*,
//! without changing itself: an interpreter that cannot use the answer yet (the
//! operation is for later and an event arrived first) simply asks the old generator
//! again. Events (invocations, completions) reach generators through
//! [`Generator::update`]. Randomness comes from seeds carried in the generators, so a
//! run's operations are a function of its seed and the events it saw.
//!
//! Threads: client threads `0..n` and the nemesis thread. A context lists the free
//! threads; a generator only emits operations for free threads of its context, and
//! combinators such as [`on_threads`], [`each_thread`] and [`reserve`] narrow it.

mod combinators;
mod leaves;
mod simulate;

pub use combinators::{any, clients, cycle, delay, each_thread, flip_flop, limit, mix, nemesis, on_threads, phases, repeat, reserve, stagger, synchronize, then, time_limit, until_ok};
pub use leaves::{from_fn, from_fn_progress, once, ops, sleep, timed, Progress, Rng};
pub use simulate::{simulate, Simulated};

use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;

/// A shared, immutable generator.
pub type Gen = Arc<dyn Generator>;

/// A thread of the test: a client worker or the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Thread {
    /// Client worker `i`.
    Client(usize),
    /// The fault injector.
    Nemesis,
}

/// What a generator sees: the time (ns since the test began) and the threads.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Nanoseconds since the test began.
    pub time: u64,
    /// Threads free to run an operation.
    pub free: BTreeSet<Thread>,
    /// Every thread this generator may use.
    pub all: BTreeSet<Thread>,
}

impl Ctx {
    /// A context with `clients` client threads and the nemesis, all free, at time 0.
    pub fn new(clients: usize) -> Ctx {
        let all: BTreeSet<Thread> = (0..clients).map(Thread::Client).chain([Thread::Nemesis]).collect();
        Ctx { time: 0, free: all.clone(), all }
    }

    /// The same context, narrowed to the threads `keep` accepts.
    pub fn restrict(&self, keep: impl Fn(Thread) -> bool) -> Ctx {
        Ctx { time: self.time, free: self.free.iter().copied().filter(|t| keep(*t)).collect(), all: self.all.iter().copied().filter(|t| keep(*t)).collect() }
    }

    /// The first free thread, if any.
    pub fn some_free(&self) -> Option<Thread> {
        self.free.iter().next().copied()
    }
}

/// An operation to invoke.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The thread that runs it.
    pub thread: Thread,
    /// Not before this time (ns since the test began).
    pub at: u64,
    /// The function, e.g. `write`, `txn`, `start-partition`.
    pub f: String,
    /// Its argument.
    pub value: Value,
}

/// A generator's answer.
#[derive(Debug, Clone)]
pub enum Step {
    /// Invoke this.
    Op(Invocation),
    /// Nothing now; ask again after an event or a little later.
    Pending,
}

/// What happened to an operation, as generators learn it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// It was invoked.
    Invoke,
    /// It took effect.
    Ok,
    /// It certainly did not.
    Fail,
    /// Unknown.
    Info,
}

/// An event generators learn of.
#[derive(Debug, Clone)]
pub struct Event {
    /// Whose.
    pub thread: Thread,
    /// What happened.
    pub kind: EventKind,
    /// The operation's function.
    pub f: String,
    /// Its value (a completion's value may differ from the invocation's).
    pub value: Value,
}

/// A generator: see the module documentation.
pub trait Generator: Debug + Send + Sync + 'static {
    /// The next step and the generator after it; `None` when it has nothing more.
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)>;

    /// The generator after learning of `event`. Most generators pass it on.
    fn update(self: Arc<Self>, _ctx: &Ctx, _event: &Event) -> Gen;
}

/// Combines the answers of several generators asked at once: the operation due
/// soonest (ties: the first) is the step, else pending if any is pending, else nothing.
/// The returned generators are the chosen child's next, every pending child's next
/// (a pending answer commits nothing, and may start a timer that must keep running),
/// and the others unchanged.
pub(crate) fn combine(old: &[Gen], answers: Vec<Option<(Step, Gen)>>) -> Option<(Step, Vec<Gen>)> {
    let mut chosen: Option<usize> = None;
    let mut pending = false;
    for (i, a) in answers.iter().enumerate() {
        match a {
            Some((Step::Op(inv), _)) => {
                let better = match chosen.and_then(|c| answers[c].as_ref()) {
                    Some((Step::Op(best), _)) => inv.at < best.at,
                    _ => true,
                };
                if better {
                    chosen = Some(i);
                }
            }
            Some((Step::Pending, _)) => pending = true,
            None => {}
        }
    }
    if chosen.is_none() && !pending {
        return None;
    }
    let mut step = Step::Pending;
    let gens = answers
        .into_iter()
        .enumerate()
        .map(|(i, a)| match a {
            Some((Step::Pending, next)) => next,
            Some((s @ Step::Op(_), next)) if Some(i) == chosen => {
                step = s;
                next
            }
            _ => old[i].clone(),
        })
        .collect();
    Some((step, gens))
}

#[cfg(test)]
mod tests;
