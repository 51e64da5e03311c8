//! Raft's protocol as a sans-IO state machine (docs/ARCHITECTURE.md §3, "Sans-IO
//! cores").
//!
//! [`Core`] owns everything that changes — term, vote, role, log, the state machine,
//! each peer's [`Progress`] — and never reads a clock, draws from the OS's randomness,
//! spawns a task or touches the network. Time comes in as `now` on every call, the
//! election timeouts come from a generator seeded by [`Config::seed`], and peer
//! messages come in as values:
//!
//! - [`Core::tick`]: time passed (elections, vote retries, reproposals, deadlines);
//! - [`Core::on_request`]: a peer's [`Request`], answered at once with a [`Reply`];
//! - [`Core::on_reply`]: the answer (or its absence) to a request this node sent;
//! - [`Core::propose`] / [`Core::read`]: a client's write or ReadIndex read, identified
//!   by the caller's [`Token`].
//!
//! After any of them, [`Core::ready`] makes the leader's new entries durable (one fsync
//! for all of them) and hands back a [`Ready`]: the requests to send, each with the
//! [`Sent`] tag to return with its reply, and the client answers now known. The driver
//! ([`crate::node`]) does the IO; the deterministic simulation (`tests/replay.rs`) does
//! the same with a virtual clock and a seeded network, so a failing seed replays.
//!
//! The disk is the one effect inside: [`Store`] is written synchronously, as raft-rs's
//! storage is, because durability before answering is part of the protocol.

use crate::log::{Command, Entry, RaftLog};
use crate::machine::{Answer, Machine, Snapshot};
use crate::store::{Recovered, Store};
use node_common::api::{MicroOp, NodeError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
// Ordered maps throughout: iteration order decides message order, and a seed must
// replay the same run.
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The node's clocks: heartbeats, election timeouts, and how long a client waits.
#[derive(Debug, Clone)]
pub struct Timing {
    /// How often a leader sends heartbeats.
    pub heartbeat: Duration,
    /// Election timeouts are drawn uniformly from this range.
    pub election: (Duration, Duration),
    /// How long a client transaction may take before it is answered "timeout".
    pub request: Duration,
    /// A proposal not committed after this long is proposed once more (sessions make
    /// that safe; `retry-without-session` does not).
    pub repropose: Duration,
    /// How long a request to a peer may go unanswered before it counts as lost: past
    /// the round trip of a link made slow rather than cut, so that a slow follower
    /// acknowledges late (and proposals are reproposed) instead of never.
    pub peer: Duration,
    /// Entries applied between two snapshots.
    pub snapshot_every: u64,
    /// Most entries in one append message.
    pub batch: usize,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            heartbeat: Duration::from_millis(50),
            election: (Duration::from_millis(300), Duration::from_millis(600)),
            request: Duration::from_secs(2),
            repropose: Duration::from_millis(500),
            peer: Duration::from_secs(1),
            snapshot_every: 5_000,
            batch: 256,
        }
    }
}

/// The bugs that change the protocol's logic (the storage bugs live in [`Store`] and
/// [`Machine`]).
#[derive(Debug, Default, Clone)]
pub struct Bugs {
    /// Followers answer reads from their own state.
    pub stale_follower_read: bool,
    /// Leaders answer reads from their own state, without confirming leadership.
    pub stale_leader_read: bool,
    /// A new leader appends no entry of its own term.
    pub no_noop: bool,
    /// The leader commits an entry as soon as it appends it.
    pub async_commit: bool,
    /// Votes go to candidates whose log is behind.
    pub no_vote_restriction: bool,
}

impl Bugs {
    /// The protocol bugs among `has`'s.
    pub fn from(has: impl Fn(&str) -> bool) -> Bugs {
        Bugs {
            stale_follower_read: has("stale-follower-read"),
            stale_leader_read: has("stale-leader-read"),
            no_noop: has("no-noop"),
            async_commit: has("async-commit"),
            no_vote_restriction: has("no-vote-restriction"),
        }
    }
}

/// What a core needs besides its recovered state.
#[derive(Debug, Clone)]
pub struct Config {
    /// This node's name.
    pub name: String,
    /// Every node's name, this one included.
    pub nodes: Vec<String>,
    /// The clocks.
    pub timing: Timing,
    /// Protocol bugs switched on.
    pub bugs: Bugs,
    /// Seeds the election timeouts: the same seed and inputs give the same run.
    pub seed: u64,
}

/// A node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Asks for votes.
    Candidate,
    /// Leads its term.
    Leader,
}

/// The caller's name for one client request, returned with its answer.
pub type Token = u64;

/// `append` messages: entries (possibly none: a heartbeat) after `prev_index`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppendRequest {
    /// The leader's term.
    pub term: u64,
    /// The leader.
    pub leader: String,
    /// The entry just before `entries`.
    pub prev_index: u64,
    /// Its term.
    pub prev_term: u64,
    /// New entries.
    pub entries: Vec<Entry>,
    /// The leader's commit index.
    pub commit: u64,
}

/// `vote` messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoteRequest {
    /// The candidate's term.
    pub term: u64,
    /// The candidate.
    pub candidate: String,
    /// Its last log index.
    pub last_index: u64,
    /// Its last log term.
    pub last_term: u64,
}

/// `snapshot` messages, for a peer whose next entry was compacted away.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotRequest {
    /// The leader's term.
    pub term: u64,
    /// The leader.
    pub leader: String,
    /// The state machine.
    pub snapshot: Snapshot,
}

/// A message one node sends another and waits on an answer for.
#[derive(Debug, Clone)]
pub enum Request {
    /// Entries or a heartbeat.
    Append(AppendRequest),
    /// A vote request.
    Vote(VoteRequest),
    /// A snapshot.
    Snapshot(SnapshotRequest),
}

impl Request {
    /// The message kind on the wire (and for a test network's `drop_kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Append(_) => "append",
            Request::Vote(_) => "vote",
            Request::Snapshot(_) => "snapshot",
        }
    }
}

/// Answers to all three: the receiver's term, whether it agreed, and for a refused
/// append where the leader should resume (`hint`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The receiver's term.
    pub term: u64,
    /// Whether it agreed.
    pub ok: bool,
    /// Where a refused append should resume.
    #[serde(default)]
    pub hint: u64,
}

/// What the sender must know when the reply comes back; the driver keeps it with the
/// request in flight and hands it to [`Core::on_reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Which leadership (or candidacy) sent it.
    pub epoch: u64,
    /// The term it was sent in.
    pub term: u64,
    /// What it was.
    pub what: SentKind,
}

/// The kind of request a [`Sent`] tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentKind {
    /// A vote request.
    Vote,
    /// An append or snapshot that brings the peer up to `upto`, carrying read round
    /// `probe`.
    Replicate {
        /// The last index the peer holds once it accepts.
        upto: u64,
        /// The ReadIndex round this message confirms.
        probe: u64,
    },
    /// An empty append sent while a replicating one is unanswered, so a slow link
    /// delays commits without silencing the leader (etcd's heartbeats are separate
    /// from its appends for the same reason); it carries read round `probe`.
    Heartbeat {
        /// The ReadIndex round this message confirms.
        probe: u64,
    },
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The peer.
    pub to: String,
    /// The request.
    pub request: Request,
    /// Its tag, for [`Core::on_reply`].
    pub sent: Sent,
}

/// What a driver must do after an input: send these requests, deliver these answers.
#[derive(Debug, Default)]
pub struct Ready {
    /// Requests to send, each with its tag.
    pub messages: Vec<Outgoing>,
    /// Client answers now known.
    pub answers: Vec<(Token, Answer)>,
}

/// A node's state as `/status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The node.
    pub node: String,
    /// Its role.
    pub role: Role,
    /// Its term.
    pub term: u64,
    /// The leader it knows.
    pub leader: Option<String>,
    /// Whether it gave its vote in this term to another node (so the nemesis can
    /// restart a node that has just voted, not one that refused).
    pub voted: bool,
    /// Its commit index.
    pub commit: u64,
    /// Its applied index.
    pub applied: u64,
    /// Its last log index.
    pub last_index: u64,
    /// The last index its snapshot covers.
    pub snapshot_index: u64,
    /// Keys in its state machine.
    pub keys: usize,
}

/// The leader's view of one peer.
#[derive(Debug, Clone)]
pub struct Progress {
    /// The next index to send.
    next: u64,
    /// The highest index known to be on the peer.
    matched: u64,
    /// One request at a time per peer: batches grow while one is in flight.
    in_flight: bool,
    /// When the last request went out (heartbeats are due `heartbeat` later).
    last_sent: Instant,
    /// After an unanswered request, nothing is sent before this.
    retry_at: Instant,
    /// The newest ReadIndex round sent, and the newest it answered in this term.
    probe_sent: u64,
    probe_acked: u64,
}

/// A client write: proposed once (twice if slow), answered when one copy applies.
struct Proposal {
    cmd: Command,
    /// Copies in the log that may still apply.
    live: usize,
    proposed_at: Instant,
    reproposed: bool,
    deadline: Instant,
}

/// A ReadIndex read waiting for its commit index, its round of acks and its apply.
struct PendingRead {
    token: Token,
    ops: Vec<MicroOp>,
    /// The commit index to read at, once this leadership's first entry committed.
    read_at: Option<u64>,
    /// The round of heartbeats that must confirm leadership.
    probe: u64,
    deadline: Instant,
}

/// A Raft node's protocol state. See the module docs.
pub struct Core {
    name: String,
    peers: Vec<String>,
    majority: usize,
    timing: Timing,
    bugs: Bugs,
    rng: StdRng,
    term: u64,
    vote: Option<String>,
    role: Role,
    leader: Option<String>,
    log: RaftLog,
    store: Store,
    machine: Machine,
    commit: u64,
    applied: u64,
    election_deadline: Instant,
    votes: BTreeSet<String>,
    votes_requested: Instant,
    progress: BTreeMap<String, Progress>,
    /// Bumped at each candidacy and leadership, so late replies to older ones are ignored.
    epoch: u64,
    /// The first index of this leadership (its no-op): reads wait until it commits.
    term_start: u64,
    /// ReadIndex rounds started in this leadership.
    probe: u64,
    /// Log index → (client token, term it was proposed in).
    waiters: BTreeMap<u64, (Token, u64)>,
    proposals: BTreeMap<Token, Proposal>,
    reads: Vec<PendingRead>,
    ready: Ready,
}

impl Core {
    /// A follower with the state recovered from `store`, its first election timeout
    /// counted from `now`.
    pub fn new(config: Config, store: Store, recovered: Recovered, dedup: bool, now: Instant) -> Core {
        let Config { name, nodes, timing, bugs, seed } = config;
        let base = recovered.log.base().0;
        let mut core = Core {
            peers: nodes.iter().filter(|n| **n != name).cloned().collect(),
            majority: nodes.len() / 2 + 1,
            name,
            timing,
            bugs,
            rng: StdRng::seed_from_u64(seed),
            term: recovered.term,
            vote: recovered.vote,
            role: Role::Follower,
            leader: None,
            log: recovered.log,
            store,
            machine: Machine::restore(recovered.snapshot, dedup),
            commit: base,
            applied: base,
            election_deadline: now,
            votes: BTreeSet::new(),
            votes_requested: now,
            progress: BTreeMap::new(),
            epoch: 0,
            term_start: u64::MAX,
            probe: 0,
            waiters: BTreeMap::new(),
            proposals: BTreeMap::new(),
            reads: Vec::new(),
            ready: Ready::default(),
        };
        core.election_deadline = now + core.random_timeout();
        core
    }

    /// Its role and term, and the leader it knows.
    pub fn role(&self) -> (Role, u64, Option<&str>) {
        (self.role, self.term, self.leader.as_deref())
    }

    /// The node's state for `/status`.
    pub fn status(&self) -> Status {
        Status {
            node: self.name.clone(),
            role: self.role,
            term: self.term,
            leader: self.leader.clone(),
            voted: self.vote.as_ref().is_some_and(|v| *v != self.name),
            commit: self.commit,
            applied: self.applied,
            last_index: self.log.last_index(),
            snapshot_index: self.log.base().0,
            keys: self.machine.len(),
        }
    }

    /// The leader this node knows, when it is not the leader itself.
    pub fn leader_elsewhere(&self) -> Option<&str> {
        (self.role != Role::Leader).then_some(self.leader.as_deref()).flatten().filter(|l| *l != self.name)
    }

    fn random_timeout(&mut self) -> Duration {
        self.rng.gen_range(self.timing.election.0..=self.timing.election.1)
    }

    // ---- time ----

    /// Time passed: start an election, ask again for votes, repropose slow writes,
    /// answer requests past their deadline.
    pub fn tick(&mut self, now: Instant) {
        if self.role != Role::Leader && now >= self.election_deadline {
            self.start_election(now);
        } else if self.role == Role::Candidate && now >= self.votes_requested + self.timing.heartbeat {
            self.request_votes(now);
        }
        self.repropose_slow(now);
        self.expire(now);
    }

    /// Proposes once more each write not applied `repropose` after it was proposed.
    fn repropose_slow(&mut self, now: Instant) {
        if self.role != Role::Leader {
            return;
        }
        let slow: Vec<Token> = self.proposals.iter().filter(|(_, p)| !p.reproposed && now >= p.proposed_at + self.timing.repropose).map(|(t, _)| *t).collect();
        for token in slow {
            let Some(p) = self.proposals.get_mut(&token) else { continue };
            p.reproposed = true;
            p.live += 1;
            let cmd = p.cmd.clone();
            tracing::debug!("proposing again");
            self.append_for(token, cmd);
        }
    }

    /// Answers the requests whose client stopped waiting: a write may still commit
    /// (indefinite), a read did not happen (definite).
    fn expire(&mut self, now: Instant) {
        let late: Vec<Token> = self.proposals.iter().filter(|(_, p)| now >= p.deadline).map(|(t, _)| *t).collect();
        for token in late {
            self.proposals.remove(&token);
            self.ready.answers.push((token, Err(NodeError::indefinite("timeout", "not applied in time; it may still commit"))));
        }
        let (late, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.reads).into_iter().partition(|r| now >= r.deadline);
        self.reads = waiting;
        for r in late {
            let why = match r.read_at {
                None => "this leader's first entry did not commit in time".to_owned(),
                Some(at) => format!("index {at} was not applied, or leadership not confirmed, in time"),
            };
            self.ready.answers.push((r.token, Err(NodeError::definite("timeout", why))));
        }
    }

    // ---- elections ----

    fn start_election(&mut self, now: Instant) {
        self.term += 1;
        self.role = Role::Candidate;
        self.leader = None;
        self.epoch += 1;
        self.vote = Some(self.name.clone());
        self.votes = BTreeSet::from([self.name.clone()]);
        self.election_deadline = now + self.random_timeout();
        if let Err(e) = self.store.save_vote(self.term, self.vote.as_deref()) {
            tracing::error!("cannot persist my vote: {e}");
            return;
        }
        tracing::info!(term = self.term, "starting an election");
        if self.votes.len() >= self.majority {
            self.become_leader(now);
            return;
        }
        self.request_votes(now);
    }

    /// Candidate: asks every peer that has not voted for it yet (again, each heartbeat,
    /// as messages may be lost).
    fn request_votes(&mut self, now: Instant) {
        self.votes_requested = now;
        let request = VoteRequest { term: self.term, candidate: self.name.clone(), last_index: self.log.last_index(), last_term: self.log.last_term() };
        let sent = Sent { epoch: self.epoch, term: self.term, what: SentKind::Vote };
        for peer in self.peers.iter().filter(|p| !self.votes.contains(*p)) {
            self.ready.messages.push(Outgoing { to: peer.clone(), request: Request::Vote(request.clone()), sent });
        }
    }

    fn become_leader(&mut self, now: Instant) {
        tracing::info!(term = self.term, "became leader");
        self.role = Role::Leader;
        self.leader = Some(self.name.clone());
        self.epoch += 1;
        let next = self.log.last_index() + 1;
        let fresh = Progress { next, matched: 0, in_flight: false, last_sent: now, retry_at: now, probe_sent: 0, probe_acked: 0 };
        self.progress = self.peers.iter().map(|p| (p.clone(), fresh.clone())).collect();
        self.term_start = next;
        self.probe = 0;
        if !self.bugs.no_noop {
            self.append_entry(Command::Noop);
        }
        // Everyone hears of the new leader at once, not a heartbeat later.
        for p in self.progress.values_mut() {
            p.last_sent = now - self.timing.heartbeat;
        }
    }

    /// Moves to `term` (forgetting the vote) as a follower. Pending reads cannot be
    /// confirmed any more.
    fn step_down(&mut self, term: u64) {
        if term > self.term {
            self.term = term;
            self.vote = None;
            self.leader = None;
            if let Err(e) = self.store.save_vote(term, None) {
                tracing::error!("cannot persist the new term: {e}");
            }
        }
        if self.role != Role::Follower {
            tracing::info!(term = self.term, "stepping down");
        }
        self.role = Role::Follower;
        for r in std::mem::take(&mut self.reads) {
            let error = NodeError::definite("not-leader", format!("{} could not confirm its leadership of term {}", self.name, self.term));
            self.ready.answers.push((r.token, Err(error)));
        }
    }

    fn on_vote(&mut self, req: VoteRequest, now: Instant) -> Result<Reply, String> {
        if req.term > self.term {
            self.step_down(req.term);
        }
        let up_to_date = (req.last_term, req.last_index) >= (self.log.last_term(), self.log.last_index());
        let free = self.vote.as_ref().is_none_or(|v| *v == req.candidate);
        let ok = req.term == self.term && free && (up_to_date || self.bugs.no_vote_restriction);
        if ok {
            if self.vote.is_none() {
                tracing::info!(term = self.term, candidate = %req.candidate, "granted my vote");
            }
            self.vote = Some(req.candidate.clone());
            self.store.save_vote(self.term, Some(&req.candidate)).map_err(|e| format!("cannot persist my vote: {e}"))?;
            self.election_deadline = now + self.random_timeout();
        }
        Ok(Reply { term: self.term, ok, hint: 0 })
    }

    fn on_vote_reply(&mut self, peer: &str, sent: Sent, reply: Reply, now: Instant) {
        if reply.term > self.term {
            self.step_down(reply.term);
        } else if reply.ok && self.role == Role::Candidate && self.term == sent.term && self.epoch == sent.epoch {
            self.votes.insert(peer.to_owned());
            if self.votes.len() >= self.majority {
                self.become_leader(now);
            }
        }
    }

    // ---- the log ----

    /// Appends a new entry to the leader's log (fsynced by the next [`Core::ready`]).
    fn append_entry(&mut self, cmd: Command) -> u64 {
        let entry = Entry { index: self.log.last_index() + 1, term: self.term, cmd };
        let index = entry.index;
        if let Err(e) = self.store.append(std::slice::from_ref(&entry), false) {
            tracing::error!("cannot write the log: {e}");
        }
        self.log.push(entry);
        if self.bugs.async_commit {
            self.commit = self.commit.max(index);
            self.apply_committed();
        }
        index
    }

    /// Appends a client's command and remembers whose it is.
    fn append_for(&mut self, token: Token, cmd: Command) {
        let index = self.log.last_index() + 1;
        self.waiters.insert(index, (token, self.term));
        self.append_entry(cmd);
    }

    /// Leader: commits the newest entry of its own term that a majority holds.
    fn advance_commit(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let mut index = self.log.last_index();
        while index > self.commit && self.log.term_at(index) == Some(self.term) {
            let others = self.progress.values().filter(|p| p.matched >= index).count();
            let own = usize::from(self.store.durable() >= index);
            if others + own >= self.majority {
                self.commit = index;
                break;
            }
            index -= 1;
        }
        self.apply_committed();
    }

    fn apply_committed(&mut self) {
        let before = self.applied;
        while self.applied < self.commit {
            let index = self.applied + 1;
            let Some(entry) = self.log.get(index) else { break };
            let term = entry.term;
            let answer = self.machine.apply(&entry.cmd);
            self.applied = index;
            if let Some((token, proposed_in)) = self.waiters.remove(&index) {
                if proposed_in == term {
                    if self.proposals.remove(&token).is_some() {
                        self.ready.answers.push((token, answer));
                    }
                } else {
                    self.copy_lost(token);
                }
            }
        }
        if self.applied != before {
            self.start_waiting_reads();
            self.answer_reads();
            self.maybe_snapshot();
        }
    }

    /// One copy of a proposal is gone (another leader's entry took its index); with
    /// none left, the client learns it may or may not have committed elsewhere.
    fn copy_lost(&mut self, token: Token) {
        let Some(p) = self.proposals.get_mut(&token) else { return };
        p.live = p.live.saturating_sub(1);
        if p.live == 0 {
            self.proposals.remove(&token);
            self.ready.answers.push((token, Err(superseded())));
        }
    }

    fn maybe_snapshot(&mut self) {
        let (base, _) = self.log.base();
        if self.applied - base < self.timing.snapshot_every {
            return;
        }
        let Some(term) = self.log.term_at(self.applied) else { return };
        let snapshot = self.machine.snapshot(self.applied, term);
        self.log.compact_to(self.applied, term);
        if let Err(e) = self.store.compact(&snapshot, self.term, self.vote.as_deref(), &self.log) {
            tracing::error!("cannot write a snapshot: {e}");
        }
    }

    /// Answers the waiters of entries from `from` on, which are gone from the log.
    fn drop_waiters_from(&mut self, from: u64) {
        for (token, _) in self.waiters.split_off(&from).into_values() {
            self.copy_lost(token);
        }
    }

    // ---- replication ----

    /// What to send `peer` next: entries after its next index, or a snapshot.
    fn next_message(&self, peer: &str, p: &Progress) -> Outgoing {
        let (base, _) = self.log.base();
        let (request, upto) = if p.next <= base {
            let term = self.log.term_at(self.applied).unwrap_or(0);
            let snapshot = self.machine.snapshot(self.applied, term);
            let upto = snapshot.index;
            (Request::Snapshot(SnapshotRequest { term: self.term, leader: self.name.clone(), snapshot }), upto)
        } else {
            let prev_index = p.next - 1;
            let entries = self.log.slice(p.next, self.timing.batch);
            let upto = prev_index + entries.len() as u64;
            let prev_term = self.log.term_at(prev_index).unwrap_or(0);
            (Request::Append(AppendRequest { term: self.term, leader: self.name.clone(), prev_index, prev_term, entries, commit: self.commit }), upto)
        };
        let sent = Sent { epoch: self.epoch, term: self.term, what: SentKind::Replicate { upto, probe: self.probe } };
        Outgoing { to: peer.to_owned(), request, sent }
    }

    /// An empty append to `peer` at the index it is known to hold: it resets the
    /// peer's election clock and confirms reads, whatever is in flight.
    fn heartbeat_message(&self, peer: &str, p: &Progress) -> Outgoing {
        let prev_term = self.log.term_at(p.matched).unwrap_or(0);
        let request = Request::Append(AppendRequest { term: self.term, leader: self.name.clone(), prev_index: p.matched, prev_term, entries: Vec::new(), commit: self.commit });
        Outgoing { to: peer.to_owned(), request, sent: Sent { epoch: self.epoch, term: self.term, what: SentKind::Heartbeat { probe: self.probe } } }
    }

    /// Leader: a request to each peer that is idle and has entries waiting, a read
    /// round to confirm, or a heartbeat due; a heartbeat alone to a peer whose request
    /// has been in flight for a heartbeat interval (docs/ARCHITECTURE.md §3: a slow link
    /// must slow the commits, not end the leadership).
    fn replicate(&mut self, now: Instant) {
        if self.role != Role::Leader {
            return;
        }
        let waiting: Vec<String> = self.progress.iter().filter(|(_, p)| p.in_flight && now >= p.last_sent + self.timing.heartbeat).map(|(peer, _)| peer.clone()).collect();
        for peer in waiting {
            let Some(p) = self.progress.get(&peer) else { continue };
            let out = self.heartbeat_message(&peer, p);
            if let Some(p) = self.progress.get_mut(&peer) {
                p.last_sent = now;
                p.probe_sent = self.probe;
            }
            self.ready.messages.push(out);
        }
        let last = self.log.last_index();
        let due: Vec<String> = self
            .progress
            .iter()
            .filter(|(_, p)| !p.in_flight && now >= p.retry_at && (p.next <= last || p.probe_sent < self.probe || now >= p.last_sent + self.timing.heartbeat))
            .map(|(peer, _)| peer.clone())
            .collect();
        for peer in due {
            let Some(p) = self.progress.get(&peer) else { continue };
            let out = self.next_message(&peer, p);
            if let Some(p) = self.progress.get_mut(&peer) {
                p.in_flight = true;
                p.last_sent = now;
                p.probe_sent = self.probe;
            }
            self.ready.messages.push(out);
        }
    }

    fn on_replicate_reply(&mut self, peer: &str, sent: Sent, upto: u64, probe: u64, reply: Reply) {
        if reply.term > self.term {
            self.step_down(reply.term);
            return;
        }
        if self.role != Role::Leader || self.epoch != sent.epoch {
            return;
        }
        let Some(p) = self.progress.get_mut(peer) else { return };
        p.in_flight = false;
        // Any answer in this term means the peer follows this leader: it confirms reads.
        p.probe_acked = p.probe_acked.max(probe);
        // Reads are answered as of their confirmation, before what this same reply
        // commits is applied: a ReadIndex read must not depend on a write happening to
        // share its round (with `no-noop`, that would hide the stale window).
        self.answer_reads();
        let Some(p) = self.progress.get_mut(peer) else { return };
        if reply.ok {
            p.matched = p.matched.max(upto);
            p.next = p.matched + 1;
            self.advance_commit();
        } else {
            p.next = reply.hint.min(p.next.saturating_sub(1)).max(1);
        }
    }

    /// A heartbeat's answer confirms the leadership (for reads) or ends it; what it
    /// says of the log is left to the append in flight.
    fn on_heartbeat_reply(&mut self, peer: &str, sent: Sent, probe: u64, reply: Reply) {
        if reply.term > self.term {
            self.step_down(reply.term);
            return;
        }
        if self.role != Role::Leader || self.epoch != sent.epoch {
            return;
        }
        if let Some(p) = self.progress.get_mut(peer) {
            p.probe_acked = p.probe_acked.max(probe);
        }
        self.answer_reads();
    }

    fn on_append(&mut self, req: AppendRequest, now: Instant) -> Result<Reply, String> {
        if let Some(refusal) = self.accept_leader(req.term, &req.leader, now) {
            return Ok(refusal);
        }
        let term = self.term;
        if req.prev_index > self.log.last_index() {
            return Ok(Reply { term, ok: false, hint: self.log.last_index() + 1 });
        }
        let (base, _) = self.log.base();
        if req.prev_index >= base {
            if let Some(t) = self.log.term_at(req.prev_index).filter(|t| *t != req.prev_term) {
                let mut first = req.prev_index;
                while first > base + 1 && self.log.term_at(first - 1) == Some(t) {
                    first -= 1;
                }
                return Ok(Reply { term, ok: false, hint: first });
            }
        }
        let last_new = req.prev_index + req.entries.len() as u64;
        let mut new = Vec::new();
        for e in req.entries {
            if e.index <= base || (new.is_empty() && self.log.term_at(e.index) == Some(e.term)) {
                continue;
            }
            if new.is_empty() && e.index <= self.log.last_index() {
                if e.index <= self.commit {
                    tracing::warn!(index = e.index, commit = self.commit, "truncating committed entries: a safety violation");
                }
                self.log.truncate_from(e.index);
                self.store.truncate(e.index).map_err(|err| format!("cannot write the log: {err}"))?;
                self.drop_waiters_from(e.index);
            }
            if e.index != self.log.last_index() + 1 {
                break;
            }
            self.log.push(e.clone());
            new.push(e);
        }
        if !new.is_empty() {
            let last = self.log.last_index();
            self.store.append(&new, true).map_err(|e| format!("cannot write the log: {e}"))?;
            self.store.sync(last).map_err(|e| format!("cannot fsync the log: {e}"))?;
        }
        let commit = req.commit.min(last_new);
        if commit > self.commit {
            self.commit = commit.min(self.log.last_index());
            self.apply_committed();
        }
        Ok(Reply { term, ok: true, hint: 0 })
    }

    fn on_snapshot(&mut self, req: SnapshotRequest, now: Instant) -> Result<Reply, String> {
        if let Some(refusal) = self.accept_leader(req.term, &req.leader, now) {
            return Ok(refusal);
        }
        let s = req.snapshot;
        if s.index > self.commit {
            if self.log.term_at(s.index) != Some(s.term) {
                self.log = RaftLog::default();
            }
            self.log.compact_to(s.index, s.term);
            self.drop_waiters_from(0);
            self.machine = Machine::restore(Some(s.clone()), self.machine.dedup);
            self.commit = s.index;
            self.applied = s.index;
            self.store.compact(&s, self.term, self.vote.as_deref(), &self.log).map_err(|e| format!("cannot write the snapshot: {e}"))?;
        }
        Ok(Reply { term: self.term, ok: true, hint: 0 })
    }

    /// Follower side of any leader message: refuses an older term; otherwise follows
    /// `leader` in that term and resets the election clock.
    fn accept_leader(&mut self, term: u64, leader: &str, now: Instant) -> Option<Reply> {
        if term < self.term {
            return Some(Reply { term: self.term, ok: false, hint: 0 });
        }
        self.step_down(term);
        self.leader = Some(leader.to_owned());
        self.election_deadline = now + self.random_timeout();
        None
    }

    // ---- messages ----

    /// A peer's request, answered at once (an `Err` is a local failure, such as a
    /// disk that cannot be written; the peer sees no answer).
    pub fn on_request(&mut self, request: Request, now: Instant) -> Result<Reply, String> {
        match request {
            Request::Append(r) => self.on_append(r, now),
            Request::Vote(r) => self.on_vote(r, now),
            Request::Snapshot(r) => self.on_snapshot(r, now),
        }
    }

    /// The answer to a request this node sent `peer`, or `None` if none came.
    pub fn on_reply(&mut self, peer: &str, sent: Sent, reply: Option<Reply>, now: Instant) {
        match (sent.what, reply) {
            (SentKind::Vote, Some(reply)) => self.on_vote_reply(peer, sent, reply, now),
            (SentKind::Vote, None) => {}
            (SentKind::Replicate { upto, probe }, Some(reply)) => self.on_replicate_reply(peer, sent, upto, probe, reply),
            (SentKind::Heartbeat { probe }, Some(reply)) => self.on_heartbeat_reply(peer, sent, probe, reply),
            (SentKind::Heartbeat { .. }, None) => {}
            (SentKind::Replicate { .. }, None) => {
                if let Some(p) = self.progress.get_mut(peer).filter(|_| self.epoch == sent.epoch) {
                    p.in_flight = false;
                    p.retry_at = now + self.timing.heartbeat;
                }
            }
        }
    }

    // ---- clients ----

    fn not_leader(&self) -> NodeError {
        NodeError::definite("not-leader", format!("{} is a {:?} in term {}", self.name, self.role, self.term)).with_leader(self.leader.clone())
    }

    /// A client write: appended now, answered (under `token`) once applied.
    pub fn propose(&mut self, token: Token, cmd: Command, now: Instant) -> Result<(), NodeError> {
        if self.role != Role::Leader {
            return Err(self.not_leader());
        }
        self.proposals.insert(token, Proposal { cmd: cmd.clone(), live: 1, proposed_at: now, reproposed: false, deadline: now + self.timing.request });
        self.append_for(token, cmd);
        Ok(())
    }

    /// A read-only transaction by ReadIndex: once this leadership's first entry has
    /// committed, note the commit index, confirm leadership with one round of
    /// heartbeats (shared by every read waiting for it), answer once applied there.
    pub fn read(&mut self, token: Token, ops: Vec<MicroOp>, now: Instant) -> Result<(), NodeError> {
        if let Some(stale) = self.local_read(&ops) {
            self.ready.answers.push((token, stale));
            return Ok(());
        }
        if self.role != Role::Leader {
            return Err(self.not_leader());
        }
        self.reads.push(PendingRead { token, ops, read_at: None, probe: 0, deadline: now + self.timing.request });
        self.start_waiting_reads();
        self.answer_reads();
        Ok(())
    }

    /// The stale-read bugs: a read served from local state, without asking anyone
    /// ([`Core::read`] does this too; a driver asks first so that a follower with the
    /// bug answers instead of forwarding).
    pub fn local_read(&self, ops: &[MicroOp]) -> Option<Answer> {
        let stale = match self.role {
            Role::Leader => self.bugs.stale_leader_read,
            _ => self.bugs.stale_follower_read,
        };
        stale.then(|| Ok(self.machine.read(ops)))
    }

    /// Reads waiting for this leadership's first commit get their index and a new
    /// round of heartbeats, once it has.
    fn start_waiting_reads(&mut self) {
        if self.role != Role::Leader || !(self.bugs.no_noop || self.commit >= self.term_start) {
            return;
        }
        if self.reads.iter().any(|r| r.read_at.is_none()) {
            self.probe += 1;
            for r in self.reads.iter_mut().filter(|r| r.read_at.is_none()) {
                r.read_at = Some(self.commit);
                r.probe = self.probe;
            }
        }
    }

    /// Answers the reads whose round a majority acknowledged and whose index applied.
    fn answer_reads(&mut self) {
        if self.reads.is_empty() {
            return;
        }
        let acked = |probe: u64| 1 + self.progress.values().filter(|p| p.probe_acked >= probe).count();
        let (done, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.reads).into_iter().partition(|r| r.read_at.is_some_and(|at| at <= self.applied) && acked(r.probe) >= self.majority);
        self.reads = waiting;
        for r in done {
            self.ready.answers.push((r.token, Ok(self.machine.read(&r.ops))));
        }
    }

    // ---- output ----

    /// What the driver must do now. The leader first makes its own new entries
    /// durable — one fsync for all appended since the last ready — and sees what that
    /// commits; then it picks the requests due to each peer.
    pub fn ready(&mut self, now: Instant) -> Ready {
        if self.role == Role::Leader {
            let last = self.log.last_index();
            if self.store.durable() < last {
                if let Err(e) = self.store.sync(last) {
                    tracing::error!("cannot fsync the log: {e}");
                }
            }
            self.advance_commit();
            self.replicate(now);
        }
        std::mem::take(&mut self.ready)
    }

    /// When [`Core::tick`] or [`Core::ready`] next has something to do (an election, a
    /// vote retry, a heartbeat to an idle peer, a reproposal, a deadline), so a driver
    /// can sleep until then; never earlier than `now`. Only what tick and ready would
    /// act on counts: a peer with a request in flight gets only heartbeats until its
    /// reply, and only a leader reproposes, so neither may make a driver spin.
    pub fn next_deadline(&self, now: Instant) -> Instant {
        let leading = self.role == Role::Leader;
        let heartbeat = self.timing.heartbeat;
        let mut next = match self.role {
            Role::Leader => self.progress.values().map(|p| if p.in_flight { p.last_sent + heartbeat } else { (p.last_sent + heartbeat).max(p.retry_at) }).min().unwrap_or(now + heartbeat),
            Role::Candidate => self.election_deadline.min(self.votes_requested + heartbeat),
            Role::Follower => self.election_deadline,
        };
        for p in self.proposals.values() {
            next = next.min(p.deadline);
            if leading && !p.reproposed {
                next = next.min(p.proposed_at + self.timing.repropose);
            }
        }
        for r in &self.reads {
            next = next.min(r.deadline);
        }
        next.max(now)
    }
}

/// A leadership change took an entry's place: it may have committed elsewhere.
pub fn superseded() -> NodeError {
    NodeError::indefinite("superseded", "leadership changed before the entry was applied; it may have committed elsewhere")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core(dir: &std::path::Path, nodes: &[&str], now: Instant) -> Core {
        let (store, recovered) = Store::open(dir, false, true, true).expect("a store");
        let config = Config { name: "n1".into(), nodes: nodes.iter().map(|n| n.to_string()).collect(), timing: Timing::default(), bugs: Bugs::default(), seed: 7 };
        Core::new(config, store, recovered, true, now)
    }

    /// Ticks until n1 leads (a one-node cluster elects itself; otherwise n2 votes).
    fn lead(c: &mut Core, mut now: Instant) -> Instant {
        while c.role().0 != Role::Leader {
            now = c.next_deadline(now);
            c.tick(now);
            for out in c.ready(now).messages {
                if let Request::Vote(v) = &out.request {
                    c.on_reply(&out.to, out.sent, Some(Reply { term: v.term, ok: true, hint: 0 }), now);
                }
            }
        }
        now
    }

    /// Answers every outgoing append of `out` as `peer` would: accepted in this term.
    fn accept_all(c: &mut Core, out: Vec<Outgoing>, now: Instant) {
        for o in out {
            let term = c.term;
            c.on_reply(&o.to, o.sent, Some(Reply { term, ok: true, hint: 0 }), now);
        }
    }

    #[test]
    fn a_slow_follower_hears_heartbeats_and_confirms_reads_while_an_append_hangs() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let mut c = core(dir.path(), &["n1", "n2", "n3"], t0);
        let mut now = lead(&mut c, t0);
        let noop = c.ready(now).messages;
        accept_all(&mut c, noop, now);
        // A write goes out to both followers, and their answers never come.
        c.propose(1, Command::Noop, now).unwrap();
        let hanging = c.ready(now).messages;
        assert_eq!(hanging.len(), 2, "{hanging:?}");
        c.read(2, vec![MicroOp::Read("x".into())], now).unwrap();
        // Every heartbeat interval, a heartbeat beside the hanging append; their answers
        // confirm the leadership, so the read is answered while the write waits.
        for _ in 0..10 {
            now = c.next_deadline(now);
            c.tick(now);
            let ready = c.ready(now);
            assert!(ready.messages.iter().all(|m| matches!(m.sent.what, SentKind::Heartbeat { .. })), "{:?}", ready.messages);
            assert!(ready.answers.iter().all(|(t, _)| *t == 2), "the write is not answered: {:?}", ready.answers);
            if ready.answers.iter().any(|(t, a)| *t == 2 && a.is_ok()) {
                assert_eq!(c.role().0, Role::Leader);
                return;
            }
            accept_all(&mut c, ready.messages, now);
        }
        panic!("the read was never confirmed");
    }

    #[test]
    fn the_next_deadline_is_never_in_the_past_of_what_is_left_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let mut c = core(dir.path(), &["n1", "n2", "n3"], t0);
        let now = lead(&mut c, t0);
        // The appends go out and stay unanswered: only heartbeats are due, one interval
        // after the last message to each peer.
        let sent = c.ready(now).messages.len();
        let later = now + Duration::from_secs(1);
        assert!(sent > 0 || c.progress.values().all(|p| p.in_flight));
        assert_eq!(c.next_deadline(later), later, "a heartbeat is overdue to the peers in flight");
        let heartbeats = c.ready(later).messages;
        assert_eq!(heartbeats.len(), 2, "one heartbeat to each peer: {heartbeats:?}");
        assert!(heartbeats.iter().all(|m| matches!(m.sent.what, SentKind::Heartbeat { .. })));
        assert_eq!(c.next_deadline(later), later + Duration::from_millis(50), "peers in flight: only the heartbeat clock");
        // A follower with a proposal left from its leadership does not wake to repropose.
        c.propose(1, Command::Noop, now).unwrap();
        c.step_down(c.term + 1);
        let at = c.next_deadline(now);
        assert!(at > now + Duration::from_millis(250), "waits for the election or the deadline, not the reproposal: {:?}", at - now);
        // A single node leads alone and still does not spin.
        let dir = tempfile::tempdir().unwrap();
        let mut alone = core(dir.path(), &["n1"], t0);
        let now = lead(&mut alone, t0);
        let _ = alone.ready(now);
        assert!(alone.next_deadline(now) > now);
    }

    #[test]
    fn the_same_seed_draws_the_same_election_timeouts() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let t0 = Instant::now();
        let (ca, cb) = (core(a.path(), &["n1", "n2", "n3"], t0), core(b.path(), &["n1", "n2", "n3"], t0));
        assert_eq!(ca.next_deadline(t0), cb.next_deadline(t0));
    }
}
