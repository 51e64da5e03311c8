//! faultline: Jepsen-style chaos testing for replicated databases, in Docker.
//!
//! The binary's building blocks: [`runtime`] talks to Docker (images built with no
//! registry, labelled objects, cleanup, the capability probe); [`runner`] is
//! `faultline test` end to end (cluster, workload under faults, heal, final reads,
//! check, store); [`report`] writes a run's `report.html` and serves the store;
//! [`grade`] runs a matrix of designs and writes the scorecard; [`netdelay`] is the
//! packet-delay daemon holders run where the kernel has no netem. The checkers live in `faultline-checkers`, the history model and the
//! generator algebra in `faultline-history`, workloads in `faultline-workloads` and
//! faults in `faultline-nemesis`.

pub mod design;
pub mod grade;
pub mod netdelay;
pub mod report;
pub mod runner;
pub mod runtime;
pub mod store;
