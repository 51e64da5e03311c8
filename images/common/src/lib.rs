//! What faultline's reference nodes share (docs/ARCHITECTURE.md §3): the client API (`POST /txn`,
//! `GET /health`, `GET /status`), durable storage that remembers what was fsynced and
//! can simulate losing the rest, node configuration, and the transport nodes use to talk
//! to their peers (HTTP in Docker, an in-memory network with partitions in tests).

pub mod api;
pub mod config;
pub mod server;
pub mod storage;
pub mod transport;
