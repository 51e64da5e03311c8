//! A Raft node: election, replication, commit, reads, and the client API on top.
//!
//! All state sits in one [`Core`] behind a mutex; nothing awaits while holding it.
//! Background tasks: a ticker (elections), and while leader one replication loop per
//! peer (batches of entries, heartbeats, snapshots for peers that fell behind).

use crate::log::{Command, Entry, RaftLog};
use crate::machine::{Answer, Machine, Snapshot};
use crate::store::Store;
use futures_util::stream::{FuturesUnordered, StreamExt};
use node_common::api::{MicroOp, NodeError, TxnRequest};
use node_common::config::NodeOptions;
use node_common::server::Design;
use node_common::transport::{BoxFuture, PeerHandler, Transport};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// The bugs this design can switch on (docs/ARCHITECTURE.md §4).
pub const BUGS: [&str; 8] = [
    "stale-follower-read",
    "stale-leader-read",
    "no-noop",
    "async-commit",
    "no-fsync",
    "forget-vote",
    "no-vote-restriction",
    "retry-without-session",
];

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
            snapshot_every: 5_000,
            batch: 256,
        }
    }
}

/// How to start a node.
#[derive(Debug, Clone)]
pub struct Options {
    /// Name, peers, data directory, bugs.
    pub node: NodeOptions,
    /// The clocks.
    pub timing: Timing,
    /// Followers forward client requests to the leader they know (as etcd does),
    /// instead of answering `not-leader`.
    pub forward: bool,
}

/// Knobs this design accepts (`--opt key=value`).
pub const KNOBS: [&str; 1] = ["forward"];

/// The bugs that change the protocol's logic (the storage bugs live in [`Store`] and
/// [`Machine`]).
#[derive(Debug, Default)]
struct Bugs {
    stale_follower_read: bool,
    stale_leader_read: bool,
    no_noop: bool,
    async_commit: bool,
    no_vote_restriction: bool,
}

/// A node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Asks for votes.
    Candidate,
    /// Leads its term.
    Leader,
}

/// A client waiting for the entry at some index to be applied.
struct Waiter {
    term: u64,
    answer: oneshot::Sender<Answer>,
}

/// Everything that changes, behind one lock.
struct Core {
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
    votes: HashSet<String>,
    votes_requested: Instant,
    next: HashMap<String, u64>,
    matched: HashMap<String, u64>,
    /// Bumped each time this node becomes leader, so old replication loops stop.
    epoch: u64,
    /// The first index of this leadership (its no-op): reads wait until it commits.
    term_start: u64,
    waiters: HashMap<u64, Waiter>,
}

/// `append` messages: entries (possibly none: a heartbeat) after `prev_index`.
#[derive(Debug, Serialize, Deserialize)]
struct AppendRequest {
    term: u64,
    leader: String,
    prev_index: u64,
    prev_term: u64,
    entries: Vec<Entry>,
    commit: u64,
}

/// `vote` messages.
#[derive(Debug, Serialize, Deserialize)]
struct VoteRequest {
    term: u64,
    candidate: String,
    last_index: u64,
    last_term: u64,
}

/// `snapshot` messages, for a peer whose next entry was compacted away.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotRequest {
    term: u64,
    leader: String,
    snapshot: Snapshot,
}

/// Answers to all three: the receiver's term, whether it agreed, and for a refused
/// append where the leader should resume (`hint`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Reply {
    term: u64,
    ok: bool,
    #[serde(default)]
    hint: u64,
}

/// A Raft node.
pub struct Raft {
    name: String,
    peers: Vec<String>,
    majority: usize,
    transport: Arc<dyn Transport>,
    timing: Timing,
    bugs: Bugs,
    /// Forward client requests to the leader when not leading.
    forward: bool,
    core: Mutex<Core>,
    /// The last log index, for replication loops to wake on.
    appended: watch::Sender<u64>,
    /// The last applied index, for reads to wait on.
    applied: watch::Sender<u64>,
    stopped: AtomicBool,
    me: Weak<Raft>,
}

impl Raft {
    /// Starts a node: recovers its state from disk and starts its ticker.
    pub fn start(opts: Options, transport: Arc<dyn Transport>) -> std::io::Result<Arc<Raft>> {
        let Options { node: opts, timing, forward } = opts;
        opts.index()?;
        let has = |bug: &str| opts.has_bug(bug);
        let (store, state) = Store::open(&opts.data, opts.lose_unsynced, !has("no-fsync"), !has("forget-vote"))?;
        let base = state.log.base().0;
        let machine = Machine::restore(state.snapshot, !has("retry-without-session"));
        let core = Core {
            term: state.term,
            vote: state.vote,
            role: Role::Follower,
            leader: None,
            log: state.log,
            store,
            machine,
            commit: base,
            applied: base,
            election_deadline: Instant::now() + random_timeout(&timing),
            votes: HashSet::new(),
            votes_requested: Instant::now(),
            next: HashMap::new(),
            matched: HashMap::new(),
            epoch: 0,
            term_start: u64::MAX,
            waiters: HashMap::new(),
        };
        let bugs = Bugs {
            stale_follower_read: has("stale-follower-read"),
            stale_leader_read: has("stale-leader-read"),
            no_noop: has("no-noop"),
            async_commit: has("async-commit"),
            no_vote_restriction: has("no-vote-restriction"),
        };
        let raft = Arc::new_cyclic(|me| Raft {
            peers: opts.nodes.iter().filter(|n| **n != opts.name).cloned().collect(),
            majority: opts.nodes.len() / 2 + 1,
            name: opts.name,
            transport,
            timing,
            bugs,
            forward,
            core: Mutex::new(core),
            appended: watch::channel(0).0,
            applied: watch::channel(base).0,
            stopped: AtomicBool::new(false),
            me: me.clone(),
        });
        tokio::spawn(ticker(Arc::downgrade(&raft)));
        Ok(raft)
    }

    /// Its role and term, and the leader it knows.
    pub fn role(&self) -> (Role, u64, Option<String>) {
        let c = self.lock();
        (c.role, c.term, c.leader.clone())
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The core, unless the node was stopped. Stopping takes the same lock, so a
    /// stopped node writes nothing more to disk (its restarted successor owns the files).
    fn live(&self) -> Option<MutexGuard<'_, Core>> {
        let c = self.lock();
        (!self.is_stopped()).then_some(c)
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    // ---- elections ----

    fn tick(&self) {
        let Some(mut c) = self.live() else { return };
        let now = Instant::now();
        if c.role != Role::Leader && now >= c.election_deadline {
            self.start_election(&mut c);
        } else if c.role == Role::Candidate && now >= c.votes_requested + self.timing.heartbeat {
            self.request_votes(&mut c);
        }
    }

    fn start_election(&self, c: &mut Core) {
        c.term += 1;
        c.role = Role::Candidate;
        c.leader = None;
        c.vote = Some(self.name.clone());
        c.votes = HashSet::from([self.name.clone()]);
        c.election_deadline = Instant::now() + random_timeout(&self.timing);
        if let Err(e) = c.store.save_vote(c.term, c.vote.as_deref()) {
            tracing::error!("cannot persist my vote: {e}");
            return;
        }
        tracing::info!(term = c.term, "starting an election");
        if c.votes.len() >= self.majority {
            self.become_leader(c);
            return;
        }
        self.request_votes(c);
    }

    /// Candidate: asks every peer that has not voted for it yet (again, each heartbeat,
    /// as messages may be lost).
    fn request_votes(&self, c: &mut Core) {
        c.votes_requested = Instant::now();
        let request = VoteRequest { term: c.term, candidate: self.name.clone(), last_index: c.log.last_index(), last_term: c.log.last_term() };
        let body = json!(request);
        for peer in self.peers.iter().filter(|p| !c.votes.contains(*p)) {
            let (me, peer, body, term) = (self.me.clone(), peer.clone(), body.clone(), c.term);
            tokio::spawn(async move {
                let Some(raft) = me.upgrade() else { return };
                if let Ok(reply) = raft.transport.call(&peer, "vote", body).await {
                    raft.on_vote_reply(&peer, term, reply);
                }
            });
        }
    }

    fn on_vote_reply(&self, peer: &str, term: u64, reply: Value) {
        let Ok(reply) = serde_json::from_value::<Reply>(reply) else { return };
        let Some(mut c) = self.live() else { return };
        if reply.term > c.term {
            self.step_down(&mut c, reply.term);
        } else if reply.ok && c.role == Role::Candidate && c.term == term {
            c.votes.insert(peer.to_owned());
            if c.votes.len() >= self.majority {
                self.become_leader(&mut c);
            }
        }
    }

    fn become_leader(&self, c: &mut Core) {
        tracing::info!(term = c.term, "became leader");
        c.role = Role::Leader;
        c.leader = Some(self.name.clone());
        c.epoch += 1;
        let next = c.log.last_index() + 1;
        c.next = self.peers.iter().map(|p| (p.clone(), next)).collect();
        c.matched = self.peers.iter().map(|p| (p.clone(), 0)).collect();
        c.term_start = next;
        if !self.bugs.no_noop {
            self.append_entry(c, Command::Noop);
        }
        for peer in &self.peers {
            if let Some(me) = self.me.upgrade() {
                tokio::spawn(replicate(me, peer.clone(), c.epoch));
            }
        }
        self.flush(c);
    }

    /// Moves to `term` (forgetting the vote) as a follower.
    fn step_down(&self, c: &mut Core, term: u64) {
        if term > c.term {
            c.term = term;
            c.vote = None;
            c.leader = None;
            if let Err(e) = c.store.save_vote(term, None) {
                tracing::error!("cannot persist the new term: {e}");
            }
        }
        if c.role != Role::Follower {
            tracing::info!(term = c.term, "stepping down");
        }
        c.role = Role::Follower;
    }

    fn on_vote(&self, req: VoteRequest) -> Result<Reply, String> {
        let mut guard = self.live().ok_or("stopped")?;
        let c = &mut *guard;
        if req.term > c.term {
            self.step_down(c, req.term);
        }
        let up_to_date = (req.last_term, req.last_index) >= (c.log.last_term(), c.log.last_index());
        let free = c.vote.as_ref().is_none_or(|v| *v == req.candidate);
        let ok = req.term == c.term && free && (up_to_date || self.bugs.no_vote_restriction);
        if ok {
            c.vote = Some(req.candidate.clone());
            c.store.save_vote(c.term, Some(&req.candidate)).map_err(|e| format!("cannot persist my vote: {e}"))?;
            c.election_deadline = Instant::now() + random_timeout(&self.timing);
        }
        Ok(Reply { term: c.term, ok, hint: 0 })
    }

    // ---- the log ----

    /// Appends a new entry to the leader's log (fsynced later, in a batch).
    fn append_entry(&self, c: &mut Core, cmd: Command) -> u64 {
        let entry = Entry { index: c.log.last_index() + 1, term: c.term, cmd };
        let index = entry.index;
        if let Err(e) = c.store.append(std::slice::from_ref(&entry), false) {
            tracing::error!("cannot write the log: {e}");
        }
        c.log.push(entry);
        self.appended.send_replace(index);
        if self.bugs.async_commit {
            c.commit = c.commit.max(index);
            self.apply_committed(c);
        }
        index
    }

    /// Leader: makes its own log durable (one fsync for every entry appended since
    /// the last), then sees what that commits.
    fn flush(&self, c: &mut Core) {
        let last = c.log.last_index();
        if c.store.durable() < last {
            if let Err(e) = c.store.sync(last) {
                tracing::error!("cannot fsync the log: {e}");
                return;
            }
        }
        self.advance_commit(c);
    }

    /// Leader: commits the newest entry of its own term that a majority holds.
    fn advance_commit(&self, c: &mut Core) {
        if c.role != Role::Leader {
            return;
        }
        let mut index = c.log.last_index();
        while index > c.commit && c.log.term_at(index) == Some(c.term) {
            let holders = 1 + c.matched.values().filter(|m| **m >= index).count();
            let own = usize::from(c.store.durable() >= index);
            if holders - 1 + own >= self.majority {
                c.commit = index;
                break;
            }
            index -= 1;
        }
        self.apply_committed(c);
    }

    fn apply_committed(&self, c: &mut Core) {
        let before = c.applied;
        while c.applied < c.commit {
            let index = c.applied + 1;
            let Some(entry) = c.log.get(index).cloned() else { break };
            let answer = c.machine.apply(&entry.cmd);
            c.applied = index;
            if let Some(w) = c.waiters.remove(&index) {
                let answer = if w.term == entry.term { answer } else { Err(superseded()) };
                let _ = w.answer.send(answer);
            }
        }
        if c.applied != before {
            self.applied.send_replace(c.applied);
            self.maybe_snapshot(c);
        }
    }

    fn maybe_snapshot(&self, c: &mut Core) {
        let (base, _) = c.log.base();
        if c.applied - base < self.timing.snapshot_every {
            return;
        }
        let Some(term) = c.log.term_at(c.applied) else { return };
        let snapshot = c.machine.snapshot(c.applied, term);
        c.log.compact_to(c.applied, term);
        let (term, vote) = (c.term, c.vote.clone());
        if let Err(e) = c.store.compact(&snapshot, term, vote.as_deref(), &c.log) {
            tracing::error!("cannot write a snapshot: {e}");
        }
    }

    /// Answers the waiters of entries from `from` on, which are gone from the log.
    fn drop_waiters_from(c: &mut Core, from: u64) {
        let gone: Vec<u64> = c.waiters.keys().copied().filter(|i| *i >= from).collect();
        for i in gone {
            if let Some(w) = c.waiters.remove(&i) {
                let _ = w.answer.send(Err(superseded()));
            }
        }
    }

    // ---- replication ----

    /// What to send `peer` next: entries after its next index, or a snapshot.
    fn next_message(&self, c: &Core, peer: &str) -> (&'static str, Value, u64) {
        let next = c.next.get(peer).copied().unwrap_or(1);
        let (base, _) = c.log.base();
        if next <= base {
            let term = c.log.term_at(c.applied).unwrap_or(0);
            let snapshot = c.machine.snapshot(c.applied, term);
            let sent = snapshot.index;
            return ("snapshot", json!(SnapshotRequest { term: c.term, leader: self.name.clone(), snapshot }), sent);
        }
        let prev_index = next - 1;
        let entries = c.log.slice(next, self.timing.batch);
        let sent = prev_index + entries.len() as u64;
        let req = AppendRequest { term: c.term, leader: self.name.clone(), prev_index, prev_term: c.log.term_at(prev_index).unwrap_or(0), entries, commit: c.commit };
        ("append", json!(req), sent)
    }

    /// Leader: takes a peer's answer to an append or snapshot. True if more is
    /// waiting to be sent to it.
    fn on_append_reply(&self, c: &mut Core, peer: &str, epoch: u64, sent: u64, reply: Reply) -> bool {
        if reply.term > c.term {
            self.step_down(c, reply.term);
            return false;
        }
        if c.role != Role::Leader || c.epoch != epoch {
            return false;
        }
        let next = c.next.get(peer).copied().unwrap_or(1);
        if reply.ok {
            let matched = c.matched.get(peer).copied().unwrap_or(0).max(sent);
            c.matched.insert(peer.to_owned(), matched);
            c.next.insert(peer.to_owned(), matched + 1);
            self.advance_commit(c);
            matched < c.log.last_index()
        } else {
            c.next.insert(peer.to_owned(), reply.hint.min(next.saturating_sub(1)).max(1));
            true
        }
    }

    fn on_append(&self, req: AppendRequest) -> Result<Reply, String> {
        let mut c = self.live().ok_or("stopped")?;
        if let Some(refusal) = self.accept_leader(&mut c, req.term, &req.leader) {
            return Ok(refusal);
        }
        let term = c.term;
        if req.prev_index > c.log.last_index() {
            return Ok(Reply { term, ok: false, hint: c.log.last_index() + 1 });
        }
        let (base, _) = c.log.base();
        if req.prev_index >= base {
            if let Some(t) = c.log.term_at(req.prev_index).filter(|t| *t != req.prev_term) {
                let mut first = req.prev_index;
                while first > base + 1 && c.log.term_at(first - 1) == Some(t) {
                    first -= 1;
                }
                return Ok(Reply { term, ok: false, hint: first });
            }
        }
        let last_new = req.prev_index + req.entries.len() as u64;
        let mut new = Vec::new();
        for e in req.entries {
            if e.index <= base || (new.is_empty() && c.log.term_at(e.index) == Some(e.term)) {
                continue;
            }
            if new.is_empty() && e.index <= c.log.last_index() {
                if e.index <= c.commit {
                    tracing::warn!(index = e.index, commit = c.commit, "truncating committed entries: a safety violation");
                }
                c.log.truncate_from(e.index);
                c.store.truncate(e.index).map_err(|err| format!("cannot write the log: {err}"))?;
                Self::drop_waiters_from(&mut c, e.index);
            }
            if e.index != c.log.last_index() + 1 {
                break;
            }
            c.log.push(e.clone());
            new.push(e);
        }
        if !new.is_empty() {
            let last = c.log.last_index();
            c.store.append(&new, true).map_err(|e| format!("cannot write the log: {e}"))?;
            c.store.sync(last).map_err(|e| format!("cannot fsync the log: {e}"))?;
        }
        let commit = req.commit.min(last_new);
        if commit > c.commit {
            c.commit = commit.min(c.log.last_index());
            self.apply_committed(&mut c);
        }
        Ok(Reply { term, ok: true, hint: 0 })
    }

    fn on_snapshot(&self, req: SnapshotRequest) -> Result<Reply, String> {
        let mut guard = self.live().ok_or("stopped")?;
        let c = &mut *guard;
        if let Some(refusal) = self.accept_leader(c, req.term, &req.leader) {
            return Ok(refusal);
        }
        let s = req.snapshot;
        if s.index > c.commit {
            if c.log.term_at(s.index) != Some(s.term) {
                c.log = RaftLog::default();
            }
            c.log.compact_to(s.index, s.term);
            Self::drop_waiters_from(c, 0);
            c.machine = Machine::restore(Some(s.clone()), c.machine.dedup);
            c.commit = s.index;
            c.applied = s.index;
            let (term, vote) = (c.term, c.vote.clone());
            c.store.compact(&s, term, vote.as_deref(), &c.log).map_err(|e| format!("cannot write the snapshot: {e}"))?;
            self.applied.send_replace(s.index);
        }
        Ok(Reply { term: c.term, ok: true, hint: 0 })
    }

    /// Follower side of any leader message: refuses an older term; otherwise follows
    /// `leader` in that term and resets the election clock.
    fn accept_leader(&self, c: &mut Core, term: u64, leader: &str) -> Option<Reply> {
        if term < c.term {
            return Some(Reply { term: c.term, ok: false, hint: 0 });
        }
        self.step_down(c, term);
        c.leader = Some(leader.to_owned());
        c.election_deadline = Instant::now() + random_timeout(&self.timing);
        None
    }

    /// Leader: does a majority still follow it in `term`? (One heartbeat round.)
    async fn confirm_leadership(&self, term: u64) -> bool {
        let probe = json!(AppendRequest { term, leader: self.name.clone(), prev_index: 0, prev_term: 0, entries: Vec::new(), commit: 0 });
        let mut calls: FuturesUnordered<_> = self.peers.iter().map(|p| self.transport.call(p, "append", probe.clone())).collect();
        let mut acks = 1;
        while acks < self.majority {
            let Some(answer) = calls.next().await else { return false };
            let Some(reply) = answer.ok().and_then(|r| serde_json::from_value::<Reply>(r).ok()) else { continue };
            if reply.term > term {
                if let Some(mut c) = self.live() {
                    self.step_down(&mut c, reply.term);
                }
                return false;
            }
            acks += usize::from(reply.ok);
        }
        true
    }

    // ---- clients ----

    fn not_leader(&self, c: &Core) -> NodeError {
        NodeError::definite("not-leader", format!("{} is a {:?} in term {}", self.name, c.role, c.term)).with_leader(c.leader.clone())
    }

    /// A read-only transaction by ReadIndex: wait until this leadership's first entry
    /// commits, note the commit index, confirm leadership, wait until applied.
    async fn read(&self, ops: &[MicroOp], deadline: Instant) -> Answer {
        let mut applied = self.applied.subscribe();
        let (term, read_at) = loop {
            {
                let c = self.lock();
                if c.role != Role::Leader {
                    return Err(self.not_leader(&c));
                }
                if self.bugs.no_noop || c.commit >= c.term_start {
                    break (c.term, c.commit);
                }
            }
            if tokio::time::timeout_at(deadline.into(), applied.changed()).await.is_err() {
                return Err(NodeError::definite("timeout", "this leader's first entry did not commit in time"));
            }
        };
        if !self.confirm_leadership(term).await {
            return Err(NodeError::definite("not-leader", format!("{} could not confirm its leadership of term {term}", self.name)));
        }
        if tokio::time::timeout_at(deadline.into(), applied.wait_for(|a| *a >= read_at)).await.is_err() {
            return Err(NodeError::definite("timeout", format!("index {read_at} was not applied in time")));
        }
        Ok(self.lock().machine.read(ops))
    }

    /// A transaction that writes: propose it, wait until applied. Proposed once more
    /// if it is slow to commit.
    async fn write(&self, req: TxnRequest, deadline: Instant) -> Answer {
        let cmd = Command::Txn { client: req.client, seq: req.seq, ops: req.ops.iter().map(MicroOp::to_value).collect() };
        let mut pending = FuturesUnordered::new();
        pending.push(self.propose(cmd.clone())?);
        let mut reproposed = false;
        let mut last_error = None;
        loop {
            let until = if reproposed { deadline } else { deadline.min(Instant::now() + self.timing.repropose) };
            match tokio::time::timeout_at(until.into(), pending.next()).await {
                Ok(Some(Ok(Ok(results)))) => return Ok(results),
                Ok(Some(Ok(Err(e)))) if e.definite => return Err(e),
                Ok(Some(Ok(Err(e)))) => last_error = Some(e),
                Ok(Some(Err(_))) => last_error = Some(superseded()),
                Ok(None) => return Err(last_error.unwrap_or_else(superseded)),
                Err(_) if !reproposed && Instant::now() < deadline => {
                    reproposed = true;
                    if let Ok(rx) = self.propose(cmd.clone()) {
                        tracing::debug!("proposing again");
                        pending.push(rx);
                    }
                }
                Err(_) => return Err(NodeError::indefinite("timeout", "not applied in time; it may still commit")),
            }
        }
    }

    fn propose(&self, cmd: Command) -> Result<oneshot::Receiver<Answer>, NodeError> {
        let Some(mut c) = self.live() else { return Err(NodeError::definite("unavailable", "the node is stopped")) };
        if c.role != Role::Leader {
            return Err(self.not_leader(&c));
        }
        let (tx, rx) = oneshot::channel();
        let index = c.log.last_index() + 1;
        let term = c.term;
        c.waiters.insert(index, Waiter { term, answer: tx });
        self.append_entry(&mut c, cmd);
        if self.peers.is_empty() {
            self.flush(&mut c);
        }
        Ok(rx)
    }

    /// The stale-read bugs: a read served from local state, without asking anyone.
    fn local_read(&self, ops: &[MicroOp]) -> Option<Answer> {
        let c = self.lock();
        let stale = match c.role {
            Role::Leader => self.bugs.stale_leader_read,
            _ => self.bugs.stale_follower_read,
        };
        stale.then(|| Ok(c.machine.read(ops)))
    }
}

fn superseded() -> NodeError {
    NodeError::indefinite("superseded", "leadership changed before the entry was applied; it may have committed elsewhere")
}

fn random_timeout(t: &Timing) -> Duration {
    rand::thread_rng().gen_range(t.election.0..=t.election.1)
}

async fn ticker(me: Weak<Raft>) {
    loop {
        let Some(raft) = me.upgrade() else { return };
        if raft.is_stopped() {
            return;
        }
        raft.tick();
        let pause = raft.timing.heartbeat / 5;
        drop(raft);
        tokio::time::sleep(pause.max(Duration::from_millis(1))).await;
    }
}

/// Leader: keeps one peer up to date while this leadership lasts.
async fn replicate(raft: Arc<Raft>, peer: String, epoch: u64) {
    let mut appended = raft.appended.subscribe();
    loop {
        let (kind, body, sent) = {
            let Some(mut c) = raft.live() else { return };
            if c.role != Role::Leader || c.epoch != epoch {
                return;
            }
            raft.flush(&mut c);
            raft.next_message(&c, &peer)
        };
        match raft.transport.call(&peer, kind, body).await.map(serde_json::from_value::<Reply>) {
            Ok(Ok(reply)) => {
                let Some(mut c) = raft.live() else { return };
                let more = raft.on_append_reply(&mut c, &peer, epoch, sent, reply);
                drop(c);
                if more {
                    continue;
                }
            }
            _ => {
                tokio::time::sleep(raft.timing.heartbeat).await;
                continue;
            }
        }
        let _ = tokio::time::timeout(raft.timing.heartbeat, appended.changed()).await;
    }
}

impl PeerHandler for Raft {
    fn handle(&self, kind: &str, body: Value) -> BoxFuture<'_, Result<Value, String>> {
        let kind = kind.to_owned();
        Box::pin(async move {
            if self.is_stopped() {
                return Err(format!("{} is stopped", self.name));
            }
            let bad = |e: serde_json::Error| format!("malformed {kind} message: {e}");
            let reply = match kind.as_str() {
                "vote" => self.on_vote(serde_json::from_value(body).map_err(bad)?),
                "append" => self.on_append(serde_json::from_value(body).map_err(bad)?),
                "snapshot" => self.on_snapshot(serde_json::from_value(body).map_err(bad)?),
                "forward" => {
                    // A follower's client request: served here, never forwarded again.
                    let req = node_common::api::parse_txn(&body)?;
                    return Ok(match self.serve(req, false).await {
                        Ok(ops) => json!({ "ops": ops }),
                        Err(e) => json!({ "refused": e }),
                    });
                }
                other => Err(format!("unknown message {other}")),
            }?;
            Ok(json!(reply))
        })
    }
}

/// A leader's answer to a forwarded request.
#[derive(Deserialize)]
#[serde(untagged)]
enum Forwarded {
    Served { ops: Vec<Value> },
    Refused { refused: NodeError },
}

impl Raft {
    /// The leader this node knows, when it is not the leader itself.
    fn leader_elsewhere(&self) -> Option<String> {
        let c = self.lock();
        (c.role != Role::Leader).then(|| c.leader.clone()).flatten().filter(|l| *l != self.name)
    }

    /// Sends a client request to `leader` and relays its answer. No answer means the
    /// request may or may not have been applied there: indefinite.
    async fn forward_to(&self, leader: &str, req: &TxnRequest) -> Answer {
        let body = json!({"client": req.client, "seq": req.seq, "ops": req.ops.iter().map(MicroOp::to_value).collect::<Vec<_>>()});
        let answer = self.transport.call_within(leader, "forward", body, self.timing.request).await;
        match answer.map(serde_json::from_value::<Forwarded>) {
            Ok(Ok(Forwarded::Served { ops })) => Ok(ops),
            Ok(Ok(Forwarded::Refused { refused })) => Err(refused),
            Ok(Err(e)) => Err(NodeError::indefinite("forward-failed", format!("{leader} answered the forwarded request with something unreadable: {e}"))),
            Err(e) => Err(NodeError::indefinite("forward-failed", format!("no answer from the leader {leader}: {e}; the request may have been applied"))),
        }
    }

    /// Serves a client transaction here, or (when not leading, with forwarding on and
    /// `may_forward`) at the leader.
    async fn serve(&self, req: TxnRequest, may_forward: bool) -> Answer {
        if self.is_stopped() {
            return Err(NodeError::definite("unavailable", "the node is stopped"));
        }
        let deadline = Instant::now() + self.timing.request;
        let read_only = req.ops.iter().all(MicroOp::is_read);
        if read_only {
            // The stale-read bugs serve locally whatever the role: forwarding does not
            // hide them.
            if let Some(answer) = self.local_read(&req.ops) {
                return answer;
            }
        }
        if may_forward && self.forward {
            if let Some(leader) = self.leader_elsewhere() {
                return self.forward_to(&leader, &req).await;
            }
        }
        if read_only {
            return self.read(&req.ops, deadline).await;
        }
        self.write(req, deadline).await
    }
}

impl Design for Raft {
    fn txn(&self, req: TxnRequest) -> BoxFuture<'_, Answer> {
        Box::pin(self.serve(req, true))
    }

    fn status(&self) -> Value {
        let c = self.lock();
        let role = match c.role {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        };
        json!({
            "node": self.name,
            "role": role,
            "term": c.term,
            "leader": c.leader,
            "commit": c.commit,
            "applied": c.applied,
            "last_index": c.log.last_index(),
            "snapshot_index": c.log.base().0,
            "keys": c.machine.len(),
        })
    }

    fn stop(&self) {
        let _core = self.lock();
        self.stopped.store(true, Ordering::SeqCst);
    }
}
