//! Removing what faultline created: every container, network and volume carrying its
//! label (of one run, or of all runs). Paused containers are unpaused first.

use super::{labels, RuntimeError};
use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptions, RemoveVolumeOptions};
use bollard::Docker;

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
/// without faultline's label are never touched.
pub async fn remove_labelled(docker: &Docker, run: Option<&str>) -> Result<Removed, RuntimeError> {
    let mut removed = Removed::default();
    let filters = labels::filter(run);
    let containers = docker
        .list_containers(Some(ListContainersOptions { all: true, filters: Some(filters.clone()), ..Default::default() }))
        .await
        .map_err(RuntimeError::api("listing faultline's containers"))?;
    for c in containers {
        let Some(id) = c.id else { continue };
        if c.state.as_ref().is_some_and(|s| s.to_string() == "paused") {
            let _ = docker.unpause_container(&id).await;
        }
        docker
            .remove_container(&id, Some(RemoveContainerOptions { force: true, v: true, ..Default::default() }))
            .await
            .map_err(RuntimeError::api(format!("removing container {id}")))?;
        removed.containers += 1;
    }
    let networks = docker
        .list_networks(Some(ListNetworksOptions { filters: Some(filters.clone()) }))
        .await
        .map_err(RuntimeError::api("listing faultline's networks"))?;
    for n in networks {
        let Some(id) = n.id else { continue };
        docker.remove_network(&id).await.map_err(RuntimeError::api(format!("removing network {id}")))?;
        removed.networks += 1;
    }
    let volumes = docker
        .list_volumes(Some(ListVolumesOptions { filters: Some(filters) }))
        .await
        .map_err(RuntimeError::api("listing faultline's volumes"))?;
    for v in volumes.volumes.unwrap_or_default() {
        docker
            .remove_volume(&v.name, Some(RemoveVolumeOptions { force: true }))
            .await
            .map_err(RuntimeError::api(format!("removing volume {}", v.name)))?;
        removed.volumes += 1;
    }
    Ok(removed)
}
