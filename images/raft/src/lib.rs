//! Raft: a single-leader, strict-serializable key-value store (docs/ARCHITECTURE.md §3).
//!
//! One leader per term, elected with randomized timeouts by nodes whose term and vote
//! are persisted before they answer. The leader appends client transactions to its log,
//! replicates them in batches, and commits an entry of its own term once a majority
//! holds it on disk (a no-op at the start of each term makes that prompt). Committed
//! entries are applied in order to a key-value state machine; a transaction applies
//! atomically, and client sessions (client, seq) make a re-proposed entry apply once.
//! Reads use ReadIndex: wait for this term's first entry to commit, confirm leadership
//! with one heartbeat round, answer once applied up to that point. Followers forward
//! client requests to the leader they know (knob `forward`, on by default), or answer
//! `not-leader` (definite) naming the leader. Snapshots bound the log.
//!
//! The protocol is a sans-IO [`Core`] (time, randomness and messages are its inputs,
//! requests and answers its outputs); [`Raft`] drives it from one event-loop thread
//! over a [`node_common::transport::Transport`]. The deterministic simulation in
//! `tests/replay.rs` drives the same core with a virtual clock, so a seed replays.
//!
//! Bugs (docs/ARCHITECTURE.md §4): `stale-follower-read`, `stale-leader-read`, `no-noop`,
//! `async-commit`, `no-fsync`, `forget-vote`, `no-vote-restriction`,
//! `retry-without-session`; each is described in the crate's README.

pub mod core;
pub mod log;
pub mod machine;
pub mod node;
pub mod store;

pub use crate::core::{Core, Role, Timing};
pub use node::{Options, Raft, BUGS, KNOBS};
