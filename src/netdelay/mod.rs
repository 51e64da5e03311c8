//! Packet delay without netem (docs/ARCHITECTURE.md §5): `faultline delayd`, a daemon
//! run inside a node's holder, takes the packets iptables sends to an NFQUEUE queue,
//! holds each for its delay and then lets it go. [`hold`] is the sans-IO part (how long
//! a packet is held, which are due), tested with seeded draws; [`daemon`] is the loop
//! around the kernel queue. The nemesis decides which links are delayed;
//! `runtime::cluster` writes the rules and starts and stops the daemon. [`sink`] is
//! the receiver the Docker tests observe reordering and duplication with.

pub mod daemon;
pub mod hold;
pub mod sink;
