//! [`Engine`]: one Docker Engine a run uses, with what faultline needs to know about
//! it beside the API client: its address (where its published ports are) and where
//! its images come from (docs/ARCHITECTURE.md §11).

use super::transfer::Source;
use super::{connect, engine_host, engine_url, RuntimeError};
use bollard::Docker;

/// A connected engine.
pub struct Engine {
    /// The Engine API client.
    pub docker: Docker,
    /// Its address, as given or defaulted (`unix://…`, `tcp://…`, `ssh://…`).
    pub url: String,
    /// The local engine images are built on and sent from, when this one is another.
    pub source: Option<Source>,
}

impl Engine {
    /// Connects to the engine at `host` (`--docker-host`, else `DOCKER_HOST`, else the
    /// local socket) and, if it is not the local one, to the local one as the source
    /// of images.
    pub async fn open(host: Option<&str>) -> Result<Engine, RuntimeError> {
        let docker = connect(host).await?;
        Ok(Engine { docker, url: engine_url(host), source: Source::for_target(host).await })
    }

    /// Where ports this engine publishes are reached from here.
    pub fn host(&self) -> String {
        engine_host(&self.url)
    }
}
