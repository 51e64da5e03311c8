//! Throughput of the reference designs in Docker, and what the controller spends:
//! runs `faultline test --nemesis none --rate 0` for a fixed time per design, several
//! times, and prints the medians of ok ops/s, completed ops/s (ok, fail and info) and
//! the controller's CPU microseconds per completed operation, read from each run's
//! `results.json`.
//!
//! ```text
//! cargo build --release && cargo run --release --example throughput -- [DESIGNS] [RUNS] [SECONDS] [CONCURRENCY]
//! ```
//!
//! Defaults: `raft,caspaxos,dynamo 3 20 50`. The register workload (half reads, 30 %
//! writes, 20 % cas) on 5 nodes; a failed cas is a `fail` like any definite refusal.
//! The figures in the README's "Benchmarks" section come from here.

use faultline::store::{read_results, ControllerCost};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The faultline binary beside this example's directory (`target/release/faultline`),
/// or `FAULTLINE_BIN`.
fn faultline_binary() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("FAULTLINE_BIN") {
        return Ok(bin.into());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this example: {e}"))?;
    let bin = exe.parent().and_then(Path::parent).map(|d| d.join("faultline")).ok_or("cannot locate target/release")?;
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{} is missing: run `cargo build --release` first (or set FAULTLINE_BIN)", bin.display()))
    }
}

/// One no-fault run of `design`; its controller cost from `results.json`.
fn one_run(bin: &Path, design: &str, seconds: u64, concurrency: u64) -> Result<ControllerCost, String> {
    let store = tempfile::tempdir().map_err(|e| format!("a scratch store: {e}"))?;
    let output = Command::new(bin)
        .args(["test", "--design", design, "--workload", "register", "--nemesis", "none", "--rate", "0"])
        .args(["--concurrency", &concurrency.to_string(), "--time-limit", &seconds.to_string(), "--store"])
        .arg(store.path())
        .output()
        .map_err(|e| format!("running {}: {e}", bin.display()))?;
    let status = output.status;
    // Exit 1 is an invalid verdict: still a throughput figure, but say so.
    if !matches!(status.code(), Some(0 | 1)) {
        return Err(format!("faultline test --design {design} failed ({status}):\n{}", String::from_utf8_lossy(&output.stderr)));
    }
    // The store's `latest` link names the run just made.
    let run = store.path().join("latest");
    let results = read_results(&run)?;
    if status.code() == Some(1) {
        eprintln!("  {design}: the verdict was {} (the figures still count)", results.valid);
    }
    results.controller.ok_or_else(|| format!("{} has no controller figures", run.display()))
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let designs = args.first().map_or("raft,caspaxos,dynamo", String::as_str).to_owned();
    let number = |i: usize, default: u64| args.get(i).map_or(Ok(default), |a| a.parse::<u64>().map_err(|e| format!("argument {}: {a:?}: {e}", i + 1)));
    let (runs, seconds, concurrency) = (number(1, 3)?.max(1), number(2, 20)?.max(1), number(3, 50)?.max(1));
    let bin = faultline_binary()?;
    println!("register workload, 5 nodes, no faults, --rate 0 --concurrency {concurrency}, {seconds} s runs; medians of {runs}");
    println!("{:<10} {:>12} {:>16} {:>22}", "design", "ok ops/s", "completed ops/s", "controller µs CPU/op");
    for design in designs.split(',') {
        let mut costs = Vec::new();
        for _ in 0..runs {
            costs.push(one_run(&bin, design, seconds, concurrency)?);
        }
        let ok = median(costs.iter().map(ControllerCost::ok_per_s).collect());
        let completed = median(costs.iter().map(|c| c.completed as f64 / c.run_s).collect());
        let us = median(costs.iter().filter_map(ControllerCost::us_per_op).collect());
        let each: Vec<String> = costs.iter().map(|c| format!("{:.0}", c.ok_per_s())).collect();
        println!("{design:<10} {ok:>12.0} {completed:>16.0} {us:>22.1}   (ok ops/s of each run: {})", each.join(", "));
    }
    Ok(())
}
