//! etcd 3.4 as a system under test: the client adapter for its JSON gateway
//! ([`EtcdApi`]). How etcd starts is data, not code: `images/etcd/design.toml` is a
//! design file (docs/ARCHITECTURE.md §9) whose command template bootstraps every
//! member statically from the cluster faultline created, so a user's own system can be
//! described the same way.

pub mod adapter;

pub use adapter::EtcdApi;
