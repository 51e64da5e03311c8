//! The kinds of fault, and which nodes they strike.

use std::fmt;

/// A kind of fault; each has a start and a stop operation (`start-<kind>`,
/// `stop-<kind>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// Network partitions (grudges), see [`crate::grudge`].
    Partition,
    /// SIGKILL the node; stop restarts it.
    Kill,
    /// Freeze the node (cgroup freezer); stop thaws it.
    Pause,
    /// Skew the node's wall clock (libfaketime); stop resets it.
    Clock,
    /// Drop a share of the node's incoming packets at random; stop clears it.
    Packet,
    /// Delay the node's outgoing packets to the other nodes, with jitter; stop clears it.
    Delay,
    /// Send a share of the node's outgoing packets to the other nodes twice; stop
    /// clears it.
    Duplicate,
    /// Limit the bandwidth of the node's outgoing packets to the other nodes (a slow
    /// link); stop clears it.
    Rate,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 8] = [FaultKind::Partition, FaultKind::Kill, FaultKind::Pause, FaultKind::Clock, FaultKind::Packet, FaultKind::Delay, FaultKind::Duplicate, FaultKind::Rate];

    /// Its name, as in `--nemesis partition,kill`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Clock => "clock",
            FaultKind::Packet => "packet",
            FaultKind::Delay => "delay",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Rate => "rate",
        }
    }

    /// Parses a comma-separated list of kinds (`none` or empty is no fault).
    pub fn parse_list(list: &str) -> Result<Vec<FaultKind>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "none")
            .map(|s| FaultKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| format!("unknown fault {s:?}; known: {}, or a scripted schedule: {}", FaultKind::ALL.map(|k| k.name()).join(", "), crate::SCRIPTED.join(", "))))
            .collect()
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which nodes a fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One node at random.
    One,
    /// Fewer than half, at random (at least one).
    Minority,
    /// More than half, at random.
    Majority,
    /// Every node.
    All,
    /// The current leader, asked at execution time.
    Leader,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 5] = [Target::One, Target::Minority, Target::Majority, Target::All, Target::Leader];
    /// Every target a leaderless design has.
    pub const WITHOUT_LEADER: [Target; 4] = [Target::One, Target::Minority, Target::Majority, Target::All];

    /// Its name, as in `--nemesis-targets one,leader`.
    pub fn name(self) -> &'static str {
        match self {
            Target::One => "one",
            Target::Minority => "minority",
            Target::Majority => "majority",
            Target::All => "all",
            Target::Leader => "leader",
        }
    }

    /// Parses a comma-separated list of targets.
    pub fn parse_list(list: &str) -> Result<Vec<Target>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Target::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| format!("unknown target {s:?}; one of one, minority, majority, all, leader, or a partition shape: {}", crate::grudge::TARGET_SHAPES.join(", "))))
            .collect()
    }

    /// How many of `n` nodes it strikes (the leader: one).
    pub fn count(self, n: usize) -> usize {
        match self {
            Target::One | Target::Leader => 1.min(n),
            Target::Minority => ((n.saturating_sub(1)) / 2).max(1).min(n),
            Target::Majority => n / 2 + 1,
            Target::All => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_and_targets() {
        assert_eq!(FaultKind::parse_list("partition, kill").unwrap(), vec![FaultKind::Partition, FaultKind::Kill]);
        assert!(FaultKind::parse_list("none").unwrap().is_empty());
        assert!(FaultKind::parse_list("flood").unwrap_err().contains("unknown fault \"flood\""));
        assert_eq!(Target::parse_list("one,leader").unwrap(), vec![Target::One, Target::Leader]);
        assert_eq!((Target::Minority.count(5), Target::Majority.count(5), Target::Minority.count(3)), (2, 3, 1));
    }
}
