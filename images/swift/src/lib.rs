//! OpenStack Swift as a system under test: the client adapter for Swift's object API
//! ([`SwiftApi`]), which maps a workload's single micro-ops onto object and container
//! requests ([`mapping`]). How Swift starts is data, not code: `images/swift/design.toml`
//! is a design file (docs/ARCHITECTURE.md §9) that builds every node's rings and
//! configuration from the cluster faultline created.

pub mod adapter;
pub mod mapping;

pub use adapter::SwiftApi;
