//! faultline's nemesis (DESIGN §5): the catalogue of faults, the schedules that decide
//! when and where they strike (random, scripted, or replayed from a recorded run), and
//! their execution against a cluster through [`ClusterControl`], which the Docker
//! runtime implements. Every fault is an operation of the nemesis thread; its targets
//! are chosen by the (seeded) schedule, except "the leader", found at execution time
//! and recorded in the completion.

pub mod catalogue;
pub mod execute;
pub mod grudge;
pub mod schedule;

pub use catalogue::{FaultKind, Target};
pub use execute::{ClusterControl, Executor};
pub use schedule::{random_schedule, replay_schedule, scripted_schedule, Aim, SCRIPTED};
