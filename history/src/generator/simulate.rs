//! Running a generator against a fake clock: what it would invoke, when, on which
//! thread. For tests of generators, and for previewing a schedule without a cluster.

use super::{Ctx, Event, EventKind, Gen, Step, Thread};
use serde_json::Value;

/// One simulated invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulated {
    /// When it was invoked (ns).
    pub time: u64,
    /// On which thread.
    pub thread: Thread,
    /// Its function.
    pub f: String,
    /// Its value.
    pub value: Value,
}

/// Runs `gen` with `clients` client threads and a nemesis thread, every operation
/// taking `latency` ns and completing as `complete` says, until the generator is
/// exhausted or `max_ops` were invoked. Pending generators are asked again 1 ms later.
pub fn simulate(gen: Gen, clients: usize, latency: u64, max_ops: usize, complete: impl Fn(&Simulated) -> EventKind) -> Vec<Simulated> {
    let mut ctx = Ctx::new(clients);
    let mut gen = gen;
    let mut out = Vec::new();
    let mut running: Vec<(u64, Simulated)> = Vec::new();
    while out.len() < max_ops {
        let next_done = running.iter().map(|(t, _)| *t).min();
        let answer = gen.clone().op(&ctx);
        match answer {
            Some((Step::Op(inv), next)) if inv.at <= ctx.time || next_done.is_none_or(|d| inv.at < d) => {
                ctx.time = ctx.time.max(inv.at);
                gen = next;
                let sim = Simulated { time: ctx.time, thread: inv.thread, f: inv.f.clone(), value: inv.value.clone() };
                let event = Event { thread: inv.thread, kind: EventKind::Invoke, f: inv.f, value: inv.value };
                ctx.free.remove(&inv.thread);
                gen = gen.update(&ctx, &event);
                running.push((ctx.time + latency, sim.clone()));
                out.push(sim);
            }
            None if running.is_empty() => break,
            answer => {
                // Pending, exhausted with work outstanding, or an op due after the next
                // completion: move time on to the next completion (or 1 ms).
                if let Some((Step::Pending, next)) = answer {
                    gen = next;
                }
                match next_done {
                    Some(done) => {
                        let i = running.iter().position(|(t, _)| *t == done).unwrap_or(0);
                        let (t, sim) = running.remove(i);
                        ctx.time = ctx.time.max(t);
                        ctx.free.insert(sim.thread);
                        let event = Event { thread: sim.thread, kind: complete(&sim), f: sim.f.clone(), value: sim.value.clone() };
                        gen = gen.update(&ctx, &event);
                    }
                    None => ctx.time += 1_000_000,
                }
            }
        }
    }
    out
}
