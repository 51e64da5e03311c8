//! The base image, built with no registry: a minimal Debian rootfs made by `mmdebstrap`
//! from this machine's own apt sources, imported through the Engine API and tagged by a
//! hash of its recipe, so it is built once per machine and rebuilt when the recipe
//! changes.

use super::transfer::Source;
use super::RuntimeError;
use bollard::query_parameters::CreateImageOptions;
use bollard::Docker;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The image repository of base images.
pub const REPOSITORY: &str = "faultline-base";
/// Packages on top of `minbase`: what the holders and nodes need for faults.
pub const PACKAGES: [&str; 4] = ["iptables", "iproute2", "procps", "libfaketime"];
/// Paths dpkg leaves out, to keep the image small.
const EXCLUDES: [&str; 5] = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*", "/usr/share/lintian/*"];
/// Bump when the build steps change in a way the recipe text does not show.
const RECIPE_VERSION: u32 = 1;

/// What the base image is made of.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// Debian suite, the host's (so binaries built on the host run in the image).
    pub suite: String,
    /// The apt sources file handed to mmdebstrap (the host's own).
    pub sources: PathBuf,
    sources_text: String,
    /// Packages beyond [`PACKAGES`] (a real system's, e.g. `etcd-server`).
    pub extra: Vec<String>,
}

impl Recipe {
    /// The recipe for this machine: its Debian codename and its apt sources.
    pub fn for_host() -> Result<Recipe, RuntimeError> {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|source| RuntimeError::Io { what: format!("reading {}", p.display()), source });
        let os_release = read(Path::new("/etc/os-release"))?;
        let suite = os_release
            .lines()
            .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
            .map(|s| s.trim_matches('"').to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "bookworm".to_owned());
        let sources = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
            .ok_or(RuntimeError::MissingTool { tool: "an apt sources file", fix: "configure /etc/apt/sources.list(.d) for Debian" })?;
        let sources_text = read(&sources)?;
        Ok(Recipe { suite, sources, sources_text, extra: Vec::new() })
    }

    /// The same recipe with `packages` added to the rootfs.
    pub fn with_packages(mut self, packages: &[&str]) -> Recipe {
        self.extra.extend(packages.iter().map(|p| (*p).to_owned()));
        self
    }

    /// Every package on top of `minbase`.
    fn packages(&self) -> String {
        PACKAGES.iter().map(|p| (*p).to_owned()).chain(self.extra.iter().cloned()).collect::<Vec<_>>().join(",")
    }

    /// The image tag: `faultline-base:<12 hex digits of the recipe's hash>`.
    pub fn image(&self) -> String {
        let mut h = Sha256::new();
        h.update(format!("v{RECIPE_VERSION}\n{}\n{}\n{}\n", self.suite, self.packages(), EXCLUDES.join(",")));
        h.update(&self.sources_text);
        let digest = h.finalize();
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        format!("{REPOSITORY}:{hex}")
    }
}

/// How the base image was obtained.
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// `repository:tag`.
    pub image: String,
    /// Whether it was built now (false: it already existed).
    pub built: bool,
    /// Time spent building it (zero if it existed).
    pub build_time: Duration,
    /// Its size in bytes.
    pub size: i64,
    /// How long sending it to the target engine took, if it was sent.
    pub sent: Option<Duration>,
}

/// Returns the base image on `docker`, building it if that engine does not have it
/// yet. With a `source` (the local engine, when `docker` is another), it is built
/// there once and sent, so every engine runs the same image.
pub async fn ensure(docker: &Docker, recipe: &Recipe, source: Option<&Source>) -> Result<BaseImage, RuntimeError> {
    let Some(source) = source else { return ensure_here(docker, recipe).await };
    let mut image = ensure_here(&source.docker, recipe).await?;
    image.sent = source.send(docker, &image.image).await?;
    Ok(image)
}

/// Returns the base image on `docker`, building its rootfs on this machine and
/// importing it into that engine if it lacks it.
async fn ensure_here(docker: &Docker, recipe: &Recipe) -> Result<BaseImage, RuntimeError> {
    let image = recipe.image();
    if let Ok(info) = docker.inspect_image(&image).await {
        return Ok(BaseImage { image, built: false, build_time: Duration::ZERO, size: info.size.unwrap_or(0), sent: None });
    }
    let started = Instant::now();
    let dir = tempdir()?;
    let tar = dir.join("rootfs.tar");
    let result = async {
        build_rootfs(recipe, &tar, "mmdebstrap").await?;
        import(docker, &tar, &image).await
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    let size = docker.inspect_image(&image).await.map_err(RuntimeError::api("inspecting the new base image"))?.size.unwrap_or(0);
    Ok(BaseImage { image, built: true, build_time: started.elapsed(), size, sent: None })
}

fn tempdir() -> Result<PathBuf, RuntimeError> {
    let dir = std::env::temp_dir().join(format!("faultline-base-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| RuntimeError::Io { what: format!("creating {}", dir.display()), source })?;
    Ok(dir)
}

/// Runs `tool` (mmdebstrap, or a stand-in in tests) to make the rootfs tarball.
pub async fn build_rootfs(recipe: &Recipe, tar: &Path, tool: &'static str) -> Result<(), RuntimeError> {
    let mut cmd = tokio::process::Command::new(tool);
    cmd.arg("--variant=minbase").arg(format!("--include={}", recipe.packages()));
    for e in EXCLUDES {
        cmd.arg(format!("--dpkgopt=path-exclude={e}"));
    }
    cmd.arg(&recipe.suite).arg(tar).arg(&recipe.sources).kill_on_drop(true);
    let out = match cmd.output().await {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RuntimeError::MissingTool { tool, fix: "apt-get install -y mmdebstrap (as root), or pass --base-image" })
        }
        Err(source) => return Err(RuntimeError::Io { what: format!("running {tool}"), source }),
    };
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        return Err(RuntimeError::RootfsBuild {
            tool,
            code: out.status.code().unwrap_or(-1),
            tail: tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
        });
    }
    Ok(())
}

/// Imports a rootfs tarball as an image (the API's `docker import`, not `docker load`).
async fn import(docker: &Docker, tar: &Path, image: &str) -> Result<(), RuntimeError> {
    let bytes = tokio::fs::read(tar).await.map_err(|source| RuntimeError::Io { what: format!("reading {}", tar.display()), source })?;
    let (repo, tag) = image.split_once(':').unwrap_or((image, "latest"));
    let options = CreateImageOptions {
        from_src: Some("-".to_owned()),
        repo: Some(repo.to_owned()),
        tag: Some(tag.to_owned()),
        changes: vec!["CMD [\"sleep\", \"infinity\"]".to_owned()],
        ..Default::default()
    };
    docker
        .create_image(Some(options), Some(bollard::body_full(bytes.into())), None)
        .try_collect::<Vec<_>>()
        .await
        .map_err(RuntimeError::api("importing the base rootfs"))?;
    Ok(())
}
