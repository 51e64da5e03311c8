//! Which key's search runs when. Every key first gets the zone fast path; the keys it
//! cannot settle get a WGL search each, and the searches take turns in slices of
//! steps on the machine's cores, a bounded number of them live at a time. So a key
//! that fails in milliseconds is found while another key's search is still
//! exploring millions of configurations (Porcupine gets the same from a goroutine per
//! key), and once one key is proven not linearizable the others stop: the verdict is
//! known (unless `all_keys` asks for every key).
//!
//! A key the fast path proved not linearizable still gets a search, for the prefix
//! its explanation shows; that search has a short budget of its own, and only the
//! first few such keys get one.

use super::model::{KeyOp, Model};
use super::wgl::{self, Meter, Search};
use super::{exhausted_reason, explain, zone_failure, zones, KeyHistory, KeyOutcome};
use faultline_history::{History, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits of one check.
pub(crate) struct Limits {
    /// Past it, undecided keys are `unknown`.
    pub deadline: Instant,
    /// Bytes all searches may hold together.
    pub memory_bytes: usize,
    /// Keep searching every key after one failed.
    pub all_keys: bool,
}

/// One key's outcome, and whether the fast path settled it.
pub(crate) struct Decided {
    pub outcome: KeyOutcome,
    pub fast: bool,
}

/// Steps a search runs before it gives the core to the next one.
const SLICE: usize = 1 << 14;
/// Searches alive at once per worker (each holds its cache until it finishes).
const LIVE_PER_WORKER: usize = 4;
/// Histories with fewer operations are checked on the calling thread: starting
/// threads would cost more than it saves.
const INLINE_OPS: usize = 1_000;
/// How long the search for an explanation of a key the fast path already failed may take.
const EXPLAIN_FOR: Duration = Duration::from_secs(2);
/// How many such keys get that search; the others are explained by the fast path alone.
const EXPLAINED: usize = 3;

/// A search in progress.
struct Task<'a> {
    key_index: usize,
    key: &'a Value,
    ops: &'a [KeyOp],
    model: &'a mut Model,
    search: Option<Search<'a>>,
    /// For a key the fast path failed: its reason (the search only explains it).
    zone_reason: Option<String>,
    deadline: Instant,
}

/// The queue the workers share.
struct Queue<'a> {
    active: VecDeque<Task<'a>>,
    pending: VecDeque<Task<'a>>,
    running: usize,
    live: usize,
}

impl<'a> Queue<'a> {
    /// The next task to advance: a new one while there is room for more live
    /// searches, else the live one whose turn it is.
    fn take(&mut self) -> Option<Task<'a>> {
        let room = self.active.len() + self.running < self.live;
        let task = if room { self.pending.pop_front().or_else(|| self.active.pop_front()) } else { self.active.pop_front().or_else(|| self.pending.pop_front()) };
        if task.is_some() {
            self.running += 1;
        }
        task
    }
}

/// Decides every key of `keys`.
pub(crate) fn run(history: &History, keys: &mut [KeyHistory], no_fast_path: bool, limits: &Limits) -> Vec<Decided> {
    let settled = AtomicBool::new(false);
    let mut decided: Vec<Option<Decided>> = (0..keys.len()).map(|_| None).collect();
    let mut searches = Vec::new();
    let mut explanations = Vec::new();
    for (i, k) in keys.iter_mut().enumerate() {
        let zone = if no_fast_path { zones::ZoneVerdict::NotApplicable } else { zones::check(&k.ops) };
        let KeyHistory { key, model, ops } = k;
        let (zone_reason, deadline) = match zone {
            zones::ZoneVerdict::Linearizable => {
                decided[i] = Some(Decided { outcome: KeyOutcome::Linearizable, fast: true });
                continue;
            }
            zones::ZoneVerdict::NotLinearizable(reason) => {
                if !limits.all_keys {
                    settled.store(true, Ordering::Relaxed);
                }
                if explanations.len() >= EXPLAINED {
                    let failure = zone_failure(key, &reason, "only the first keys' searches are shown");
                    decided[i] = Some(Decided { outcome: KeyOutcome::Failure(failure), fast: true });
                    continue;
                }
                (Some(reason), limits.deadline.min(Instant::now() + EXPLAIN_FOR))
            }
            zones::ZoneVerdict::NotApplicable => (None, limits.deadline),
        };
        let task = Task { key_index: i, key: &*key, ops: &ops[..], model, search: None, zone_reason, deadline };
        if task.zone_reason.is_some() {
            explanations.push(task);
        } else {
            searches.push(task);
        }
    }
    let total_ops: usize = searches.iter().chain(&explanations).map(|t| t.ops.len()).sum();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = if total_ops < INLINE_OPS { 1 } else { threads.min(searches.len() + explanations.len()).max(1) };
    let meter = Meter::new(limits.memory_bytes);
    let queue = Mutex::new(Queue { active: VecDeque::new(), pending: explanations.into_iter().chain(searches).collect(), running: 0, live: LIVE_PER_WORKER * workers });
    let shared = Shared { history, queue, meter, settled, results: Mutex::new(Vec::new()), limits };
    let work = || worker(&shared);
    if workers == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(work);
            }
        });
    }
    for (i, d) in shared.results.into_inner().unwrap_or_else(|p| p.into_inner()) {
        decided[i] = Some(d);
    }
    decided.into_iter().map(|d| d.unwrap_or(Decided { outcome: KeyOutcome::Stopped, fast: false })).collect()
}

/// What the workers share.
struct Shared<'a, 'k> {
    history: &'a History,
    queue: Mutex<Queue<'k>>,
    meter: Meter,
    /// Set once a key failed (unless every key is wanted): the rest stop.
    settled: AtomicBool,
    results: Mutex<Vec<(usize, Decided)>>,
    limits: &'a Limits,
}

/// Advances tasks from the queue until none is left.
fn worker(shared: &Shared<'_, '_>) {
    let lock = || shared.queue.lock().unwrap_or_else(|p| p.into_inner());
    let budget = shared.limits.memory_bytes;
    loop {
        let Some(mut task) = lock().take() else { return };
        let explaining = task.zone_reason.is_some();
        let outcome = if shared.settled.load(Ordering::Relaxed) && !explaining {
            Some(KeyOutcome::Stopped)
        } else {
            let search = task.search.get_or_insert_with(|| Search::new(task.ops));
            match search.run(task.model, &shared.meter, SLICE) {
                Some(found) => Some(judge(shared.history, &task, found, budget)),
                None if Instant::now() >= task.deadline => Some(judge(shared.history, &task, wgl::Outcome::Unknown(wgl::Exhausted::Time), budget)),
                None => None,
            }
        };
        match outcome {
            None => {
                let mut q = lock();
                q.running -= 1;
                q.active.push_back(task);
            }
            Some(outcome) => {
                if let Some(s) = task.search.as_mut() {
                    s.release(&shared.meter);
                }
                if matches!(outcome, KeyOutcome::Failure(_)) && !shared.limits.all_keys {
                    shared.settled.store(true, Ordering::Relaxed);
                }
                shared.results.lock().unwrap_or_else(|p| p.into_inner()).push((task.key_index, Decided { outcome, fast: explaining }));
                lock().running -= 1;
            }
        }
    }
}

/// What a finished search says of its key.
fn judge(history: &History, task: &Task<'_>, found: wgl::Outcome, budget: usize) -> KeyOutcome {
    match (&task.zone_reason, found) {
        (None, wgl::Outcome::Linearizable) => KeyOutcome::Linearizable,
        (None, wgl::Outcome::NotLinearizable(f)) => KeyOutcome::Failure(explain(history, task.key, task.ops, task.model, &f)),
        (None, wgl::Outcome::Unknown(e)) => KeyOutcome::Unknown(exhausted_reason(&e, budget)),
        (Some(_), wgl::Outcome::NotLinearizable(f)) => KeyOutcome::Failure(explain(history, task.key, task.ops, task.model, &f)),
        (Some(reason), wgl::Outcome::Unknown(e)) => KeyOutcome::Failure(zone_failure(task.key, reason, &exhausted_reason(&e, budget))),
        (Some(reason), wgl::Outcome::Linearizable) => KeyOutcome::Failure(zone_failure(task.key, reason, "the search found every prefix placeable, which contradicts the fast path: please report this history")),
    }
}
