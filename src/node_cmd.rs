//! `faultline node <program> ARGS…`: the reference node programs, built into the one
//! `faultline` binary so a node image is this executable copied onto the base image
//! (docs/ARCHITECTURE.md §6). No cargo runs at test time, and an installed `faultline`
//! can run every built-in design from any directory.

use dynamo::{Dynamo, Knobs, Options as DynamoOptions};
use node_common::server::{run, Startup};
use std::process::ExitCode;

/// The node programs this binary carries, by the name `faultline node` takes.
pub const PROGRAMS: [&str; 5] = ["raft", "dynamo", "caspaxos", "beacon", "maelstrom"];

/// Runs node program `program` with its own arguments; its exit code is the process's.
pub fn run_program(program: &str, args: &[String]) -> ExitCode {
    match program {
        "beacon" => beacon::run(),
        "maelstrom" => shim(args),
        "raft" | "dynamo" | "caspaxos" => match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(rt) => rt.block_on(serve(program, args)),
            Err(e) => {
                eprintln!("faultline node {program}: cannot start the async runtime: {e}");
                ExitCode::FAILURE
            }
        },
        other => {
            eprintln!("faultline node: no node program {other:?}; this binary has {}", PROGRAMS.join(", "));
            ExitCode::from(2)
        }
    }
}

/// The Maelstrom shim (docs/ARCHITECTURE.md §10): one thread is enough, it only
/// moves lines between a pipe and sockets.
fn shim(args: &[String]) -> ExitCode {
    let run = async {
        let opts = faultline_maelstrom::ShimOptions::parse(args)?;
        faultline_maelstrom::shim::run(opts).await
    };
    let outcome = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(run),
        Err(e) => {
            eprintln!("faultline node maelstrom: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match outcome {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("faultline node maelstrom: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The reference designs that serve faultline's node API (`POST /txn`).
async fn serve(program: &str, args: &[String]) -> ExitCode {
    match program {
        "raft" => {
            run(args, "raft", &raft::BUGS, &raft::KNOBS, |s: Startup| {
                let forward = match s.knobs.iter().rev().find(|(k, _)| k == "forward").map(|(_, v)| v.as_str()) {
                    None | Some("true") => true,
                    Some("false") => false,
                    Some(other) => return Err(std::io::Error::other(format!("forward is true or false, not {other:?}"))),
                };
                Ok(raft::Raft::start(raft::Options { node: s.node, timing: raft::Timing::default(), forward }, s.transport)?)
            })
            .await
        }
        "dynamo" => {
            run(args, "dynamo", &dynamo::BUGS, &dynamo::KNOBS, |s: Startup| {
                let knobs = Knobs::from_settings(&s.node.bugs, &s.knobs).map_err(std::io::Error::other)?;
                Ok(Dynamo::start(DynamoOptions { node: s.node, knobs, clock_skew_ms: 0 }, s.transport)?)
            })
            .await
        }
        _ => {
            run(args, "caspaxos", &caspaxos::BUGS, &caspaxos::KNOBS, |s: Startup| {
                let peer_timeout = caspaxos::peer_timeout(&s.knobs).map_err(std::io::Error::other)?;
                Ok(caspaxos::CasPaxos::open(s.node, s.transport, peer_timeout)?)
            })
            .await
        }
    }
}
