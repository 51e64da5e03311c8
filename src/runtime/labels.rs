//! Labels on every Docker object faultline creates.

use std::collections::HashMap;

/// Present on every container, network and volume faultline creates.
pub const PROJECT: &str = "io.faultline";
/// The run (or cluster) an object belongs to.
pub const RUN: &str = "io.faultline.run";
/// The id of the process that created it (for telling live runs from leftovers).
pub const PID: &str = "io.faultline.pid";

/// The labels for an object of run `run`.
pub fn for_run(run: &str) -> HashMap<String, String> {
    HashMap::from([
        (PROJECT.to_owned(), "true".to_owned()),
        (RUN.to_owned(), run.to_owned()),
        (PID.to_owned(), std::process::id().to_string()),
    ])
}

/// A Docker list filter selecting faultline's objects, of one run or of all runs.
pub fn filter(run: Option<&str>) -> HashMap<String, Vec<String>> {
    let label = match run {
        Some(run) => format!("{RUN}={run}"),
        None => PROJECT.to_owned(),
    };
    HashMap::from([("label".to_owned(), vec![label])])
}
