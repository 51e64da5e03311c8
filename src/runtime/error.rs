//! Runtime errors: each says what failed and how to fix it.

/// A Docker or image-building failure, with the fix in the message.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The Docker daemon could not be reached.
    #[error("cannot reach Docker ({target}): {source}. Fix: start the Docker daemon (e.g. `systemctl start docker` or `dockerd &`), or point DOCKER_HOST at it")]
    Unreachable {
        /// Where faultline looked.
        target: String,
        /// The underlying error.
        #[source]
        source: bollard::errors::Error,
    },
    /// An engine address this build cannot talk to.
    #[error("cannot use the Docker Engine {target}: {why}. Fix: give unix:///path/docker.sock, tcp://host:port (with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH for TLS), https://host:port or ssh://user@host")]
    UnsupportedEngine {
        /// The address.
        target: String,
        /// Why not.
        why: String,
    },
    /// A Docker API call failed.
    #[error("Docker {action} failed: {source}")]
    Api {
        /// What faultline was doing.
        action: String,
        /// The underlying error.
        #[source]
        source: bollard::errors::Error,
    },
    /// A tool needed on the host is missing.
    #[error("{tool} not found on this machine. Fix: {fix}")]
    MissingTool {
        /// The program.
        tool: &'static str,
        /// How to install it.
        fix: &'static str,
    },
    /// Building the base image's rootfs failed.
    #[error("building the base rootfs with {tool} failed (exit {code}): {tail}. Fix: check that this machine's apt sources are reachable (`apt-get update`), or pass --base-image to use an existing image")]
    RootfsBuild {
        /// mmdebstrap or debootstrap.
        tool: &'static str,
        /// Its exit code.
        code: i32,
        /// The last lines it printed.
        tail: String,
    },
    /// Building an image failed.
    #[error("building image {image} failed: {reason}")]
    ImageBuild {
        /// The image (or design).
        image: String,
        /// Why.
        reason: String,
    },
    /// No free subnet for the run's network.
    #[error("no free subnet for the cluster network (tried {tried}): {last}. Fix: remove unused Docker networks (`faultline clean`, `docker network prune`)")]
    NoSubnet {
        /// Subnets tried.
        tried: usize,
        /// The last error.
        last: String,
    },
    /// Nodes did not become healthy.
    #[error("nodes not healthy after {seconds} s: {details}. Fix: look at the node logs (`faultline cluster status`, `docker logs`)")]
    Unhealthy {
        /// How long faultline waited.
        seconds: u64,
        /// Which nodes and why.
        details: String,
    },
    /// A node's process ended while faultline waited for it to become healthy.
    #[error("node {node} exited with code {code} before it was healthy; its last output:\n{output}")]
    NodeExited {
        /// The node.
        node: String,
        /// Its exit code.
        code: i64,
        /// The end of its output.
        output: String,
    },
    /// A host I/O error.
    #[error("{what}: {source}")]
    Io {
        /// What faultline was doing.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A command run inside a container failed.
    #[error("`{command}` in container {container} exited with {code}: {output}")]
    ExecFailed {
        /// The container.
        container: String,
        /// The command line.
        command: String,
        /// Its exit code.
        code: i64,
        /// What it printed.
        output: String,
    },
}

impl RuntimeError {
    /// Wraps a bollard error with what was being done.
    pub fn api(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> RuntimeError {
        let action = action.into();
        move |source| RuntimeError::Api { action, source }
    }
}
