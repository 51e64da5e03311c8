//! Test kit for faultline's reference nodes, without Docker: a [`Cluster`] of
//! in-process nodes on a simulated network (partitions, dropped messages, crashes and
//! restarts from disk), a [`Recorder`] that writes the operations clients see as a
//! faultline history, and [`random_register_schedule`], a seeded random fault schedule
//! whose history is checked for linearizability by faultline's own checker; and
//! [`loopback`], real HTTP servers on loopback ports for throughput measurements.

mod cluster;
pub mod loopback;
mod recorder;
mod schedule;

pub use cluster::{Cluster, Factory, Start};
pub use recorder::{Outcome, Recorder};
pub use schedule::{random_register_schedule, ScheduleOutcome, ScheduleShape, Tally};
