//! When and where faults strike: random schedules from a list of kinds, packages of
//! such schedules at once, scripted ones for sequences random faults make rarely, and
//! replays of a recorded run's faults.

use crate::catalogue::{FaultKind, Target};
use crate::fault::{ClockSkew, Fault, PacketDelay, PacketDuplicate, PacketLoss, PacketRate, Partition, Selector, Targets};
use crate::grudge;
use faultline_history::generator::{self, delay, from_fn, nemesis, ops, repeat, sleep, then, timed, Gen, Rng};
use faultline_history::Op;
#[cfg(test)]
use serde_json::json;

/// The scripted schedules.
pub const SCRIPTED: [&str; 5] = ["isolate-leader", "kill-during-election", "bridge-election", "kill-new-leader", "slow-leader"];

const SECOND: u64 = 1_000_000_000;

/// Rounds of a scripted schedule drawn before they repeat (each at least two
/// intervals).
const SCRIPTED_ROUNDS: usize = 64;

/// Picks `count` distinct nodes at random.
fn pick(nodes: &[String], count: usize, rng: &mut Rng) -> Vec<String> {
    let mut v = nodes.to_vec();
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i as u64 + 1) as usize);
    }
    v.truncate(count);
    v.sort();
    v
}

/// Where random faults strike: target kinds to draw from, explicit nodes, and an
/// explicit grudge for partitions.
#[derive(Debug, Clone, Default)]
pub struct Aim {
    /// Target kinds (all when empty and no explicit nodes).
    pub targets: Vec<Target>,
    /// Explicit nodes: every kill, pause, clock and packet fault strikes exactly these.
    pub nodes: Vec<String>,
    /// Every partition is this grudge.
    pub grudge: Option<grudge::Grudge>,
    /// The design has no leader: random faults never aim at one.
    pub leaderless: bool,
    /// Links the user named (`n1:n2`): packet faults strike only these links,
    /// partitions cut them, and kills, pauses and clocks strike their ends.
    pub links: Vec<(String, String)>,
    /// Partition shapes the user named (of [`grudge::TARGET_SHAPES`]): every random
    /// partition is one of these (all shapes when empty).
    pub shapes: Vec<String>,
}

impl Aim {
    /// The nodes at either end of the named links.
    fn link_ends(&self) -> Vec<String> {
        let mut ends: Vec<String> = self.links.iter().flat_map(|(a, b)| [a.clone(), b.clone()]).collect();
        ends.sort();
        ends.dedup();
        ends
    }
}

/// The start of a fault of `kind`, with its targets decided now.
fn start(kind: FaultKind, nodes: &[String], aim: &Aim, rng: &mut Rng) -> Fault {
    let chosen = |rng: &mut Rng| {
        if !aim.links.is_empty() {
            return Targets::among(aim.link_ends());
        }
        if !aim.nodes.is_empty() {
            return Targets::chosen(Selector::Explicit, aim.nodes.clone());
        }
        let any: &[Target] = if aim.leaderless { &Target::WITHOUT_LEADER } else { &Target::ALL };
        let targets: &[Target] = if aim.targets.is_empty() { any } else { &aim.targets };
        match targets[rng.below(targets.len() as u64) as usize] {
            Target::Leader => Targets::at_execution(Selector::Leader),
            t => Targets::chosen(t.into(), pick(nodes, t.count(nodes.len()), rng)),
        }
    };
    match kind {
        FaultKind::Partition => Fault::StartPartition(match &aim.grudge {
            Some(g) => Partition { shape: "explicit".into(), grudge: Some(g.clone()) },
            None if !aim.links.is_empty() => Partition { shape: "links".into(), grudge: Some(grudge::cut_links(&aim.links)) },
            None => {
                let shapes: Vec<&str> = if aim.shapes.is_empty() {
                    grudge::SHAPES.iter().copied().filter(|s| !(aim.leaderless && *s == "isolate-leader")).collect()
                } else {
                    aim.shapes.iter().map(String::as_str).collect()
                };
                let shape = shapes[rng.below(shapes.len() as u64) as usize];
                match grudge::shape(shape, nodes, rng) {
                    Ok(g) => Partition { shape: shape.into(), grudge: Some(g) },
                    // Only the leader's isolation has no grudge before it runs.
                    Err(_) => Partition { shape: "isolate-leader".into(), grudge: None },
                }
            }
        }),
        FaultKind::Clock => {
            let targets = chosen(rng);
            let skew = 1 + rng.below(60) as i64;
            let offset_s = if rng.below(2) == 0 { skew } else { -skew };
            // Half the time a strobe: the clock jumps between the offset and none.
            let strobe_ms = (rng.below(2) == 0).then(|| 100 + 100 * rng.below(5));
            Fault::StartClock(ClockSkew { targets, offset_s, strobe_ms })
        }
        FaultKind::Packet => {
            let targets = chosen(rng);
            Fault::StartPacket(PacketLoss { targets, loss_percent: 10 + 10 * rng.below(5) as u32 })
        }
        FaultKind::Delay => {
            let targets = chosen(rng);
            // 50 to 500 ms, as slow links and overloaded hosts make them, ± up to half.
            let delay_ms = 50 * (1 + rng.below(10) as u32);
            Fault::StartDelay(PacketDelay { targets, delay_ms, jitter_ms: delay_ms / 2 * rng.below(2) as u32 })
        }
        FaultKind::Duplicate => Fault::StartDuplicate(PacketDuplicate { targets: chosen(rng), percent: 10 + 10 * rng.below(5) as u32 }),
        // 32 kbit/s to 1 Mbit/s: from a congested link to one that only large
        // messages (snapshots, big batches) notice.
        FaultKind::Rate => Fault::StartRate(PacketRate { targets: chosen(rng), kbit: 32 << rng.below(6) }),
        FaultKind::Kill => Fault::StartKill(chosen(rng)),
        FaultKind::Pause => Fault::StartPause(chosen(rng)),
    }
}

/// The fault that ends a fault of `kind`.
fn stop(kind: FaultKind) -> Fault {
    match kind {
        FaultKind::Partition => Fault::StopPartition,
        FaultKind::Kill => Fault::StopKill,
        FaultKind::Pause => Fault::StopPause,
        FaultKind::Clock => Fault::StopClock,
        FaultKind::Packet => Fault::StopPacket,
        FaultKind::Delay => Fault::StopDelay,
        FaultKind::Duplicate => Fault::StopDuplicate,
        FaultKind::Rate => Fault::StopRate,
    }
}

/// Faults as operations of a generator, in order.
pub fn fault_ops(list: Vec<Fault>) -> Gen {
    ops(list.iter().map(Fault::to_op).collect())
}

/// A random schedule: every `interval` ns a fault of one of `kinds` (picked at random)
/// starts, and `interval` ns later it stops; forever. Targets follow `aim`.
pub fn random_schedule(kinds: &[FaultKind], aim: &Aim, nodes: &[String], interval: u64, seed: u64) -> Gen {
    random_schedule_from(interval, kinds, aim, nodes, interval, seed)
}

/// [`random_schedule`], its first fault at `first` ns.
fn random_schedule_from(first: u64, kinds: &[FaultKind], aim: &Aim, nodes: &[String], interval: u64, seed: u64) -> Gen {
    let (kinds, nodes, aim) = (kinds.to_vec(), nodes.to_vec(), aim.clone());
    let step = from_fn(seed, move |rng, n| {
        // The kind of fault number n/2 depends on the seed and n/2 alone, so its stop
        // knows what it stops without state.
        let kind = kinds[Rng(seed ^ (n / 2).wrapping_mul(0x9e37_79b9)).below(kinds.len() as u64) as usize];
        if n % 2 == 0 { start(kind, &nodes, &aim, rng) } else { stop(kind) }.to_op()
    });
    nemesis(then(vec![sleep(first), delay(interval, step)]))
}

/// The fault kinds a scripted schedule uses (see [`SCRIPTED`]).
pub fn scripted_kinds(name: &str) -> &'static [FaultKind] {
    match name {
        "slow-leader" => &[FaultKind::Delay],
        "kill-during-election" => &[FaultKind::Kill, FaultKind::Delay],
        "bridge-election" => &[FaultKind::Partition, FaultKind::Kill, FaultKind::Pause, FaultKind::Delay],
        _ => &[FaultKind::Partition, FaultKind::Kill],
    }
}

/// One round of the election schedules: an interval of quiet, then every link slower by
/// 1–4 times `link_delay_step_ms`, ± half (as between data centres: candidates whose
/// timeouts fall that close collide, so elections take rounds); a second later, once
/// replication runs at that pace (a follower learns what committed a link delay after
/// the leader), bounce (kill and restart at once) the leader, so all the nodes elect
/// again, and as soon as a node votes in that election, bounce it too (a voter must
/// remember its vote across the restart); then the same pair again every
/// `shortest_gap_tenths` tenths of a second to 2.7 s, whoever leads and whoever votes
/// next, until an interval has passed; then `restore` (one more such gap later, when
/// it heals: a heal ends what the last failover began) and the links. `before_leader`
/// strikes before each bounce of the leader, `while_leader_down` between its kill and
/// its restart (before anyone has timed out to elect again). A bounced node comes back
/// at once rather than staying down: an election among four nodes needs three of them, one among five
/// lets two candidates share no voter but one that restarted. The spacing runs to 2.7 s
/// so that some new leaders serve before they go: at 0.3–0.9 s an election on these
/// links never finished between two bounces (6 s without one operation acknowledged),
/// so a round was one failover and then only unavailability, and whatever a new leader
/// gets wrong in its first second went unread (docs/ARCHITECTURE.md §5).
fn election_round(rng: &mut Rng, interval: u64, link_delay_step_ms: u32, shortest_gap_tenths: u64, around_leader: [Vec<Fault>; 2], restore: Vec<Fault>) -> Gen {
    let leader = || Targets::at_execution(Selector::Leader);
    let voter = || Fault::Bounce(Targets::at_execution(Selector::Voter));
    let delay_ms = link_delay_step_ms * (1 + rng.below(4) as u32);
    let slow_network = Fault::StartDelay(PacketDelay { targets: Targets::at_execution(Selector::All), delay_ms, jitter_ms: delay_ms / 2 });
    let [before_leader, while_leader_down] = around_leader;
    // With nothing to do while it is down, the leader's kill and restart are one
    // bounce; otherwise it restarts once those faults are in place.
    let bounce_leader = || {
        if while_leader_down.is_empty() {
            vec![Fault::Bounce(leader())]
        } else {
            [Fault::StartKill(leader())].into_iter().chain(while_leader_down.iter().cloned()).chain([Fault::StopKill]).collect()
        }
    };
    let failover = || fault_ops(before_leader.iter().cloned().chain(bounce_leader()).chain([voter()]).collect());
    let mut gap = || SECOND / 10 * (shortest_gap_tenths + rng.below(28 - shortest_gap_tenths.min(27)));
    let mut steps = vec![sleep(interval), fault_ops(vec![slow_network]), sleep(SECOND), failover()];
    let mut elapsed = 0;
    while elapsed < interval {
        let wait = gap();
        steps.extend([sleep(wait), failover()]);
        elapsed += wait;
    }
    if !restore.is_empty() {
        // A restore that heals ends what the last failover began, as the next
        // failover's heal does the others': it gets the same gap first.
        steps.push(sleep(gap()));
    }
    steps.push(fault_ops(restore.into_iter().chain([Fault::StopDelay]).collect()));
    then(steps)
}

/// A scripted schedule by name (see [`SCRIPTED`]), one round every `interval` ns or
/// so, forever; what a round draws (how slow the links are, when nodes restart) comes
/// from `seed`; whom it strikes (the leader, a voter) is asked when it strikes. A script is
/// about the fault, never about a bug: each is a sequence random timing rarely makes.
pub fn scripted_schedule(name: &str, interval: u64, seed: u64) -> Result<Gen, String> {
    let leader = || Targets::at_execution(Selector::Leader);
    let isolate_leader = || Fault::StartPartition(Partition { shape: "isolate-leader".into(), grudge: None });
    let round = match name {
        // The leader alone on one side, its clients still talking to it; then heal.
        "isolate-leader" => then(vec![sleep(interval), fault_ops(vec![isolate_leader()]), sleep(interval), fault_ops(vec![Fault::StopPartition])]),
        // Failovers on a slow network with voters restarting (see [`election_round`]).
        "kill-during-election" => {
            let mut rng = Rng(seed);
            then((0..SCRIPTED_ROUNDS).map(|_| election_round(&mut rng, interval, 50, 3, [Vec::new(), Vec::new()], Vec::new())).collect())
        }
        // kill-during-election with the leader at one end of a bridge each time it
        // goes: the other end cannot hear it, so when it is back from its bounce it
        // campaigns in the term the other end may already have won, without hearing
        // that, and asks the bridge node, which voted in that term and has restarted;
        // the leader's log is the newest, so only a kept vote refuses it. On a
        // connected network the winner's first append made its rival follow it one
        // link delay after the vote, before a restarted voter was back; with the
        // leader in the middle the two ends lagged behind its log and it refused them
        // both. Each failover heals, kills the leader, raises the bridge around it
        // (the node that led) while it is down, and only then restarts it: a bridge
        // raised before the kill let the leader's last appends reach the bridge node
        // but not the far end, so the bridge node refused the far end's candidacy and
        // won itself; one raised after the restart (it takes some 160 ms) could let
        // the others elect across the healed network first, and the winner's appends
        // put the bridge node's log ahead of the old leader's, so it could never win
        // its vote. Failovers come 1.2–2.7 s apart, and the round's heal as long after
        // its last: the heal before the next one ends a term's second leadership, and
        // one healed within a quarter second had acknowledged nothing the other leader
        // lost. The node that will stand in the middle of the bridge is paused just
        // before the leader's kill and thawed once the bridge stands (some 0.35 s
        // later), so it misses the leader's last appends: the far end's log is ahead
        // of its own and refuses it, and it votes rather than wins. Thawed, it
        // campaigns at once (45 times in 64 failovers, seeds 1–10) but won 9 times;
        // never paused, it won 30 of 75, and a failover the middle node wins makes no
        // second leader, since no one else can ask the voter it restarts
        // (docs/ARCHITECTURE.md §5).
        "bridge-election" => {
            let mut rng = Rng(seed);
            let pause_bridge_node = || Fault::StartPause(Targets::at_execution(Selector::BridgeBesideLeader));
            let raise_bridge = || Fault::StartPartition(Partition { shape: grudge::BRIDGE_BESIDE_LEADER.into(), grudge: None });
            let bridge = || [vec![Fault::StopPartition, pause_bridge_node()], vec![raise_bridge(), Fault::StopPause]];
            then((0..SCRIPTED_ROUNDS).map(|_| election_round(&mut rng, interval, 20, 12, bridge(), vec![Fault::StopPartition])).collect())
        }
        // Isolate the leader until the others elect a new one, heal, and a second
        // later kill whichever node leads then (the new leader, or the old one back):
        // the cluster must fail over twice, the second time with a node that has just
        // rejoined.
        "kill-new-leader" => then(vec![
            sleep(interval),
            fault_ops(vec![isolate_leader()]),
            sleep(interval),
            fault_ops(vec![Fault::StopPartition]),
            sleep(SECOND),
            fault_ops(vec![Fault::StartKill(leader())]),
            sleep(interval),
            fault_ops(vec![Fault::StopKill]),
        ]),
        // The leader's links to the other nodes grow slow, as a congested link does:
        // their delay rises by 100 ms every half second up to 400 ms–1 s (drawn per
        // round), holds for an interval, then the links are restored. Rising in small
        // steps, it never leaves a gap in the heartbeats long enough for an election,
        // so the cluster keeps a leader whose appends and acks are slow.
        "slow-leader" => {
            let mut rng = Rng(seed);
            let rounds = (0..SCRIPTED_ROUNDS)
                .map(|_| {
                    let top = 100 * (4 + rng.below(7) as u32);
                    let mut steps = vec![sleep(interval)];
                    for delay_ms in (100..=top).step_by(100) {
                        steps.push(fault_ops(vec![Fault::StartDelay(PacketDelay { targets: leader(), delay_ms, jitter_ms: 0 })]));
                        steps.push(sleep(SECOND / 2));
                    }
                    steps.extend([sleep(interval), fault_ops(vec![Fault::StopDelay])]);
                    then(steps)
                })
                .collect();
            then(rounds)
        }
        other => return Err(format!("unknown scripted schedule {other:?}; one of {}", SCRIPTED.join(", "))),
    };
    Ok(nemesis(repeat(round)))
}

/// A package's families at once (see [`crate::package`]): each family is a
/// [`random_schedule`] of its own kinds, with a seed of its own, and family `i` of `n`
/// starts `i/n` of an interval after the first, so their faults overlap.
pub fn combined_schedule(families: &[Vec<FaultKind>], aim: &Aim, nodes: &[String], interval: u64, seed: u64) -> Gen {
    let n = families.len().max(1) as u64;
    let schedules = families
        .iter()
        .enumerate()
        .map(|(i, kinds)| {
            let family_seed = seed ^ (i as u64 + 1).wrapping_mul(0xa076_1d64_78bd_642f);
            random_schedule_from(interval + interval * i as u64 / n, kinds, aim, nodes, interval, family_seed)
        })
        .collect();
    generator::any(schedules)
}

/// Replays the faults of a recorded run: the nemesis invocations of `faults`, each at
/// its recorded time (or as soon as the fault before it is done), with its recorded
/// targets (the leader resolved as recorded).
pub fn replay_schedule(faults: &[Op]) -> Gen {
    let recorded = faults.iter().filter(|o| o.kind == faultline_history::OpType::Invoke).map(|o| (o.time.max(0) as u64, o.f.clone(), o.value.clone())).collect();
    nemesis(timed(recorded))
}

/// How many operations a schedule would start in its first `seconds` (for previews).
pub fn preview(gen: Gen, seconds: u64) -> Vec<generator::Simulated> {
    generator::simulate(generator::time_limit(seconds * SECOND, gen), 0, 0, 10_000, |_| generator::EventKind::Info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn nodes() -> Vec<String> {
        (1..=5).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn random_schedules_alternate_start_and_stop_and_are_seeded() {
        let gen = || random_schedule(&[FaultKind::Partition, FaultKind::Kill], &Aim::default(), &nodes(), 10 * SECOND, 42);
        let a = preview(gen(), 65);
        assert_eq!(a, preview(gen(), 65));
        let fs: Vec<&str> = a.iter().map(|s| s.f.as_str()).collect();
        assert_eq!(fs.len(), 6);
        assert_eq!(a.iter().map(|s| s.time / SECOND).collect::<Vec<_>>(), [10, 20, 30, 40, 50, 60]);
        for pair in fs.chunks(2) {
            assert_eq!(pair[0].strip_prefix("start-"), pair[1].strip_prefix("stop-"), "{fs:?}");
        }
        assert_ne!(preview(random_schedule(&[FaultKind::Partition, FaultKind::Kill], &Aim::default(), &nodes(), 10 * SECOND, 7), 65), a);
        let aimed = Aim { nodes: vec!["n2".into()], grudge: Some(grudge::split(&["n1".into()], &["n3".into()])), ..Aim::default() };
        for s in preview(random_schedule(&[FaultKind::Partition, FaultKind::Pause], &aimed, &nodes(), SECOND, 1), 20).iter().filter(|s| s.f.starts_with("start-")) {
            match s.f.as_str() {
                "start-pause" => assert_eq!(s.value["nodes"], json!(["n2"])),
                _ => assert_eq!(s.value["shape"], "explicit"),
            }
        }
    }

    #[test]
    fn links_the_user_named_are_what_faults_strike() {
        let aim = Aim { links: vec![("n1".into(), "n3".into())], ..Aim::default() };
        let kinds = [FaultKind::Partition, FaultKind::Delay, FaultKind::Kill];
        for s in preview(random_schedule(&kinds, &aim, &nodes(), SECOND, 4), 30).iter().filter(|s| s.f.starts_with("start-")) {
            match s.f.as_str() {
                "start-partition" => assert_eq!(s.value["grudge"], json!({"n1": ["n3"], "n3": ["n1"]}), "the link is cut, nothing else"),
                "start-delay" => assert_eq!((&s.value["nodes"], &s.value["among"]), (&json!(["n1", "n3"]), &json!(true))),
                _ => assert_eq!(s.value["nodes"], json!(["n1", "n3"]), "{}: both ends", s.f),
            }
        }
    }

    #[test]
    fn partition_shapes_the_user_named_are_the_only_ones() {
        let aim = Aim { shapes: vec!["majorities-ring".into(), "bridge".into()], ..Aim::default() };
        let starts = preview(random_schedule(&[FaultKind::Partition, FaultKind::Kill], &aim, &nodes(), SECOND, 5), 200);
        let shapes: std::collections::BTreeSet<&str> = starts.iter().filter(|s| s.f == "start-partition").filter_map(|s| s.value["shape"].as_str()).collect();
        assert_eq!(shapes, ["bridge", "majorities-ring"].into(), "both named shapes, and only they");
        assert!(starts.iter().any(|s| s.f == "start-kill"), "other faults still strike");
    }

    #[test]
    fn leaderless_designs_are_never_aimed_at_a_leader() {
        let aim = Aim { leaderless: true, ..Aim::default() };
        let starts = preview(random_schedule(&[FaultKind::Partition, FaultKind::Kill, FaultKind::Clock], &aim, &nodes(), SECOND, 3), 400);
        assert!(starts.len() > 300);
        for s in starts.iter().filter(|s| s.f.starts_with("start-")) {
            assert!(s.value["target"] != "leader" && s.value["shape"] != "isolate-leader", "{}: {}", s.f, s.value);
        }
    }

    #[test]
    fn a_package_overlaps_its_families_faults() {
        let families = vec![vec![FaultKind::Partition], vec![FaultKind::Kill, FaultKind::Pause], vec![FaultKind::Delay]];
        let s = preview(combined_schedule(&families, &Aim::default(), &nodes(), 6 * SECOND, 9), 60);
        assert_eq!(s, preview(combined_schedule(&families, &Aim::default(), &nodes(), 6 * SECOND, 9), 60), "seeded");
        // Walk the schedule, counting faults in force: a package must have moments with
        // faults of two families at once, and every family must strike.
        let (mut active, mut most) = (0i32, 0);
        for x in &s {
            active += if x.f.starts_with("start-") { 1 } else { -1 };
            most = most.max(active);
        }
        assert!(most >= 2, "faults overlap: {:?}", s.iter().map(|x| (x.time / SECOND, &x.f)).collect::<Vec<_>>());
        for family in ["partition", "delay"] {
            assert!(s.iter().any(|x| x.f == format!("start-{family}")), "{family} strikes");
        }
        assert!(s.iter().any(|x| x.f == "start-kill" || x.f == "start-pause"));
        assert_eq!(s.iter().find(|x| x.f.starts_with("start-")).map(|x| (x.time, x.f.as_str())), Some((6 * SECOND, "start-partition")), "the first family starts after one interval, the others later");
    }

    #[test]
    fn scripted_schedules_strike_the_leader_in_order() {
        let fs = |name: &str| preview(scripted_schedule(name, 4 * SECOND, 3).unwrap(), 30).into_iter().map(|x| (x.f, x.value)).collect::<Vec<_>>();
        let names: Vec<String> = fs("kill-new-leader").into_iter().map(|(f, _)| f).take(4).collect();
        assert_eq!(names, ["start-partition", "stop-partition", "start-kill", "stop-kill"]);
        let slow = fs("slow-leader");
        assert_eq!(slow[0].1["target"], "leader");
        let first_round: Vec<u64> = slow.iter().take_while(|(f, _)| f == "start-delay").filter_map(|(_, v)| v["delay_ms"].as_u64()).collect();
        assert!(first_round.len() >= 4 && first_round.iter().zip(1..).all(|(d, i)| *d == 100 * i), "the delay rises 100 ms at a time: {first_round:?}");
        assert!(slow.iter().any(|(f, _)| f == "stop-delay"));
        assert_eq!(scripted_kinds("slow-leader"), [FaultKind::Delay]);
    }

    #[test]
    fn scripted_schedules_and_replays() {
        let s = preview(scripted_schedule("kill-during-election", 5 * SECOND, 1).unwrap(), 12);
        let fs: Vec<&str> = s.iter().map(|x| x.f.as_str()).collect();
        let bounces = &s[1..fs.len() - 1];
        assert_eq!(fs[0], "start-delay");
        assert_eq!(fs[fs.len() - 1], "stop-delay");
        assert!((6..=36).contains(&bounces.len()) && bounces.iter().all(|x| x.f == "bounce"), "then two nodes every 0.3–2.7 s for an interval: {fs:?}");
        assert!(bounces.chunks(2).all(|pair| pair[0].value["target"] == "leader" && pair[1].value["target"] == "voter" && pair[0].time == pair[1].time), "the leader, then a node that votes for its successor");
        assert_eq!(s[0].value["target"], "all", "the whole network is slow during the election");
        assert_eq!(s[1].time - s[0].time, SECOND, "replication runs on the slow links a second before the leader goes");
        let gaps: Vec<u64> = bounces.chunks(2).map(|pair| pair[0].time).collect::<Vec<_>>().windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| (3 * SECOND / 10..=27 * SECOND / 10).contains(g)), "{gaps:?}");
        assert!(scripted_schedule("chaos", SECOND, 1).is_err());
        let recorded: Vec<Op> = s
            .iter()
            .map(|x| {
                let mut op = Op::new(faultline_history::OpType::Invoke, faultline_history::Process::Nemesis, x.f.clone(), x.value.clone());
                op.time = x.time as i64;
                op
            })
            .collect();
        let replayed = preview(replay_schedule(&recorded), 60);
        assert_eq!(replayed, s, "a replay invokes the same faults at the same times");
    }

    #[test]
    fn a_bridge_election_restarts_the_leader_at_one_end_of_a_bridge_in_each_failover() {
        let s = preview(scripted_schedule("bridge-election", 5 * SECOND, 2).unwrap(), 15);
        let fs: Vec<&str> = s.iter().map(|x| x.f.as_str()).collect();
        let fs = &fs[..=fs.iter().position(|f| *f == "stop-delay").expect("the round ends")];
        assert_eq!(fs[0], "start-delay");
        assert_eq!(fs[fs.len() - 2..], ["stop-partition", "stop-delay"]);
        let failovers = &s[1..fs.len() - 2];
        assert!(failovers.len() >= 8, "{fs:?}");
        let gaps: Vec<u64> = failovers.chunks(7).map(|f| f[0].time).collect::<Vec<_>>().windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| (12 * SECOND / 10..=27 * SECOND / 10).contains(g)), "failovers 1.2–2.7 s apart: {gaps:?}");
        let last = failovers.chunks(7).last().expect("a failover")[0].time;
        assert!((12 * SECOND / 10..=27 * SECOND / 10).contains(&(s[fs.len() - 2].time - last)), "the last failover gets its gap before the heal");
        for failover in failovers.chunks(7) {
            let what: Vec<(&str, &Value)> = failover.iter().map(|x| (x.f.as_str(), &x.value)).collect();
            let pause = ("start-pause", &json!({"target": "bridge-beside-leader"}));
            let kill = ("start-kill", &json!({"target": "leader"}));
            let bridge = ("start-partition", &json!({"shape": "bridge-beside-leader"}));
            let (heal, thaw, restart) = (("stop-partition", &Value::Null), ("stop-pause", &Value::Null), ("stop-kill", &Value::Null));
            assert_eq!(what, [heal, pause, kill, bridge, thaw, restart, ("bounce", &json!({"target": "voter"}))], "heal, pause the node to be the bridge, kill the leader, raise the bridge around it, thaw the bridge node, restart the leader");
        }
    }
}
