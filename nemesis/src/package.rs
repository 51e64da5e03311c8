//! What `--nemesis` names (docs/ARCHITECTURE.md §5): a list of fault kinds, a named
//! package of fault families that run at once, or a scripted schedule.
//!
//! A list of kinds (`partition,kill`) is one schedule: one fault at a time, each kind
//! drawn at random. A [`Package`] is like Jepsen's combined nemesis: each of its
//! families has a schedule of its own, offset from the others, so faults of different
//! families overlap (a partition while a node is paused and the leader's links are
//! slow). A scripted schedule ([`crate::SCRIPTED`]) repeats one sequence of faults that
//! random timing rarely produces.

use crate::catalogue::FaultKind;
use crate::schedule::SCRIPTED;

/// A named bundle of fault families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    /// Its name, as in `--nemesis all`.
    pub name: &'static str,
    /// What it does, in words (for `--help` and the README).
    pub about: &'static str,
    /// Families: each runs its own schedule, one fault of the family at a time.
    pub families: &'static [&'static [FaultKind]],
}

use FaultKind::{Clock, Delay, Duplicate, Kill, Packet, Partition, Pause, Rate};

/// Every package.
pub const PACKAGES: [Package; 3] = [
    Package {
        name: "all",
        about: "partitions of every shape; kills and pauses of the leader, one node, a minority, a majority or all; clock offsets and strobes; packet delay, loss, duplication and bandwidth limits: four families at once, overlapping",
        families: &[&[Partition], &[Kill, Pause], &[Clock], &[Delay, Packet, Duplicate, Rate]],
    },
    Package { name: "network", about: "partitions of every shape, overlapping with packet delay, loss, duplication and bandwidth limits", families: &[&[Partition], &[Delay, Packet, Duplicate, Rate]] },
    Package { name: "process", about: "kills and pauses, overlapping with clock offsets and strobes", families: &[&[Kill, Pause], &[Clock]] },
];

/// What a `--nemesis` value names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NemesisChoice {
    /// No fault at all.
    None,
    /// One schedule drawing from these kinds.
    Kinds(Vec<FaultKind>),
    /// Families at once; only the families the design can take (see
    /// [`NemesisChoice::without`]).
    Package { name: &'static str, families: Vec<Vec<FaultKind>> },
    /// A scripted schedule.
    Scripted(&'static str),
}

impl NemesisChoice {
    /// Parses `none`, a package's name, a scripted schedule's name or a list of kinds.
    pub fn parse(s: &str) -> Result<NemesisChoice, String> {
        let s = s.trim();
        if let Some(p) = PACKAGES.iter().find(|p| p.name == s) {
            return Ok(NemesisChoice::Package { name: p.name, families: p.families.iter().map(|f| f.to_vec()).collect() });
        }
        if let Some(name) = SCRIPTED.iter().find(|n| **n == s) {
            return Ok(NemesisChoice::Scripted(name));
        }
        let kinds = FaultKind::parse_list(s).map_err(|e| format!("{e}; or a package: {}", PACKAGES.map(|p| p.name).join(", ")))?;
        Ok(if kinds.is_empty() { NemesisChoice::None } else { NemesisChoice::Kinds(kinds) })
    }

    /// Every kind of fault it may start.
    pub fn kinds(&self) -> Vec<FaultKind> {
        match self {
            NemesisChoice::None => Vec::new(),
            NemesisChoice::Kinds(k) => k.clone(),
            NemesisChoice::Package { families, .. } => families.concat(),
            NemesisChoice::Scripted(name) => crate::schedule::scripted_kinds(name).to_vec(),
        }
    }

    /// A package without the kinds the design cannot take (a package is "everything
    /// that applies"); a list of kinds or a scripted schedule is left as the user
    /// wrote it, so what cannot apply is refused with the reason instead.
    pub fn without(self, cannot: impl Fn(FaultKind) -> bool) -> NemesisChoice {
        match self {
            NemesisChoice::Package { name, families } => NemesisChoice::Package {
                name,
                families: families.into_iter().map(|f| f.into_iter().filter(|k| !cannot(*k)).collect::<Vec<_>>()).filter(|f| !f.is_empty()).collect(),
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nemesis_values_name_kinds_packages_or_scripts() {
        assert_eq!(NemesisChoice::parse("none").unwrap(), NemesisChoice::None);
        assert_eq!(NemesisChoice::parse("partition,kill").unwrap(), NemesisChoice::Kinds(vec![Partition, Kill]));
        assert_eq!(NemesisChoice::parse("isolate-leader").unwrap(), NemesisChoice::Scripted("isolate-leader"));
        let all = NemesisChoice::parse("all").unwrap();
        let mut kinds = all.kinds();
        kinds.sort_by_key(|k| k.name());
        let mut every = FaultKind::ALL.to_vec();
        every.sort_by_key(|k| k.name());
        assert_eq!(kinds, every, "`all` has every kind");
        let err = NemesisChoice::parse("flood").unwrap_err();
        assert!(err.contains("unknown fault \"flood\"") && err.contains("or a package: all, network, process"), "{err}");
    }

    #[test]
    fn a_package_drops_what_the_design_cannot_take() {
        let all = NemesisChoice::parse("all").unwrap().without(|k| k == Clock);
        let NemesisChoice::Package { families, .. } = &all else { panic!("{all:?}") };
        assert_eq!(families.len(), 3, "the clock family is gone: {families:?}");
        assert!(!all.kinds().contains(&Clock));
        let listed = NemesisChoice::parse("clock").unwrap().without(|k| k == Clock);
        assert_eq!(listed.kinds(), vec![Clock], "a kind the user listed stays, to be refused with its reason");
    }
}
