//! faultline: Jepsen-style chaos testing for replicated databases, in Docker.
//!
//! The binary's building blocks: [`runtime`] talks to Docker (images built with no
//! registry, labelled objects, cleanup, the capability probe). The checkers live in the
//! `faultline-checkers` crate and the history model in `faultline-history`.

pub mod runtime;
