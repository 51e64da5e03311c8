//! Unmodified Maelstrom nodes as systems under test (docs/ARCHITECTURE.md §10).
//!
//! A Maelstrom node is a program that reads JSON messages on stdin and writes them on
//! stdout ([`protocol`]). In each node's container, the [`shim`] (run as `faultline
//! node maelstrom`) starts it, sends `init` (and a [`topology`]), and routes its
//! messages: to other nodes as UDP datagrams over the network faultline faults, to
//! clients and services over a TCP connection to the controller. On the controller,
//! [`MaelstromApi`] is a faultline [`Adapter`](faultline_workloads::adapter::Adapter):
//! it turns a workload's micro-ops into the Maelstrom workload's requests ([`codec`]),
//! maps answers and Maelstrom's error codes onto ok / fail / info (kafka's clients keep
//! their positions in [`kafka`]), answers the nodes'
//! requests to `lin-kv`, `seq-kv`, `lww-kv` and `lin-tso` ([`services`]), and counts
//! messages for the report. How such a node becomes a design is the binary's
//! (`design::maelstrom`); `fixtures/` holds small nodes the tests run.

pub mod adapter;
pub mod codec;
pub mod kafka;
pub mod protocol;
pub mod services;
pub mod shim;
pub mod topology;

pub use adapter::MaelstromApi;
pub use shim::ShimOptions;
