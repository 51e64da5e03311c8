//! faultline's nemesis (docs/ARCHITECTURE.md §5): the catalogue of fault kinds
//! ([`FaultKind`], [`Target`]), the schedules that decide when and where faults strike
//! (random, packages of random schedules at once ([`NemesisChoice`]), scripted, or
//! replayed from a recorded run), each fault a typed [`Fault`],
//! and their execution by the [`Executor`] against a cluster through [`ClusterControl`],
//! which the Docker runtime implements. Every fault is an operation of the nemesis
//! thread; its targets are chosen by the (seeded) schedule, except "the leader" and
//! "a live node", found at execution time and recorded in the completion.

pub mod catalogue;
pub mod execute;
pub mod fault;
pub mod grudge;
pub mod package;
pub mod schedule;

pub use catalogue::{FaultKind, Target};
pub use execute::{current_leader, ClusterControl, Executor, Network, NodeRole, Standing};
pub use fault::{Delay, Fault, Selector, Targets};
pub use package::{NemesisChoice, Package, PACKAGES};
pub use schedule::{combined_schedule, fault_ops, random_schedule, replay_schedule, scripted_schedule, scripted_kinds, Aim, SCRIPTED};
