//! The capability probe: what this Docker engine, kernel and base image can do, and
//! what each missing capability disables. Stored in every run's metadata; `faultline
//! doctor` prints it.

use super::exec::exec;
use super::{labels, RuntimeError};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions, StartContainerOptions};
use bollard::Docker;
use serde::{Deserialize, Serialize};

/// One capability and what its absence disables.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Capability {
    /// Short name, e.g. `netem`.
    pub name: String,
    /// Whether it works here.
    pub available: bool,
    /// What the check saw (a version, or the error).
    pub detail: String,
    /// Which faults are unavailable, or degraded, without it.
    pub without_it: String,
}

/// The probe's findings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Probe {
    /// Docker Engine version.
    pub docker_version: String,
    /// Negotiated API version.
    pub api_version: String,
    /// Host kernel.
    pub kernel: String,
    /// The image the probe ran in.
    pub base_image: String,
    /// Each capability.
    pub capabilities: Vec<Capability>,
}

impl Probe {
    /// Whether the named capability is available.
    pub fn has(&self, name: &str) -> bool {
        self.capabilities.iter().any(|c| c.name == name && c.available)
    }
}

/// (name, shell check, what is lost without it)
const CHECKS: [(&str, &str, &str); 7] = [
    ("iptables", "iptables -w -L -n >/dev/null && iptables -V", "network partitions (all of them)"),
    (
        "iptables-statistic",
        "iptables -w -A OUTPUT -m statistic --mode random --probability 0.5 -d 192.0.2.1 -j DROP && iptables -w -D OUTPUT -m statistic --mode random --probability 0.5 -d 192.0.2.1 -j DROP && echo ok",
        "packet loss where netem is missing",
    ),
    (
        "netem",
        "tc qdisc add dev lo root netem delay 1ms && tc qdisc del dev lo root && echo ok",
        "nothing faultline needs: loss falls back to iptables-statistic, delay and reordering use the NFQUEUE daemon, duplication TEE, rate tbf",
    ),
    (
        "nfqueue",
        "iptables -w -A OUTPUT -d 192.0.2.1 -j NFQUEUE --queue-num 7 --queue-bypass && iptables -w -D OUTPUT -d 192.0.2.1 -j NFQUEUE --queue-num 7 --queue-bypass && echo ok",
        "packet delay (faultline's delay daemon holds packets NFQUEUE gives it)",
    ),
    (
        "tee",
        "iptables -w -t mangle -A POSTROUTING -d 192.0.2.1 -j TEE --gateway 192.0.2.1 && iptables -w -t mangle -D POSTROUTING -d 192.0.2.1 -j TEE --gateway 192.0.2.1 && echo ok",
        "packet duplication (the TEE target sends a copy of a packet to its own destination)",
    ),
    (
        "tbf",
        "tc qdisc add dev lo root handle 1: htb default 10 && tc class add dev lo parent 1: classid 1:20 htb rate 10gbit quantum 60000 && tc qdisc add dev lo parent 1:20 handle 20: tbf rate 1mbit burst 4000 latency 500ms && tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip dst 192.0.2.1/32 flowid 1:20 && tc qdisc del dev lo root && echo ok",
        "bandwidth limits (a tbf under an htb class that u32 filters pick the peers into)",
    ),
    ("libfaketime", "ls /usr/lib/*/faketime/libfaketime.so.1", "clock skew"),
];

/// Probes the engine, and the kernel and image through a throwaway container.
pub async fn probe(docker: &Docker, base_image: &str) -> Result<Probe, RuntimeError> {
    let version = docker.version().await.map_err(RuntimeError::api("reading the engine version"))?;
    let run = format!("probe-{}", std::process::id());
    let name = format!("faultline-{run}");
    let created = docker
        .create_container(
            Some(CreateContainerOptions { name: Some(name.clone()), ..Default::default() }),
            ContainerCreateBody {
                image: Some(base_image.to_owned()),
                cmd: Some(vec!["sleep".into(), "infinity".into()]),
                labels: Some(labels::for_run(&run)),
                host_config: Some(HostConfig { cap_add: Some(vec!["NET_ADMIN".into()]), ..Default::default() }),
                ..Default::default()
            },
        )
        .await
        .map_err(RuntimeError::api(format!("creating the probe container from {base_image}")))?;
    let checks = async {
        docker
            .start_container(&created.id, None::<StartContainerOptions>)
            .await
            .map_err(RuntimeError::api("starting the probe container"))?;
        let mut capabilities = Vec::new();
        for (cap, script, without_it) in CHECKS {
            let out = exec(docker, &created.id, &["sh", "-c", script]).await?;
            let detail = out.output.trim().lines().last().unwrap_or("").to_owned();
            capabilities.push(Capability { name: cap.to_owned(), available: out.code == 0, detail, without_it: without_it.to_owned() });
        }
        Ok::<_, RuntimeError>(capabilities)
    }
    .await;
    let removed = docker.remove_container(&created.id, Some(RemoveContainerOptions { force: true, v: true, ..Default::default() })).await;
    let capabilities = checks?;
    removed.map_err(RuntimeError::api("removing the probe container"))?;
    Ok(Probe {
        docker_version: version.version.unwrap_or_default(),
        api_version: docker.client_version().to_string(),
        kernel: version.kernel_version.unwrap_or_default(),
        base_image: base_image.to_owned(),
        capabilities,
    })
}
