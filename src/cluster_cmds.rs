//! `faultline cluster up|status|down`: clusters by hand, for developing nodes.
//!
//! `up` removes everything it created if it is interrupted (SIGINT, SIGTERM), fails, or
//! panics before the cluster is healthy; once healthy, the cluster is left running.

use crate::cli::{ClusterCommand, ClusterUpArgs, RunArg};
use crate::docker_cmds::{base, holder, node};
use crate::exit::Exit;
use crate::shutdown::Shutdown;
use anyhow::anyhow;
use bollard::query_parameters::ListContainersOptions;
use bollard::Docker;
use faultline::runtime::cluster::{new_run_id, Cluster, ClusterSpec, NODE_LABEL};
use faultline::runtime::{clean, connect, labels};
use futures_util::FutureExt;
use std::collections::BTreeSet;
use std::time::Instant;

/// Runs a `cluster` subcommand.
pub async fn run(command: ClusterCommand) -> Result<i32, Exit> {
    match command {
        ClusterCommand::Up(args) => {
            let engine = args.engine.docker_host.clone();
            up(args, engine.as_deref()).await
        }
        ClusterCommand::Status(args) => {
            let engine = args.engine.docker_host.clone();
            status(args, engine.as_deref()).await
        }
        ClusterCommand::Down(args) => {
            let engine = args.engine.docker_host.clone();
            down(args, engine.as_deref()).await
        }
    }
}

async fn up(args: ClusterUpArgs, engine: Option<&str>) -> Result<i32, Exit> {
    let design = faultline::design::resolve(&args.design).map_err(|e| Exit::bad_input(anyhow!(e)))?;
    let launch = design.launch(&[], &[], false).map_err(|e| Exit::bad_input(anyhow!(e)))?;
    let engine = faultline::runtime::Engine::open(engine).await.map_err(Exit::crash)?;
    let base_image = base(&engine, &args.base, true).await.map_err(Exit::crash)?;
    let node_image = node(&engine, &design, &base_image).await?;
    let holder_image = holder(&engine, &base_image).await?;
    let docker = engine.docker.clone();
    let run = args.run.clone().unwrap_or_else(|| new_run_id(design.name()));
    // Armed before anything is created, so no signal can slip past the cleanup.
    let mut shutdown = Shutdown::listen().map_err(Exit::crash)?;
    let reach = faultline::runtime::cluster::Reach::new(engine.host(), args.engine.publish_ports);
    let spec = ClusterSpec { run: run.clone(), holder_image, node_image, nodes: usize::from(args.nodes), launch, reach };
    let started = Instant::now();
    let setup = async {
        let cluster = Cluster::create(&docker, &spec).await?;
        let healthy_after = cluster.wait_healthy().await?;
        Ok::<_, faultline::runtime::RuntimeError>((cluster, healthy_after))
    };
    let outcome = tokio::select! {
        r = std::panic::AssertUnwindSafe(setup).catch_unwind() => r,
        signal = shutdown.recv() => {
            let removed = clean::remove_labelled(&docker, Some(&run)).await.map_err(Exit::crash)?;
            eprintln!("{signal}: removed run {run} ({} containers, {} networks, {} volumes)", removed.containers, removed.networks, removed.volumes);
            return Ok(130);
        }
    };
    match outcome {
        Ok(Ok((cluster, _))) => {
            println!("run {run}: {} {} nodes healthy in {:.2} s", cluster.nodes.len(), design.name(), started.elapsed().as_secs_f64());
            for n in &cluster.nodes {
                println!("  {}  {}", n.name, n.addr);
            }
            println!("stop it with: faultline cluster down --run {run}");
            Ok(0)
        }
        Ok(Err(e)) => {
            let _ = clean::remove_labelled(&docker, Some(&run)).await;
            Err(Exit::crash(e))
        }
        Err(panic) => {
            let _ = clean::remove_labelled(&docker, Some(&run)).await;
            std::panic::resume_unwind(panic)
        }
    }
}

/// The runs that have containers on this machine.
async fn runs(docker: &Docker) -> Result<BTreeSet<String>, Exit> {
    let containers = docker
        .list_containers(Some(ListContainersOptions { all: true, filters: Some(labels::filter(None)), ..Default::default() }))
        .await
        .map_err(Exit::crash)?;
    Ok(containers.into_iter().filter(|c| c.labels.as_ref().is_some_and(|l| l.contains_key(NODE_LABEL))).filter_map(|c| c.labels?.get(labels::RUN).cloned()).collect())
}

/// The run named, or the only one running.
async fn pick_run(docker: &Docker, arg: &RunArg) -> Result<String, Exit> {
    if let Some(run) = &arg.run {
        return Ok(run.clone());
    }
    let all = runs(docker).await?;
    match all.len() {
        1 => Ok(all.into_iter().next().unwrap_or_default()),
        0 => Err(Exit::bad_input(anyhow!("no faultline cluster is running"))),
        _ => Err(Exit::bad_input(anyhow!("several clusters are running ({}); pass --run", all.into_iter().collect::<Vec<_>>().join(", ")))),
    }
}

async fn status(args: RunArg, engine: Option<&str>) -> Result<i32, Exit> {
    let docker = connect(engine).await.map_err(Exit::crash)?;
    let selected: Vec<String> = match &args.run {
        Some(run) => vec![run.clone()],
        None => runs(&docker).await?.into_iter().collect(),
    };
    if selected.is_empty() {
        println!("no faultline cluster is running");
    }
    for run in selected {
        let cluster = Cluster::find(&docker, &run).await.map_err(Exit::crash)?;
        println!("run {run}: {} nodes on network {}", cluster.nodes.len(), cluster.network);
        for n in &cluster.nodes {
            let status = match cluster.get(n, "/status").await {
                Ok(v) => v.to_string(),
                Err(e) => format!("unreachable: {e}"),
            };
            println!("  {}  {}  {}", n.name, n.addr, status);
        }
    }
    Ok(0)
}

async fn down(args: RunArg, engine: Option<&str>) -> Result<i32, Exit> {
    let docker = connect(engine).await.map_err(Exit::crash)?;
    let run = pick_run(&docker, &args).await?;
    let started = Instant::now();
    let removed = clean::remove_labelled(&docker, Some(&run)).await.map_err(Exit::crash)?;
    println!(
        "run {run}: removed {} containers, {} networks, {} volumes in {:.2} s",
        removed.containers,
        removed.networks,
        removed.volumes,
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}
