//! Connecting to the Docker daemon.

use super::RuntimeError;
use bollard::Docker;

/// The engine faultline uses when told nothing: the local socket.
pub const LOCAL_ENGINE: &str = "unix:///var/run/docker.sock";

/// Connects to the Docker Engine at `host` (`unix://…` or `tcp://…`; `--docker-host`,
/// else `DOCKER_HOST`, else the local socket), checks that it answers, and negotiates
/// the API version so that older engines work too. A remote engine needs nothing
/// prepared: images reach it through the Engine API (docs/ARCHITECTURE.md §11).
pub async fn connect(host: Option<&str>) -> Result<Docker, RuntimeError> {
    let target = host.map(str::to_owned).or_else(|| std::env::var("DOCKER_HOST").ok()).unwrap_or_else(|| LOCAL_ENGINE.to_owned());
    let unsupported = |why: &str| Err(RuntimeError::UnsupportedEngine { target: target.clone(), why: why.to_owned() });
    if target.starts_with("ssh://") {
        return unsupported("ssh:// engines are not supported yet");
    }
    // bollard would quietly talk plain HTTP to a tcp:// engine that expects TLS.
    if target.starts_with("https://") || std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty()) {
        return unsupported("TLS engines (https://, DOCKER_TLS_VERIFY) are not supported yet");
    }
    let unreachable = |source| RuntimeError::Unreachable { target: target.clone(), source };
    let docker = Docker::connect_with_host(&target).map_err(unreachable)?;
    let docker = docker.negotiate_version().await.map_err(unreachable)?;
    docker.ping().await.map_err(unreachable)?;
    Ok(docker)
}
