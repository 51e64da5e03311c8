//! Clusters against the real Docker engine: reachability, partitions, kill and restart,
//! pause, logs, teardown, subnet retry, and cleanup after SIGINT and SIGKILL.
//! These tests need Docker; where it is unreachable they fail and say so.

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions, ListVolumesOptions};
use bollard::Docker;
use faultline::runtime::cluster::{subnet_candidates, Cluster, ClusterSpec, Node, NodeNetwork};
use faultline::runtime::{base_image, clean, connect, labels, node_image};
use faultline_nemesis::Delay;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

#[path = "support/remove_on_panic.rs"]
mod remove_on_panic;
use remove_on_panic::RemoveOnPanic;

static IMAGES: OnceCell<(String, String)> = OnceCell::const_new();

async fn docker() -> Docker {
    connect(None).await.unwrap_or_else(|e| panic!("these tests need Docker: {e}"))
}

/// (holder image, beacon image), built once per test binary.
async fn images() -> (String, String) {
    IMAGES
        .get_or_init(|| async {
            let docker = docker().await;
            let base = base_image::ensure(&docker, &base_image::Recipe::for_host().unwrap(), None).await.expect("base image").image;
            let beacon = faultline::design::resolve("beacon").unwrap();
            let node = node_image::ensure(&docker, &beacon, &base, None).await.expect("beacon image").image;
            let holder = node_image::ensure_holder(&docker, &base, None).await.expect("holder image").image;
            (holder, node)
        })
        .await
        .clone()
}

async fn spec(run: &str, nodes: usize) -> ClusterSpec {
    let (holder_image, node_image) = images().await;
    let launch = faultline::design::resolve("beacon").unwrap().launch(&[], &[], false).unwrap();
    ClusterSpec { run: run.to_owned(), holder_image, node_image, nodes, launch, reach: Default::default() }
}

/// What is left of a run: (containers, networks, volumes).
async fn leftovers(docker: &Docker, run: &str) -> (usize, usize, usize) {
    let f = labels::filter(Some(run));
    let c = docker.list_containers(Some(ListContainersOptions { all: true, filters: Some(f.clone()), ..Default::default() })).await.unwrap();
    let n = docker.list_networks(Some(ListNetworksOptions { filters: Some(f.clone()) })).await.unwrap();
    let v = docker.list_volumes(Some(ListVolumesOptions { filters: Some(f) })).await.unwrap();
    (c.len(), n.len(), v.volumes.unwrap_or_default().len())
}

/// Whether `from` gets an answer from `to`'s /health, over the cluster network.
async fn reaches(cluster: &Cluster, from: &Node, to: &Node) -> bool {
    let script = format!(
        "exec 3<>/dev/tcp/{}/8080 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3",
        to.ip
    );
    let out = cluster.exec_in_holder(from, &["timeout", "2", "bash", "-c", &script]).await.unwrap();
    out.code == 0 && out.output.contains(&format!("\"node\":\"{}\"", to.name))
}

#[tokio::test]
async fn a_cluster_lives_through_partitions_kills_and_pauses_then_leaves_nothing() {
    let docker = docker().await;
    let run = format!("test-life-{}", std::process::id());
    let _guard = RemoveOnPanic(run.clone());
    let started = Instant::now();
    let cluster = Cluster::create(&docker, &spec(&run, 5).await).await.expect("cluster");
    cluster.wait_healthy().await.expect("healthy");
    eprintln!("5 nodes healthy in {:.2} s", started.elapsed().as_secs_f64());
    let [n1, n2, n3, _, _] = &cluster.nodes[..] else { panic!("5 nodes") };

    // Reachable from the controller, on fixed IPs, and from each other.
    for (i, n) in cluster.nodes.iter().enumerate() {
        assert_eq!(n.ip.octets()[3], 11 + i as u8);
        assert_eq!(cluster.get(n, "/health").await.unwrap()["node"], n.name.as_str());
    }
    for a in &cluster.nodes {
        for b in &cluster.nodes {
            if a.name != b.name {
                assert!(reaches(&cluster, a, b).await, "{} cannot reach {}", a.name, b.name);
            }
        }
    }

    // A DROP in n1's holder cuts exactly n1 <-> n2; the controller still gets through.
    cluster.drop_from(n1, &[n2]).await.unwrap();
    assert!(!reaches(&cluster, n2, n1).await, "n2 still reaches n1");
    assert!(!reaches(&cluster, n1, n2).await, "n1 still reaches n2");
    assert!(reaches(&cluster, n3, n1).await, "n3 lost n1");
    assert!(reaches(&cluster, n2, n3).await, "n2 lost n3");
    assert!(cluster.get(n1, "/health").await.is_ok(), "client traffic is never blocked");
    cluster.heal(n1).await.unwrap();
    assert!(reaches(&cluster, n2, n1).await, "heal did not restore n2 -> n1");

    // Kill and restart: the node keeps its files, and a partition stays in force.
    cluster.drop_from(n1, &[n2]).await.unwrap();
    cluster.kill(n1, "SIGKILL").await.unwrap();
    assert!(cluster.get(n1, "/health").await.is_err(), "a killed node answers");
    cluster.restart(n1).await.unwrap();
    cluster.wait_healthy().await.unwrap();
    assert_eq!(cluster.get(n1, "/status").await.unwrap()["boots"], 2, "the restarted node lost its data");
    assert!(!reaches(&cluster, n2, n1).await, "the partition did not survive the restart");
    cluster.heal(n1).await.unwrap();

    // Pause stops answers; unpause resumes them.
    cluster.pause(n3).await.unwrap();
    assert!(cluster.get(n3, "/health").await.is_err(), "a paused node answers");
    cluster.unpause(n3).await.unwrap();
    assert!(cluster.get(n3, "/health").await.is_ok(), "an unpaused node is silent");

    // Logs, then teardown leaves nothing labelled.
    let dir = tempfile::tempdir().unwrap();
    cluster.collect_logs(dir.path()).await.unwrap();
    let log = std::fs::read_to_string(dir.path().join("nodes/n1/node.log")).unwrap();
    assert!(log.contains("beacon n1: boot 2"), "{log}");
    cluster.pause(n2).await.unwrap(); // teardown must cope with paused nodes
    let t = Instant::now();
    let removed = cluster.teardown().await.unwrap();
    eprintln!("teardown in {:.2} s", t.elapsed().as_secs_f64());
    assert_eq!(removed, clean::Removed { containers: 10, networks: 1, volumes: 10 });
    assert_eq!(leftovers(&docker, &run).await, (0, 0, 0));
}

/// Median time (ms) for `from` to open a TCP connection to `to`'s client port: one
/// round trip (SYN out, SYN-ACK back), measured in `from`'s holder, 15 times.
async fn connect_ms(cluster: &Cluster, from: &Node, to: &Node) -> f64 {
    let script = format!(
        "for i in $(seq 15); do s=$(date +%s%N); exec 3<>/dev/tcp/{}/8080 || exit 1; e=$(date +%s%N); exec 3>&-; echo $(( (e - s) / 1000 )); done",
        to.ip
    );
    let out = cluster.exec_in_holder(from, &["timeout", "20", "bash", "-c", &script]).await.unwrap();
    assert_eq!(out.code, 0, "{}", out.output);
    let mut us: Vec<f64> = out.output.lines().filter_map(|l| l.trim().parse().ok()).collect();
    us.sort_by(f64::total_cmp);
    assert_eq!(us.len(), 15, "{}", out.output);
    us[us.len() / 2] / 1000.0
}

/// The nodes of `cluster` other than `n`.
fn peers_of<'a>(cluster: &'a Cluster, n: &Node) -> Vec<&'a Node> {
    cluster.nodes.iter().filter(|p| p.name != n.name).collect()
}

/// How many of `count` UDP datagrams `from` sends to `to` arrive there (counted by an
/// iptables rule in `to`'s INPUT chain that only counts).
async fn udp_arrivals(cluster: &Cluster, from: &Node, to: &Node, count: u32) -> u64 {
    udp_arrivals_of(cluster, from, to, count, 0).await
}

/// [`udp_arrivals`] of datagrams of `bytes` bytes each (0: a few bytes).
async fn udp_arrivals_of(cluster: &Cluster, from: &Node, to: &Node, count: u32, bytes: usize) -> u64 {
    let rule = format!("INPUT -p udp -s {} --dport 9", from.ip);
    let setup = cluster.exec_in_holder(to, &["sh", "-c", &format!("iptables -w -I {rule}")]).await.unwrap();
    assert_eq!(setup.code, 0, "{}", setup.output);
    let payload = if bytes == 0 { "echo $i".to_owned() } else { format!("head -c {bytes} /dev/zero") };
    let send = format!("for i in $(seq {count}); do {payload} > /dev/udp/{}/9; done", to.ip);
    let sent = cluster.exec_in_holder(from, &["timeout", "20", "bash", "-c", &send]).await.unwrap();
    assert_eq!(sent.code, 0, "{}", sent.output);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let read = cluster.exec_in_holder(to, &["sh", "-c", &format!("iptables -w -L INPUT -v -x -n | awk '/udp dpt:9/ {{print $1}}'; iptables -w -D {rule}")]).await.unwrap();
    read.output.trim().parse().unwrap_or_else(|_| panic!("a packet count: {}", read.output))
}

/// The duplicate fault sends a share of a node's outgoing packets to its peers twice
/// (TEE): a receiver counts them, and stopping the fault ends it.
#[tokio::test]
async fn packet_duplication_is_seen_at_the_receiver_and_goes_away() {
    let docker = docker().await;
    let run = format!("test-dup-{}", std::process::id());
    let _guard = RemoveOnPanic(run.clone());
    let cluster = Cluster::create(&docker, &spec(&run, 2).await).await.expect("cluster");
    cluster.wait_healthy().await.expect("healthy");
    let [n1, n2] = &cluster.nodes[..] else { panic!("2 nodes") };
    let before = udp_arrivals(&cluster, n2, n1, 400).await;
    cluster.set_network(n2, &NodeNetwork { duplicate_percent: 50, peers: peers_of(&cluster, n2), ..Default::default() }).await.expect("duplicate n2");
    let during = udp_arrivals(&cluster, n2, n1, 400).await;
    let controller = cluster.get(n2, "/health").await;
    cluster.set_network(n2, &NodeNetwork::default()).await.expect("stop duplicating");
    let after = udp_arrivals(&cluster, n2, n1, 400).await;
    eprintln!("400 datagrams n2→n1 arrived: {before} before, {during} with 50% duplication, {after} after");
    assert_eq!(before, 400);
    assert!((520..=680).contains(&during), "about 600 (400 + half of them again): {during}");
    assert!(controller.is_ok(), "the controller still reaches the node: {controller:?}");
    assert_eq!(after, 400, "stopping the fault ends it");
    let rules = cluster.exec_in_holder(n2, &["sh", "-c", "iptables -w -t mangle -S faultline-dup"]).await.unwrap();
    assert!(!rules.output.contains("TEE"), "the rules are gone: {}", rules.output);
    cluster.teardown().await.unwrap();
}

/// The rate fault limits a node's bandwidth to its peers (tbf under htb, no netem):
/// a burst of 200 datagrams of 1 kB mostly overflows a 64 kbit/s queue, the
/// controller's requests still pass, and lifting the limit lets every one through.
#[tokio::test]
async fn packet_rate_limits_a_nodes_bandwidth_to_its_peers_and_goes_away() {
    let docker = docker().await;
    let run = format!("test-rate-{}", std::process::id());
    let _guard = RemoveOnPanic(run.clone());
    let cluster = Cluster::create(&docker, &spec(&run, 2).await).await.expect("cluster");
    cluster.wait_healthy().await.expect("healthy");
    let [n1, n2] = &cluster.nodes[..] else { panic!("2 nodes") };
    let before = udp_arrivals_of(&cluster, n2, n1, 200, 1000).await;
    cluster.set_network(n2, &NodeNetwork { rate_kbit: Some(64), peers: peers_of(&cluster, n2), ..Default::default() }).await.expect("limit n2");
    let during = udp_arrivals_of(&cluster, n2, n1, 200, 1000).await;
    let t = Instant::now();
    let controller = cluster.get(n2, "/health").await;
    let controller_ms = t.elapsed().as_secs_f64() * 1000.0;
    let reverse = udp_arrivals_of(&cluster, n1, n2, 200, 1000).await;
    cluster.set_network(n2, &NodeNetwork::default()).await.expect("lift the limit");
    let after = udp_arrivals_of(&cluster, n2, n1, 200, 1000).await;
    eprintln!("200 datagrams of 1 kB n2→n1 arrived: {before} before, {during} at 64 kbit/s (n1→n2: {reverse}; controller→n2 {controller_ms:.1} ms), {after} after");
    assert_eq!(before, 200);
    assert!(during < 60, "a 64 kbit/s link with a half-second queue carries a fraction of a 200 kB burst: {during}");
    assert!(controller.is_ok() && controller_ms < 100.0, "the controller is not limited: {controller:?} in {controller_ms:.1} ms");
    assert_eq!(reverse, 200, "only n2's outgoing packets are limited");
    assert_eq!(after, 200, "lifting the limit ends it");
    let qdisc = cluster.exec_in_holder(n2, &["sh", "-c", "tc qdisc show dev eth0"]).await.unwrap();
    assert!(!qdisc.output.contains("tbf") && !qdisc.output.contains("htb"), "the qdiscs are gone: {}", qdisc.output);
    cluster.teardown().await.unwrap();
}

/// The sequence numbers `to` receives, in arrival order, of `count` numbered UDP
/// datagrams `from` sends it 2 ms apart (`faultline udp-sink` in `to`'s holder).
async fn udp_arrival_order(cluster: &Cluster, from: &Node, to: &Node, count: u32) -> Vec<u32> {
    let sink = format!("rm -f /tmp/sink.out; nohup {} udp-sink --port 9 --quiet-ms 1500 --seconds 8 >/tmp/sink.out 2>&1 &", node_image::HOLDER_EXE);
    assert_eq!(cluster.exec_in_holder(to, &["sh", "-c", &sink]).await.unwrap().code, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let send = format!("for i in $(seq {count}); do echo $i > /dev/udp/{}/9; sleep 0.002; done", to.ip);
    let sent = cluster.exec_in_holder(from, &["timeout", "30", "bash", "-c", &send]).await.unwrap();
    assert_eq!(sent.code, 0, "{}", sent.output);
    // The sink stops 1.5 s after the last datagram, or 8 s after it started.
    let read = cluster.exec_in_holder(to, &["sh", "-c", "i=0; while pgrep -f udp-sink >/dev/null && [ $i -lt 100 ]; do i=$((i+1)); sleep 0.1; done; cat /tmp/sink.out"]).await.unwrap();
    read.output.lines().map(|l| l.trim().parse().unwrap_or_else(|_| panic!("a sequence number: {l:?} in {}", read.output))).collect()
}

/// How many datagrams arrived after one with a higher number.
fn overtaken(order: &[u32]) -> usize {
    let mut highest = 0;
    order.iter().filter(|&&n| {
        let late = n < highest;
        highest = highest.max(n);
        late
    }).count()
}

/// Delay with jitter reorders: a receiver sees datagrams overtake each other while the
/// sender's links are delayed 30 ± 30 ms, and none before or after.
#[tokio::test]
async fn packet_reordering_is_seen_at_the_receiver_and_goes_away() {
    let docker = docker().await;
    let run = format!("test-reorder-{}", std::process::id());
    let _guard = RemoveOnPanic(run.clone());
    let cluster = Cluster::create(&docker, &spec(&run, 2).await).await.expect("cluster");
    cluster.wait_healthy().await.expect("healthy");
    let [n1, n2] = &cluster.nodes[..] else { panic!("2 nodes") };
    let before = udp_arrival_order(&cluster, n2, n1, 150).await;
    let jittery = NodeNetwork { delay: Some(Delay { delay_ms: 30, jitter_ms: 30 }), peers: peers_of(&cluster, n2), ..Default::default() };
    cluster.set_network(n2, &jittery).await.expect("delay n2 with jitter");
    let during = udp_arrival_order(&cluster, n2, n1, 150).await;
    cluster.set_network(n2, &NodeNetwork::default()).await.expect("stop delaying");
    let after = udp_arrival_order(&cluster, n2, n1, 150).await;
    let mut sorted = during.clone();
    sorted.sort_unstable();
    eprintln!("150 datagrams n2→n1, overtaken: {} before, {} with 30 ± 30 ms, {} after", overtaken(&before), overtaken(&during), overtaken(&after));
    assert_eq!((before.len(), overtaken(&before)), (150, 0));
    assert_eq!(sorted, (1..=150).collect::<Vec<u32>>(), "reordered, not lost or doubled");
    assert!(overtaken(&during) >= 15, "jitter of the delay's size reorders many: {}", overtaken(&during));
    assert_eq!((after.len(), overtaken(&after)), (150, 0), "stopping the fault ends it");
    cluster.teardown().await.unwrap();
}

/// The delay fault holds a node's outgoing packets to its peers in the NFQUEUE daemon:
/// a round trip with it grows by the delay (once when one end is delayed, twice when
/// both are), the controller's traffic is not delayed, and stopping it restores the
/// old round trip.
#[tokio::test]
async fn packet_delay_without_netem_grows_round_trips_by_the_delay_and_goes_away() {
    let docker = docker().await;
    let run = format!("test-delay-{}", std::process::id());
    let _guard = RemoveOnPanic(run.clone());
    let cluster = Cluster::create(&docker, &spec(&run, 3).await).await.expect("cluster");
    cluster.wait_healthy().await.expect("healthy");
    let [n1, n2, n3] = &cluster.nodes[..] else { panic!("3 nodes") };
    let before = connect_ms(&cluster, n2, n1).await;
    let delay = Delay { delay_ms: 150, jitter_ms: 0 };
    let delayed = |n: &Node| NodeNetwork { delay: Some(delay), peers: peers_of(&cluster, n), ..Default::default() };
    cluster.set_network(n1, &delayed(n1)).await.expect("delay n1");
    let one_end = connect_ms(&cluster, n2, n1).await;
    let outward = connect_ms(&cluster, n1, n3).await;
    let t = Instant::now();
    assert!(cluster.get(n1, "/health").await.is_ok());
    let controller_ms = t.elapsed().as_secs_f64() * 1000.0;
    cluster.set_network(n2, &delayed(n2)).await.expect("delay n2");
    let both_ends = connect_ms(&cluster, n2, n1).await;
    let unaffected = connect_ms(&cluster, n3, n3).await;
    // A new delay takes effect in place: the same daemon rereads its plan, so what it
    // holds keeps its release time and a link slowing in steps never goes quiet.
    let daemon = |n: &Node| {
        let cluster = &cluster;
        let n = n.clone();
        async move { cluster.exec_in_holder(&n, &["cat", "/run/faultline-delayd.pid"]).await.unwrap().output.trim().to_owned() }
    };
    let pid = daemon(n1).await;
    cluster.set_network(n1, &NodeNetwork { delay: Some(Delay { delay_ms: 300, jitter_ms: 0 }), ..delayed(n1) }).await.expect("slow n1 further");
    let slower = connect_ms(&cluster, n1, n3).await;
    assert_eq!(daemon(n1).await, pid, "the same daemon holds n1's packets");
    assert!((290.0..360.0).contains(&slower), "the new delay holds n1's SYN 300 ms: {slower}");
    for n in [n1, n2] {
        cluster.set_network(n, &NodeNetwork::default()).await.expect("stop delay");
    }
    let after = connect_ms(&cluster, n2, n1).await;
    eprintln!("connect n2→n1: {before:.2} ms; n1 delayed {one_end:.1} ms (n1→n3 {outward:.1} ms, controller→n1 {controller_ms:.1} ms); both {both_ends:.1} ms; n1 slowed in place to 300 ms: n1→n3 {slower:.1} ms; after {after:.2} ms");
    assert!(before < 20.0, "{before}");
    assert!((140.0..200.0).contains(&one_end), "n1's SYN-ACK is held 150 ms: {one_end}");
    assert!((140.0..200.0).contains(&outward), "n1's SYN is held 150 ms: {outward}");
    assert!((290.0..380.0).contains(&both_ends), "both ends held: {both_ends}");
    assert!(controller_ms < 100.0, "the controller's requests are not delayed: {controller_ms}");
    assert!(unaffected < 20.0, "loopback of an undelayed node: {unaffected}");
    assert!(after < 20.0, "stopping the fault restores the round trip: {after}");
    let ps = cluster.exec_in_holder(n1, &["sh", "-c", "ls /run/faultline-delayd.pid 2>/dev/null; iptables -w -S faultline-out"]).await.unwrap();
    assert!(!ps.output.contains("pid") && !ps.output.contains("NFQUEUE"), "daemon and rules are gone: {}", ps.output);

    // A fault aimed at the link n1:n2 strikes that link alone: n1 delays what it sends
    // n2 and loses what n2 sends it, and n3 notices nothing.
    let link = NodeNetwork { delay: Some(delay), loss_percent: 100, loss_from_peers_only: true, peers: vec![n2], ..Default::default() };
    cluster.set_network(n1, &link).await.expect("the link n1:n2");
    let on_link = connect_ms(&cluster, n1, n3).await;
    // Counted by the receiving program: iptables' own counters come before the drop.
    let from_n2 = udp_arrival_order(&cluster, n2, n1, 50).await.len();
    let from_n3 = udp_arrival_order(&cluster, n3, n1, 50).await.len();
    let to_n2 = {
        cluster.set_network(n1, &NodeNetwork { loss_percent: 0, ..link.clone() }).await.expect("delay only");
        connect_ms(&cluster, n1, n2).await
    };
    cluster.set_network(n1, &NodeNetwork::default()).await.expect("heal the link");
    eprintln!("link n1:n2 faulted: n1→n2 connect {to_n2:.1} ms, n1→n3 {on_link:.1} ms; datagrams to n1: {from_n2} of 50 from n2, {from_n3} of 50 from n3");
    assert!((140.0..200.0).contains(&to_n2), "n1's packets to n2 are held: {to_n2}");
    assert!(on_link < 20.0, "n1's packets to n3 are not: {on_link}");
    assert_eq!((from_n2, from_n3), (0, 50), "n1 loses what n2 sends it, not what n3 does");
    cluster.teardown().await.unwrap();
}

#[tokio::test]
async fn a_taken_subnet_is_skipped() {
    let docker = docker().await;
    let run = format!("test-subnet-{}", std::process::id());
    let _guard = RemoveOnPanic(run.clone());
    let mut candidates = subnet_candidates(&run);
    let [a, b, c] = candidates.next().unwrap();
    let second = candidates.next().unwrap();
    let blocker = format!("faultline-blocker-{}", std::process::id());
    docker
        .create_network(NetworkCreateRequest {
            name: blocker.clone(),
            labels: Some(labels::for_run(&format!("{run}-blocker"))),
            ipam: Some(Ipam { config: Some(vec![IpamConfig { subnet: Some(format!("{a}.{b}.{c}.0/24")), ..Default::default() }]), ..Default::default() }),
            ..Default::default()
        })
        .await
        .unwrap();
    let result = Cluster::create(&docker, &spec(&run, 1).await).await;
    let _ = docker.remove_network(&blocker).await;
    let cluster = result.expect("cluster on the next subnet");
    assert_eq!(cluster.nodes[0].ip.octets()[..3], second[..]);
    cluster.teardown().await.unwrap();
    assert_eq!(leftovers(&docker, &run).await, (0, 0, 0));
}

/// Starts `faultline cluster up` for `run` in the background.
fn cluster_up(run: &str, nodes: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["cluster", "up", "--design", "beacon", "--nodes", nodes, "--run", run])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faultline runs")
}

fn signal(child: &std::process::Child, sig: &str) {
    let status = Command::new("kill").args([sig, &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
}

/// Waits until the run has created its first object.
async fn wait_for_first_object(docker: &Docker, run: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while leftovers(docker, run).await == (0, 0, 0) {
        assert!(Instant::now() < deadline, "cluster up never started creating {run}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts `faultline cluster up` for a new run, sends `sig` once it has created its
/// first object (after `delay`), and returns the run id and what the process did.
async fn interrupted_cluster_up(docker: &Docker, name: &str, nodes: &str, sig: &str, delay: Duration) -> (String, std::process::Output) {
    images().await;
    let run = format!("test-{name}-{}", std::process::id());
    let _guard = RemoveOnPanic(run.clone());
    let child = cluster_up(&run, nodes);
    wait_for_first_object(docker, &run).await;
    tokio::time::sleep(delay).await;
    signal(&child, sig);
    (run, child.wait_with_output().unwrap())
}

#[tokio::test]
async fn sigint_during_cluster_up_removes_everything() {
    let docker = docker().await;
    let (run, out) = interrupted_cluster_up(&docker, "sigint", "5", "-INT", Duration::ZERO).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains(&format!("interrupted: removed run {run}")), "{stderr}");
    assert_eq!(leftovers(&docker, &run).await, (0, 0, 0));
}

#[tokio::test]
async fn sigkill_leaves_leftovers_that_clean_removes() {
    let docker = docker().await;
    let (run, _) = interrupted_cluster_up(&docker, "sigkill", "3", "-KILL", Duration::from_millis(300)).await;
    assert_ne!(leftovers(&docker, &run).await, (0, 0, 0), "a SIGKILLed controller cannot clean up");
    let out = Command::new(env!("CARGO_BIN_EXE_faultline")).args(["clean", "--run", &run]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(leftovers(&docker, &run).await, (0, 0, 0));
}
