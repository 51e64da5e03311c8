//! Removing what faultline created: every container, network and volume carrying its
//! label (of one run, or of all runs). Paused containers are unpaused first.

use super::{labels, RuntimeError};
use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptions, RemoveVolumeOptions};
use bollard::Docker;
use std::collections::{HashMap, HashSet};
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
/// Removal sweeps until nothing is left or in use, for up to [`GONE_WITHIN`]: first
/// the containers, then (once none is listed) the networks and volumes. A container
/// some other caller is already removing counts as removed, and the sweep waits for
/// it to go. That other caller is usually this controller's own teardown, cancelled by
/// Ctrl-C with its request already sent: Docker finishes that removal and answers a
/// second one 409. A create request sent before the interrupt lands the same way,
/// after the first listing, so every sweep lists again and removes what is new.
/// Stopping at the 409 once left a holder and the network behind; one listing left a
/// container created meanwhile holding its volume ("volume is in use", 2026-12-06).
pub async fn remove_labelled(docker: &Docker, run: Option<&str>) -> Result<Removed, RuntimeError> {
    let filters = labels::filter(run);
    let deadline = tokio::time::Instant::now() + GONE_WITHIN;
    let mut sweep = Sweep::default();
    loop {
        let last = tokio::time::Instant::now() >= deadline;
        if !sweep.once(docker, &filters, last).await? || last {
            return sweep.finish();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long removal waits for containers that another caller is removing.
pub const GONE_WITHIN: Duration = Duration::from_secs(15);

/// What repeated sweeps removed, and the errors of objects not removed (yet).
#[derive(Default)]
struct Sweep {
    removed: [HashSet<String>; 3],
    errors: Vec<(String, RuntimeError)>,
}

/// The kinds of object a sweep removes, as indices into [`Sweep::removed`].
const CONTAINER: usize = 0;
const NETWORK: usize = 1;
const VOLUME: usize = 2;

impl Sweep {
    /// One pass; whether something is still there or in use. On the `last` pass an
    /// object in use is an error rather than a reason to come back.
    async fn once(&mut self, docker: &Docker, filters: &HashMap<String, Vec<String>>, last: bool) -> Result<bool, RuntimeError> {
        let list_containers = || docker.list_containers(Some(ListContainersOptions { all: true, filters: Some(filters.clone()), ..Default::default() }));
        for c in list_containers().await.map_err(RuntimeError::api("listing faultline's containers"))? {
            let Some(id) = c.id else { continue };
            if self.removed[CONTAINER].contains(&id) {
                continue;
            }
            if c.state.as_ref().is_some_and(|s| s.to_string() == "paused") {
                let _ = docker.unpause_container(&id).await;
            }
            let outcome = docker.remove_container(&id, Some(RemoveContainerOptions { force: true, v: true, ..Default::default() })).await;
            self.tally(CONTAINER, id.clone(), outcome, last, || format!("removing container {id}"));
        }
        if !last && !list_containers().await.map_err(RuntimeError::api("listing faultline's containers"))?.is_empty() {
            return Ok(true);
        }
        let mut busy = false;
        let networks = docker.list_networks(Some(ListNetworksOptions { filters: Some(filters.clone()) })).await.map_err(RuntimeError::api("listing faultline's networks"))?;
        for n in networks {
            let Some(id) = n.id else { continue };
            let outcome = docker.remove_network(&id).await;
            busy |= self.tally(NETWORK, id.clone(), outcome, last, || format!("removing network {id}"));
        }
        let volumes = docker.list_volumes(Some(ListVolumesOptions { filters: Some(filters.clone()) })).await.map_err(RuntimeError::api("listing faultline's volumes"))?;
        for v in volumes.volumes.unwrap_or_default() {
            let outcome = docker.remove_volume(&v.name, Some(RemoveVolumeOptions { force: true })).await;
            busy |= self.tally(VOLUME, v.name.clone(), outcome, last, || format!("removing volume {}", v.name));
        }
        Ok(busy)
    }

    /// Counts one removal (done, or gone or going already) or keeps its error;
    /// whether the object is in use, so another pass may remove it.
    fn tally(&mut self, kind: usize, id: String, outcome: Result<(), bollard::errors::Error>, last: bool, action: impl FnOnce() -> String) -> bool {
        self.errors.retain(|(other, _)| *other != id);
        match outcome {
            Err(e) if !gone_or_going(&e) => {
                let in_use = in_use(&e) && !last;
                if !in_use {
                    self.errors.push((id, RuntimeError::api(action())(e)));
                }
                in_use
            }
            _ => {
                self.removed[kind].insert(id);
                false
            }
        }
    }

    /// What was removed, or the first error.
    fn finish(mut self) -> Result<Removed, RuntimeError> {
        if !self.errors.is_empty() {
            return Err(self.errors.swap_remove(0).1);
        }
        let [containers, networks, volumes] = self.removed.map(|ids| ids.len());
        Ok(Removed { containers, networks, volumes })
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

/// Docker's answer for a network or volume a container still uses (409: "has active
/// endpoints", "volume is in use").
fn in_use(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 409, .. })
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
        assert!(in_use(&answer(409, "remove faultline-x-n1-faketime: volume is in use - [79c95330]")) && !in_use(&answer(500, "driver failed")));
    }
}
