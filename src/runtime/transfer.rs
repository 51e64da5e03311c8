//! Sending images built here to another engine through the Engine API (`docker save`
//! on the source, `docker load` on the target), so a remote engine needs no registry
//! and builds nothing. Image tags are content hashes, so an image the target already
//! has is never sent again (docs/ARCHITECTURE.md §11).

use super::{connect, engine_url, RuntimeError, LOCAL_ENGINE};
use bollard::query_parameters::ImportImageOptions;
use bollard::Docker;
use futures_util::TryStreamExt;
use std::time::{Duration, Instant};

/// Where images come from: the engine on this machine, when the target is another one.
pub struct Source {
    /// The local engine.
    pub docker: Docker,
}

impl Source {
    /// The engine at this machine's default socket, if the target (`host`, as given to
    /// [`connect`]) is another engine and this machine has one that answers; `None`
    /// otherwise (then images are built for the target itself: the rootfs here, the
    /// node layer by its engine).
    pub async fn for_target(host: Option<&str>) -> Option<Source> {
        if engine_url(host) == LOCAL_ENGINE {
            return None;
        }
        connect(Some(LOCAL_ENGINE)).await.ok().map(|docker| Source { docker })
    }

    /// Whether the source has `image`.
    pub async fn has(&self, image: &str) -> bool {
        self.docker.inspect_image(image).await.is_ok()
    }

    /// Sends `image` to `target` unless it has it already; answers how long sending
    /// took (`None`: not sent).
    pub async fn send(&self, target: &Docker, image: &str) -> Result<Option<Duration>, RuntimeError> {
        if target.inspect_image(image).await.is_ok() {
            return Ok(None);
        }
        let started = Instant::now();
        let tarball = self.docker.export_image(image);
        target
            .import_image_stream(ImportImageOptions { quiet: true, ..Default::default() }, tarball, None)
            .try_collect::<Vec<_>>()
            .await
            .map_err(RuntimeError::api(format!("sending image {image} to the engine")))?;
        target.inspect_image(image).await.map_err(RuntimeError::api(format!("finding image {image} after sending it")))?;
        Ok(Some(started.elapsed()))
    }
}
