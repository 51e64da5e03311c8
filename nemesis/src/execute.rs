//! Executing fault operations against a cluster, and healing everything at the end.

use crate::catalogue::FaultKind;
use crate::fault::{Delay, Fault, Partition, Selector, Targets};
use crate::grudge::{self, Grudge};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A boxed future, so a cluster can be a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the nemesis needs from a cluster. Errors say what failed, in words.
pub trait ClusterControl: Send + Sync {
    /// The nodes' names.
    fn nodes(&self) -> Vec<String>;
    /// Whether this cluster can do faults of `kind`; if not, why.
    fn supports(&self, kind: FaultKind) -> Result<(), String>;
    /// Replaces every network fault by `network`'s.
    fn set_network<'a>(&'a self, network: &'a Network) -> BoxFuture<'a, Result<(), String>>;
    /// SIGKILLs a node's process.
    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// Starts a killed node again (its files kept).
    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// Freezes or thaws a node.
    fn pause<'a>(&'a self, node: &'a str, paused: bool) -> BoxFuture<'a, Result<(), String>>;
    /// Sets a node's wall-clock offset, in seconds.
    fn set_clock<'a>(&'a self, node: &'a str, offset_s: i64) -> BoxFuture<'a, Result<(), String>>;
    /// What each node that answered says of its part in electing a leader; none for a
    /// design without a leader. Asked at once, and quickly enough to poll.
    fn roles(&self) -> BoxFuture<'_, Vec<NodeRole>>;
}

/// What a node says of its part in electing a leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRole {
    /// The node.
    pub node: String,
    /// The term (epoch) it is in.
    pub term: u64,
    /// Whether it leads, asks for votes, or neither.
    pub standing: Standing,
    /// Whether it gave its vote in its term to another node, when the design says.
    pub voted: Option<bool>,
}

/// A node's standing in its term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It leads its term.
    Leads,
    /// It is a candidate, asking for votes.
    Campaigns,
    /// It follows a leader, or waits for one.
    Follows,
}

/// The node that says it leads the highest term: of two that both believe they lead
/// (an old leader cut off), the higher term's is current.
pub fn current_leader(roles: &[NodeRole]) -> Option<&NodeRole> {
    roles.iter().filter(|r| r.standing == Standing::Leads).max_by_key(|r| r.term)
}

/// A node voting in an election under way: a follower in a term that no node leads
/// and that is newer than `since` (the highest term when the wait began), or in a term
/// a candidate still campaigns in. A follower moves to a term no one leads only when a
/// candidate of that term asks for its vote, so this is a node that has just voted, or
/// refused to: a design that says whether a node voted (`voted`) narrows it to one that
/// gave its vote away, since a refusal kept across a restart is no fault.
fn election_voter(roles: &[NodeRole], since: u64) -> Option<String> {
    let led = |term| roles.iter().any(|r| r.term == term && r.standing == Standing::Leads);
    let campaigned = |term| roles.iter().any(|r| r.term == term && r.standing == Standing::Campaigns);
    roles
        .iter()
        .find(|r| r.standing == Standing::Follows && r.voted != Some(false) && ((!led(r.term) && r.term > since) || campaigned(r.term)))
        .map(|r| r.node.clone())
}

/// How long a fault aimed at the leader waits for one while no node leads: struck
/// between two elections, a kill of "the leader" would otherwise strike no one (in
/// bridge-election's runs, one failover in five did, 28 of 157).
const LEADER_WAIT: Duration = Duration::from_secs(2);
/// How long a fault aimed at a voter waits for an election to begin.
const VOTER_WAIT: Duration = Duration::from_secs(2);
/// How often a fault waiting for a leader or a voter asks the nodes: a voter must go
/// down soon after its vote.
const ROLE_POLL: Duration = Duration::from_millis(10);

/// Every network fault in force: what [`ClusterControl::set_network`] makes true.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Network {
    /// Who drops whose packets.
    pub grudge: Grudge,
    /// Percent of incoming packets each node loses at random.
    pub loss: BTreeMap<String, u32>,
    /// How each node's outgoing packets to the other nodes are delayed.
    pub delay: BTreeMap<String, Delay>,
    /// Percent of each node's outgoing packets to the other nodes sent twice.
    pub duplicate: BTreeMap<String, u32>,
    /// Each node's bandwidth limit to the other nodes, kbit/s.
    pub rate: BTreeMap<String, u32>,
    /// Nodes whose packet faults strike only their links to these nodes (faults aimed
    /// at links, [`Targets::among`]); the others' strike all their links. A node's
    /// entry lasts while one of its packet faults does; the latest fault sets it.
    pub scope: BTreeMap<String, BTreeSet<String>>,
}

impl Network {
    /// Forgets the scope of nodes that no packet fault strikes any more.
    fn prune_scope(&mut self) {
        let Network { loss, delay, duplicate, rate, scope, .. } = self;
        scope.retain(|n, _| loss.contains_key(n) || delay.contains_key(n) || duplicate.contains_key(n) || rate.contains_key(n));
    }
}

/// What is currently broken.
#[derive(Debug, Default)]
struct Faults {
    network: Network,
    killed: BTreeSet<String>,
    paused: BTreeSet<String>,
    skewed: BTreeSet<String>,
    /// Clock strobes running; `stop-clock` ends them.
    strobes: Vec<tokio::task::JoinHandle<()>>,
    /// Whether the last heal left nothing broken, and nothing broke since.
    healed: bool,
    /// The node that led when a fault last asked: a partition drawn around the leader
    /// just after it was bounced, before anyone else won an election, is drawn around
    /// it.
    last_leader: Option<String>,
}

/// Runs fault operations and remembers what it broke, so `stop-*` and
/// [`Executor::heal_all`] undo exactly that.
pub struct Executor {
    control: Arc<dyn ClusterControl>,
    faults: Mutex<Faults>,
}

impl Executor {
    /// An executor for `control`; refuses kinds the cluster cannot do.
    pub fn new(control: Arc<dyn ClusterControl>, kinds: &[FaultKind]) -> Result<Executor, String> {
        for kind in kinds {
            control.supports(*kind).map_err(|why| format!("the {kind} fault cannot run here: {why}"))?;
        }
        Ok(Executor { control, faults: Mutex::new(Faults::default()) })
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The nodes a fault strikes: as the schedule chose them, or the leader or a live
    /// node, decided now.
    async fn targets(&self, t: &Targets) -> Result<Vec<String>, String> {
        match t.target {
            Selector::Leader => self.leader(LEADER_WAIT).await.map(|l| vec![l]),
            Selector::Voter => self.voter().await.map(|v| vec![v]),
            Selector::BridgeBesideLeader => {
                let leader = self.leader(LEADER_WAIT).await?;
                grudge::bridge_node(&leader, &self.control.nodes()).map(|b| vec![b]).ok_or_else(|| "a bridge needs three nodes".to_owned())
            }
            Selector::OneAlive => {
                let killed = self.faults().killed.clone();
                self.control.nodes().into_iter().find(|n| !killed.contains(n)).map(|n| vec![n]).ok_or_else(|| "every node is down".to_owned())
            }
            // A script that slows every link names no nodes: all of them, now.
            Selector::All if t.nodes.is_empty() => Ok(self.control.nodes()),
            _ => {
                let nodes = self.control.nodes();
                match t.nodes.iter().find(|n| !nodes.contains(n)) {
                    Some(n) => Err(format!("{n} is not a node of this cluster")),
                    None if t.nodes.is_empty() => Err("the fault names no nodes".to_owned()),
                    None => Ok(t.nodes.clone()),
                }
            }
        }
    }

    /// The node `pick` finds in the nodes' roles, asking them every [`ROLE_POLL`] for
    /// at most `wait` (once, when `wait` is zero).
    async fn await_role(&self, wait: Duration, pick: impl Fn(&[NodeRole]) -> Option<String>) -> Option<String> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(node) = pick(&self.control.roles().await) {
                return Some(node);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(ROLE_POLL).await;
        }
    }

    /// The node that leads ([`current_leader`]), remembered as the last leader; while
    /// none does (an election under way), waited for up to `wait`.
    async fn leader(&self, wait: Duration) -> Result<String, String> {
        let leader = self.await_role(wait, |roles| current_leader(roles).map(|l| l.node.clone())).await;
        let leader = leader.ok_or_else(|| if wait.is_zero() { "no node leads right now".to_owned() } else { format!("no node led within {wait:?}") })?;
        self.faults().last_leader = Some(leader.clone());
        Ok(leader)
    }

    /// Waits for a node to vote in an election ([`election_voter`]), for at most
    /// [`VOTER_WAIT`].
    async fn voter(&self) -> Result<String, String> {
        let since = self.control.roles().await.iter().map(|r| r.term).max().unwrap_or(0);
        self.await_role(VOTER_WAIT, |roles| election_voter(roles, since)).await.ok_or_else(|| format!("no node voted in an election within {VOTER_WAIT:?}"))
    }

    /// Narrows the packet faults of `nodes` to the links among them, when `t` says so.
    fn scope(&self, t: &Targets, nodes: &[String]) {
        if t.among {
            let mut f = self.faults();
            for n in nodes {
                f.network.scope.insert(n.clone(), nodes.iter().filter(|m| *m != n).cloned().collect());
            }
        }
    }

    /// Starts a packet fault: its nodes get `value` in the map `pick` chooses (narrowed
    /// to their links when aimed at links), and the network is applied; answers them.
    async fn start_packet_fault<V: Copy>(&self, t: &Targets, pick: fn(&mut Network) -> &mut BTreeMap<String, V>, value: V) -> Result<Vec<String>, String> {
        let targets = self.targets(t).await?;
        self.scope(t, &targets);
        pick(&mut self.faults().network).extend(targets.iter().map(|n| (n.clone(), value)));
        self.apply_network().await?;
        Ok(targets)
    }

    async fn apply_network(&self) -> Result<(), String> {
        let network = {
            let mut f = self.faults();
            f.network.prune_scope();
            f.network.clone()
        };
        self.control.set_network(&network).await
    }

    /// Runs one fault; answers what was done (for the history).
    pub async fn execute(&self, fault: &Fault) -> Result<Value, String> {
        self.faults().healed = false;
        match fault {
            Fault::StartPartition(Partition { shape, grudge }) => {
                let grudge: Grudge = match grudge {
                    Some(g) => g.clone(),
                    None if grudge::AROUND_LEADER.contains(&shape.as_str()) => {
                        // Drawn now, not after an election: the shape goes up while
                        // the leader it is drawn around is down (bridge-election).
                        let leader = match self.leader(Duration::ZERO).await {
                            Ok(leader) => leader,
                            Err(none) => self.faults().last_leader.clone().ok_or(none)?,
                        };
                        grudge::around_leader(shape, &leader, &self.control.nodes())
                    }
                    None => return Err(format!("partition shape {shape:?} comes without a grudge")),
                };
                self.faults().network.grudge = grudge.clone();
                self.apply_network().await?;
                Ok(json!({"shape": shape, "grudge": grudge}))
            }
            Fault::StopPartition => {
                self.faults().network.grudge.clear();
                self.apply_network().await?;
                Ok(json!("network healed"))
            }
            Fault::StartPacket(loss) => {
                let targets = self.start_packet_fault(&loss.targets, |n| &mut n.loss, loss.loss_percent).await?;
                Ok(json!({"nodes": targets, "loss_percent": loss.loss_percent}))
            }
            Fault::StopPacket => {
                self.faults().network.loss.clear();
                self.apply_network().await?;
                Ok(json!("packet loss cleared"))
            }
            Fault::StartDelay(d) => {
                let delay = Delay { delay_ms: d.delay_ms, jitter_ms: d.jitter_ms.min(d.delay_ms) };
                let targets = self.start_packet_fault(&d.targets, |n| &mut n.delay, delay).await?;
                Ok(json!({"nodes": targets, "delay_ms": delay.delay_ms, "jitter_ms": delay.jitter_ms}))
            }
            Fault::StopDelay => {
                self.faults().network.delay.clear();
                self.apply_network().await?;
                Ok(json!("packet delay cleared"))
            }
            Fault::StartDuplicate(d) => {
                let percent = d.percent.min(100);
                let targets = self.start_packet_fault(&d.targets, |n| &mut n.duplicate, percent).await?;
                Ok(json!({"nodes": targets, "percent": percent}))
            }
            Fault::StopDuplicate => {
                self.faults().network.duplicate.clear();
                self.apply_network().await?;
                Ok(json!("packet duplication cleared"))
            }
            Fault::StartRate(r) => {
                let kbit = r.kbit.max(8);
                let targets = self.start_packet_fault(&r.targets, |n| &mut n.rate, kbit).await?;
                Ok(json!({"nodes": targets, "kbit": kbit}))
            }
            Fault::StopRate => {
                self.faults().network.rate.clear();
                self.apply_network().await?;
                Ok(json!("bandwidth limits lifted"))
            }
            Fault::StartKill(t) => {
                let targets = self.targets(t).await?;
                for t in &targets {
                    self.control.kill(t).await?;
                    self.faults().killed.insert(t.clone());
                }
                Ok(json!({"killed": targets}))
            }
            Fault::StopKill => {
                let killed = std::mem::take(&mut self.faults().killed);
                for t in &killed {
                    self.control.start(t).await?;
                }
                Ok(json!({"restarted": killed}))
            }
            Fault::Bounce(t) => {
                let targets = self.targets(t).await?;
                for t in &targets {
                    self.control.kill(t).await?;
                    self.control.start(t).await?;
                }
                Ok(json!({"bounced": targets}))
            }
            Fault::StartPause(t) => {
                let targets = self.targets(t).await?;
                for t in &targets {
                    self.control.pause(t, true).await?;
                    self.faults().paused.insert(t.clone());
                }
                Ok(json!({"paused": targets}))
            }
            Fault::StopPause => {
                let paused = std::mem::take(&mut self.faults().paused);
                for t in &paused {
                    self.control.pause(t, false).await?;
                }
                Ok(json!({"resumed": paused}))
            }
            Fault::StartClock(skew) => {
                let targets = self.targets(&skew.targets).await?;
                for t in &targets {
                    self.control.set_clock(t, skew.offset_s).await?;
                    self.faults().skewed.insert(t.clone());
                }
                if let Some(period) = skew.strobe_ms {
                    self.strobe(targets.clone(), skew.offset_s, std::time::Duration::from_millis(period.max(10)));
                }
                Ok(json!({"nodes": targets, "offset_s": skew.offset_s, "strobe_ms": skew.strobe_ms}))
            }
            Fault::StopClock => {
                let skewed = {
                    let mut f = self.faults();
                    for strobe in f.strobes.drain(..) {
                        strobe.abort();
                    }
                    std::mem::take(&mut f.skewed)
                };
                for t in &skewed {
                    self.control.set_clock(t, 0).await?;
                }
                Ok(json!({"reset": skewed}))
            }
            Fault::Heal => self.heal_all().await,
        }
    }

    /// Flips the targets' clocks between `offset` and none every `period` until the
    /// next `stop-clock` (a strobe).
    fn strobe(&self, targets: Vec<String>, offset: i64, period: std::time::Duration) {
        let control = self.control.clone();
        let task = tokio::spawn(async move {
            let mut on = true;
            loop {
                tokio::time::sleep(period).await;
                on = !on;
                for t in &targets {
                    let _ = control.set_clock(t, if on { offset } else { 0 }).await;
                }
            }
        });
        self.faults().strobes.push(task);
    }

    /// Undoes every fault still in force: network, kills, pauses, clocks. Every step is
    /// tried; the errors are joined.
    pub fn heal_all(&self) -> BoxFuture<'_, Result<Value, String>> {
        // Boxed: `execute` calls it for `heal`, and it calls `execute`.
        Box::pin(self.heal_steps())
    }

    /// Whether everything is healed: a heal succeeded and no fault started since.
    pub fn healed(&self) -> bool {
        self.faults().healed
    }

    async fn heal_steps(&self) -> Result<Value, String> {
        let mut done = Vec::new();
        let mut errors = Vec::new();
        for fault in [Fault::StopPause, Fault::StopKill, Fault::StopClock, Fault::StopPacket, Fault::StopDelay, Fault::StopDuplicate, Fault::StopRate, Fault::StopPartition] {
            match self.execute(&fault).await {
                Ok(v) => done.push(v),
                Err(e) => errors.push(format!("{}: {e}", fault.to_op().0)),
            }
        }
        if errors.is_empty() {
            self.faults().healed = true;
            Ok(Value::Array(done))
        } else {
            Err(errors.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::PacketDuplicate;

    /// A cluster that remembers every network it was told to make true.
    #[derive(Default)]
    struct Recorder {
        networks: Mutex<Vec<Network>>,
        /// What the nodes answer, one answer per asking; the last one stays.
        roles: Mutex<Vec<Vec<NodeRole>>>,
    }

    fn role(node: &str, term: u64, standing: Standing) -> NodeRole {
        NodeRole { node: node.into(), term, standing, voted: None }
    }

    fn follower(node: &str, term: u64, voted: bool) -> NodeRole {
        NodeRole { node: node.into(), term, standing: Standing::Follows, voted: Some(voted) }
    }

    #[test]
    fn a_voter_is_a_follower_in_a_term_no_one_leads_yet() {
        use Standing::*;
        let steady = [role("n1", 3, Leads), role("n2", 3, Follows), role("n3", 3, Follows)];
        assert_eq!(election_voter(&steady, 3), None, "no election");
        let leaderless = [role("n2", 3, Follows), role("n3", 3, Follows)];
        assert_eq!(election_voter(&leaderless, 3), None, "the leader died, but no one asked for votes yet");
        let asked = [role("n2", 4, Campaigns), role("n3", 3, Follows), role("n1", 4, Follows)];
        assert_eq!(election_voter(&asked, 3), Some("n1".into()), "n1 heard n2's request; n3 did not yet, and n2 is the candidate");
        assert_eq!(election_voter(&[role("n2", 4, Campaigns), role("n1", 4, Follows)], 4), Some("n1".into()), "an election under way when the wait began");
        assert_eq!(election_voter(&[role("n2", 4, Leads), role("n1", 4, Follows)], 3), None, "that election is over");
        assert_eq!(election_voter(&[role("n1", 5, Follows)], 4), Some("n1".into()), "a candidate that did not answer still moved n1 to a new term");
        assert_eq!(election_voter(&[role("n2", 4, Campaigns), follower("n1", 4, false), follower("n3", 4, true)], 3), Some("n3".into()), "n1 refused; n3 voted");
        assert_eq!(election_voter(&[role("n2", 4, Leads), role("n3", 4, Campaigns), follower("n1", 4, true)], 3), Some("n1".into()), "n2 won, but n3 still campaigns in that term");
    }

    #[tokio::test]
    async fn a_fault_aimed_at_a_voter_waits_for_the_election_and_strikes_a_voter() {
        use Standing::*;
        let answers = vec![
            vec![role("n1", 1, Leads), role("n2", 1, Follows), role("n3", 1, Follows)],
            vec![role("n2", 1, Follows), role("n3", 1, Follows)],
            vec![role("n2", 2, Campaigns), role("n3", 1, Follows)],
            vec![role("n2", 2, Campaigns), role("n3", 2, Follows), role("n1", 1, Follows)],
        ];
        let cluster = Arc::new(Recorder { roles: Mutex::new(answers), ..Recorder::default() });
        let executor = Executor::new(cluster.clone(), &[FaultKind::Kill]).unwrap();
        let bounced = executor.execute(&Fault::Bounce(Targets::at_execution(Selector::Voter))).await.unwrap();
        assert_eq!(bounced["bounced"], json!(["n3"]));
        let no_election = Arc::new(Recorder { roles: Mutex::new(vec![vec![role("n1", 1, Leads), role("n2", 1, Follows)]]), ..Recorder::default() });
        let executor = Executor::new(no_election, &[FaultKind::Kill]).unwrap();
        let refused = executor.execute(&Fault::Bounce(Targets::at_execution(Selector::Voter))).await.unwrap_err();
        assert!(refused.contains("no node voted in an election within 2s"), "{refused}");
        let leader = Arc::new(Recorder { roles: Mutex::new(vec![vec![role("n1", 1, Leads), role("n2", 2, Leads)]]), ..Recorder::default() });
        assert_eq!(Executor::new(leader, &[FaultKind::Kill]).unwrap().execute(&Fault::Bounce(Targets::at_execution(Selector::Leader))).await.unwrap()["bounced"], json!(["n2"]), "the higher term's leader");
    }

    #[tokio::test]
    async fn a_fault_aimed_at_the_leader_waits_out_an_election() {
        use Standing::*;
        let answers = vec![vec![role("n1", 2, Campaigns), role("n2", 2, Follows)], vec![role("n1", 2, Follows), role("n2", 3, Campaigns)], vec![role("n2", 3, Leads), role("n1", 3, Follows)]];
        let electing = Arc::new(Recorder { roles: Mutex::new(answers), ..Recorder::default() });
        let executor = Executor::new(electing, &[FaultKind::Kill]).unwrap();
        assert_eq!(executor.execute(&Fault::StartKill(Targets::at_execution(Selector::Leader))).await.unwrap()["killed"], json!(["n2"]), "the winner of the election under way");
        let leaderless = Arc::new(Recorder { roles: Mutex::new(vec![vec![role("n1", 4, Campaigns)]]), ..Recorder::default() });
        let refused = Executor::new(leaderless, &[FaultKind::Kill]).unwrap().execute(&Fault::StartKill(Targets::at_execution(Selector::Leader))).await.unwrap_err();
        assert!(refused.contains("no node led within 2s"), "{refused}");
    }

    #[tokio::test]
    async fn a_partition_around_the_leader_just_after_its_bounce_is_drawn_around_it() {
        use Standing::*;
        let steady = Arc::new(Recorder { roles: Mutex::new(vec![vec![role("n2", 1, Leads), role("n1", 1, Follows), role("n3", 1, Follows)]]), ..Recorder::default() });
        let executor = Executor::new(steady, &[FaultKind::Partition]).unwrap();
        let bridge = || Fault::StartPartition(Partition { shape: grudge::BRIDGE_BESIDE_LEADER.into(), grudge: None });
        assert_eq!(executor.execute(&bridge()).await.unwrap()["grudge"], json!({"n2": ["n3"], "n3": ["n2"]}), "n2 leads: n1 is the bridge");
        let no_one_led = Arc::new(Recorder { roles: Mutex::new(vec![vec![role("n1", 1, Follows)]]), ..Recorder::default() });
        let executor = Executor::new(no_one_led, &[FaultKind::Partition]).unwrap();
        assert!(executor.execute(&bridge()).await.unwrap_err().contains("no node leads"), "no leader yet, and none before");
        let cluster = Arc::new(Recorder { roles: Mutex::new(vec![vec![role("n3", 2, Leads), role("n1", 2, Follows)], vec![role("n3", 2, Follows)]]), ..Recorder::default() });
        let executor = Executor::new(cluster, &[FaultKind::Kill, FaultKind::Partition]).unwrap();
        assert_eq!(executor.execute(&Fault::Bounce(Targets::at_execution(Selector::Leader))).await.unwrap()["bounced"], json!(["n3"]));
        assert_eq!(executor.execute(&bridge()).await.unwrap()["grudge"], json!({"n3": ["n2"], "n2": ["n3"]}), "n3 is back as a follower and no one else leads yet");
    }

    #[tokio::test]
    async fn a_pause_of_the_bridge_beside_the_leader_strikes_the_node_a_bridge_would_put_between() {
        use Standing::*;
        let cluster = Arc::new(Recorder { roles: Mutex::new(vec![vec![role("n1", 1, Leads), role("n2", 1, Follows), role("n3", 1, Follows)]]), ..Recorder::default() });
        let executor = Executor::new(cluster, &[FaultKind::Pause, FaultKind::Partition]).unwrap();
        let pause = Fault::StartPause(Targets::at_execution(Selector::BridgeBesideLeader));
        assert_eq!(executor.execute(&pause).await.unwrap()["paused"], json!(["n2"]), "n1 leads: n2 is the first other node");
        let bridge = Fault::StartPartition(Partition { shape: grudge::BRIDGE_BESIDE_LEADER.into(), grudge: None });
        assert_eq!(executor.execute(&bridge).await.unwrap()["grudge"], json!({"n1": ["n3"], "n3": ["n1"]}), "and the bridge it stands in");
    }

    impl ClusterControl for Recorder {
        fn nodes(&self) -> Vec<String> {
            vec!["n1".into(), "n2".into(), "n3".into()]
        }
        fn supports(&self, _: FaultKind) -> Result<(), String> {
            Ok(())
        }
        fn set_network<'a>(&'a self, network: &'a Network) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async move {
                self.networks.lock().unwrap().push(network.clone());
                Ok(())
            })
        }
        fn kill<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async { Ok(()) })
        }
        fn start<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async { Ok(()) })
        }
        fn pause<'a>(&'a self, _: &'a str, _: bool) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async { Ok(()) })
        }
        fn set_clock<'a>(&'a self, _: &'a str, _: i64) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async { Ok(()) })
        }
        fn roles(&self) -> BoxFuture<'_, Vec<NodeRole>> {
            let mut roles = self.roles.lock().unwrap();
            let now = if roles.len() > 1 { roles.remove(0) } else { roles.first().cloned().unwrap_or_default() };
            Box::pin(async move { now })
        }
    }

    #[tokio::test]
    async fn duplication_is_set_on_its_targets_and_cleared_by_stop_and_by_heal() {
        let cluster = Arc::new(Recorder::default());
        let executor = Executor::new(cluster.clone(), &[FaultKind::Duplicate]).unwrap();
        let start = Fault::StartDuplicate(PacketDuplicate { targets: Targets::chosen(Selector::Explicit, vec!["n2".into()]), percent: 140 });
        assert_eq!(executor.execute(&start).await.unwrap(), json!({"nodes": ["n2"], "percent": 100}), "a share is at most 100 %");
        executor.execute(&Fault::StopDuplicate).await.unwrap();
        executor.execute(&start).await.unwrap();
        executor.heal_all().await.unwrap();
        let seen: Vec<BTreeMap<String, u32>> = cluster.networks.lock().unwrap().iter().map(|n| n.duplicate.clone()).collect();
        let n2 = BTreeMap::from([("n2".to_owned(), 100)]);
        assert_eq!(seen[..3], [n2.clone(), BTreeMap::new(), n2]);
        assert!(seen.last().unwrap().is_empty(), "heal_all clears duplication: {seen:?}");
    }

    #[tokio::test]
    async fn faults_aimed_at_a_link_strike_only_that_link_while_they_last() {
        let cluster = Arc::new(Recorder::default());
        let executor = Executor::new(cluster.clone(), &[FaultKind::Delay]).unwrap();
        let link = Targets::among(vec!["n1".into(), "n3".into()]);
        executor.execute(&Fault::StartDelay(crate::fault::PacketDelay { targets: link, delay_ms: 100, jitter_ms: 0 })).await.unwrap();
        executor.execute(&Fault::StopDelay).await.unwrap();
        let seen = cluster.networks.lock().unwrap().clone();
        let n1_n3 = BTreeMap::from([("n1".to_owned(), BTreeSet::from(["n3".to_owned()])), ("n3".to_owned(), BTreeSet::from(["n1".to_owned()]))]);
        assert_eq!(seen[0].scope, n1_n3, "n1 delays only what it sends n3, and n3 only what it sends n1");
        assert_eq!(seen[0].delay.keys().collect::<Vec<_>>(), ["n1", "n3"]);
        assert!(seen[1].scope.is_empty(), "the scope goes with the fault: {:?}", seen[1]);
    }

    #[tokio::test]
    async fn all_without_names_strikes_every_node_at_execution() {
        let cluster = Arc::new(Recorder::default());
        let executor = Executor::new(cluster.clone(), &[FaultKind::Delay]).unwrap();
        let everywhere = Targets::at_execution(Selector::All);
        assert_eq!(executor.execute(&Fault::StartDelay(crate::fault::PacketDelay { targets: everywhere, delay_ms: 100, jitter_ms: 0 })).await.unwrap()["nodes"], json!(["n1", "n2", "n3"]));
        let empty = Targets::chosen(Selector::Explicit, Vec::new());
        assert!(executor.execute(&Fault::StartKill(empty)).await.unwrap_err().contains("names no nodes"), "an explicit list must name nodes");
    }
}
