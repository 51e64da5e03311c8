//! Node images: a design's binary, built on the host (same Debian release, so the same
//! glibc), copied into an image `FROM` the base image by the Engine's build API with an
//! in-memory context (the Dockerfile and the binary). Tagged by a hash of the binary,
//! the Dockerfile and the base image, so an image is rebuilt only when one changes.
//!
//! The build API was chosen over creating a container and uploading the binary into it:
//! it gives a reusable, inspectable image whose tag says exactly what is inside.

use super::RuntimeError;
use bollard::query_parameters::BuildImageOptions;
use bollard::Docker;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A node design faultline can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Design {
    /// Its name on the command line.
    pub name: &'static str,
    /// The cargo package that builds its binary.
    pub package: &'static str,
    /// The binary's name.
    pub binary: &'static str,
    /// Its folder (holding the Dockerfile), relative to the workspace.
    pub dir: &'static str,
    /// One line saying what it is.
    pub about: &'static str,
    /// Debian packages its rootfs needs beyond faultline's base (a real system).
    pub packages: &'static [&'static str],
    /// Whether it has a leader (`/status` says which node leads).
    pub leader: bool,
    /// Whether it is a faultline reference node (`POST /txn`, `--bug`s,
    /// `--lose-unsynced`, libfaketime) rather than a real system with its own client API.
    pub reference: bool,
}

/// The designs this build of faultline knows.
pub const DESIGNS: &[Design] = &[
    Design {
        name: "beacon",
        package: "faultline-beacon",
        binary: "beacon",
        dir: "images/beacon",
        about: "a trivial node that replicates nothing: for testing the runtime and the faults' plumbing",
        packages: &[],
        leader: false,
        reference: true,
    },
    Design {
        name: "raft",
        package: "faultline-raft",
        binary: "raft",
        dir: "images/raft",
        about: "single leader, strict serializable: Raft with ReadIndex reads and client sessions",
        packages: &[],
        leader: true,
        reference: true,
    },
    Design {
        name: "dynamo",
        package: "faultline-dynamo",
        binary: "dynamo",
        dir: "images/dynamo",
        about: "leaderless, eventually consistent: consistent hashing, R/W quorums, read repair, hinted handoff",
        packages: &[],
        leader: false,
        reference: true,
    },
    Design {
        name: "caspaxos",
        package: "faultline-caspaxos",
        binary: "caspaxos",
        dir: "images/caspaxos",
        about: "leaderless and linearizable: one CASPaxos (Synod) instance per key",
        packages: &[],
        leader: false,
        reference: true,
    },
    Design {
        name: "etcd",
        package: "faultline-etcd",
        binary: "etcd-node",
        dir: "images/etcd",
        about: "a real system: etcd 3.4 from Debian (etcd-server), clients through its JSON gateway",
        packages: &["etcd-server"],
        leader: true,
        reference: false,
    },
];

/// Looks a design up by name.
pub fn design(name: &str) -> Result<&'static Design, String> {
    DESIGNS.iter().find(|d| d.name == name).ok_or_else(|| {
        format!("unknown design {name:?}; known: {}", DESIGNS.iter().map(|d| d.name).collect::<Vec<_>>().join(", "))
    })
}

/// The workspace faultline was built from (where the designs' sources are).
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A node image and how it was obtained.
#[derive(Debug, Clone)]
pub struct NodeImage {
    /// `faultline-<design>:<hash>`.
    pub image: String,
    /// Whether it was built now.
    pub built: bool,
    /// Time spent (cargo build + image build).
    pub build_time: Duration,
}

/// Builds the design's binary (release) and its image, unless an identical image exists.
/// A design that needs Debian packages is built on faultline's base with those
/// packages added to the rootfs (built once, like the base), unless `base_image` is
/// the user's own.
pub async fn ensure(docker: &Docker, design: &Design, base_image: &str) -> Result<NodeImage, RuntimeError> {
    let started = Instant::now();
    let own_base = base_image.starts_with(&format!("{}:", super::base_image::REPOSITORY));
    let extended;
    let base_image = if own_base && !design.packages.is_empty() {
        extended = super::base_image::ensure(docker, &super::base_image::Recipe::for_host()?.with_packages(design.packages)).await?.image;
        extended.as_str()
    } else {
        base_image
    };
    let root = workspace();
    let binary = cargo_build(&root, design).await?;
    let read = |p: &Path| std::fs::read(p).map_err(|source| RuntimeError::Io { what: format!("reading {}", p.display()), source });
    let bin = read(&binary)?;
    let dockerfile = read(&root.join(design.dir).join("Dockerfile"))?;
    let mut h = Sha256::new();
    h.update(&bin);
    h.update(&dockerfile);
    h.update(base_image.as_bytes());
    let hex: String = h.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect();
    let image = format!("faultline-{}:{hex}", design.name);
    if docker.inspect_image(&image).await.is_ok() {
        return Ok(NodeImage { image, built: false, build_time: started.elapsed() });
    }
    build(docker, &image, base_image, &[("Dockerfile", &dockerfile, 0o644), (design.binary, &bin, 0o755)]).await?;
    Ok(NodeImage { image, built: true, build_time: started.elapsed() })
}

/// Builds `image` from an in-memory context of (name, bytes, mode) files holding a
/// `Dockerfile`, with the build argument `BASE` set to `base_image`.
pub async fn build(docker: &Docker, image: &str, base_image: &str, files: &[(&str, &[u8], u32)]) -> Result<(), RuntimeError> {
    let context = tar_context(files)?;
    let options = BuildImageOptions {
        dockerfile: "Dockerfile".to_owned(),
        t: Some(image.to_owned()),
        buildargs: Some(HashMap::from([("BASE".to_owned(), base_image.to_owned())])),
        rm: true,
        forcerm: true,
        ..Default::default()
    };
    let failed = |reason: String| RuntimeError::ImageBuild { image: image.to_owned(), reason: reason.trim().to_owned() };
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(step) = stream.next().await {
        let step = step.map_err(|e| failed(e.to_string()))?;
        if let Some(message) = step.error_detail.and_then(|d| d.message) {
            return Err(failed(message));
        }
    }
    Ok(())
}

/// `cargo build --release -p <package>` into `target/nodes`, returning the binary's path.
async fn cargo_build(root: &Path, design: &Design) -> Result<PathBuf, RuntimeError> {
    let target = root.join("target").join("nodes");
    let out = tokio::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["build", "--release", "--quiet", "-p", design.package])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(root)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| RuntimeError::Io { what: format!("running cargo build for {}", design.name), source })?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        return Err(RuntimeError::ImageBuild {
            image: design.name.to_owned(),
            reason: format!("cargo build -p {} failed: {}", design.package, text.lines().rev().take(8).collect::<Vec<_>>().join(" | ")),
        });
    }
    Ok(target.join("release").join(design.binary))
}

/// A tar archive holding `files` as (name, bytes, mode).
fn tar_context(files: &[(&str, &[u8], u32)]) -> Result<Vec<u8>, RuntimeError> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(*mode);
        header.set_cksum();
        builder.append_data(&mut header, name, *bytes).map_err(|source| RuntimeError::Io { what: "building the image context".into(), source })?;
    }
    builder.into_inner().map_err(|source| RuntimeError::Io { what: "building the image context".into(), source })
}
