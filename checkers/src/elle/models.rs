//! Consistency models, the anomalies each one rules out, and which models are weaker.
//!
//! The lattice follows Adya and Elle, with one simplification: models here are judged
//! only by the anomalies this checker can name, so snapshot isolation sits below
//! serializable (every cycle SI forbids, serializability forbids too).

use std::fmt;
use std::str::FromStr;

/// A consistency model a history can be checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConsistencyModel {
    /// No dirty writes (G0).
    ReadUncommitted,
    /// No G0, G1a, G1b, G1c.
    ReadCommitted,
    /// Read committed plus no item anti-dependency cycles (Adya PL-2.99).
    RepeatableRead,
    /// Read committed plus no G-single, no G-nonadjacent, no lost update.
    SnapshotIsolation,
    /// No dependency cycles at all.
    Serializable,
    /// Snapshot isolation that also respects each process's order.
    StrongSessionSnapshotIsolation,
    /// Snapshot isolation that also respects real-time order.
    StrongSnapshotIsolation,
    /// Serializable and respects each process's order.
    StrongSessionSerializable,
    /// Serializable and respects real-time order.
    StrictSerializable,
}

use ConsistencyModel::*;

/// Every model, weakest first.
pub const ALL_MODELS: [ConsistencyModel; 9] = [
    ReadUncommitted,
    ReadCommitted,
    RepeatableRead,
    SnapshotIsolation,
    Serializable,
    StrongSessionSnapshotIsolation,
    StrongSnapshotIsolation,
    StrongSessionSerializable,
    StrictSerializable,
];

impl ConsistencyModel {
    /// The model's name, as Elle writes it.
    pub fn name(self) -> &'static str {
        match self {
            ReadUncommitted => "read-uncommitted",
            ReadCommitted => "read-committed",
            RepeatableRead => "repeatable-read",
            SnapshotIsolation => "snapshot-isolation",
            Serializable => "serializable",
            StrongSessionSnapshotIsolation => "strong-session-snapshot-isolation",
            StrongSnapshotIsolation => "strong-snapshot-isolation",
            StrongSessionSerializable => "strong-session-serializable",
            StrictSerializable => "strict-serializable",
        }
    }

    /// The models this one directly implies (is at least as strong as).
    fn implies(self) -> &'static [ConsistencyModel] {
        match self {
            ReadUncommitted => &[],
            ReadCommitted => &[ReadUncommitted],
            RepeatableRead => &[ReadCommitted],
            SnapshotIsolation => &[ReadCommitted],
            Serializable => &[RepeatableRead, SnapshotIsolation],
            StrongSessionSnapshotIsolation => &[SnapshotIsolation],
            StrongSnapshotIsolation => &[StrongSessionSnapshotIsolation],
            StrongSessionSerializable => &[Serializable, StrongSessionSnapshotIsolation],
            StrictSerializable => &[StrongSessionSerializable, StrongSnapshotIsolation],
        }
    }

    /// True when `self` is `other` or stronger.
    pub fn at_least(self, other: ConsistencyModel) -> bool {
        self == other || self.implies().iter().any(|m| m.at_least(other))
    }

    /// True when this model rules out the named anomaly.
    pub fn forbids(self, anomaly: &str) -> bool {
        let (base, variant) = split_variant(anomaly);
        let order_ok = match variant {
            "" => true,
            "-process" => self.at_least(StrongSessionSerializable) || self.at_least(StrongSessionSnapshotIsolation),
            _ => self.at_least(StrictSerializable) || self.at_least(StrongSnapshotIsolation),
        };
        let needs = match base {
            "G0" | "duplicate-elements" | "incompatible-order" => ReadUncommitted,
            "G1a" | "G1b" | "G1c" | "dirty-update" | "internal" | "garbage-read" => ReadCommitted,
            "G-single" | "G-nonadjacent" | "lost-update" => {
                return order_ok && (self.at_least(SnapshotIsolation) || (base != "G-nonadjacent" && self.at_least(RepeatableRead)))
            }
            "G2-item" => return order_ok && (self.at_least(RepeatableRead)),
            _ => return false,
        };
        order_ok && self.at_least(needs)
    }
}

/// Splits `G-single-realtime` into (`G-single`, `-realtime`).
pub(crate) fn split_variant(anomaly: &str) -> (&str, &str) {
    for suffix in ["-realtime", "-process"] {
        if let Some(base) = anomaly.strip_suffix(suffix) {
            return (base, suffix);
        }
    }
    (anomaly, "")
}

/// The weakest models that the anomalies rule out (a model is listed only if no
/// weaker model is ruled out too), and every ruled-out model.
pub fn ruled_out<'a>(anomalies: impl IntoIterator<Item = &'a str> + Clone) -> (Vec<ConsistencyModel>, Vec<ConsistencyModel>) {
    let all: Vec<ConsistencyModel> =
        ALL_MODELS.iter().copied().filter(|m| anomalies.clone().into_iter().any(|a| m.forbids(a))).collect();
    let weakest = all.iter().copied().filter(|m| !all.iter().any(|w| w != m && m.at_least(*w))).collect();
    (weakest, all)
}

impl fmt::Display for ConsistencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ConsistencyModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALL_MODELS.iter().copied().find(|m| m.name() == s).ok_or_else(|| {
            format!("unknown consistency model {s:?}; one of: {}", ALL_MODELS.map(|m| m.name()).join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lattice_orders_models() {
        assert!(StrictSerializable.at_least(ReadCommitted));
        assert!(StrictSerializable.at_least(SnapshotIsolation));
        assert!(!SnapshotIsolation.at_least(RepeatableRead));
        assert!(!Serializable.at_least(StrongSessionSerializable));
    }

    #[test]
    fn models_forbid_their_anomalies() {
        assert!(ReadCommitted.forbids("G1c") && !ReadCommitted.forbids("G-single"));
        assert!(SnapshotIsolation.forbids("G-single") && !SnapshotIsolation.forbids("G2-item"));
        assert!(Serializable.forbids("G2-item") && !Serializable.forbids("G2-item-realtime"));
        assert!(StrictSerializable.forbids("G2-item-realtime") && StrictSerializable.forbids("G0-process"));
        assert!(StrongSessionSerializable.forbids("G-single-process") && !StrongSessionSerializable.forbids("G-single-realtime"));
        assert!(RepeatableRead.forbids("G-single") && !RepeatableRead.forbids("G-nonadjacent"));
    }

    #[test]
    fn reports_the_weakest_models_ruled_out() {
        let (weakest, all) = ruled_out(["G2-item"]);
        assert_eq!(weakest, vec![RepeatableRead]);
        assert!(all.contains(&StrictSerializable) && !all.contains(&SnapshotIsolation));
        let (weakest, _) = ruled_out(["G-single", "G1a"]);
        assert_eq!(weakest, vec![ReadCommitted]);
        let (weakest, _) = ruled_out(["G1c-realtime"]);
        assert_eq!(weakest, vec![StrongSnapshotIsolation]);
        assert_eq!("serializable".parse::<ConsistencyModel>(), Ok(Serializable));
        assert!("linearizable".parse::<ConsistencyModel>().unwrap_err().contains("one of"));
    }
}
