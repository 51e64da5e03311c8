//! Generators made of generators.

use super::leaves::Rng;
use super::{combine, Ctx, Event, EventKind, Gen, Generator, Step, Thread};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// Runs each generator until it is exhausted, then the next.
pub fn then(gens: Vec<Gen>) -> Gen {
    Arc::new(Then { gens: Arc::new(gens), index: 0, current: None })
}

/// Like [`then`], but each phase after the first waits until every thread is free.
pub fn phases(gens: Vec<Gen>) -> Gen {
    then(gens.into_iter().enumerate().map(|(i, g)| if i == 0 { g } else { synchronize(g) }).collect())
}

#[derive(Debug)]
struct Then {
    gens: Arc<Vec<Gen>>,
    index: usize,
    current: Option<Gen>,
}

impl Generator for Then {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        let mut index = self.index;
        let mut current = self.current.clone();
        loop {
            let gen = current.take().or_else(|| self.gens.get(index).cloned())?;
            if let Some((step, next)) = gen.op(ctx) {
                return Some((step, Arc::new(Then { gens: self.gens.clone(), index, current: Some(next) })));
            }
            index += 1;
        }
    }

    fn update(self: Arc<Self>, ctx: &Ctx, event: &Event) -> Gen {
        let current = self.current.clone().or_else(|| self.gens.get(self.index).cloned());
        match current {
            Some(g) => Arc::new(Then { gens: self.gens.clone(), index: self.index, current: Some(g.update(ctx, event)) }),
            None => self,
        }
    }
}

/// Waits until every thread of its context is free, then runs `gen`.
pub fn synchronize(gen: Gen) -> Gen {
    Arc::new(Synchronize { gen, started: false })
}

#[derive(Debug)]
struct Synchronize {
    gen: Gen,
    started: bool,
}

impl Generator for Synchronize {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        if !self.started && ctx.free != ctx.all {
            return Some((Step::Pending, self));
        }
        self.gen.clone().op(ctx).map(|(s, g)| (s, Arc::new(Synchronize { gen: g, started: true }) as Gen))
    }

    fn update(self: Arc<Self>, ctx: &Ctx, event: &Event) -> Gen {
        Arc::new(Synchronize { gen: self.gen.clone().update(ctx, event), started: self.started })
    }
}

/// At most `n` operations of `gen`.
pub fn limit(n: u64, gen: Gen) -> Gen {
    Arc::new(Limit { n, gen })
}

#[derive(Debug)]
struct Limit {
    n: u64,
    gen: Gen,
}

impl Generator for Limit {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        if self.n == 0 {
            return None;
        }
        let (step, next) = self.gen.clone().op(ctx)?;
        let n = if matches!(step, Step::Op(_)) { self.n - 1 } else { self.n };
        Some((step, Arc::new(Limit { n, gen: next })))
    }

    fn update(self: Arc<Self>, ctx: &Ctx, event: &Event) -> Gen {
        Arc::new(Limit { n: self.n, gen: self.gen.clone().update(ctx, event) })
    }
}

/// `gen` again from the start each time it is exhausted, forever.
pub fn repeat(gen: Gen) -> Gen {
    Arc::new(Repeat { template: gen.clone(), current: gen, left: None })
}

/// `gen` from the start `times` times.
pub fn cycle(times: u64, gen: Gen) -> Gen {
    Arc::new(Repeat { template: gen.clone(), current: gen, left: Some(times) })
}

#[derive(Debug)]
struct Repeat {
    template: Gen,
    current: Gen,
    left: Option<u64>,
}

impl Generator for Repeat {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        let mut left = self.left;
        let mut current = self.current.clone();
        for _ in 0..2 {
            if left == Some(0) {
                return None;
            }
            if let Some((step, next)) = current.op(ctx) {
                return Some((step, Arc::new(Repeat { template: self.template.clone(), current: next, left })));
            }
            left = left.map(|l| l - 1);
            current = self.template.clone();
        }
        None // the template itself yields nothing
    }

    fn update(self: Arc<Self>, ctx: &Ctx, event: &Event) -> Gen {
        Arc::new(Repeat { template: self.template.clone(), current: self.current.clone().update(ctx, event), left: self.left })
    }
}

/// Spaces `gen`'s operations by random intervals averaging `dt` ns (uniform in
/// `0..2dt`): a rate of about 1/dt, across all threads.
pub fn stagger(dt: u64, seed: u64, gen: Gen) -> Gen {
    Arc::new(Spaced { dt, random: Some(Rng(seed)), next: None, gen })
}

/// Spaces `gen`'s operations exactly `dt` ns apart.
pub fn delay(dt: u64, gen: Gen) -> Gen {
    Arc::new(Spaced { dt, random: None, next: None, gen })
}

#[derive(Debug)]
struct Spaced {
    dt: u64,
    random: Option<Rng>,
    next: Option<u64>,
    gen: Gen,
}

impl Generator for Spaced {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        let (step, gen) = self.gen.clone().op(ctx)?;
        match step {
            Step::Pending => Some((Step::Pending, Arc::new(Spaced { dt: self.dt, random: self.random, next: self.next, gen }))),
            Step::Op(mut inv) => {
                inv.at = inv.at.max(self.next.unwrap_or(ctx.time));
                let mut random = self.random;
                let gap = match random.as_mut() {
                    Some(rng) => rng.below(2 * self.dt.max(1)),
                    None => self.dt,
                };
                let next = Some(inv.at + gap);
                Some((Step::Op(inv), Arc::new(Spaced { dt: self.dt, random, next, gen })))
            }
        }
    }

    fn update(self: Arc<Self>, ctx: &Ctx, event: &Event) -> Gen {
        Arc::new(Spaced { dt: self.dt, random: self.random, next: self.next, gen: self.gen.clone().update(ctx, event) })
    }
}

/// `gen` until `dt` ns after it is first asked; no operation at or past that time.
pub fn time_limit(dt: u64, gen: Gen) -> Gen {
    Arc::new(TimeLimit { dt, deadline: None, gen })
}

#[derive(Debug)]
struct TimeLimit {
    dt: u64,
    deadline: Option<u64>,
    gen: Gen,
}

impl Generator for TimeLimit {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        let deadline = self.deadline.unwrap_or(ctx.time + self.dt);
        if ctx.time >= deadline {
            return None;
        }
        let (step, gen) = self.gen.clone().op(ctx)?;
        if let Step::Op(inv) = &step {
            if inv.at >= deadline {
                return None;
            }
        }
        Some((step, Arc::new(TimeLimit { dt: self.dt, deadline: Some(deadline), gen })))
    }

    fn update(self: Arc<Self>, ctx: &Ctx, event: &Event) -> Gen {
        Arc::new(TimeLimit { dt: self.dt, deadline: self.deadline, gen: self.gen.clone().update(ctx, event) })
    }
}

/// A copy of `gen` per thread, each seeing only its own thread.
pub fn each_thread(gen: Gen) -> Gen {
    Arc::new(EachThread { template: gen, per: Arc::new(BTreeMap::new()) })
}

#[derive(Debug)]
struct EachThread {
    template: Gen,
    per: Arc<BTreeMap<Thread, Gen>>,
}

impl Generator for EachThread {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        let threads: Vec<Thread> = ctx.all.iter().copied().collect();
        let old: Vec<Gen> = threads.iter().map(|t| self.per.get(t).cloned().unwrap_or_else(|| self.template.clone())).collect();
        let answers = threads.iter().zip(&old).map(|(t, g)| g.clone().op(&ctx.restrict(|x| x == *t))).collect();
        let (step, gens) = combine(&old, answers)?;
        let per: BTreeMap<Thread, Gen> = threads.into_iter().zip(gens).collect();
        Some((step, Arc::new(EachThread { template: self.template.clone(), per: Arc::new(per) })))
    }

    fn update(self: Arc<Self>, ctx: &Ctx, event: &Event) -> Gen {
        let gen = self.per.get(&event.thread).cloned().unwrap_or_else(|| self.template.clone());
        let mut per = (*self.per).clone();
        per.insert(event.thread, gen.update(&ctx.restrict(|x| x == event.thread), event));
        Arc::new(EachThread { template: self.template.clone(), per: Arc::new(per) })
    }
}

/// `gen`, on the threads `keep` accepts only (it sees no other thread, nor their events).
pub fn on_threads(keep: impl Fn(Thread) -> bool + Send + Sync + 'static, gen: Gen) -> Gen {
    Arc::new(OnThreads { keep: Arc::new(keep), gen })
}

/// `gen` on the client threads.
pub fn clients(gen: Gen) -> Gen {
    on_threads(|t| matches!(t, Thread::Client(_)), gen)
}

/// `gen` on the nemesis thread.
pub fn nemesis(gen: Gen) -> Gen {
    on_threads(|t| t == Thread::Nemesis, gen)
}

type Keep = Arc<dyn Fn(Thread) -> bool + Send + Sync>;

struct OnThreads {
    keep: Keep,
    gen: Gen,
}

impl fmt::Debug for OnThreads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OnThreads({:?})", self.gen)
    }
}

impl Generator for OnThreads {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        let keep = self.keep.clone();
        let (step, gen) = self.gen.clone().op(&ctx.restrict(|t| keep(t)))?;
        Some((step, Arc::new(OnThreads { keep: self.keep.clone(), gen })))
    }

    fn update(self: Arc<Self>, ctx: &Ctx, event: &Event) -> Gen {
        if !(self.keep)(event.thread) {
            return self;
        }
        let keep = self.keep.clone();
        Arc::new(OnThreads { keep: self.keep.clone(), gen: self.gen.clone().update(&ctx.restrict(|t| keep(t)), event) })
    }
}

/// Dedicated client threads: the first `n₁` clients run the first generator, the next
/// `n₂` the second, …; the remaining client threads run `rest`.
pub fn reserve(pools: Vec<(usize, Gen)>, rest: Gen) -> Gen {
    let mut start = 0;
    let mut parts = Vec::new();
    for (n, gen) in pools {
        let range = start..start + n;
        parts.push(on_threads(move |t| matches!(t, Thread::Client(i) if range.contains(&i)), gen));
        start += n;
    }
    parts.push(on_threads(move |t| matches!(t, Thread::Client(i) if i >= start), rest));
    any(parts)
}

/// All of these at once: whichever has an operation due soonest.
pub fn any(gens: Vec<Gen>) -> Gen {
    Arc::new(Any { gens: Arc::new(gens) })
}

#[derive(Debug)]
struct Any {
    gens: Arc<Vec<Gen>>,
}

impl Generator for Any {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        let answers = self.gens.iter().map(|g| g.clone().op(ctx)).collect();
        let (step, gens) = combine(&self.gens, answers)?;
        Some((step, Arc::new(Any { gens: Arc::new(gens) })))
    }

    fn update(self: Arc<Self>, ctx: &Ctx, event: &Event) -> Gen {
        Arc::new(Any { gens: Arc::new(self.gens.iter().map(|g| g.clone().update(ctx, event)).collect()) })
    }
}

/// Each operation from one of `gens` picked at random (exhausted ones drop out).
pub fn mix(seed: u64, gens: Vec<Gen>) -> Gen {
    Arc::new(Mix { rng: Rng(seed), gens: Arc::new(gens) })
}

#[derive(Debug)]
struct Mix {
    rng: Rng,
    gens: Arc<Vec<Gen>>,
}

impl Generator for Mix {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        let mut gens = (*self.gens).clone();
        let mut rng = self.rng;
        while !gens.is_empty() {
            let i = rng.below(gens.len() as u64) as usize;
            match gens[i].clone().op(ctx) {
                Some((step, next)) => {
                    gens[i] = next;
                    return Some((step, Arc::new(Mix { rng, gens: Arc::new(gens) })));
                }
                None => {
                    gens.remove(i);
                }
            }
        }
        None
    }

    fn update(self: Arc<Self>, ctx: &Ctx, event: &Event) -> Gen {
        Arc::new(Mix { rng: self.rng, gens: Arc::new(self.gens.iter().map(|g| g.clone().update(ctx, event)).collect()) })
    }
}

/// Operations alternately from `a` and `b`, ending when the one due is exhausted.
pub fn flip_flop(a: Gen, b: Gen) -> Gen {
    Arc::new(FlipFlop { gens: [a, b], turn: 0 })
}

#[derive(Debug)]
struct FlipFlop {
    gens: [Gen; 2],
    turn: usize,
}

impl Generator for FlipFlop {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        let (step, next) = self.gens[self.turn].clone().op(ctx)?;
        let mut gens = self.gens.clone();
        gens[self.turn] = next;
        let turn = if matches!(step, Step::Op(_)) { 1 - self.turn } else { self.turn };
        Some((step, Arc::new(FlipFlop { gens, turn })))
    }

    fn update(self: Arc<Self>, ctx: &Ctx, event: &Event) -> Gen {
        Arc::new(FlipFlop { gens: [self.gens[0].clone().update(ctx, event), self.gens[1].clone().update(ctx, event)], turn: self.turn })
    }
}

/// `gen` until one of the operations it issued completes `ok`.
pub fn until_ok(gen: Gen) -> Gen {
    Arc::new(UntilOk { gen, mine: Arc::new(BTreeSet::new()), done: false })
}

#[derive(Debug)]
struct UntilOk {
    gen: Gen,
    /// Threads running an operation this generator issued.
    mine: Arc<BTreeSet<Thread>>,
    done: bool,
}

impl Generator for UntilOk {
    fn op(self: Arc<Self>, ctx: &Ctx) -> Option<(Step, Gen)> {
        if self.done {
            return None;
        }
        let (step, gen) = self.gen.clone().op(ctx)?;
        let mut mine = (*self.mine).clone();
        if let Step::Op(inv) = &step {
            mine.insert(inv.thread);
        }
        Some((step, Arc::new(UntilOk { gen, mine: Arc::new(mine), done: false })))
    }

    fn update(self: Arc<Self>, ctx: &Ctx, event: &Event) -> Gen {
        let ours = self.mine.contains(&event.thread);
        let done = self.done || (ours && event.kind == EventKind::Ok);
        let mut mine = (*self.mine).clone();
        if ours && event.kind != EventKind::Invoke {
            mine.remove(&event.thread);
        }
        Arc::new(UntilOk { gen: self.gen.clone().update(ctx, event), mine: Arc::new(mine), done })
    }
}
