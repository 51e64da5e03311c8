//! Which held packets are due: a delay plan draws each packet's holding time, and
//! [`Held`] releases packets in order of their release times, not their arrival, so a
//! plan with jitter reorders them as a slow, busy link does. Time is an argument
//! (elapsed since the daemon started), so tests replay exactly.

use faultline_history::generator::Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

/// How long packets are held: `delay` ± `jitter`, uniform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The mean.
    pub delay: Duration,
    /// The spread either side of it (at most the mean).
    pub jitter: Duration,
}

impl Plan {
    /// Reads a plan file's text: the delay and the jitter in milliseconds
    /// (`"400 0"`), as `faultline delayd --plan-file` rereads it on SIGHUP.
    pub fn parse(text: &str) -> Result<Plan, String> {
        let ms = |field: Option<&str>, what: &str| -> Result<Duration, String> {
            let field = field.ok_or_else(|| format!("no {what} in the plan {text:?} (expected \"<delay ms> <jitter ms>\")"))?;
            field.parse::<u64>().map(Duration::from_millis).map_err(|e| format!("{what} {field:?} in the plan {text:?}: {e}"))
        };
        let mut fields = text.split_whitespace();
        let plan = Plan { delay: ms(fields.next(), "delay")?, jitter: ms(fields.next(), "jitter")? };
        match fields.next() {
            Some(extra) => Err(format!("unexpected {extra:?} in the plan {text:?} (expected \"<delay ms> <jitter ms>\")")),
            None => Ok(plan),
        }
    }

    /// One packet's holding time.
    pub fn hold_for(&self, rng: &mut Rng) -> Duration {
        let jitter = self.jitter.min(self.delay);
        if jitter.is_zero() {
            return self.delay;
        }
        let span = jitter.as_micros() as u64 * 2;
        self.delay - jitter + Duration::from_micros(rng.below(span + 1))
    }
}

/// Packets waiting for their release time.
#[derive(Debug)]
pub struct Held<T> {
    order: BinaryHeap<Reverse<(Duration, u64)>>,
    items: HashMap<u64, T>,
    next: u64,
}

impl<T> Default for Held<T> {
    fn default() -> Held<T> {
        Held { order: BinaryHeap::new(), items: HashMap::new(), next: 0 }
    }
}

impl<T> Held<T> {
    /// Holds `item` until `release_at`; items due at the same time leave in arrival order.
    pub fn push(&mut self, release_at: Duration, item: T) {
        self.order.push(Reverse((release_at, self.next)));
        self.items.insert(self.next, item);
        self.next += 1;
    }

    /// The items due at `now`, earliest first.
    pub fn due(&mut self, now: Duration) -> Vec<T> {
        let mut out = Vec::new();
        while let Some(Reverse((at, id))) = self.order.peek().copied() {
            if at > now {
                break;
            }
            self.order.pop();
            out.extend(self.items.remove(&id));
        }
        out
    }

    /// When the next item is due.
    pub fn next_release(&self) -> Option<Duration> {
        self.order.peek().map(|Reverse((at, _))| *at)
    }

    /// Every item, earliest first (when the daemon stops: nothing is lost by stopping).
    pub fn drain(&mut self) -> Vec<T> {
        self.due(Duration::MAX)
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn holding_times_stay_within_the_jitter_and_cover_it() {
        let plan = Plan { delay: 100 * MS, jitter: 50 * MS };
        let mut rng = Rng(7);
        let times: Vec<Duration> = (0..2000).map(|_| plan.hold_for(&mut rng)).collect();
        assert!(times.iter().all(|t| (50 * MS..=150 * MS).contains(t)), "within 100 ± 50 ms");
        let (lo, hi) = (times.iter().min().copied().unwrap_or_default(), times.iter().max().copied().unwrap_or_default());
        assert!(lo < 55 * MS && hi > 145 * MS, "the whole spread is used: {lo:?}..{hi:?}");
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        assert!((95 * MS..105 * MS).contains(&mean), "centred on the delay: {mean:?}");
        let mut again = Rng(7);
        assert_eq!(plan.hold_for(&mut again), times[0], "seeded");
        assert_eq!(Plan { delay: 30 * MS, jitter: Duration::ZERO }.hold_for(&mut rng), 30 * MS);
        assert!(Plan { delay: 10 * MS, jitter: 40 * MS }.hold_for(&mut rng) <= 20 * MS, "jitter is capped at the delay: no negative holds");
    }

    #[test]
    fn plan_files_give_the_delay_and_jitter_or_say_what_is_wrong() {
        assert_eq!(Plan::parse("400 0\n"), Ok(Plan { delay: 400 * MS, jitter: Duration::ZERO }));
        assert_eq!(Plan::parse(" 100  50 "), Ok(Plan { delay: 100 * MS, jitter: 50 * MS }));
        assert!(Plan::parse("100").unwrap_err().contains("no jitter"));
        assert!(Plan::parse("fast 0").unwrap_err().contains("delay \"fast\""));
        assert!(Plan::parse("1 2 3").unwrap_err().contains("unexpected \"3\""));
    }

    #[test]
    fn packets_leave_by_release_time_so_jitter_reorders_them() {
        let plan = Plan { delay: 100 * MS, jitter: 50 * MS };
        let mut rng = Rng(3);
        let mut held = Held::default();
        // A packet every millisecond for 100 ms.
        for i in 0..100u32 {
            let arrived = i * MS;
            held.push(arrived + plan.hold_for(&mut rng), i);
        }
        assert_eq!(held.len(), 100);
        assert!(held.due(49 * MS).is_empty(), "nothing leaves before the shortest hold");
        let mut order = held.due(120 * MS);
        assert_eq!(held.next_release().map(|t| t > 120 * MS), Some(true));
        order.extend(held.drain());
        assert!(held.is_empty());
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>(), "every packet leaves once");
        let overtaken = order.windows(2).filter(|w| w[0] > w[1]).count();
        assert!(overtaken > 20, "with ±50 ms jitter on 1 ms spacing, many packets overtake: {overtaken}");
        let mut steady = Held::default();
        for i in 0..10u32 {
            steady.push(i * MS + 100 * MS, i);
        }
        assert_eq!(steady.drain(), (0..10).collect::<Vec<_>>(), "without jitter, order is kept");
    }
}
