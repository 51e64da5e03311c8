//! Generators that make operations: fixed ones, from a function, and sleeps.

use super::{Ctx, Event, EventKind, Gen, Generator, Invocation, Step, Thread};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// A small, fast, seedable random number generator (splitmix64), carried inside
/// generators by value so they stay pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// A derived generator, for a child that needs its own stream.
    pub fn split(&mut self) -> Rng {
        Rng(self.next_u64())
    }
}

/// Operations from a function of a random stream and a counter: `(f, value)` each
/// time, forever, each on a free thread picked from the same stream. The counter starts at 0 and goes up by one per operation (for unique
/// values).
pub fn from_fn(seed: u64, f: impl Fn(&mut Rng, u64) -> (String, Value) + Send + Sync + 'static) -> Gen {
    from_fn_progress(seed, move |rng, progress| f(rng, progress.invoked))
}

/// How far a [`from_fn_progress`] generator has come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Operations invoked before this one (a counter for unique values).
    pub invoked: u64,
    /// Those that completed `ok` or `info`: took effect, or may have.
    pub effective: u64,
}

/// Like [`from_fn`], with [`Progress::effective`] as well. A workload that moves to
/// fresh keys as it goes should count by it, not by invocations: while the system
/// refuses everything (a failover, a partition) failed operations change nothing, and
/// a workload counting them would leave its keys behind during the outage and never
/// read, after it, what it wrote before it (docs/ARCHITECTURE.md §1, step 5).
pub fn from_fn_progress(seed: u64, f: impl Fn(&mut Rng, Progress) -> (String, Value) + Send + Sync + 'static) -> Gen {
    Arc::new(FromFn { f: Arc::new(f), rng: Rng(seed), progress: Progress::default() })
}

type OpFn = Arc<dyn Fn(&mut Rng, Progress) -> (String, Value) + Send + Sync>;

struct FromFn {
    f: OpFn,
    rng: Rng,
    progress: Progress,
}

impl fmt::Debug for FromFn {
    fn fmt(&self, fmt: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(fmt, "FromFn({:?})", self.progress)
    }
}

impl Generator for FromFn {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        if ctx.free.is_empty() {
            return Some((Step::Pending, self));
        }
        let mut rng = self.rng;
        // A random free thread, so every thread (and the node it talks to) gets work.
        let thread = ctx.free.iter().nth(rng.below(ctx.free.len() as u64) as usize).copied().unwrap_or(Thread::Nemesis);
        let (f, value) = (self.f)(&mut rng, self.progress);
        let progress = Progress { invoked: self.progress.invoked + 1, ..self.progress };
        let next = Arc::new(FromFn { f: self.f.clone(), rng, progress });
        Some((Step::Op(Invocation { thread, at: ctx.time, f, value }), next))
    }

    fn update(self: Arc<Self>, _: &Ctx, event: &Event) -> Gen {
        if !matches!(event.kind, EventKind::Ok | EventKind::Info) {
            return self;
        }
        let progress = Progress { effective: self.progress.effective + 1, ..self.progress };
        Arc::new(FromFn { f: self.f.clone(), rng: self.rng, progress })
    }
}

/// One operation, then nothing.
pub fn once(f: &str, value: Value) -> Gen {
    ops(vec![(f.to_owned(), value)])
}

/// These operations, in order, then nothing: [`timed`] with every time at the start.
pub fn ops(list: Vec<(String, Value)>) -> Gen {
    timed(list.into_iter().map(|(f, value)| (0, f, value)).collect())
}

/// These operations, in order, each at its time (ns since the test began) or, when no
/// thread is free then, as soon as one is; then nothing. Times are absolute, not
/// relative to the operation before, so one that ran late does not delay the rest: a
/// replay keeps the recorded run's times.
pub fn timed(list: Vec<(u64, String, Value)>) -> Gen {
    Arc::new(Timed { list: Arc::new(list), next: 0 })
}

#[derive(Debug)]
struct Timed {
    list: Arc<Vec<(u64, String, Value)>>,
    next: usize,
}

impl Generator for Timed {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        let (at, f, value) = self.list.get(self.next)?.clone();
        let Some(thread) = ctx.some_free().filter(|_| ctx.time >= at) else { return Some((Step::Pending, self)) };
        let next = Arc::new(Timed { list: self.list.clone(), next: self.next + 1 });
        Some((Step::Op(Invocation { thread, at: ctx.time, f, value }), next))
    }

    fn update(self: Arc<Self>, _: &Ctx, _: &Event) -> Gen {
        self
    }
}

/// Nothing for `dt` nanoseconds from the first time it is asked, then nothing more.
pub fn sleep(dt: u64) -> Gen {
    Arc::new(Sleep { dt, until: None })
}

#[derive(Debug)]
struct Sleep {
    dt: u64,
    until: Option<u64>,
}

impl Generator for Sleep {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        let until = self.until.unwrap_or(ctx.time + self.dt);
        (ctx.time < until).then(|| (Step::Pending, Arc::new(Sleep { dt: self.dt, until: Some(until) }) as Gen))
    }

    fn update(self: Arc<Self>, _: &Ctx, _: &Event) -> Gen {
        self
    }
}
