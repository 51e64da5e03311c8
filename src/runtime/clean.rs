//! Removing what faultline created: every container, network and volume carrying its
//! label (of one run, or of all runs). Paused containers are unpaused first.

use super::{labels, RuntimeError};
use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptions, RemoveVolumeOptions};
use bollard::Docker;
use std::time::Duration;

/// What was removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    /// Containers.
    pub containers: usize,
    /// Networks.
    pub networks: usize,
    /// Volumes.
    pub volumes: usize,
}

/// Removes the objects of run `run`, or of every faultline run when `None`. Objects
/// without faultline's label are never touched. One object that cannot be removed
/// does not stop the others: the first error is returned after trying them all.
///
/// A container some other caller is already removing counts as removed, and the
/// networks wait (up to [`GONE_WITHIN`]) until every listed container is gone. That
/// other caller is usually this controller's own teardown, cancelled by Ctrl-C with its
/// request already sent: Docker finishes that removal and answers a second one 409,
/// and a network with a container still attached cannot be removed. Stopping at the
/// 409 once left a holder and the network behind.
pub async fn remove_labelled(docker: &Docker, run: Option<&str>) -> Result<Removed, RuntimeError> {
    let mut removed = Removed::default();
    let mut first_error = None;
    let filters = labels::filter(run);
    let list_containers = || docker.list_containers(Some(ListContainersOptions { all: true, filters: Some(filters.clone()), ..Default::default() }));
    let containers = list_containers().await.map_err(RuntimeError::api("listing faultline's containers"))?;
    for c in containers {
        let Some(id) = c.id else { continue };
        if c.state.as_ref().is_some_and(|s| s.to_string() == "paused") {
            let _ = docker.unpause_container(&id).await;
        }
        let outcome = docker.remove_container(&id, Some(RemoveContainerOptions { force: true, v: true, ..Default::default() })).await;
        tally(outcome, &mut removed.containers, &mut first_error, || format!("removing container {id}"));
    }
    let deadline = tokio::time::Instant::now() + GONE_WITHIN;
    while list_containers().await.is_ok_and(|left| !left.is_empty()) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let networks = docker
        .list_networks(Some(ListNetworksOptions { filters: Some(filters.clone()) }))
        .await
        .map_err(RuntimeError::api("listing faultline's networks"))?;
    for n in networks {
        let Some(id) = n.id else { continue };
        let outcome = docker.remove_network(&id).await;
        tally(outcome, &mut removed.networks, &mut first_error, || format!("removing network {id}"));
    }
    let volumes = docker
        .list_volumes(Some(ListVolumesOptions { filters: Some(filters) }))
        .await
        .map_err(RuntimeError::api("listing faultline's volumes"))?;
    for v in volumes.volumes.unwrap_or_default() {
        let outcome = docker.remove_volume(&v.name, Some(RemoveVolumeOptions { force: true })).await;
        tally(outcome, &mut removed.volumes, &mut first_error, || format!("removing volume {}", v.name));
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

/// How long removal waits for containers that another caller is removing.
pub const GONE_WITHIN: Duration = Duration::from_secs(15);

/// Counts one removal (done, or gone or going already), or keeps its error if it is
/// the first.
fn tally(outcome: Result<(), bollard::errors::Error>, count: &mut usize, first_error: &mut Option<RuntimeError>, action: impl FnOnce() -> String) {
    match outcome {
        Ok(()) => *count += 1,
        Err(e) if gone_or_going(&e) => *count += 1,
        Err(e) => {
            first_error.get_or_insert_with(|| RuntimeError::api(action())(e));
        }
    }
}

/// Docker's answer for an object that is gone already (404) or whose removal is
/// already in progress (409, "removal of container … is already in progress").
fn gone_or_going(e: &bollard::errors::Error) -> bool {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code: 404, .. } => true,
        bollard::errors::Error::DockerResponseServerError { status_code: 409, message } => message.contains("already in progress"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_gone_or_being_removed_counts_as_removed() {
        let answer = |status_code, message: &str| bollard::errors::Error::DockerResponseServerError { status_code, message: message.to_owned() };
        assert!(gone_or_going(&answer(409, "removal of container 3acd512eedc3 is already in progress")));
        assert!(gone_or_going(&answer(404, "No such container: 3acd512eedc3")));
        assert!(!gone_or_going(&answer(409, "error while removing network: network faultline-x has active endpoints")), "a network still in use is an error");
        assert!(!gone_or_going(&answer(500, "driver failed")));
    }
}
