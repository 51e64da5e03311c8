//! Redis as a system under test: the RESP client adapter ([`RespApi`]), which runs a
//! workload's transaction as one Lua script on the primary ([`script`]) and, with
//! Sentinel, finds the primary the way real Redis clients do: by asking the Sentinel on
//! the node a client is bound to ([`primary`]). How Redis and its Sentinels start is
//! data, not code: `images/redis/design.toml` is a design file (docs/ARCHITECTURE.md
//! §9), so a user could have written it.

pub mod adapter;
pub mod primary;
pub mod script;

pub use adapter::{RespApi, RespOptions};
