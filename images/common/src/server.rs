//! The node's HTTP server: the client API and the peer endpoint.

use crate::api::{parse_txn, NodeError, TxnRequest};
use crate::transport::{BoxFuture, PeerHandler};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

/// What a design implements to be served.
pub trait Design: PeerHandler {
    /// Executes a client transaction: the micro-ops' results, or an error.
    fn txn(&self, req: TxnRequest) -> BoxFuture<'_, Result<Vec<Value>, NodeError>>;
    /// The node's status (role, term, leader, …) for `/status`.
    fn status(&self) -> Value;
    /// Stops the node's background work (a crash, in tests without processes).
    fn stop(&self) {}
}

/// The routes: `GET /health`, `GET /status`, `POST /txn`, `POST /peer/<kind>`.
pub fn router(design: Arc<dyn Design>) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({"ok": true})) }))
        .route("/status", get(|State(d): State<Arc<dyn Design>>| async move { Json(d.status()) }))
        .route("/txn", post(txn))
        .route("/peer/{kind}", post(peer))
        .with_state(design)
}

async fn txn(State(design): State<Arc<dyn Design>>, body: axum::body::Bytes) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body).map_err(|e| format!("body is not JSON: {e}")).and_then(|v| parse_txn(&v));
    let req = match parsed {
        Ok(r) => r,
        Err(reason) => return (StatusCode::BAD_REQUEST, Json(json!({"error": "bad-request", "definite": true, "reason": reason}))).into_response(),
    };
    match design.txn(req).await {
        Ok(ops) => Json(json!({ "ops": ops })).into_response(),
        Err(e) => {
            let status = if e.definite { StatusCode::CONFLICT } else { StatusCode::INTERNAL_SERVER_ERROR };
            (status, Json(e)).into_response()
        }
    }
}

async fn peer(State(design): State<Arc<dyn Design>>, Path(kind): Path<String>, body: axum::body::Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "body is not JSON"}))).into_response();
    };
    match design.handle(&kind, body).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response(),
    }
}

/// Logs to stderr, with the node's name on every line.
pub fn init_logging(node: &str) {
    // No colour codes: the output is a container log, copied into the run as text.
    // No time of its own either: faultline copies the log with Docker's timestamps.
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).with_ansi(false).without_time().try_init();
    tracing::info!(node, "starting");
}

/// Serves `design` on `0.0.0.0:<port>` until the process ends.
pub async fn serve(port: u16, design: Arc<dyn Design>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    axum::serve(listener, router(design)).await
}

/// What a design's `main` hands to [`run`]: the cluster's names, where the data lives,
/// the bugs switched on, and an HTTP transport to the peers.
pub struct Startup {
    /// The node's name, peers, data directory and bugs.
    pub node: crate::config::NodeOptions,
    /// The `--opt key=value` knobs, checked against the design's list.
    pub knobs: Vec<(String, String)>,
    /// Peer messages over HTTP.
    pub transport: Arc<crate::transport::HttpTransport>,
}

/// A node program's whole life (`faultline node <design> ARGS…`): parses the
/// configuration from `args` (without the program name) and the environment, checks
/// the bugs and knobs against the design's lists, builds the node with `build`, serves
/// it. Errors go to stderr and the exit code, never a panic.
pub async fn run<F>(args: &[String], design: &str, bugs: &[&str], knobs: &[&str], build: F) -> std::process::ExitCode
where
    F: FnOnce(Startup) -> std::io::Result<Arc<dyn Design>>,
{
    use clap::Parser;
    let config = match crate::config::NodeConfig::try_parse_from(std::iter::once(design.to_owned()).chain(args.iter().cloned())) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(2);
        }
    };
    init_logging(&config.node);
    let node = config.node.clone();
    let port = config.port;
    let started = async {
        config.check_bugs(bugs)?;
        let knobs = config.knobs(knobs)?;
        let peers = config.peers()?;
        let addrs = peers.iter().map(|p| (p.name.clone(), p.addr.clone())).collect();
        let transport = Arc::new(crate::transport::HttpTransport::new(addrs, std::time::Duration::from_millis(500)));
        let bugs = config.bugs.clone();
        let node_options = crate::config::NodeOptions { name: config.node.clone(), nodes: peers.into_iter().map(|p| p.name).collect(), data: config.data.clone(), bugs: config.bugs.clone(), lose_unsynced: config.lose_unsynced };
        let built = build(Startup { node: node_options, knobs, transport }).map_err(|e| format!("cannot start: {e}"))?;
        tracing::info!(node = %node, ?bugs, "{design} ready");
        serve(port, built).await.map_err(|e| format!("cannot serve on port {port}: {e}"))
    };
    match started.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{design} {node}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
