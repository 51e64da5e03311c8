//! The Docker runtime against the real engine: base image, capability probe, cleanup,
//! and errors. These tests need Docker; where it is unreachable they fail and say so.

use bollard::models::{ContainerCreateBody, NetworkCreateRequest};
use bollard::query_parameters::{CreateContainerOptions, ListContainersOptions, RemoveContainerOptions, StartContainerOptions};
use bollard::Docker;
use faultline::runtime::{base_image, clean, connect, labels, probe};
use std::process::Command;
use tokio::sync::OnceCell;

static BASE: OnceCell<String> = OnceCell::const_new();

async fn docker() -> Docker {
    connect(None).await.unwrap_or_else(|e| panic!("these tests need Docker: {e}"))
}

/// The base image, built once per test binary (and once per machine).
async fn base() -> String {
    BASE.get_or_init(|| async {
        let recipe = base_image::Recipe::for_host().expect("host recipe");
        base_image::ensure(&docker().await, &recipe, None).await.expect("base image").image
    })
    .await
    .clone()
}

fn faultline(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultline"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("faultline runs")
}

async fn container(docker: &Docker, image: &str, name: &str, labels: Option<std::collections::HashMap<String, String>>) -> String {
    let _ = docker.remove_container(name, Some(RemoveContainerOptions { force: true, ..Default::default() })).await;
    let c = docker
        .create_container(
            Some(CreateContainerOptions { name: Some(name.to_owned()), ..Default::default() }),
            ContainerCreateBody { image: Some(image.to_owned()), labels, ..Default::default() },
        )
        .await
        .expect("create container");
    docker.start_container(&c.id, None::<StartContainerOptions>).await.expect("start container");
    c.id
}

#[tokio::test]
async fn base_image_is_built_once_and_tagged_by_its_recipe() {
    let image = base().await;
    let recipe = base_image::Recipe::for_host().unwrap();
    assert_eq!(image, recipe.image());
    assert!(image.starts_with("faultline-base:"), "{image}");
    let again = base_image::ensure(&docker().await, &recipe, None).await.unwrap();
    assert!(!again.built, "a second ensure reuses the image");
    assert!(again.size > 50_000_000 && again.size < 300_000_000, "size {}", again.size);
}

#[tokio::test]
async fn probe_reports_every_capability() {
    let docker = docker().await;
    let p = probe::probe(&docker, &base().await).await.unwrap();
    assert!(p.has("iptables"), "{:?}", p.capabilities);
    assert!(p.has("libfaketime"), "{:?}", p.capabilities);
    assert!(p.has("nfqueue"), "this kernel has the NFQUEUE target, which packet delay needs: {:?}", p.capabilities);
    assert!(p.has("tee"), "this kernel has the TEE target, which packet duplication needs: {:?}", p.capabilities);
    let names: Vec<&str> = p.capabilities.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["iptables", "iptables-statistic", "netem", "nfqueue", "tee", "tbf", "libfaketime"]);
    for c in &p.capabilities {
        assert!(!c.without_it.is_empty());
    }
    let o = faultline(&["doctor", "--json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("doctor --json prints JSON");
    assert_eq!(v["capabilities"].as_array().map(Vec::len), Some(7));
    let leftovers = docker
        .list_containers(Some(ListContainersOptions { all: true, filters: Some(labels::filter(None)), ..Default::default() }))
        .await
        .unwrap();
    assert!(leftovers.iter().all(|c| !c.names.iter().flatten().any(|n| n.contains("probe"))), "the probe removes its container");
}

#[tokio::test]
async fn clean_removes_only_labelled_objects() {
    let docker = docker().await;
    let image = base().await;
    let run = format!("test-clean-{}", std::process::id());
    let paused = container(&docker, &image, &format!("faultline-{run}-paused"), Some(labels::for_run(&run))).await;
    docker.pause_container(&paused).await.unwrap();
    let stranger = container(&docker, &image, &format!("not-faultline-{run}"), None).await;
    docker
        .create_network(NetworkCreateRequest { name: format!("faultline-{run}"), labels: Some(labels::for_run(&run)), ..Default::default() })
        .await
        .unwrap();
    docker
        .create_volume(bollard::models::VolumeCreateRequest { name: Some(format!("faultline-{run}")), labels: Some(labels::for_run(&run)), ..Default::default() })
        .await
        .unwrap();

    let o = faultline(&["clean", "--run", &run], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "removed 1 containers, 1 networks, 1 volumes");
    assert!(docker.inspect_container(&paused, None).await.is_err(), "the paused labelled container is gone");
    assert!(docker.inspect_container(&stranger, None).await.is_ok(), "an unlabelled container is never touched");
    docker.remove_container(&stranger, Some(RemoveContainerOptions { force: true, ..Default::default() })).await.unwrap();
    assert_eq!(clean::remove_labelled(&docker, Some(&run)).await.unwrap(), clean::Removed::default());
}

/// Two removals at once (an interrupted teardown's request still running in Docker,
/// and the interrupt's own cleanup) both finish, and leave nothing: a container the
/// other is removing counts as removed, and its network goes once it has.
#[tokio::test]
async fn clean_finishes_a_removal_already_under_way() {
    let docker = docker().await;
    let image = base().await;
    let run = format!("test-race-{}", std::process::id());
    let network = format!("faultline-{run}");
    docker.create_network(NetworkCreateRequest { name: network.clone(), labels: Some(labels::for_run(&run)), ..Default::default() }).await.unwrap();
    for i in 0..4 {
        let name = format!("faultline-{run}-{i}");
        let body = ContainerCreateBody { image: Some(image.clone()), labels: Some(labels::for_run(&run)), host_config: Some(bollard::models::HostConfig { network_mode: Some(network.clone()), ..Default::default() }), ..Default::default() };
        let c = docker.create_container(Some(CreateContainerOptions { name: Some(name), ..Default::default() }), body).await.unwrap();
        docker.start_container(&c.id, None::<StartContainerOptions>).await.unwrap();
    }
    let (a, b) = tokio::join!(clean::remove_labelled(&docker, Some(&run)), clean::remove_labelled(&docker, Some(&run)));
    let (a, b) = (a.expect("the first removal"), b.expect("the second removal, racing it"));
    assert!(a.containers + b.containers >= 4 && a.networks + b.networks >= 1, "{a:?} {b:?}");
    assert_eq!(clean::remove_labelled(&docker, Some(&run)).await.unwrap(), clean::Removed::default(), "nothing is left");
}

#[test]
fn unreachable_docker_says_what_and_how_to_fix() {
    let o = faultline(&["doctor"], &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]);
    assert_eq!(o.status.code(), Some(255));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot reach Docker (unix:///nonexistent/docker.sock)"), "{err}");
    assert!(err.contains("Fix: start the Docker daemon"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[tokio::test]
async fn a_missing_rootfs_tool_says_how_to_install_it() {
    let recipe = base_image::Recipe::for_host().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = base_image::build_rootfs(&recipe, &dir.path().join("rootfs.tar"), "mmdebstrap-not-installed").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "mmdebstrap-not-installed not found on this machine. Fix: apt-get install -y mmdebstrap (as root), or pass --base-image"
    );
}

#[tokio::test]
async fn a_failing_image_build_says_which_step_failed() {
    let docker = docker().await;
    let image = format!("faultline-broken:{}", std::process::id());
    let dockerfile = b"ARG BASE\nFROM ${BASE}\nRUN echo building && false\n";
    let err = faultline::runtime::node_image::build(&docker, &image, &base().await, &[("Dockerfile", dockerfile, 0o644)]).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("building image {image} failed: ")), "{msg}");
    assert!(msg.contains("non-zero code: 1"), "{msg}");
    assert_eq!(msg.lines().count(), 1, "{msg}");
}
