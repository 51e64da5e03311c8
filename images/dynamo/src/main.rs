//! The Dynamo node binary: configuration from flags or the environment, HTTP to peers.

use dynamo::{Dynamo, Knobs, Options, BUGS, KNOBS};
use node_common::server::{run, Startup};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    run("dynamo", &BUGS, &KNOBS, |s: Startup| {
        let knobs = Knobs::from_settings(&s.node.bugs, &s.knobs).map_err(std::io::Error::other)?;
        let opts = Options { node: s.node, knobs, clock_skew_ms: 0 };
        Ok(Dynamo::start(opts, s.transport)?)
    })
    .await
}
