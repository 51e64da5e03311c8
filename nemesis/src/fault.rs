//! Fault operations as typed values. A [`Fault`] is what a schedule decides and the
//! [`crate::Executor`] carries out; in the history it is a nemesis operation whose `f`
//! is the variant's name (`start-partition`, `stop-kill`, …) and whose `value` is its
//! fields, so recorded runs replay and other tools can read them.

use crate::catalogue::Target;
use crate::grudge::Grudge;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a fault's nodes were chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Selector {
    /// One node, drawn by the schedule.
    One,
    /// Fewer than half, drawn by the schedule.
    Minority,
    /// More than half, drawn by the schedule.
    Majority,
    /// Every node.
    All,
    /// Whichever node leads when the fault starts (asked at execution time).
    Leader,
    /// The nodes the user named.
    Explicit,
    /// Any node that is not down, at execution time.
    OneAlive,
    /// A node that votes in an election under way or about to begin (asked at
    /// execution time, which waits for one).
    Voter,
    /// The node a bridge beside the leader would put in the middle (asked at
    /// execution time).
    BridgeBesideLeader,
}

impl From<Target> for Selector {
    fn from(t: Target) -> Selector {
        match t {
            Target::One => Selector::One,
            Target::Minority => Selector::Minority,
            Target::Majority => Selector::Majority,
            Target::All => Selector::All,
            Target::Leader => Selector::Leader,
        }
    }
}

/// Which nodes a fault strikes: how they were chosen and, unless that is decided at
/// execution time, which they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    /// How they were chosen.
    pub target: Selector,
    /// The nodes (empty for `leader`, `voter` and `one-alive`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// Packet faults strike only the packets the nodes send each other (a link, for
    /// two), not all their packets to the other nodes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub among: bool,
}

impl Targets {
    /// Nodes chosen now, by `selector`.
    pub fn chosen(selector: Selector, nodes: Vec<String>) -> Targets {
        Targets { target: selector, nodes, among: false }
    }

    /// Nodes chosen when the fault runs.
    pub fn at_execution(selector: Selector) -> Targets {
        Targets { target: selector, nodes: Vec::new(), among: false }
    }

    /// The links among `nodes` (the user named them): packet faults strike only what
    /// they send each other.
    pub fn among(nodes: Vec<String>) -> Targets {
        Targets { target: Selector::Explicit, nodes, among: true }
    }
}

/// How a partition is shaped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    /// The shape's name (`halves`, `ring`, `explicit`, `isolate-leader`, …).
    pub shape: String,
    /// Each node's grudge; absent for `isolate-leader`, which is decided at execution
    /// time around the node that leads then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grudge: Option<Grudge>,
}

/// Random loss of a share of the targets' incoming packets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PacketLoss {
    /// Which nodes.
    #[serde(flatten)]
    pub targets: Targets,
    /// Percent of packets lost.
    #[serde(default = "default_loss")]
    pub loss_percent: u32,
}

fn default_loss() -> u32 {
    20
}

/// Delay of the targets' outgoing packets to the other nodes (docs/ARCHITECTURE.md §5):
/// each packet is held for `delay_ms` ± `jitter_ms` (uniform), so with jitter packets
/// also overtake each other. A round trip between a target and a node that is not one
/// grows by the delay once; between two targets, twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PacketDelay {
    /// Which nodes.
    #[serde(flatten)]
    pub targets: Targets,
    /// Mean delay, ms.
    #[serde(default = "default_delay")]
    pub delay_ms: u32,
    /// Spread around the mean, ms.
    #[serde(default = "default_jitter")]
    pub jitter_ms: u32,
}

fn default_delay() -> u32 {
    100
}

fn default_jitter() -> u32 {
    50
}

/// How one node's outgoing packets are delayed (the part of a [`PacketDelay`] a node
/// carries out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delay {
    /// Mean delay, ms.
    pub delay_ms: u32,
    /// Spread around the mean, ms.
    pub jitter_ms: u32,
}

/// Duplication of a share of the targets' outgoing packets to the other nodes
/// (docs/ARCHITECTURE.md §5): each such packet is, with probability `percent` %, also
/// sent a second time, so the receiver sees it twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PacketDuplicate {
    /// Which nodes.
    #[serde(flatten)]
    pub targets: Targets,
    /// Percent of packets sent twice.
    #[serde(default = "default_duplicate")]
    pub percent: u32,
}

fn default_duplicate() -> u32 {
    30
}

/// A bandwidth limit on the targets' outgoing packets to the other nodes
/// (docs/ARCHITECTURE.md §5): a slow link, whose queue grows and, past half a second,
/// drops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PacketRate {
    /// Which nodes.
    #[serde(flatten)]
    pub targets: Targets,
    /// The limit, kilobits per second.
    #[serde(default = "default_rate")]
    pub kbit: u32,
}

fn default_rate() -> u32 {
    256
}

/// A clock offset on the targets, possibly strobing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockSkew {
    /// Which nodes.
    #[serde(flatten)]
    pub targets: Targets,
    /// Seconds added to their wall clocks.
    #[serde(default = "default_offset")]
    pub offset_s: i64,
    /// When set, the clocks flip between the offset and none every this many ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strobe_ms: Option<u64>,
}

fn default_offset() -> i64 {
    30
}

/// One fault operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "f", content = "value", rename_all = "kebab-case")]
pub enum Fault {
    /// Replace the network's grudge.
    StartPartition(Partition),
    /// Heal every partition.
    StopPartition,
    /// Lose packets at random.
    StartPacket(PacketLoss),
    /// Stop losing packets.
    StopPacket,
    /// Delay the targets' outgoing packets.
    StartDelay(PacketDelay),
    /// Stop delaying packets.
    StopDelay,
    /// Send a share of the targets' outgoing packets twice.
    StartDuplicate(PacketDuplicate),
    /// Stop duplicating packets.
    StopDuplicate,
    /// Limit the targets' outgoing bandwidth.
    StartRate(PacketRate),
    /// Lift every bandwidth limit.
    StopRate,
    /// SIGKILL the targets.
    StartKill(Targets),
    /// Restart every killed node.
    StopKill,
    /// Kill the targets and restart them at once.
    Bounce(Targets),
    /// Freeze the targets.
    StartPause(Targets),
    /// Thaw every paused node.
    StopPause,
    /// Skew the targets' clocks.
    StartClock(ClockSkew),
    /// Reset every skewed clock and end strobes.
    StopClock,
    /// Undo every fault in force: the end of a run's fault phase, after which the
    /// workload goes on so recovery is measured (docs/ARCHITECTURE.md §5).
    Heal,
}

impl Fault {
    /// The fault a nemesis operation's `f` and `value` describe, or what is wrong.
    pub fn from_op(f: &str, value: &Value) -> Result<Fault, String> {
        let tagged = if value.is_null() { serde_json::json!({ "f": f }) } else { serde_json::json!({ "f": f, "value": value }) };
        serde_json::from_value(tagged).map_err(|e| format!("{f} {value}: not a fault operation ({e})"))
    }

    /// The operation's `f` and `value` for the history.
    pub fn to_op(&self) -> (String, Value) {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut o)) => {
                let f = o.remove("f").and_then(|f| f.as_str().map(str::to_owned)).unwrap_or_default();
                (f, o.remove("value").unwrap_or(Value::Null))
            }
            // A fault is always an object with `f`; nothing else can come out.
            _ => (String::new(), Value::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn faults_round_trip_through_history_operations() {
        let faults = [
            Fault::StartPartition(Partition { shape: "halves".into(), grudge: Some([("n1".to_owned(), vec!["n2".to_owned()])].into_iter().collect()) }),
            Fault::StartPartition(Partition { shape: "isolate-leader".into(), grudge: None }),
            Fault::StopPartition,
            Fault::StartPacket(PacketLoss { targets: Targets::chosen(Selector::One, vec!["n1".into()]), loss_percent: 30 }),
            Fault::StartDelay(PacketDelay { targets: Targets::chosen(Selector::All, vec!["n1".into(), "n2".into()]), delay_ms: 200, jitter_ms: 0 }),
            Fault::StartDelay(PacketDelay { targets: Targets::among(vec!["n1".into(), "n3".into()]), delay_ms: 50, jitter_ms: 5 }),
            Fault::StopDelay,
            Fault::StartDuplicate(PacketDuplicate { targets: Targets::chosen(Selector::Minority, vec!["n2".into()]), percent: 40 }),
            Fault::StopDuplicate,
            Fault::StartRate(PacketRate { targets: Targets::at_execution(Selector::Leader), kbit: 64 }),
            Fault::StopRate,
            Fault::StartKill(Targets::at_execution(Selector::Leader)),
            Fault::Bounce(Targets::at_execution(Selector::OneAlive)),
            Fault::StartClock(ClockSkew { targets: Targets::chosen(Selector::Explicit, vec!["n3".into()]), offset_s: -5, strobe_ms: Some(200) }),
            Fault::StopClock,
            Fault::Heal,
        ];
        for fault in faults {
            let (f, value) = fault.to_op();
            assert_eq!(Fault::from_op(&f, &value).unwrap(), fault, "{f} {value}");
        }
        assert_eq!(Fault::StopKill.to_op(), ("stop-kill".to_owned(), Value::Null));
        assert_eq!(Fault::from_op("heal", &Value::Null).unwrap(), Fault::Heal, "a recorded run's final heal reads as a fault");
    }

    #[test]
    fn recorded_operations_read_as_faults() {
        let old = Fault::from_op("start-kill", &json!({"target": "minority", "nodes": ["n1", "n2"]})).unwrap();
        assert_eq!(old, Fault::StartKill(Targets::chosen(Selector::Minority, vec!["n1".into(), "n2".into()])));
        assert!(Fault::from_op("start-flood", &Value::Null).unwrap_err().contains("not a fault operation"));
        assert!(Fault::from_op("start-kill", &json!({"target": "moon"})).is_err());
    }
}
