//! A checker's evidence as one typed value: which checker found what, in its own
//! terms. Reports, `--json` and stored results all read these types.

use crate::bank::BankEvidence;
use crate::counter::CounterEvidence;
use crate::echo::EchoEvidence;
use crate::elle::ElleEvidence;
use crate::kafka::KafkaEvidence;
use crate::linear::LinearEvidence;
use crate::long_fork::LongForkEvidence;
use crate::set::SetEvidence;
use crate::set_full::SetFullEvidence;
use crate::stats::StatsEvidence;
use crate::unique_ids::UniqueIdsEvidence;
use serde::{Deserialize, Serialize};

/// The evidence behind a verdict, by checker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Evidence {
    /// Linearizability per key.
    Linearizable(LinearEvidence),
    /// Elle-style transactional isolation.
    Elle(ElleEvidence),
    /// Set membership over time.
    SetFull(SetFullEvidence),
    /// A set against its final read.
    Set(SetEvidence),
    /// Reads of groups of inserts, in one order.
    LongFork(LongForkEvidence),
    /// Counter bounds.
    Counter(CounterEvidence),
    /// Bank totals.
    Bank(BankEvidence),
    /// Unique ids.
    UniqueIds(UniqueIdsEvidence),
    /// Echoes.
    Echo(EchoEvidence),
    /// Kafka-style logs.
    Kafka(KafkaEvidence),
    /// Outcome counts per function.
    Stats(StatsEvidence),
    /// None (a result made up by hand, or a checker that had nothing to say).
    None,
}

macro_rules! from_evidence {
    ($($t:ty => $v:ident),* $(,)?) => {
        $(impl From<$t> for Evidence {
            fn from(e: $t) -> Evidence {
                Evidence::$v(e)
            }
        })*
    };
}

from_evidence!(
    LinearEvidence => Linearizable,
    ElleEvidence => Elle,
    SetFullEvidence => SetFull,
    SetEvidence => Set,
    LongForkEvidence => LongFork,
    CounterEvidence => Counter,
    BankEvidence => Bank,
    UniqueIdsEvidence => UniqueIds,
    EchoEvidence => Echo,
    KafkaEvidence => Kafka,
    StatsEvidence => Stats,
);
