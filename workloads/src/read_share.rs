//! [`ReadShare`]: how many of a workload's operations are reads (`--read-share`).
//!
//! Each workload has its own default mix; a run may change it. A read-heavy mix gives
//! a stale or unwritten-back value more reads to show itself in before the next write
//! hides it; a write-heavy one more contention between writers (docs/ARCHITECTURE.md §1).

use faultline_history::generator::Rng;

/// The share of operations that are reads: `reads` in every `out_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadShare {
    reads: u64,
    out_of: u64,
}

/// Steps a share given as a fraction is rounded to: 0.1 % each.
const PER_MILLE: u64 = 1000;

impl ReadShare {
    /// `reads` in every `out_of` operations (a workload's default; `out_of` > 0).
    pub const fn new(reads: u64, out_of: u64) -> ReadShare {
        ReadShare { reads, out_of }
    }

    /// A share given as a fraction from 0 to 1, to the nearest 0.1 %.
    pub fn from_fraction(share: f64) -> Result<ReadShare, String> {
        if !(0.0..=1.0).contains(&share) {
            return Err(format!("a read share is a fraction from 0 to 1, not {share}"));
        }
        Ok(ReadShare { reads: (share * PER_MILLE as f64).round() as u64, out_of: PER_MILLE })
    }

    /// The share as a fraction.
    pub fn fraction(self) -> f64 {
        self.reads as f64 / self.out_of as f64
    }

    /// Draws one operation: `None` for a read; for an update, `Some((rank, updates))`
    /// with `rank` uniform in `0..updates`, for a workload that splits its updates
    /// further. One draw from `rng` either way, so a workload's default share makes
    /// the same operations from a seed as the fixed mix it replaced.
    pub fn draw(self, rng: &mut Rng) -> Option<(u64, u64)> {
        let d = rng.below(self.out_of);
        (d >= self.reads).then(|| (d - self.reads, self.out_of - self.reads))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fraction_rounds_to_tenths_of_a_percent_and_refuses_what_is_not_one() {
        assert_eq!(ReadShare::from_fraction(0.9).unwrap(), ReadShare::new(900, 1000));
        assert_eq!(ReadShare::from_fraction(0.33333).unwrap().fraction(), 0.333);
        assert!(ReadShare::from_fraction(1.5).unwrap_err().contains("from 0 to 1"));
        assert!(ReadShare::from_fraction(f64::NAN).is_err());
    }

    #[test]
    fn draws_come_out_in_the_share_asked_for() {
        let mut rng = Rng(7);
        let share = ReadShare::from_fraction(0.9).unwrap();
        let reads = (0..10_000).filter(|_| share.draw(&mut rng).is_none()).count();
        assert!((8_800..=9_200).contains(&reads), "{reads} reads in 10000");
        assert_eq!(ReadShare::new(0, 4).draw(&mut rng).map(|(_, of)| of), Some(4));
        assert_eq!(ReadShare::new(4, 4).draw(&mut rng), None);
    }

    #[test]
    fn an_update_is_ranked_among_the_updates() {
        let mut rng = Rng(1);
        let share = ReadShare::new(5, 10);
        for _ in 0..1000 {
            if let Some((rank, of)) = share.draw(&mut rng) {
                assert!(rank < of && of == 5);
            }
        }
    }
}
