//! Connecting to the Docker daemon.

use super::RuntimeError;
use bollard::Docker;

/// Connects to Docker (`DOCKER_HOST` or the local socket), checks that it answers, and
/// negotiates the API version so that older engines work too.
pub async fn connect() -> Result<Docker, RuntimeError> {
    let target = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned());
    let unreachable = |source| RuntimeError::Unreachable { target: target.clone(), source };
    let docker = Docker::connect_with_defaults().map_err(unreachable)?;
    let docker = docker.negotiate_version().await.map_err(unreachable)?;
    docker.ping().await.map_err(unreachable)?;
    Ok(docker)
}
