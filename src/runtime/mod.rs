//! The Docker runtime: everything faultline does through the Docker Engine API.
//!
//! No image can be pulled on the machines faultline targets, so the base image is built
//! here from a debootstrapped Debian rootfs ([`base_image`]). Every object faultline
//! creates carries the [`labels::PROJECT`] label (and a run's id), so [`clean`] can always
//! find and remove it. [`probe`] tells which faults the kernel and image support.

pub mod base_image;
pub mod clean;
mod connect;
mod engine;
mod error;
pub mod cluster;
pub mod exec;
pub mod labels;
pub mod node_image;
pub mod probe;
pub mod transfer;

pub use engine::Engine;
pub use connect::{connect, engine_host, engine_url, LOCAL_ENGINE};
pub use error::RuntimeError;
